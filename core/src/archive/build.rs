//! Building the deterministic tar of a bundle folder (docs/repository-format.md, "Archives":
//! archives are deterministic so a client can rebuild the base tar of an installed version).
//!
//! Layout of the tar, fixed so that any copy of the folder gives the same bytes:
//!
//! - members are the folder's *contents* as relative paths without a `./` prefix and without
//!   an entry for the folder itself (`bin/`, `bin/app`, `lib/x.so`); folders end in `/`.
//!   (tufup writes `./` and `./file`; both extract the same way, and leaving the root out keeps
//!   the install folder's own mode out of the digest.)
//! - order: depth first, each folder's names sorted by their bytes (GNU `tar --sort=name`;
//!   parents always precede children).
//! - GNU headers: mtime 0, uid/gid 0, empty user and group names, mode = permission bits
//!   (`mode & 0o777`; setuid, setgid and sticky dropped; symlinks 0o777). Names or link targets
//!   over 100 bytes use GNU `././@LongLink` records (`L` / `K`), as GNU tar does.
//! - regular files keep their content (hard links become separate regular files); symlinks are
//!   kept as symlinks with their target text as-is, refused when absolute or leaving the bundle
//!   ([`super::path`]); fifos, sockets and devices are refused.
//! - names must be UTF-8, so the tar is the same on every platform.
//!
//! On platforms without Unix modes, folders are written 0o755 and files 0o644 (0o444 when
//! read-only); a client there rebuilds an installed version's tar with the modes signed with
//! its archive instead ([`write_tar_with`], [`super::modes`]).

use std::collections::HashSet;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::compress::Encoder;
use super::modes::TarModes;
use super::path::{LinkProblem, resolve_link_target};
use super::{ArchiveError, Compression};
use crate::custom::TarDigest;
use crate::hash::HashingWriter;

/// Bytes of the name and link-name fields of a tar header.
const NAME_FIELD_BYTES: usize = 100;

/// One member of the tar, listed before anything is written.
#[derive(Debug)]
enum Member {
    Dir {
        name: String,
        mode: u32,
    },
    File {
        name: String,
        mode: u32,
        source: PathBuf,
        len: u64,
    },
    Symlink {
        name: String,
        target: String,
    },
}

/// Writes the deterministic tar of the contents of `bundle` to `out`; returns its sha256 and
/// length in bytes. `progress` is called with the bytes of file content written so far
/// (cumulative), for a progress bar.
///
/// The same folder, or a copy of it made with `cp -a` or `cp -r` (mtimes and owners do not
/// matter; permission bits do), gives the same bytes. See the module doc for the layout.
///
/// # Errors
/// [`ArchiveError::BundleMissing`], [`ArchiveError::BundleNotFolder`],
/// [`ArchiveError::BundleEmpty`] for a bad `bundle`; [`ArchiveError::UnsupportedFileType`],
/// [`ArchiveError::NonUtf8Name`], [`ArchiveError::SymlinkAbsolute`],
/// [`ArchiveError::SymlinkEscapes`] for content a client would refuse;
/// [`ArchiveError::FileChanged`] when a file shrinks while read; [`ArchiveError::Io`] on read
/// failures and [`ArchiveError::Stream`] when writing to `out` fails.
pub fn write_tar(
    bundle: &Path,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<TarDigest, ArchiveError> {
    write_tar_with(bundle, Rebuild::default(), out, progress)
}

/// The permission bits of `bundle`'s members that differ from the defaults, for the archive's
/// signed `modes` (see [`TarModes`]).
///
/// # Errors
/// As [`write_tar`].
pub fn tar_modes(bundle: &Path) -> Result<TarModes, ArchiveError> {
    let mut modes = TarModes::default();
    for member in list_bundle(bundle)? {
        match member {
            Member::Dir { name, mode } | Member::File { name, mode, .. } => {
                modes.record(&name, mode);
            }
            Member::Symlink { .. } => {}
        }
    }
    Ok(modes)
}

/// The members of `bundle` whose setuid, setgid or sticky bits the tar drops (it keeps
/// `mode & 0o777` only, so that extraction never creates a setuid file): tar member name and
/// the full mode (`0o7777` mask), for the publisher to warn about. Always empty where the file
/// system has no such bits.
///
/// # Errors
/// As [`write_tar`].
pub fn dropped_mode_bits(bundle: &Path) -> Result<Vec<(String, u32)>, ArchiveError> {
    Ok(list_bundle(bundle)?
        .into_iter()
        .filter_map(|member| match member {
            Member::Dir { name, mode } | Member::File { name, mode, .. } if mode & 0o7000 != 0 => {
                Some((name, mode))
            }
            _ => None,
        })
        .collect())
}

/// How an install folder is read back into the tar of the release it came from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rebuild<'a> {
    /// Every member's permission bits from this signed map (the archive's `modes`) instead of
    /// from the disk: how a client on a file system without mode bits (Windows) rebuilds a tar
    /// packed elsewhere. `None`: the disk's bits.
    pub modes: Option<&'a TarModes>,
    /// Paths (relative, `/`-separated, no trailing `/`) left out with everything below them:
    /// what the app writes into its install folder and tufd carries across updates
    /// (`--keep`), which is not part of any release.
    pub exclude: &'a [String],
    /// The release's own entries (relative, `/`-separated, no trailing `/`), as recorded when
    /// it was installed: members not listed are left out, so files added to the install folder
    /// since do not change the tar. `None`: every member not excluded.
    pub only: Option<&'a HashSet<String>>,
}

