//! The permission bits of a release's tar members, signed with the archive
//! (docs/repository-format.md, "Modes"), so that a client whose file system has no mode bits
//! (Windows) rebuilds the exact tar of its installed version and can apply patches.
//!
//! A tar written on Linux or macOS carries each member's permission bits (`0o755` on an
//! executable, `0o644` on a data file). A Windows folder only knows a read-only attribute, so
//! a tar rebuilt there from the install folder could not match the signed `tar_hash`, and every
//! update would be a full download. The publisher therefore records, next to `tar_hash`, the
//! members whose bits differ from the defaults ([`TarModes::FILE_DEFAULT`],
//! [`TarModes::DIR_DEFAULT`]); a client rebuilding the base tar takes every member's bits from
//! this signed map instead of from the disk. The bits never decide anything on their own: the
//! rebuilt tar is still checked against the signed `tar_hash`.
//!
//! In metadata the map is `{"<member name>": "<octal>"}`, member names as in the tar (folders
//! end in `/`), e.g. `{"bin/app": "755", "bin/": "700"}`; an empty map means "every member has
//! the default bits". Symbolic links always carry `0o777` and never appear.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Members whose permission bits differ from the defaults: tar member name → bits (`0..=0o777`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TarModes {
    differing: BTreeMap<String, u32>,
}

impl TarModes {
    /// Bits of a regular file not listed: `0o644`.
    pub const FILE_DEFAULT: u32 = 0o644;
    /// Bits of a folder not listed: `0o755`.
    pub const DIR_DEFAULT: u32 = 0o755;

    /// Records that `name` (a tar member name; folders end in `/`) has `mode`; defaults are not
    /// stored. `mode` is masked to `0o777`.
    pub fn record(&mut self, name: &str, mode: u32) {
        let mode = mode & 0o777;
        if mode == Self::default_for(name) {
            self.differing.remove(name);
        } else {
            self.differing.insert(name.to_owned(), mode);
        }
    }

    /// The bits of member `name`: the recorded ones, else the default for its kind.
    pub fn mode_of(&self, name: &str) -> u32 {
        self.differing
            .get(name)
            .copied()
            .unwrap_or_else(|| Self::default_for(name))
    }

    /// How many members differ from the defaults.
    pub fn len(&self) -> usize {
        self.differing.len()
    }

    /// Whether every member has the default bits.
    pub fn is_empty(&self) -> bool {
        self.differing.is_empty()
    }

    fn default_for(name: &str) -> u32 {
        if name.ends_with('/') {
            Self::DIR_DEFAULT
        } else {
            Self::FILE_DEFAULT
        }
    }

    /// The metadata form: `{"<name>": "<octal>"}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.differing
                .iter()
                .map(|(name, mode)| (name.clone(), Value::String(format!("{mode:o}"))))
                .collect::<Map<_, _>>(),
        )
    }

    /// Reads the metadata form.
    ///
    /// # Errors
    /// Why the value is not an object of octal strings in `0..=777` (in words).
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!("modes {value} is not an object"));
        };
        let mut modes = Self::default();
        for (name, mode) in map {
            let Some(text) = mode.as_str() else {
                return Err(format!("mode of {name:?} is {mode}, not an octal string"));
            };
            let bits = u32::from_str_radix(text, 8)
                .ok()
                .filter(|bits| *bits <= 0o777)
                .ok_or_else(|| format!("mode of {name:?} is {text:?}, not octal 0..777"))?;
            modes.record(name, bits);
        }
        Ok(modes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_not_stored_and_listed_members_keep_their_bits() {
        let mut modes = TarModes::default();
        modes.record("bin/", 0o755);
        modes.record("data.txt", 0o644);
        assert!(modes.is_empty());
        modes.record("bin/app", 0o100_755);
        modes.record("secret/", 0o700);
        assert_eq!(modes.len(), 2);
        assert_eq!(modes.mode_of("bin/app"), 0o755);
        assert_eq!(modes.mode_of("secret/"), 0o700);
        assert_eq!(modes.mode_of("other"), TarModes::FILE_DEFAULT);
        assert_eq!(modes.mode_of("other/"), TarModes::DIR_DEFAULT);
    }

    #[test]
    fn metadata_form_round_trips_as_octal_strings() {
        let mut modes = TarModes::default();
        modes.record("bin/app", 0o755);
        modes.record("ro.txt", 0o444);
        let value = modes.to_json();
        assert_eq!(value, json!({"bin/app": "755", "ro.txt": "444"}));
        assert_eq!(TarModes::from_json(&value).unwrap(), modes);
    }

    #[test]
    fn malformed_modes_are_refused() {
        for bad in [
            json!([]),
            json!({"a": 755}),
            json!({"a": "9"}),
            json!({"a": "1777"}),
            json!({"a": ""}),
        ] {
            assert!(TarModes::from_json(&bad).is_err(), "{bad}");
        }
    }
}
