//! Safe extraction of a tar into a fresh folder (docs/architecture.md, "Design rules", "Every
//! archive path is checked with Windows rules"; every refused shape with its test is listed in
//! `tests/hostile/README.md`).
//!
//! Entries are read one by one with the tar crate's parser and written by hand; the crate's
//! `unpack`/`unpack_in` are never used. Rules, each refusal with its own [`ArchiveError`]
//! variant:
//!
//! - the destination must not exist or be an empty folder;
//! - entry paths are relative, without `..`; a leading `./` and an entry for the root itself
//!   (`./`, tufup's first member) are accepted, the root entry is skipped;
//! - no entry below a symlink listed earlier, no path twice, and every folder on the way must be
//!   a real folder (files are opened with `create_new`, which never follows a link);
//! - symlinks: relative targets that stay inside (the rule of `super::path`);
//! - hard links are refused (tufd never writes them), as are devices, fifos, sparse files,
//!   PAX global headers and any other type;
//! - a PAX `size` that disagrees with the header's size is refused (the TARmageddon trick:
//!   parsers that honour one or the other see different entries), and so are a `size` record
//!   that is not a number and a repeated `size`, `path` or `linkpath` record (the tar crate
//!   skips an unparseable size and honours the first of repeated records, other readers the
//!   last);
//! - [`ExtractLimits`] caps the number of entries and the total file content (checked against
//!   each entry's declared size before writing it).
//!
//! Permission bits (`mode & 0o777`) are applied to files and folders; folders get theirs at the
//! end, deepest first, so a read-only folder does not stop its own extraction. On failure the
//! partial tree is removed, leaving `dest` as it was (absent, or empty).
//!
//! Nothing is synced: a caller that needs the tree to survive a power loss makes it durable
//! once the extraction is done, in one step for the whole tree (the install's staging does so
//! with `tufd_install::tree_sync::sync_tree`: one sync of the file system on Linux instead of
//! one `fsync` per file, which made staging 50,000 files take up to minutes).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use tar::EntryType;

use super::path::{LinkProblem, PathProblem, entry_components, join, resolve_link_target};
use super::{ArchiveError, ExtractLimits, ExtractSummary};

const BUF_BYTES: usize = 256 * 1024;

/// Extracts `tar` into the fresh folder `dest` (created with its parents if absent, else it
/// must be an empty folder); returns what was created. See the module doc for every rule.
///
/// # Errors
/// [`ArchiveError::DestNotEmpty`] for a used `dest`; for hostile or unsupported entries
/// [`ArchiveError::AbsolutePath`], [`ArchiveError::ParentComponent`],
/// [`ArchiveError::EmptyEntryPath`], [`ArchiveError::NonUtf8Entry`],
/// [`ArchiveError::ThroughSymlink`], [`ArchiveError::ParentNotFolder`],
/// [`ArchiveError::SymlinkAbsolute`], [`ArchiveError::SymlinkEscapes`],
/// [`ArchiveError::Hardlink`], [`ArchiveError::UnsupportedEntry`],
/// [`ArchiveError::DuplicateEntry`], [`ArchiveError::SizeMismatch`]; limits
/// [`ArchiveError::TooManyEntries`], [`ArchiveError::ContentTooLarge`];
/// [`ArchiveError::MalformedTar`] for a broken tar stream and [`ArchiveError::Io`] for disk
/// failures. After any error `dest` is as before the call.
///
/// Nothing is synced (see the module doc): after a power loss the tree may be partly missing.
pub fn extract_tar(
    tar: &mut dyn Read,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<ExtractSummary, ArchiveError> {
    let created = prepare_dest(dest)?;
    let result = Extraction::new(dest, limits).run(tar);
    if result.is_err() {
        clean_up(dest, created);
    }
    result
}

/// Checks `dest` is absent or an empty real folder and creates it; returns whether it was created.
fn prepare_dest(dest: &Path) -> Result<bool, ArchiveError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) => {
            let empty = meta.is_dir()
                && fs::read_dir(dest)
                    .map_err(ArchiveError::io(dest))?
                    .next()
                    .is_none();
            if !empty {
                return Err(ArchiveError::DestNotEmpty {
                    path: dest.to_path_buf(),
                });
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(ArchiveError::io(dest))?;
            Ok(true)
        }
        Err(e) => Err(ArchiveError::io(dest)(e)),
    }
}