/// As [`write_tar`], reading the folder as `rebuild` says: how the daemon rebuilds the base
/// tar of an installed version.
///
/// # Errors
/// As [`write_tar`].
pub fn write_tar_with(
    bundle: &Path,
    rebuild: Rebuild<'_>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<TarDigest, ArchiveError> {
    let mut members = list_bundle(bundle)?;
    let excluded = |name: &str| {
        let name = name.trim_end_matches('/');
        if rebuild.only.is_some_and(|only| !only.contains(name)) {
            return true;
        }
        rebuild.exclude.iter().any(|path| {
            name == path
                || name
                    .strip_prefix(path.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    };
    members.retain(|member| match member {
        Member::Dir { name, .. } | Member::File { name, .. } | Member::Symlink { name, .. } => {
            !excluded(name)
        }
    });
    if let Some(modes) = rebuild.modes {
        for member in &mut members {
            match member {
                Member::Dir { name, mode } | Member::File { name, mode, .. } => {
                    *mode = modes.mode_of(name);
                }
                Member::Symlink { .. } => {}
            }
        }
    }
    let mut hashing = HashingWriter::new(out);
    write_members(&members, &mut hashing, progress)?;
    let (sha256, size_bytes, _) = hashing.finish();
    Ok(TarDigest { sha256, size_bytes })
}

/// Writes the tar of `bundle` compressed with `compression` to `out` in one pass; returns the
/// digest of the uncompressed tar and the compressed length in bytes. Same layout, errors and
/// `progress` as [`write_tar`]; compression as [`compress`](super::compress).
///
/// # Errors
/// As [`write_tar`].
pub fn write_compressed_tar(
    bundle: &Path,
    compression: Compression,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<(TarDigest, u64), ArchiveError> {
    let members = list_bundle(bundle)?;
    let mut encoder =
        Encoder::new(compression, out).map_err(ArchiveError::stream("starting compression"))?;
    let mut hashing = HashingWriter::new(&mut encoder);
    write_members(&members, &mut hashing, progress)?;
    let (sha256, size_bytes, _) = hashing.finish();
    let compressed = encoder
        .finish()
        .map_err(ArchiveError::stream("writing the archive"))?;
    Ok((TarDigest { sha256, size_bytes }, compressed))
}

/// The digest of the tar [`write_tar`] would write for `folder`, without writing it anywhere.
///
/// # Errors
/// As [`write_tar`].
pub fn tar_digest_of_folder(folder: &Path) -> Result<TarDigest, ArchiveError> {
    write_tar(folder, &mut io::sink(), &mut |_| {})
}

/// Rebuilds the tar of an install folder into `out` and checks it against the signed digest of
/// the release it came from; returns the digest. This is how the daemon restores a missing base
/// tar: an install folder holding exactly the extracted bundle gives exactly the published
/// tar. `out` receives the bytes before the check, so write to a temporary file and keep it
/// only on `Ok`.
///
/// # Errors
/// [`ArchiveError::TarMismatch`] when the folder differs from the release (a file added, edited
/// or re-moded); otherwise as [`write_tar`].
pub fn rebuild_tar(
    folder: &Path,
    expected: &TarDigest,
    out: &mut dyn Write,
) -> Result<TarDigest, ArchiveError> {
    let actual = write_tar(folder, out, &mut |_| {})?;
    if actual != *expected {
        return Err(ArchiveError::TarMismatch {
            folder: folder.to_path_buf(),
            expected: expected.sha256,
            expected_size: expected.size_bytes,
            actual: actual.sha256,
            actual_size: actual.size_bytes,
        });
    }
    Ok(actual)
}

/// Checks `bundle` and lists its members in tar order.
fn list_bundle(bundle: &Path) -> Result<Vec<Member>, ArchiveError> {
    let meta = match fs::metadata(bundle) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ArchiveError::BundleMissing {
                path: bundle.to_path_buf(),
            });
        }
        Err(e) => return Err(ArchiveError::io(bundle)(e)),
    };
    if !meta.is_dir() {
        return Err(ArchiveError::BundleNotFolder {
            path: bundle.to_path_buf(),
        });
    }
    let mut members = Vec::new();
    list_folder(bundle, &[], &mut members)?;
    if members.is_empty() {
        return Err(ArchiveError::BundleEmpty {
            path: bundle.to_path_buf(),
        });
    }
    Ok(members)
}

/// Appends the members below `folder` (which is `rel` below the bundle) to `members`.
fn list_folder(
    folder: &Path,
    rel: &[String],
    members: &mut Vec<Member>,
) -> Result<(), ArchiveError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(folder).map_err(ArchiveError::io(folder))? {
        let entry = entry.map_err(ArchiveError::io(folder))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| ArchiveError::NonUtf8Name { path: path.clone() })?;
        names.push((name, path));
    }
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // Refuse what a Windows client could not extract (on every OS: one repository may serve
    // every platform): names Windows cannot hold, and names that differ only by case.
    let mut folded = std::collections::HashMap::new();
    for (name, _) in &names {
        let mut child = rel.to_vec();
        child.push(name.clone());
        if let Some(problem) = super::windows_name_problem(name) {
            return Err(ArchiveError::WindowsName {
                entry: child.join("/"),
                component: name.clone(),
                problem,
            });
        }
        if let Some(other) = folded.insert(name.to_lowercase(), child.join("/")) {
            return Err(ArchiveError::CaseCollision {
                entry: child.join("/"),
                other,
            });
        }
    }

    for (name, path) in names {
        let meta = fs::symlink_metadata(&path).map_err(ArchiveError::io(&path))?;
        let file_type = meta.file_type();
        let mut child = rel.to_vec();
        child.push(name);
        let joined = child.join("/");
        if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(ArchiveError::io(&path))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| ArchiveError::NonUtf8Name { path: path.clone() })?;
            check_link(&path, rel, &target)?;
            members.push(Member::Symlink {
                name: joined,
                target,
            });
        } else if file_type.is_dir() {
            members.push(Member::Dir {
                name: format!("{joined}/"),
                mode: dir_mode(&meta),
            });
            list_folder(&path, &child, members)?;
        } else if file_type.is_file() {
            members.push(Member::File {
                name: joined,
                mode: file_mode(&meta),
                len: meta.len(),
                source: path,
            });
        } else {
            return Err(ArchiveError::UnsupportedFileType {
                kind: special_kind(&meta),
                path,
            });
        }
    }
    Ok(())
}

