//! Target file names `<name>-<version><suffix>`, or `<platform>/<name>-<version><suffix>` for a
//! platform's release (docs/repository-format.md, "Target names" and "Platforms").
//!
//! Readers use [`TargetName::parse`], which splits at the last `-` whose remainder parses as a
//! PEP 440 version and ignores (returns an error for) anything else, such as
//! `my_app-latest.tar.gz`. Writers use [`TargetName::new`], which additionally refuses names
//! whose reading by tufup would differ: the version text must be PEP 440 normalised and hold no
//! `-`.

use std::fmt;

use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::version::Version;

/// What kind of file a target is, by suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suffix {
    /// `.tar.gz`: gzip-compressed tar archive (the default, and tufup's format).
    TarGz,
    /// `.tar.zst`: zstd-compressed tar archive.
    TarZst,
    /// `.patch`: binary patch from the previous release's uncompressed tar.
    Patch,
}

impl Suffix {
    /// The suffix text, with its leading dot.
    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::TarGz => ".tar.gz",
            Suffix::TarZst => ".tar.zst",
            Suffix::Patch => ".patch",
        }
    }

    /// Whether this is a full archive (`.tar.gz` or `.tar.zst`).
    pub fn is_archive(self) -> bool {
        !matches!(self, Suffix::Patch)
    }

    const ALL: [Suffix; 3] = [Suffix::TarGz, Suffix::TarZst, Suffix::Patch];
}

/// Checks an app name: one or more ASCII letters, digits, `_` or `-`.
///
/// # Errors
/// [`Error::InvalidAppName`] otherwise.
pub fn check_app_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidAppName {
            input: name.to_owned(),
        })
    }
}

/// A parsed target name: platform (when the release is published for one), app name, PEP 440
/// version and suffix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetName {
    platform: Option<Platform>,
    app: String,
    version: Version,
    suffix: Suffix,
    /// The target path as published (keeps the version text as written; `<platform>/…` for a
    /// platform's release).
    file_name: String,
}

impl TargetName {
    /// Builds the name a writer publishes: `<app>-<version><suffix>` with the version in its
    /// PEP 440 normal form.
    ///
    /// # Errors
    /// [`Error::InvalidAppName`] for a bad app name.
    pub fn new(app: &str, version: &Version, suffix: Suffix) -> Result<Self> {
        check_app_name(app)?;
        let text = version.to_string();
        if text.contains('-') {
            return Err(Error::InvalidTargetName {
                input: format!("{app}-{text}{}", suffix.as_str()),
                reason: "the version text holds a `-`, which tufup would split differently",
            });
        }
        Ok(Self {
            platform: None,
            app: app.to_owned(),
            version: version.clone(),
            suffix,
            file_name: format!("{app}-{text}{}", suffix.as_str()),
        })
    }

    /// The same release published for `platform`: the path becomes `<platform>/<file name>`.
    pub fn for_platform(self, platform: &Platform) -> Self {
        let base = self.base_name().to_owned();
        Self {
            file_name: format!("{platform}/{base}"),
            platform: Some(platform.clone()),
            ..self
        }
    }

    /// Parses a published target path, as a reader does: `<name>-<version><suffix>`, or the
    /// same under one folder that is a [`Platform`] name.
    ///
    /// # Errors
    /// [`Error::InvalidTargetName`] when the suffix is unknown, no `-` split leaves a PEP 440
    /// version, the name part holds characters other than `[A-Za-z0-9_-]`, or the folder is
    /// not a platform name (or there is more than one).
    pub fn parse(path: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidTargetName {
            input: path.to_owned(),
            reason,
        };
        let (platform, file_name) = match path.split_once('/') {
            None => (None, path),
            Some((dir, rest)) => match Platform::parse(dir) {
                Ok(p) if !rest.contains('/') => (Some(p), rest),
                _ => return Err(invalid("the folder is not one <os>-<arch> platform name")),
            },
        };
        let (stem, suffix) = Suffix::ALL
            .iter()
            .find_map(|s| file_name.strip_suffix(s.as_str()).map(|stem| (stem, *s)))
            .ok_or_else(|| invalid("unknown suffix"))?;
        // Split at the last `-` whose remainder is a version; walk splits from the right.
        let mut search_end = stem.len();
        while let Some(dash) = stem[..search_end].rfind('-') {
            let (app, rest) = (&stem[..dash], &stem[dash + 1..]);
            if let Ok(version) = rest.parse::<Version>() {
                if rest.trim() != rest || rest.is_empty() {
                    return Err(invalid("whitespace in the version"));
                }
                check_app_name(app).map_err(|_| invalid("bad characters in the app name"))?;
                return Ok(Self {
                    platform,
                    app: app.to_owned(),
                    version,
                    suffix,
                    file_name: path.to_owned(),
                });
            }
            search_end = dash;
        }
        Err(invalid("no `-<PEP 440 version>` before the suffix"))
    }

