//! Target file names `<name>-<version><suffix>` (docs/repository-format.md, "Target names").
//!
//! Readers use [`TargetName::parse`], which splits at the last `-` whose remainder parses as a
//! PEP 440 version and ignores (returns an error for) anything else, such as
//! `my_app-latest.tar.gz`. Writers use [`TargetName::new`], which additionally refuses names
//! whose reading by tufup would differ: the version text must be PEP 440 normalised and hold no
//! `-`.

use std::fmt;

use crate::error::{Error, Result};
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

/// A parsed target name: app name, PEP 440 version and suffix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetName {
    app: String,
    version: Version,
    suffix: Suffix,
    /// The file name as published (keeps the version text as written).
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
            app: app.to_owned(),
            version: version.clone(),
            suffix,
            file_name: format!("{app}-{text}{}", suffix.as_str()),
        })
    }

    /// Parses a published file name, as a reader does.
    ///
    /// # Errors
    /// [`Error::InvalidTargetName`] when the suffix is unknown, no `-` split leaves a PEP 440
    /// version, or the name part holds characters other than `[A-Za-z0-9_-]`.
    pub fn parse(file_name: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidTargetName {
            input: file_name.to_owned(),
            reason,
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
                    app: app.to_owned(),
                    version,
                    suffix,
                    file_name: file_name.to_owned(),
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
        let built = Self::new(&parsed.app, &parsed.version, parsed.suffix)?;
        if built.file_name != file_name {
            return Err(Error::InvalidTargetName {
                input: file_name.to_owned(),
                reason: "the version is not written in PEP 440 normal form",
            });
        }
        Ok(parsed)
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

    /// The file name as published.
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
            "app-1.0+local.tar.gz",
            "app-1.0",
        ] {
            assert!(TargetName::parse(bad).is_err(), "{bad}");
        }
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