fn check_link(path: &Path, link_dir: &[String], target: &str) -> Result<(), ArchiveError> {
    match resolve_link_target(link_dir, target) {
        Ok(_) => Ok(()),
        Err(LinkProblem::Absolute) => Err(ArchiveError::SymlinkAbsolute {
            entry: path.display().to_string(),
            target: target.to_owned(),
        }),
        Err(LinkProblem::Escapes) => Err(ArchiveError::SymlinkEscapes {
            entry: path.display().to_string(),
            target: target.to_owned(),
        }),
    }
}

#[cfg(unix)]
fn file_mode(meta: &Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_mode(meta: &Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(unix)]
fn dir_mode(meta: &Metadata) -> u32 {
    file_mode(meta)
}

#[cfg(not(unix))]
fn dir_mode(_meta: &Metadata) -> u32 {
    0o755
}

#[cfg(unix)]
fn special_kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_meta: &Metadata) -> &'static str {
    "special file"
}

/// Writes `members` and the end-of-archive marker.
fn write_members(
    members: &[Member],
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ArchiveError> {
    const WRITING: &str = "writing the tar";
    let mut builder = tar::Builder::new(out);
    let mut done_bytes = 0u64;
    for member in members {
        match member {
            Member::Dir { name, mode } => {
                let header = header(EntryType::Directory, *mode & 0o777, 0);
                append(&mut builder, header, name, None, &mut io::empty())
                    .map_err(ArchiveError::stream(WRITING))?;
            }
            Member::Symlink { name, target } => {
                let header = header(EntryType::Symlink, 0o777, 0);
                append(&mut builder, header, name, Some(target), &mut io::empty())
                    .map_err(ArchiveError::stream(WRITING))?;
            }
            Member::File {
                name,
                mode,
                source,
                len,
            } => {
                let file = File::open(source).map_err(ArchiveError::io(source))?;
                let mut reader = ExactReader {
                    inner: file.take(*len),
                    expected: *len,
                    read: 0,
                    done_before: done_bytes,
                    progress: &mut *progress,
                    failure: None,
                };
                let header = header(EntryType::Regular, *mode & 0o777, *len);
                let written = append(&mut builder, header, name, None, &mut reader);
                if let Some(failure) = reader.failure.take() {
                    return Err(match failure {
                        Failure::Short => ArchiveError::FileChanged {
                            path: source.clone(),
                            expected_bytes: *len,
                            actual_bytes: reader.read,
                        },
                        Failure::Read(e) => ArchiveError::io(source)(e),
                    });
                }
                written.map_err(ArchiveError::stream(WRITING))?;
                done_bytes += len;
            }
        }
    }
    builder
        .into_inner()
        .map_err(ArchiveError::stream(WRITING))?;
    Ok(())
}

/// A header with every field that could vary between machines fixed.
fn header(entry_type: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header
}

/// Appends one member: GNU long-name / long-link records first when needed, then the header
/// (with the name bytes copied verbatim, never normalised) and the data.
fn append(
    builder: &mut tar::Builder<&mut dyn Write>,
    mut header: Header,
    name: &str,
    link: Option<&str>,
    data: &mut dyn Read,
) -> io::Result<()> {
    if name.len() > NAME_FIELD_BYTES {
        append_long_record(builder, EntryType::GNULongName, name)?;
    }
    copy_field(&mut header.as_old_mut().name, name);
    if let Some(link) = link {
        if link.len() > NAME_FIELD_BYTES {
            append_long_record(builder, EntryType::GNULongLink, link)?;
        }
        copy_field(&mut header.as_old_mut().linkname, link);
    }
    header.set_cksum();
    builder.append(&header, data)
}

/// Copies as much of `text` as fits into a NUL-padded header field.
fn copy_field(field: &mut [u8], text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&bytes[..n]);
}