/// Best effort: restores `dest` to absent (if we created it) or empty.
fn clean_up(dest: &Path, created: bool) {
    if created {
        let _ = fs::remove_dir_all(dest);
        return;
    }
    if let Ok(children) = fs::read_dir(dest) {
        for child in children.flatten() {
            let path = child.path();
            match child.file_type() {
                Ok(t) if t.is_dir() => {
                    let _ = fs::remove_dir_all(&path);
                }
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

/// State of one extraction.
struct Extraction<'a> {
    dest: &'a Path,
    limits: &'a ExtractLimits,
    summary: ExtractSummary,
    entries: u64,
    /// The sha256 of each relative path listed so far, `/`-joined (duplicates are refused):
    /// 32 bytes per entry however long its path, not a copy of every path.
    seen: HashSet<[u8; 32]>,
    /// Relative paths of symlinks created so far (nothing may go below them).
    symlinks: HashSet<Vec<String>>,
    /// Folders and their modes, applied at the end.
    dir_modes: Vec<(Vec<String>, u32)>,
    /// With [`ExtractLimits::windows_names`]: case-folded paths seen, with their raw path.
    folded: HashMap<String, String>,
}

impl<'a> Extraction<'a> {
    fn new(dest: &'a Path, limits: &'a ExtractLimits) -> Self {
        Self {
            dest,
            limits,
            summary: ExtractSummary::default(),
            entries: 0,
            seen: HashSet::new(),
            symlinks: HashSet::new(),
            dir_modes: Vec::new(),
            folded: HashMap::new(),
        }
    }

    /// With [`ExtractLimits::windows_names`]: refuses a component Windows cannot hold and a
    /// path that differs from an earlier one only by case.
    fn check_windows_names(&mut self, raw: &str, parts: &[String]) -> Result<(), ArchiveError> {
        if !self.limits.windows_names {
            return Ok(());
        }
        for component in parts {
            if let Some(problem) = super::windows_name_problem(component) {
                return Err(ArchiveError::WindowsName {
                    entry: raw.to_owned(),
                    component: component.clone(),
                    problem,
                });
            }
        }
        // Every prefix too: `lib/a` and `Lib/b` would share one folder on Windows.
        for depth in 1..=parts.len() {
            let path = parts[..depth].join("/");
            let key = super::case_folded(&parts[..depth]);
            match self.folded.get(&key) {
                Some(other) if *other != path => {
                    return Err(ArchiveError::CaseCollision {
                        entry: raw.to_owned(),
                        other: other.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    self.folded.insert(key, path);
                }
            }
        }
        Ok(())
    }

    /// Refuses a path (`raw`, as in the tar) or link target of `length` bytes over
    /// [`ExtractLimits::max_path_bytes`].
    fn check_path_length(&self, raw: &[u8], length: usize) -> Result<(), ArchiveError> {
        let limit = self.limits.max_path_bytes;
        if length <= limit {
            return Ok(());
        }
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(200)]);
        Err(ArchiveError::PathTooLong {
            entry: shown.trim_end_matches('\u{fffd}').to_owned(),
            length,
            limit,
        })
    }

    fn run(mut self, tar: &mut dyn Read) -> Result<ExtractSummary, ArchiveError> {
        let malformed = |source| ArchiveError::MalformedTar { source };
        let mut archive = tar::Archive::new(tar);
        for entry in archive.entries().map_err(malformed)? {
            let entry = entry.map_err(malformed)?;
            self.entry(entry)?;
        }
        self.apply_dir_modes()?;
        Ok(self.summary)
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let raw_bytes = entry.path_bytes().into_owned();
        self.check_path_length(&raw_bytes, raw_bytes.len())?;
        let raw = String::from_utf8(raw_bytes).map_err(|e| ArchiveError::NonUtf8Entry {
            entry: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })?;
        check_pax(&mut entry, &raw)?;

        let entry_type = entry.header().entry_type();
        let parts = match entry_components(&raw) {
            Ok(parts) => parts,
            // `./` or `.`: tufup's entry for the root folder. Nothing to create.
            Err(PathProblem::Empty) if entry_type.is_dir() && !raw.is_empty() => return Ok(()),
            Err(PathProblem::Empty) => return Err(ArchiveError::EmptyEntryPath { entry: raw }),
            Err(PathProblem::Absolute) => return Err(ArchiveError::AbsolutePath { entry: raw }),
            Err(PathProblem::Parent) => return Err(ArchiveError::ParentComponent { entry: raw }),
        };
        let key = *crate::hash::Sha256::digest(parts.join("/").as_bytes()).as_bytes();
        if !self.seen.insert(key) {
            return Err(ArchiveError::DuplicateEntry { entry: raw });
        }
        self.check_windows_names(&raw, &parts)?;
        for depth in (1..parts.len()).filter(|_| !self.symlinks.is_empty()) {
            if self.symlinks.contains(&parts[..depth]) {
                return Err(ArchiveError::ThroughSymlink {
                    entry: raw,
                    symlink: parts[..depth].join("/"),
                });
            }
        }
        let mode = entry
            .header()
            .mode()
            .map_err(|source| ArchiveError::MalformedTar { source })?
            & 0o777;

        match entry_type {
            EntryType::Directory => {
                self.make_parents(&raw, &parts)?;
                self.make_dir(&raw, &parts)?;
                self.dir_modes.push((parts, mode));
            }
            EntryType::Regular | EntryType::Continuous => {
                // Contiguous files ('7') are regular files to every reader that matters.
                self.make_parents(&raw, &parts)?;
                self.write_file(&mut entry, &parts, mode)?;
            }
            EntryType::Symlink => {
                let target = link_target(&entry, &raw)?;
                self.check_path_length(raw.as_bytes(), target.len())?;
                let resolved = match resolve_link_target(&parts[..parts.len() - 1], &target) {
                    Ok(resolved) => resolved,
                    Err(LinkProblem::Absolute) => {
                        return Err(ArchiveError::SymlinkAbsolute { entry: raw, target });
                    }
                    Err(LinkProblem::Escapes) => {
                        return Err(ArchiveError::SymlinkEscapes { entry: raw, target });
                    }
                };
                self.make_parents(&raw, &parts)?;
                self.make_symlink(&raw, &parts, &target, &resolved)?;
                self.symlinks.insert(parts);
            }
            EntryType::Link => {
                let target = link_target(&entry, &raw)?;
                return Err(ArchiveError::Hardlink { entry: raw, target });
            }
            other => {
                return Err(ArchiveError::UnsupportedEntry {
                    entry: raw,
                    kind: describe(other),
                });
            }
        }
        Ok(())
    }

    /// Creates the folders above `parts`, refusing anything on the way that is not a real folder.
    fn make_parents(&mut self, raw: &str, parts: &[String]) -> Result<(), ArchiveError> {
        for depth in 1..parts.len() {
            self.make_dir(raw, &parts[..depth])?;
        }
        Ok(())
    }

    /// Creates the folder `parts` unless it already is a real folder.
    fn make_dir(&mut self, raw: &str, parts: &[String]) -> Result<(), ArchiveError> {
        let path = join(self.dest, parts);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(ArchiveError::ParentNotFolder {
                entry: raw.to_owned(),
                path,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&path).map_err(ArchiveError::io(&path))?;
                self.summary.dirs += 1;
                Ok(())
            }
            Err(e) => Err(ArchiveError::io(path)(e)),
        }
    }

    fn write_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parts: &[String],
        mode: u32,
    ) -> Result<(), ArchiveError> {
        let size = entry.size();
        let limit_bytes = self.limits.max_total_bytes;
        if self.summary.bytes.saturating_add(size) > limit_bytes {
            return Err(ArchiveError::ContentTooLarge { limit_bytes });
        }
        let path = join(self.dest, parts);
        let mut file = create_new_file(&path).map_err(ArchiveError::io(&path))?;
        let mut buf = vec![
            0u8;
            BUF_BYTES
                .min(usize::try_from(size).unwrap_or(BUF_BYTES))
                .max(1)
        ];
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(ArchiveError::MalformedTar { source }),
            };
            file.write_all(&buf[..n]).map_err(ArchiveError::io(&path))?;
            written += n as u64;
        }
        if written != size {
            return Err(ArchiveError::MalformedTar {
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "entry {} ended after {written} of {size} bytes",
                        path.display()
                    ),
                ),
            });
        }
        set_file_mode(&file, mode).map_err(ArchiveError::io(&path))?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }

    fn make_symlink(
        &mut self,
        raw: &str,
        parts: &[String],
        target: &str,
        resolved: &[String],
    ) -> Result<(), ArchiveError> {
        let path = join(self.dest, parts);
        create_symlink(target, &path, &join(self.dest, resolved)).map_err(|e| {
            if e.kind() == io::ErrorKind::Unsupported {
                ArchiveError::SymlinkUnsupported {
                    entry: raw.to_owned(),
                }
            } else {
                ArchiveError::io(&path)(e)
            }
        })?;
        self.summary.symlinks += 1;
        Ok(())
    }

    /// Applies folder modes, deepest first.
    fn apply_dir_modes(&mut self) -> Result<(), ArchiveError> {
        self.dir_modes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        for (parts, mode) in &self.dir_modes {
            let path = join(self.dest, parts);
            set_path_mode(&path, *mode).map_err(ArchiveError::io(&path))?;
        }
        Ok(())
    }
}

