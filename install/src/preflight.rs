//! Pre-flight checks before a download starts (docs/architecture.md, "One update, step by step",
//! step 4): the folders the update writes into are writable, their file systems have room for the
//! download, the new tar, the staging folder and the backup, and no other install is in
//! progress. Each failure is its own [`InstallError`] kind, so the app can tell the user what to
//! fix: `preflight-not-writable`, `preflight-disk-space`, `preflight-install-in-progress`.
//!
//! The decision ([`decide`]) is a pure function of a [`SpaceNeed`] (from the signed lengths and
//! `tar_size`s of the plan, [`need_for`]) and a [`Probe`] of the disk; [`probe`] is the thin I/O
//! that fills the probe, and [`run`] does both.
//!
//! Space model (where each file goes: docs/architecture.md, "The data folder"): downloads, the
//! rebuilt base tar and the new tar go to the data folder; the staging folder holds the extracted
//! new version (at most its tar size) next to the backup; the backup itself is a rename of the
//! install folder and costs no space. When the data folder and the install folder's parent are on
//! one file system, everything is counted against it; otherwise staging is counted against the
//! install folder's parent. A margin of [`MARGIN_BYTES`] is added to each.

use std::path::{Path, PathBuf};

use tufd_core::TargetCustom;
use tufd_core::planner::{Plan, TargetInfo};

use crate::error::InstallError;
use crate::layout::DataLayout;

/// Headroom kept free on each file system beyond what the update needs (bytes): 4 MiB, for the
/// journal, state files and metadata written meanwhile.
pub const MARGIN_BYTES: u64 = 4 << 20;

/// What one update writes, in bytes, from signed metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceNeed {
    /// The targets to download (signed lengths).
    pub download_bytes: u64,
    /// Tars written to the cache: the new version's, plus the installed version's when it must
    /// be rebuilt from the install folder (signed `tar_size`s).
    pub cache_bytes: u64,
    /// The extracted new version in staging (its signed `tar_size`, an upper bound of the file
    /// contents).
    pub staging_bytes: u64,
}

impl SpaceNeed {
    /// Everything, on one file system.
    pub fn total_bytes(&self) -> u64 {
        self.download_bytes
            .saturating_add(self.cache_bytes)
            .saturating_add(self.staging_bytes)
    }
}

fn tar_size(target: &TargetInfo) -> Option<u64> {
    match &target.custom {
        TargetCustom::Archive(a) => a.tar.map(|t| t.size_bytes),
        TargetCustom::Patch(p) => p.tar.map(|t| t.size_bytes),
    }
}

/// The space a plan needs. A tar without a signed size is estimated at its archive's length
/// times 4 (a bound for the gzip and zstd ratios of typical app bundles), never less.
pub fn need_for(plan: &Plan) -> SpaceNeed {
    let estimate = |archive: &TargetInfo| {
        tar_size(archive).unwrap_or_else(|| archive.length.saturating_mul(4))
    };
    match plan {
        Plan::UpToDate => SpaceNeed::default(),
        Plan::Patches {
            patches,
            archive,
            rebuild_base,
            ..
        } => {
            let new_tar = patches
                .last()
                .and_then(tar_size)
                .unwrap_or_else(|| estimate(archive));
            SpaceNeed {
                download_bytes: patches.iter().map(|p| p.length).sum(),
                cache_bytes: new_tar + rebuild_base.map_or(0, |d| d.size_bytes),
                staging_bytes: new_tar,
            }
        }
        Plan::Full { archive, .. } => {
            let new_tar = estimate(archive);
            SpaceNeed {
                download_bytes: archive.length,
                cache_bytes: new_tar,
                staging_bytes: new_tar,
            }
        }
    }
}

/// What the disk looks like, as [`decide`] needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Folders that are not writable, with the reason (first one wins).
    pub not_writable: Vec<(PathBuf, String)>,
    /// The journal of an install in progress, if one exists.
    pub journal: Option<PathBuf>,
    /// The data folder and the bytes available to us on its file system.
    pub data_available: (PathBuf, u64),
    /// The install folder's parent and the bytes available there, when it is on another file
    /// system than the data folder (`None`: the same one).
    pub install_available: Option<(PathBuf, u64)>,
}

/// The pre-flight verdict: the first failure, in the order install in progress, not writable,
/// disk space.
///
/// # Errors
/// [`InstallError::PreflightInstallInProgress`], [`InstallError::PreflightNotWritable`] or
/// [`InstallError::PreflightDiskSpace`].
pub fn decide(need: &SpaceNeed, probe: &Probe) -> Result<(), InstallError> {
    if let Some(journal) = &probe.journal {
        return Err(InstallError::PreflightInstallInProgress {
            journal: journal.clone(),
        });
    }
    if let Some((path, message)) = probe.not_writable.first() {
        return Err(InstallError::PreflightNotWritable {
            path: path.clone(),
            message: message.clone(),
        });
    }
    let short = |(path, available): &(PathBuf, u64), bytes: u64| {
        let needed_bytes = bytes.saturating_add(MARGIN_BYTES);
        (needed_bytes > *available).then(|| InstallError::PreflightDiskSpace {
            path: path.clone(),
            needed_bytes,
            available_bytes: *available,
        })
    };
    let failure = match &probe.install_available {
        None => short(&probe.data_available, need.total_bytes()),
        Some(install) => short(
            &probe.data_available,
            need.download_bytes.saturating_add(need.cache_bytes),
        )
        .or_else(|| short(install, need.staging_bytes)),
    };
    failure.map_or(Ok(()), Err)
}

