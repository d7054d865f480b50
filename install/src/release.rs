//! The record of the installed release, written by each install tufd runs into the data folder
//! (`installed/`, [`DataLayout::installed`]):
//!
//! - `installed/summary.json` ([`Summary`]): the version, the entries that were in the install
//!   folder but are not part of it and were moved to the backup with the old version (deleted at
//!   the next update), and the `--keep` paths carried into it. Small; `status` reads it.
//! - `installed/files.json` ([`Files`]): the version and every entry of the release as extracted
//!   (relative, `/`-separated paths of files, folders and links, sorted). The base tar of the
//!   installed version is rebuilt from these entries only ([`crate::build::base_tar`]), so files
//!   the app or its user add to the install folder do not change the rebuilt tar.
//!
//! A record whose version is not the installed one (a version installed by other means, a
//! rollback) is ignored.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::layout::DataLayout;

/// `installed/summary.json`: what the last install did beside the release itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The version installed.
    pub version: String,
    /// Top-level entries of the install folder that the release does not have and that were not
    /// kept: moved to the backup with the old version, deleted at the next update.
    #[serde(default)]
    pub left_behind: Vec<String>,
    /// The `--keep` paths carried from the old version into this one.
    #[serde(default)]
    pub kept: Vec<String>,
}

/// `installed/files.json` as written (borrowing the entry list: no copy of it is made).
#[derive(Serialize)]
struct FilesOut<'a> {
    version: &'a str,
    files: &'a [String],
}

/// `installed/files.json` as read.
#[derive(Deserialize)]
struct FilesIn {
    version: String,
    files: HashSet<String>,
}

/// Writes the record of `version`: `files` (the release's entries) and `summary`. The files list
/// is written first, so a summary is never newer than its list. Blocking.
///
/// # Errors
/// The path that could not be written and the OS error.
pub fn record(
    layout: &DataLayout,
    files: &[String],
    summary: &Summary,
) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let dir = layout.installed();
    std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
    let list = FilesOut {
        version: &summary.version,
        files,
    };
    write(&dir.join(FILES), &list)?;
    write(&dir.join(SUMMARY), summary)
}

const FILES: &str = "files.json";
const SUMMARY: &str = "summary.json";

/// Writes `value` as JSON to `path` through a temporary file in the same folder and a rename,
/// streamed (the list is not copied into one buffer first).
fn write(path: &Path, value: &impl Serialize) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| (dir.to_owned(), e))?;
    let mut out = std::io::BufWriter::new(tmp.as_file());
    serde_json::to_writer(&mut out, value).map_err(|e| (tmp.path().to_owned(), e.into()))?;
    out.flush().map_err(|e| (tmp.path().to_owned(), e))?;
    drop(out);
    tmp.persist(path).map_err(|e| (path.to_owned(), e.error))?;
    Ok(())
}

/// The summary of the last install when it installed `version`; `None` when there is none, it
/// is of another version, or it cannot be read.
pub fn summary(layout: &DataLayout, version: &str) -> Option<Summary> {
    let bytes = std::fs::read(layout.installed().join(SUMMARY)).ok()?;
    serde_json::from_slice::<Summary>(&bytes)
        .ok()
        .filter(|s| s.version == version)
}

/// The entries of release `version` as installed; `None` as for [`summary`].
pub fn files(layout: &DataLayout, version: &str) -> Option<HashSet<String>> {
    let file = std::fs::File::open(layout.installed().join(FILES)).ok()?;
    serde_json::from_reader::<_, FilesIn>(std::io::BufReader::new(file))
        .ok()
        .filter(|f| f.version == version)
        .map(|f| f.files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_read_back_for_its_version_only() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(dir.path());
        assert_eq!(summary(&layout, "2.0"), None);
        let summary_2 = Summary {
            version: "2.0".into(),
            left_behind: vec!["notes.txt".into()],
            kept: vec!["settings.ini".into()],
        };
        let files_2 = vec!["bin".to_owned(), "bin/demo".to_owned()];
        record(&layout, &files_2, &summary_2).unwrap();
        assert_eq!(summary(&layout, "2.0"), Some(summary_2));
        assert_eq!(
            files(&layout, "2.0"),
            Some(files_2.into_iter().collect::<HashSet<_>>())
        );
        assert_eq!(summary(&layout, "1.0"), None);
        assert_eq!(files(&layout, "1.0"), None);
    }
}