    /// Parses `file_name` and also requires the writer's rules of [`TargetName::new`]
    /// (normalised version text, no `-` inside it).
    ///
    /// # Errors
    /// As [`TargetName::parse`], plus [`Error::InvalidTargetName`] for a non-normalised version.
    pub fn parse_strict(file_name: &str) -> Result<Self> {
        let parsed = Self::parse(file_name)?;
        let mut built = Self::new(&parsed.app, &parsed.version, parsed.suffix)?;
        if let Some(p) = &parsed.platform {
            built = built.for_platform(p);
        }
        if built.file_name != file_name {
            return Err(Error::InvalidTargetName {
                input: file_name.to_owned(),
                reason: "the version is not written in PEP 440 normal form",
            });
        }
        Ok(parsed)
    }

    /// The platform the release is published for; `None` for a flat (platformless) name.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// The file name without the platform folder (`<name>-<version><suffix>`).
    pub fn base_name(&self) -> &str {
        self.file_name
            .rsplit_once('/')
            .map_or(self.file_name.as_str(), |(_, b)| b)
    }

    /// The app name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The release version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The suffix.
    pub fn suffix(&self) -> Suffix {
        self.suffix
    }

    /// The target path as published (`<platform>/<file name>` for a platform's release).
    pub fn as_str(&self) -> &str {
        &self.file_name
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn reads_tufup_style_names() {
        let cases = [
            ("my_app-1.0.tar.gz", "my_app", "1.0", Suffix::TarGz),
            ("my-app-1.0.tar.gz", "my-app", "1.0", Suffix::TarGz),
            ("app-2-3.0.patch", "app-2", "3.0", Suffix::Patch),
            (
                "example_app-3.0rc0.tar.zst",
                "example_app",
                "3.0rc0",
                Suffix::TarZst,
            ),
            ("app-2.0.dev3.patch", "app", "2.0.dev3", Suffix::Patch),
            ("app-1-rc1.tar.gz", "app", "1rc1", Suffix::TarGz),
        ];
        for (file, app, version, suffix) in cases {
            let t = TargetName::parse(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(t.app(), app, "{file}");
            assert_eq!(t.version(), &v(version), "{file}");
            assert_eq!(t.suffix(), suffix, "{file}");
            assert_eq!(t.as_str(), file);
        }
    }

    #[test]
    fn readers_ignore_names_that_do_not_parse() {
        for bad in [
            "my_app-latest.tar.gz",
            "my_app-1.0.zip",
            "my_app.tar.gz",
            "-1.0.tar.gz",
            "my app-1.0.tar.gz",
            "my_app-1.0 .tar.gz",
            "../app-1.0.tar.gz",
            "dir/app-1.0.tar.gz",
            "linux-amd64/app-1.0.tar.gz",
            "linux-x86_64/linux-x86_64/app-1.0.tar.gz",
            "linux-x86_64/../app-1.0.tar.gz",
            "/app-1.0.tar.gz",
            "linux-x86_64/",
            "app-1.0+local.tar.gz",
            "app-1.0",
        ] {
            assert!(TargetName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platform_paths() {
        let t = TargetName::parse("windows-x86_64/my_app-2.0.patch").unwrap();
        assert_eq!(t.platform().map(Platform::as_str), Some("windows-x86_64"));
        assert_eq!(
            (t.app(), t.suffix(), t.base_name()),
            ("my_app", Suffix::Patch, "my_app-2.0.patch")
        );
        assert_eq!(t.as_str(), "windows-x86_64/my_app-2.0.patch");
        let flat = TargetName::parse("my_app-2.0.patch").unwrap();
        assert_eq!(
            (flat.platform(), flat.base_name()),
            (None, "my_app-2.0.patch")
        );
        let linux = Platform::parse("linux-x86_64").unwrap();
        let built = TargetName::new("my_app", &v("2.0-rc1"), Suffix::TarGz)
            .unwrap()
            .for_platform(&linux);
        assert_eq!(built.as_str(), "linux-x86_64/my_app-2.0rc1.tar.gz");
        assert_eq!(TargetName::parse_strict(built.as_str()).unwrap(), built);
        assert!(TargetName::parse_strict("linux-x86_64/my_app-2.0-rc1.tar.gz").is_err());
    }

    #[test]
    fn equal_versions_in_different_text() {
        let a = TargetName::parse("app-1.0.tar.gz").unwrap();
        let b = TargetName::parse("app-1.0.0.tar.gz").unwrap();
        assert_eq!(a.version(), b.version());
    }

    #[test]
    fn writers_normalise_and_refuse() {
        let t = TargetName::new("app", &v("2.0-rc1"), Suffix::Patch).unwrap();
        assert_eq!(t.as_str(), "app-2.0rc1.patch");
        assert!(TargetName::new("my app", &v("1.0"), Suffix::TarGz).is_err());
        assert!(TargetName::new("", &v("1.0"), Suffix::TarGz).is_err());
        assert!(TargetName::new("a/b", &v("1.0"), Suffix::TarGz).is_err());
        assert!(TargetName::parse_strict("app-2.0-rc1.patch").is_err());
        assert!(TargetName::parse_strict("app-2.0rc1.patch").is_ok());
    }
}