/// Refuses malformed PAX records, a PAX size that disagrees with the header (in any `size`
/// record), and repeated `size` / `path` / `linkpath` records.
fn check_pax<R: Read>(entry: &mut tar::Entry<'_, R>, raw: &str) -> Result<(), ArchiveError> {
    let header_size = entry
        .header()
        .entry_size()
        .map_err(|source| ArchiveError::MalformedTar { source })?;
    let pax_size = entry.size();
    let sparse = entry.header().entry_type().is_gnu_sparse();
    let malformed = |message: String| ArchiveError::MalformedTar {
        source: io::Error::new(io::ErrorKind::InvalidData, message),
    };
    if let Some(extensions) = entry
        .pax_extensions()
        .map_err(|source| ArchiveError::MalformedTar { source })?
    {
        // The tar crate silently ignores a `size` it cannot parse and honours the *first* of
        // repeated `size`/`path`/`linkpath` records, where other readers honour the last:
        // check every `size` record and refuse repeats, so no reader sees other entries.
        let mut seen: Vec<&[u8]> = Vec::new();
        for extension in extensions {
            let extension = extension.map_err(|source| ArchiveError::MalformedTar { source })?;
            let key = extension.key_bytes();
            if key == b"size" && !sparse {
                let value = extension.value_bytes();
                let size = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| {
                        malformed(format!(
                            "tar entry {raw} has a pax size record `{}` that is not a number",
                            String::from_utf8_lossy(value)
                        ))
                    })?;
                if size != header_size {
                    return Err(ArchiveError::SizeMismatch {
                        entry: raw.to_owned(),
                        header_size,
                        pax_size: size,
                    });
                }
            }
            if matches!(key, b"size" | b"path" | b"linkpath") {
                if seen.contains(&key) {
                    return Err(malformed(format!(
                        "tar entry {raw} has the pax record `{}` twice",
                        String::from_utf8_lossy(key)
                    )));
                }
                seen.push(key);
            }
        }
    }
    // `entry.size()` is the PAX size when a record gives one (the tar crate honours it), else
    // the header size; GNU sparse files are refused later by type.
    if pax_size != header_size && !entry.header().entry_type().is_gnu_sparse() {
        return Err(ArchiveError::SizeMismatch {
            entry: raw.to_owned(),
            header_size,
            pax_size,
        });
    }
    Ok(())
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>, raw: &str) -> Result<String, ArchiveError> {
    let bytes = entry
        .link_name_bytes()
        .map(|b| b.into_owned())
        .unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| ArchiveError::NonUtf8Entry {
        entry: raw.to_owned(),
    })
}