/// A GNU `././@LongLink` record holding `text` and a NUL, as GNU tar and the tar crate write it.
fn append_long_record(
    builder: &mut tar::Builder<&mut dyn Write>,
    entry_type: EntryType,
    text: &str,
) -> io::Result<()> {
    let mut header = header(entry_type, 0o644, text.len() as u64 + 1);
    copy_field(&mut header.as_old_mut().name, "././@LongLink");
    header.set_cksum();
    builder.append(&header, text.as_bytes().chain(&[0u8][..]))
}

enum Failure {
    Short,
    Read(io::Error),
}

/// Reads exactly `expected` bytes of a file, reporting progress and remembering why it failed
/// (the tar builder only sees an `io::Error`).
struct ExactReader<'a, R> {
    inner: R,
    expected: u64,
    read: u64,
    done_before: u64,
    progress: &'a mut dyn FnMut(u64),
    failure: Option<Failure>,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if self.read < self.expected && !buf.is_empty() => {
                self.failure = Some(Failure::Short);
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"))
            }
            Ok(n) => {
                self.read += n as u64;
                if n > 0 {
                    (self.progress)(self.done_before + self.read);
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let kind = e.kind();
                self.failure = Some(Failure::Read(e));
                Err(io::Error::new(kind, "file read failed"))
            }
        }
    }
}