/// Whether a file can be created in `dir` (a probe file, removed at once); on success, the
/// owner (user and group id) the probe file got, i.e. who we are.
fn writable(dir: &Path) -> Result<Option<(u32, u32)>, String> {
    let file = tempfile::Builder::new()
        .prefix(".tufd-preflight-")
        .tempfile_in(dir)
        .map_err(|e| e.to_string())?;
    Ok(crate::sys::owner(file.path()))
}

fn available(path: &Path) -> Result<u64, InstallError> {
    fs4::available_space(path).map_err(|e| InstallError::io(path, e))
}

/// Looks at the disk: writability of the data folder and the install folder's parent (a probe
/// file is created and removed in each), and of the install folder (by its permission bits,
/// since nothing may be written into the app); the journal; free space. Blocking.
///
/// # Errors
/// [`InstallError::Io`] when the free space of a folder cannot be read.
pub fn probe(layout: &DataLayout, install_dir: &Path) -> Result<Probe, InstallError> {
    let install_parent = install_dir.parent().unwrap_or(Path::new("/"));
    let mut not_writable = Vec::new();
    let mut who = None;
    for dir in [layout.root(), install_parent] {
        match writable(dir) {
            Ok(owner) => who = who.or(owner),
            Err(e) => not_writable.push((dir.to_path_buf(), e)),
        }
    }
    // The install folder itself is renamed into the backup folder, which rewrites its `..`
    // entry: it must be writable too.
    if let Err(e) = crate::sys::permits_write(install_dir, who) {
        not_writable.insert(0, (install_dir.to_path_buf(), e));
    }
    let journal = layout.journal();
    let journal = journal.exists().then_some(journal);
    let data_available = (layout.root().to_path_buf(), available(layout.root())?);
    let same = crate::sys::same_device(layout.root(), install_parent);
    let install_available = if same {
        None
    } else {
        Some((install_parent.to_path_buf(), available(install_parent)?))
    };
    Ok(Probe {
        not_writable,
        journal,
        data_available,
        install_available,
    })
}