fn describe(entry_type: EntryType) -> String {
    match entry_type {
        EntryType::Char => "character device".into(),
        EntryType::Block => "block device".into(),
        EntryType::Fifo => "fifo".into(),
        EntryType::GNUSparse => "gnu sparse file".into(),
        EntryType::XGlobalHeader => "pax global header".into(),
        other => format!("type byte {:#04x}", other.as_byte()),
    }
}

/// Creates the symlink `path` → `target`; `resolved` is where the target lands (Windows needs
/// to know whether that is a folder).
#[cfg(unix)]
fn create_symlink(target: &str, path: &Path, _resolved: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(windows)]
fn create_symlink(target: &str, path: &Path, resolved: &Path) -> io::Result<()> {
    if fs::metadata(resolved).map(|m| m.is_dir()).unwrap_or(false) {
        std::os::windows::fs::symlink_dir(target, path)
    } else {
        std::os::windows::fs::symlink_file(target, path)
    }
}

#[cfg(not(any(unix, windows)))]
fn create_symlink(_target: &str, _path: &Path, _resolved: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no symlinks on this platform",
    ))
}

#[cfg(unix)]
fn create_new_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    let mut perms = file.metadata()?.permissions();
    perms.set_readonly(mode & 0o200 == 0);
    file.set_permissions(perms)
}

#[cfg(unix)]
fn set_path_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_path_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    // Folders have no mode to keep on Windows; a read-only folder flag means something else.
    Ok(())
}
