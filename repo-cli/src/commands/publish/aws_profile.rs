//! The AWS shared files for `s3://` destinations: when the environment holds no
//! `AWS_ACCESS_KEY_ID`, the profile named by `AWS_PROFILE` (default `default`) is read from the
//! shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, section
//! `[NAME]`: `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) and the shared
//! config file (`AWS_CONFIG_FILE`, default `~/.aws/config`, section `[profile NAME]`, or
//! `[default]`: `region`, `endpoint_url`, and keys the credentials file lacks), as the AWS CLI
//! lays them out. A setting in the environment (`AWS_REGION`, `AWS_DEFAULT_REGION`,
//! `AWS_ENDPOINT_URL`, …) wins over the files; `--endpoint` wins over both.
//!
//! SSO, `credential_process` and role-assuming profiles are not read.
//!
//! [`resolve`] is the pure decision (the files' text and the environment in, settings out);
//! [`load`] reads the files it names.

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use configparser::ini::{Ini, IniDefault};

use crate::error::{Error, Result};

/// Settings for `AmazonS3Builder` taken from the shared files; `None` fields are left to the
/// environment (or to `object_store`'s defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// `aws_access_key_id`.
    pub access_key_id: Option<String>,
    /// `aws_secret_access_key`.
    pub secret_access_key: Option<String>,
    /// `aws_session_token` (temporary credentials).
    pub session_token: Option<String>,
    /// `region`, unless the environment sets one.
    pub region: Option<String>,
    /// `endpoint_url`, unless the environment sets one.
    pub endpoint: Option<String>,
}

/// One shared file: its path and its text (`None` when it does not exist).
#[derive(Clone, Copy, Debug)]
pub struct SharedFile<'a> {
    /// Where it is (for errors).
    pub path: &'a Path,
    /// Its contents, `None` when there is no such file.
    pub text: Option<&'a str>,
}

/// The environment variables that give a region, which win over the config file's `region`.
const REGION_VARS: &[&str] = &["AWS_REGION", "AWS_DEFAULT_REGION"];
/// The environment variables that give an endpoint, which win over `endpoint_url`.
const ENDPOINT_VARS: &[&str] = &["AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"];

fn var<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// The profile name: `AWS_PROFILE`, else `default`; and whether it was named explicitly.
fn profile_name(vars: &[(String, String)]) -> (&str, bool) {
    var(vars, "AWS_PROFILE").map_or(("default", false), |p| (p, true))
}

/// The paths of the shared credentials and config files, from `AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE` and `HOME` in `vars`; `None` when neither the variable nor `HOME` is set.
pub fn paths(vars: &[(String, String)]) -> (Option<PathBuf>, Option<PathBuf>) {
    let home = var(vars, "HOME").map(|h| Path::new(h).join(".aws"));
    let pick = |name: &str, file: &str| {
        var(vars, name)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(file)))
    };
    (
        pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        pick("AWS_CONFIG_FILE", "config"),
    )
}

/// One parsed file: section name → key → value.
type Sections = HashMap<String, HashMap<String, Option<String>>>;

fn parse(file: &SharedFile<'_>, profile: &str) -> Result<Option<Sections>> {
    file.text
        .map(|text| {
            // Names and values are taken as written, as the AWS CLI does: case kept, `=` the
            // only delimiter, whole-line `#` and `;` comments only (a value may hold either).
            let mut defaults = IniDefault::default();
            // Keys before any section header belong to no profile.
            defaults.default_section = String::new();
            defaults.case_sensitive = true;
            defaults.delimiters = vec!['='];
            defaults.enable_inline_comments = false;
            let mut ini = Ini::new_from_defaults(defaults);
            ini.read(text.to_owned()).map_err(|e| Error::AwsProfile {
                file: file.path.to_owned(),
                profile: profile.to_owned(),
                reason: format!("not an INI file: {e}"),
            })
        })
        .transpose()
}