/// Probes the disk and decides (see [`decide`]). Blocking.
///
/// # Errors
/// As [`decide`] and [`probe`].
pub fn run(layout: &DataLayout, install_dir: &Path, need: &SpaceNeed) -> Result<(), InstallError> {
    decide(need, &probe(layout, install_dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tufd_core::custom::{ArchiveCustom, PatchCustom, TarDigest};
    use tufd_core::{Codec, Sha256, TargetName};

    fn digest(size_bytes: u64) -> TarDigest {
        TarDigest {
            sha256: Sha256::from_bytes([0; 32]),
            size_bytes,
        }
    }

    fn archive(version: &str, length: u64, tar: Option<u64>) -> TargetInfo {
        TargetInfo {
            name: TargetName::parse(&format!("demo-{version}.tar.gz")).unwrap(),
            length,
            custom: TargetCustom::Archive(ArchiveCustom {
                tar: tar.map(digest),
                ..ArchiveCustom::default()
            }),
        }
    }

    fn patch(version: &str, length: u64, tar: u64) -> TargetInfo {
        TargetInfo {
            name: TargetName::parse(&format!("demo-{version}.patch")).unwrap(),
            length,
            custom: TargetCustom::Patch(PatchCustom {
                tar: Some(digest(tar)),
                codec: Codec::default(),
                from: None,
                user: None,
            }),
        }
    }

    fn probe_with(available: u64) -> Probe {
        Probe {
            not_writable: Vec::new(),
            journal: None,
            data_available: ("/data".into(), available),
            install_available: None,
        }
    }

    #[test]
    fn need_counts_signed_lengths_and_tar_sizes() {
        let patches = Plan::Patches {
            to: "3.0".parse().unwrap(),
            patches: vec![patch("2.0", 100, 5_000), patch("3.0", 50, 6_000)],
            archive: archive("3.0", 2_000, Some(6_000)),
            rebuild_base: Some(digest(4_000)),
        };
        assert_eq!(
            need_for(&patches),
            SpaceNeed {
                download_bytes: 150,
                cache_bytes: 10_000,
                staging_bytes: 6_000,
            }
        );
        let full = Plan::Full {
            to: "3.0".parse().unwrap(),
            archive: archive("3.0", 2_000, None),
            reason: tufd_core::planner::FullReason::BaseUnavailable,
        };
        let need = need_for(&full);
        assert_eq!(need.download_bytes, 2_000);
        assert_eq!(
            need.staging_bytes, 8_000,
            "unsigned tar size: 4x the archive"
        );
        assert_eq!(need_for(&Plan::UpToDate).total_bytes(), 0);
    }

    #[test]
    fn disk_space_needs_the_total_plus_the_margin() {
        let need = SpaceNeed {
            download_bytes: 1_000,
            cache_bytes: 2_000,
            staging_bytes: 3_000,
        };
        let exact = 6_000 + MARGIN_BYTES;
        assert!(decide(&need, &probe_with(exact)).is_ok());
        let err = decide(&need, &probe_with(exact - 1)).unwrap_err();
        assert!(matches!(
            err,
            InstallError::PreflightDiskSpace {
                needed_bytes,
                available_bytes,
                ..
            } if needed_bytes == exact && available_bytes == exact - 1
        ));
    }

    #[test]
    fn staging_counts_against_the_install_file_system_when_apart() {
        let need = SpaceNeed {
            download_bytes: 1_000,
            cache_bytes: 2_000,
            staging_bytes: 3_000,
        };
        let mut probe = probe_with(3_000 + MARGIN_BYTES);
        probe.install_available = Some(("/opt".into(), 3_000 + MARGIN_BYTES));
        assert!(decide(&need, &probe).is_ok());
        probe.install_available = Some(("/opt".into(), 2_999 + MARGIN_BYTES));
        let err = decide(&need, &probe).unwrap_err();
        assert!(
            matches!(&err, InstallError::PreflightDiskSpace { path, .. } if path == Path::new("/opt")),
            "{err}"
        );
    }

    #[test]
    fn install_in_progress_wins_then_writability() {
        let need = SpaceNeed::default();
        let mut probe = probe_with(0);
        probe.not_writable = vec![("/opt/app".into(), "read-only file system".into())];
        probe.journal = Some("/data/journal.json".into());
        assert!(matches!(
            decide(&need, &probe).unwrap_err(),
            InstallError::PreflightInstallInProgress { .. }
        ));
        probe.journal = None;
        let err = decide(&need, &probe).unwrap_err();
        assert!(
            matches!(&err, InstallError::PreflightNotWritable { path, .. } if path == Path::new("/opt/app")),
            "{err}"
        );
        probe.not_writable.clear();
        assert!(matches!(
            decide(&need, &probe).unwrap_err(),
            InstallError::PreflightDiskSpace { .. }
        ));
    }

    fn layout_and_install() -> (tempfile::TempDir, DataLayout, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let install = dir.path().join("app");
        std::fs::create_dir_all(&install).unwrap();
        (dir, layout, install)
    }

    #[test]
    fn a_healthy_disk_passes_and_leaves_no_probe_files() {
        let (_dir, layout, install) = layout_and_install();
        let p = probe(&layout, &install).unwrap();
        assert!(p.not_writable.is_empty(), "{p:?}");
        assert_eq!(p.install_available, None, "same file system");
        assert!(p.data_available.1 > 0);
        run(&layout, &install, &SpaceNeed::default()).unwrap();
        assert_eq!(std::fs::read_dir(&install).unwrap().count(), 0);
    }

    #[test]
    fn a_journal_on_disk_is_an_install_in_progress() {
        let (_dir, layout, install) = layout_and_install();
        std::fs::write(layout.journal(), "{}").unwrap();
        let err = run(&layout, &install, &SpaceNeed::default()).unwrap_err();
        assert!(
            matches!(&err, InstallError::PreflightInstallInProgress { journal } if *journal == layout.journal()),
            "{err}"
        );
    }

    #[test]
    fn more_than_the_disk_holds_is_refused() {
        let (_dir, layout, install) = layout_and_install();
        let need = SpaceNeed {
            download_bytes: u64::MAX / 2,
            ..SpaceNeed::default()
        };
        assert!(matches!(
            run(&layout, &install, &need).unwrap_err(),
            InstallError::PreflightDiskSpace { .. }
        ));
    }

    /// `/proc` refuses new files even to root, so this works in containers running as root,
    /// where a `chmod 0555` folder would not: an install folder inside it has an unwritable
    /// parent.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_unwritable_install_parent_is_refused() {
        let (_dir, layout, _install) = layout_and_install();
        let install = PathBuf::from(format!("/proc/{}", std::process::id()));
        let err = run(&layout, &install, &SpaceNeed::default()).unwrap_err();
        assert!(
            matches!(&err, InstallError::PreflightNotWritable { path, .. } if path == Path::new("/proc")),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn permission_bits_decide_for_the_install_folder() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, _layout, install) = layout_and_install();
        // A stranger (neither owner nor group) is judged by the "other" bits; root always may.
        let stranger = Some((54_321, 54_321));
        let mode = |m| std::fs::set_permissions(&install, std::fs::Permissions::from_mode(m));
        mode(0o755).unwrap();
        assert!(crate::sys::permits_write(&install, stranger).is_err());
        assert!(crate::sys::permits_write(&install, Some((0, 0))).is_ok());
        mode(0o757).unwrap();
        assert!(crate::sys::permits_write(&install, stranger).is_ok());
        mode(0o755).unwrap();
        assert!(crate::sys::permits_write(&install.join("missing"), None).is_err());
    }
}