/// The settings of the profile `vars` select, from the shared `credentials` and `config` files.
///
/// `Ok(None)` when the environment holds `AWS_ACCESS_KEY_ID` (it wins and the files are not
/// read), or when the `default` profile is used implicitly and neither file has it (the
/// environment's other sources then apply, as before).
///
/// # Errors
/// [`Error::AwsProfile`] when a file is not INI, when the profile `AWS_PROFILE` names has no
/// keys in either file, or when the profile has an access key id without its secret (or the
/// reverse).
pub fn resolve(
    vars: &[(String, String)],
    credentials: SharedFile<'_>,
    config: SharedFile<'_>,
) -> Result<Option<Profile>> {
    if var(vars, "AWS_ACCESS_KEY_ID").is_some() {
        return Ok(None);
    }
    let (name, explicit) = profile_name(vars);
    let creds_ini = parse(&credentials, name)?;
    let config_ini = parse(&config, name)?;
    let creds_section = creds_ini.as_ref().and_then(|i| i.get(name));
    let config_section = config_ini.as_ref().and_then(|i| {
        i.get(&format!("profile {name}"))
            .or_else(|| (name == "default").then(|| i.get("default")).flatten())
    });
    let get = |key: &str| {
        creds_section
            .and_then(|s| s.get(key))
            .or_else(|| config_section.and_then(|s| s.get(key)))
            .and_then(Option::as_deref)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let from_config = |key: &str, env: &[&str]| {
        if env.iter().any(|n| var(vars, n).is_some()) {
            return None;
        }
        config_section
            .and_then(|s| s.get(key))
            .and_then(Option::as_deref)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let profile = Profile {
        access_key_id: get("aws_access_key_id"),
        secret_access_key: get("aws_secret_access_key"),
        session_token: get("aws_session_token"),
        region: from_config("region", REGION_VARS),
        endpoint: from_config("endpoint_url", ENDPOINT_VARS),
    };
    let error = |reason: &str| Error::AwsProfile {
        file: credentials.path.to_owned(),
        profile: name.to_owned(),
        reason: reason.to_owned(),
    };
    match (&profile.access_key_id, &profile.secret_access_key) {
        (Some(_), Some(_)) => Ok(Some(profile)),
        (Some(_), None) => Err(error("aws_access_key_id without aws_secret_access_key")),
        (None, Some(_)) => Err(error("aws_secret_access_key without aws_access_key_id")),
        (None, None) if explicit => Err(error(
            "no such profile with keys (SSO and role profiles are not read: export their keys with `aws configure export-credentials --format env`)",
        )),
        (None, None) if creds_section.is_none() && config_section.is_none() => Ok(None),
        // The implicit default profile with a region or endpoint but no keys: keep those and
        // let the environment's other credential sources apply.
        (None, None) => Ok(Some(profile)),
    }
}

/// Reads the shared files `vars` name (a missing file counts as empty) and [`resolve`]s the
/// profile.
///
/// # Errors
/// [`Error::Io`] for a file that exists but cannot be read; those of [`resolve`].
pub fn load(vars: &[(String, String)]) -> Result<Option<Profile>> {
    if var(vars, "AWS_ACCESS_KEY_ID").is_some() {
        return Ok(None);
    }
    let (creds_path, config_path) = paths(vars);
    let read = |path: &Option<PathBuf>| -> Result<Option<String>> {
        let Some(path) = path else { return Ok(None) };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path)(e)),
        }
    };
    let creds_text = read(&creds_path)?;
    let config_text = read(&config_path)?;
    let none = PathBuf::from("~/.aws/credentials");
    let none_config = PathBuf::from("~/.aws/config");
    resolve(
        vars,
        SharedFile {
            path: creds_path.as_deref().unwrap_or(&none),
            text: creds_text.as_deref(),
        },
        SharedFile {
            path: config_path.as_deref().unwrap_or(&none_config),
            text: config_text.as_deref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const CREDENTIALS: &str = "\
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secretdefault

[work]
aws_access_key_id=AKIDWORK
aws_secret_access_key=secretwork
aws_session_token = tokenwork
";

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile work]
region = us-east-2
endpoint_url = http://127.0.0.1:9000

; a profile section named like a credentials one is not a config profile
[work]
region = ap-south-1

[profile sso]
sso_session = corp
region = eu-central-1
";

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn run(
        env: &[(&str, &str)],
        creds: Option<&str>,
        config: Option<&str>,
    ) -> Result<Option<Profile>> {
        resolve(
            &vars(env),
            SharedFile {
                path: Path::new("/home/u/.aws/credentials"),
                text: creds,
            },
            SharedFile {
                path: Path::new("/home/u/.aws/config"),
                text: config,
            },
        )
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn default_profile_reads_default_sections() {
        let p = run(&[], Some(CREDENTIALS), Some(CONFIG)).unwrap().unwrap();
        assert_eq!(
            p,
            Profile {
                access_key_id: some("AKIDDEFAULT"),
                secret_access_key: some("secretdefault"),
                session_token: None,
                region: some("eu-west-1"),
                endpoint: None,
            }
        );
    }

    #[test]
    fn aws_profile_selects_profile_sections() {
        let p = run(&[("AWS_PROFILE", "work")], Some(CREDENTIALS), Some(CONFIG))
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            Profile {
                access_key_id: some("AKIDWORK"),
                secret_access_key: some("secretwork"),
                session_token: some("tokenwork"),
                region: some("us-east-2"),
                endpoint: some("http://127.0.0.1:9000"),
            }
        );
    }

    #[test]
    fn config_uses_profile_prefix_and_plain_default() {
        // `[work]` in the config is not the `work` profile; `[profile default]` is `default`.
        let config = "[work]\nregion = ap-south-1\n[profile default]\nregion = sa-east-1\n";
        let work = run(&[("AWS_PROFILE", "work")], Some(CREDENTIALS), Some(config))
            .unwrap()
            .unwrap();
        assert_eq!(work.region, None);
        let default = run(&[], Some(CREDENTIALS), Some(config)).unwrap().unwrap();
        assert_eq!(default.region, some("sa-east-1"));
    }

    #[test]
    fn keys_in_the_config_file_are_read_when_credentials_lack_them() {
        let config = "[profile ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s\n";
        let p = run(&[("AWS_PROFILE", "ci")], None, Some(config))
            .unwrap()
            .unwrap();
        assert_eq!(p.access_key_id, some("AKIDCI"));
        assert_eq!(p.secret_access_key, some("s"));
    }

    #[test]
    fn environment_wins() {
        let env_keys = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_PROFILE", "nope")];
        assert_eq!(
            run(&env_keys, Some(CREDENTIALS), Some(CONFIG)).unwrap(),
            None
        );
        let env = [
            ("AWS_PROFILE", "work"),
            ("AWS_REGION", "us-west-1"),
            ("AWS_ENDPOINT_URL", "http://localhost:1"),
        ];
        let p = run(&env, Some(CREDENTIALS), Some(CONFIG)).unwrap().unwrap();
        assert_eq!(p.access_key_id, some("AKIDWORK"));
        assert_eq!(p.region, None);
        assert_eq!(p.endpoint, None);
        let p = run(
            &[("AWS_PROFILE", "work"), ("AWS_DEFAULT_REGION", "x")],
            Some(CREDENTIALS),
            Some(CONFIG),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.region, None);
    }

    #[test]
    fn missing_named_profile_is_a_one_line_config_error() {
        for (profile, creds) in [
            ("absent", Some(CREDENTIALS)),
            ("sso", Some(CREDENTIALS)),
            ("work", None),
        ] {
            let err = run(&[("AWS_PROFILE", profile)], creds, Some(CONFIG))
                .err()
                .unwrap();
            assert!(
                matches!(&err, Error::AwsProfile { file, profile: p, .. }
                    if file == Path::new("/home/u/.aws/credentials") && p == profile),
                "{err:?}"
            );
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn implicit_default_without_files_falls_back_to_the_environment() {
        assert_eq!(run(&[], None, None).unwrap(), None);
        assert_eq!(
            run(&[], Some("[work]\naws_access_key_id = a\n"), None).unwrap(),
            None
        );
        // A region alone is kept; credentials then come from elsewhere.
        let p = run(&[], None, Some("[default]\nregion = eu-north-1\n"))
            .unwrap()
            .unwrap();
        assert_eq!(p.region, some("eu-north-1"));
        assert_eq!(p.access_key_id, None);
    }

    #[test]
    fn values_are_taken_as_written() {
        let creds = "[default]\naws_access_key_id = \"AK\\ID\"\naws_secret_access_key = a/b+c=\n";
        let p = run(&[], Some(creds), None).unwrap().unwrap();
        assert_eq!(p.access_key_id, some("\"AK\\ID\""));
        assert_eq!(p.secret_access_key, some("a/b+c="));
    }

    #[test]
    fn comments_are_whole_lines_and_stray_keys_belong_to_no_profile() {
        let creds = "aws_access_key_id = stray\n# [default]\n; c\n[default]\n\
                     aws_access_key_id = AK#1\naws_secret_access_key = s;2 # 3\n";
        let p = run(&[], Some(creds), None).unwrap().unwrap();
        assert_eq!(p.access_key_id, some("AK#1"));
        assert_eq!(p.secret_access_key, some("s;2 # 3"));
        let stray = "aws_access_key_id = stray\naws_secret_access_key = s\n";
        assert_eq!(run(&[], Some(stray), None).unwrap(), None);
    }

    #[test]
    fn a_file_that_is_not_ini_is_a_config_error() {
        let err = run(&[], None, Some("[default]\n = eu-west-1\n"))
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::AwsProfile { file, .. } if file == Path::new("/home/u/.aws/config")),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn half_a_key_pair_is_refused() {
        let err = run(&[], Some("[default]\naws_access_key_id = a\n"), None)
            .err()
            .unwrap();
        assert!(matches!(err, Error::AwsProfile { .. }));
    }

    #[test]
    fn paths_follow_variables_then_home() {
        let (c, f) = paths(&vars(&[("HOME", "/home/u")]));
        assert_eq!(c.unwrap(), Path::new("/home/u/.aws/credentials"));
        assert_eq!(f.unwrap(), Path::new("/home/u/.aws/config"));
        let (c, f) = paths(&vars(&[
            ("HOME", "/home/u"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/tmp/c"),
            ("AWS_CONFIG_FILE", "/tmp/f"),
        ]));
        assert_eq!(c.unwrap(), Path::new("/tmp/c"));
        assert_eq!(f.unwrap(), Path::new("/tmp/f"));
        assert_eq!(paths(&[]), (None, None));
    }
}
