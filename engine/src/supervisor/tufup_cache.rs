//! Taking over a tufup install (`--tufup-cache DIR`): the tufup client keeps the archive of the
//! installed version, `<app>-<version>.tar.gz`, in its target folder, and its patches apply to
//! that archive's uncompressed tar. When tufd starts with an empty data folder and the repository
//! signs no tar digest of the installed archive (tufup signs none), that cached archive is the
//! only patch base at hand: it is verified against the signed metadata and decompressed into
//! `cache/<app>-<version>.tar`, so the first tufd update goes through the patches instead of the
//! full archive.
//!
//! What the file can be checked against ([`checks`], pure):
//! - the installed version's archive target itself (signed length and sha256), when the file has
//!   the signed length: tufup kept the archive it downloaded byte for byte;
//! - the signed `tar_hash` / `tar_size` of a patch that produced the installed version (tufup's
//!   custom metadata on `<app>-<version>.patch`): tufup re-gzips the archive after patching, so
//!   the compressed bytes are new but the uncompressed tar is the signed one.
//!
//! [`adopt`] does the I/O: the compressed file is read at most to its signed length and the
//! decompression stops at the signed tar size (`tufd_install::build`), the result is written to a
//! temporary file and renamed only once it matched. When nothing matches, the reasons are
//! returned and the caller plans as before (the full archive).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use tufd_core::custom::{TarDigest, TargetCustom};
use tufd_core::planner::{FullReason, Plan};
use tufd_core::{Sha256, Suffix, Version};
use tufd_install::DataLayout;
use tufd_install::build::{BuildJob, build};
use tufd_net::RepoView;

/// Whether `plan` would gain from a verified base tar taken from the tufup client's cache: it
/// goes full because no base is at hand ([`FullReason::BaseUnavailable`]), or it would rebuild
/// the base from the install folder (which an app that writes into that folder can spoil).
pub fn wants_base(plan: &Plan) -> bool {
    matches!(
        plan,
        Plan::Full {
            reason: FullReason::BaseUnavailable,
            ..
        } | Plan::Patches {
            rebuild_base: Some(_),
            ..
        }
    )
}

/// One way to verify the tufup client's cached archive of the installed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheCheck {
    /// The file is the installed version's archive target byte for byte: its length and sha256
    /// are the signed ones. Its tar is then checked against `tar` when one is signed (the
    /// archive's own tar digest, else a patch's that produced the version).
    Archive {
        /// The archive target's name.
        name: String,
        /// Its signed length in bytes.
        length: u64,
        /// Its signed sha256.
        sha256: Sha256,
        /// The signed digest of its uncompressed tar, when there is one.
        tar: Option<TarDigest>,
    },
    /// The file's uncompressed tar is the one a patch produced (tufup re-gzips the archive it
    /// patched): checked against that patch's signed `tar_hash` and `tar_size`.
    PatchedTar {
        /// The patch target's name.
        patch: String,
        /// The signed digest of the tar it produces.
        tar: TarDigest,
    },
}

/// The file names under which a tufup client keeps the archive of `installed`: the repository's
/// `.tar.gz` target of that version (PEP 440 equality), then `<app>-<installed>.tar.gz` (the
/// name tufup's client builds from the version it is given) when that differs.
pub fn cached_names(app: &str, installed: &Version, view: &RepoView) -> Vec<String> {
    let mut names: Vec<String> = view
        .targets
        .iter()
        .filter(|t| {
            t.name.app() == app && t.name.version() == installed && t.name.suffix() == Suffix::TarGz
        })
        .map(|t| t.name.as_str().to_owned())
        .collect();
    names.sort();
    let built = format!("{app}-{installed}.tar.gz");
    if !names.contains(&built) {
        names.push(built);
    }
    names
}

/// What a cached file of `cached_len` bytes named `cached_name` can be checked against, cheapest
/// first: the archive target `cached_name` when the lengths agree and a sha256 is signed, then
/// each distinct signed tar digest of a patch leading to `installed`. Empty when nothing signed
/// vouches for the file.
pub fn checks(
    app: &str,
    installed: &Version,
    view: &RepoView,
    cached_name: &str,
    cached_len: u64,
) -> Vec<CacheCheck> {
    let mut patched: Vec<(String, TarDigest)> = view
        .targets
        .iter()
        .filter(|t| {
            t.name.app() == app && t.name.version() == installed && t.name.suffix() == Suffix::Patch
        })
        .filter_map(|t| match &t.custom {
            TargetCustom::Patch(p) => p.tar.map(|tar| (t.name.as_str().to_owned(), tar)),
            TargetCustom::Archive(_) => None,
        })
        .collect();
    patched.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    let archive = view.targets.iter().find(|t| t.name.as_str() == cached_name);
    let file = view.files.get(cached_name);
    if let (Some(archive), Some(file)) = (archive, file)
        && file.length == cached_len
        && let Some(sha256) = file.digest.sha256()
    {
        let own = match &archive.custom {
            TargetCustom::Archive(a) => a.tar,
            TargetCustom::Patch(_) => None,
        };
        out.push(CacheCheck::Archive {
            name: cached_name.to_owned(),
            length: file.length,
            sha256,
            tar: own.or(patched.first().map(|(_, tar)| *tar)),
        });
    }
    let mut seen = BTreeSet::new();
    for (patch, tar) in patched {
        if seen.insert((tar.sha256, tar.size_bytes)) {
            out.push(CacheCheck::PatchedTar { patch, tar });
        }
    }
    out
}

/// Why the tufup client's cached archive was not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdoptError {
    /// No cached archive of the installed version in the folder.
    #[error("no {} in {}", names.join(" or "), dir.display())]
    NotCached {
        /// The tufup target folder.
        dir: PathBuf,
        /// The file names looked for.
        names: Vec<String>,
    },
    /// The repository signs nothing the file can be checked against: no archive target of that
    /// length with a sha256, and no patch to the installed version with a tar digest.
    #[error("{}: nothing signed to check it against", path.display())]
    NothingSigned {
        /// The cached file.
        path: PathBuf,
    },
    /// Every check failed; one reason per check, in order.
    #[error("{}: {}", path.display(), reasons.join("; "))]
    Mismatch {
        /// The cached file.
        path: PathBuf,
        /// Why each check failed.
        reasons: Vec<String>,
    },
}

/// Verifies the tufup client's cached archive of `installed` in `tufup_dir` and writes its tar to
/// `cache/<app>-<installed>.tar` in `layout` (blocking: hashing and decompressing). Returns that
/// path.
///
/// # Errors
/// [`AdoptError`] when the file is missing, nothing signed vouches for it, or it matches none of
/// the [`checks`]; nothing is written then.
pub fn adopt(
    layout: &DataLayout,
    tufup_dir: &Path,
    app: &str,
    installed: &Version,
    view: &RepoView,
) -> Result<PathBuf, AdoptError> {
    let names = cached_names(app, installed, view);
    let found = names.iter().find_map(|name| {
        let path = tufup_dir.join(name);
        let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        Some((name.clone(), path, meta.len()))
    });
    let Some((name, path, len)) = found else {
        return Err(AdoptError::NotCached {
            dir: tufup_dir.to_path_buf(),
            names,
        });
    };
    let checks = checks(app, installed, view, &name, len);
    if checks.is_empty() {
        return Err(AdoptError::NothingSigned { path });
    }
    let mut reasons = Vec::new();
    for check in checks {
        match try_check(layout, &path, &name, app, installed, &check) {
            Ok(tar) => {
                tracing::info!(source = %path.display(), tar = %tar.display(), check = ?check, "took over the tufup client's cached archive as the patch base");
                return Ok(tar);
            }
            Err(reason) => reasons.push(reason),
        }
    }
    Err(AdoptError::Mismatch { path, reasons })
}

/// Runs one check; on success the verified tar is in the cache. The error is a reason.
fn try_check(
    layout: &DataLayout,
    path: &Path,
    name: &str,
    app: &str,
    installed: &Version,
    check: &CacheCheck,
) -> Result<PathBuf, String> {
    let tar = match check {
        CacheCheck::Archive {
            name,
            length,
            sha256,
            tar,
        } => {
            let file = File::open(path).map_err(|e| format!("reading it: {e}"))?;
            let (actual, read) = Sha256::digest_reader(BufReader::new(file).take(*length))
                .map_err(|e| format!("reading it: {e}"))?;
            if read != *length || actual != *sha256 {
                return Err(format!(
                    "not the signed {name} ({read} bytes sha256 {actual}, signed {length} bytes sha256 {sha256})"
                ));
            }
            *tar
        }
        CacheCheck::PatchedTar { tar, .. } => Some(*tar),
    };
    let job = BuildJob::Archive {
        layout: layout.clone(),
        name: name.to_owned(),
        file: path.to_path_buf(),
        tar,
        app: app.to_owned(),
        to: installed.clone(),
    };
    build(&job).map_err(|e| match check {
        CacheCheck::PatchedTar { patch, .. } => {
            format!("its tar is not the one {patch} produces ({e})")
        }
        CacheCheck::Archive { .. } => e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use tufd_core::custom::{ArchiveCustom, PatchCustom};
    use tufd_core::planner::TargetInfo;
    use tufd_core::{Codec, TargetName};
    use tufd_net::TargetFile;
    use tufd_net::download::TargetDigest;

    fn digest(tag: &[u8], size_bytes: u64) -> TarDigest {
        TarDigest {
            sha256: Sha256::digest(tag),
            size_bytes,
        }
    }

    fn archive(name: &str, length: u64, tar: Option<TarDigest>) -> (TargetInfo, TargetFile) {
        (
            TargetInfo {
                name: TargetName::parse(name).unwrap(),
                length,
                custom: TargetCustom::Archive(ArchiveCustom {
                    tar,
                    ..ArchiveCustom::default()
                }),
            },
            TargetFile {
                length,
                digest: TargetDigest::Sha256(Sha256::digest(name.as_bytes())),
            },
        )
    }

    fn patch(name: &str, tar: Option<TarDigest>) -> (TargetInfo, TargetFile) {
        (
            TargetInfo {
                name: TargetName::parse(name).unwrap(),
                length: 10,
                custom: TargetCustom::Patch(PatchCustom {
                    tar,
                    codec: Codec::Bsdiff4,
                    from: None,
                    user: None,
                }),
            },
            TargetFile {
                length: 10,
                digest: TargetDigest::Sha256(Sha256::digest(name.as_bytes())),
            },
        )
    }

    fn view(targets: Vec<(TargetInfo, TargetFile)>) -> RepoView {
        let files: HashMap<String, TargetFile> = targets
            .iter()
            .map(|(t, f)| (t.name.as_str().to_owned(), f.clone()))
            .collect();
        RepoView {
            targets: targets.into_iter().map(|(t, _)| t).collect(),
            files,
            consistent_snapshot: false,
        }
    }

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn a_patched_version_is_checked_by_its_tar_and_by_the_archive_when_the_length_agrees() {
        let tar = digest(b"2.0 tar", 900);
        let repo = view(vec![
            archive("demo-1.1.tar.gz", 300, None),
            archive("demo-2.0.tar.gz", 310, None),
            patch("demo-2.0.patch", Some(tar)),
            patch("other-2.0.patch", Some(digest(b"other", 1))),
        ]);
        let installed = v("2.0");
        assert_eq!(cached_names("demo", &installed, &repo), ["demo-2.0.tar.gz"]);
        // Re-gzipped by tufup after patching: another length, only the tar can vouch for it.
        assert_eq!(
            checks("demo", &installed, &repo, "demo-2.0.tar.gz", 305),
            [CacheCheck::PatchedTar {
                patch: "demo-2.0.patch".into(),
                tar
            }]
        );
        // Downloaded whole: the archive's own hash first, its tar bounded by the patch's digest.
        assert_eq!(
            checks("demo", &installed, &repo, "demo-2.0.tar.gz", 310),
            [
                CacheCheck::Archive {
                    name: "demo-2.0.tar.gz".into(),
                    length: 310,
                    sha256: Sha256::digest(b"demo-2.0.tar.gz"),
                    tar: Some(tar),
                },
                CacheCheck::PatchedTar {
                    patch: "demo-2.0.patch".into(),
                    tar
                },
            ]
        );
    }

    #[test]
    fn the_first_release_is_checked_by_its_archive_only_and_unsigned_patches_do_not_count() {
        let repo = view(vec![
            archive("demo-1.0.tar.gz", 300, None),
            archive("demo-1.1.tar.gz", 310, None),
            patch("demo-1.1.patch", None),
        ]);
        let archive_check = CacheCheck::Archive {
            name: "demo-1.0.tar.gz".into(),
            length: 300,
            sha256: Sha256::digest(b"demo-1.0.tar.gz"),
            tar: None,
        };
        assert_eq!(
            checks("demo", &v("1.0"), &repo, "demo-1.0.tar.gz", 300),
            [archive_check]
        );
        assert!(checks("demo", &v("1.0"), &repo, "demo-1.0.tar.gz", 299).is_empty());
        // tufup <= 0.5 patches sign no tar: nothing vouches for a re-gzipped 1.1.
        assert!(checks("demo", &v("1.1"), &repo, "demo-1.1.tar.gz", 1).is_empty());
    }

    #[test]
    fn an_archive_with_its_own_tar_digest_is_bounded_by_it() {
        let own = digest(b"own", 700);
        let repo = view(vec![archive("demo-3.0.tar.gz", 200, Some(own))]);
        assert_eq!(
            checks("demo", &v("3.0"), &repo, "demo-3.0.tar.gz", 200),
            [CacheCheck::Archive {
                name: "demo-3.0.tar.gz".into(),
                length: 200,
                sha256: Sha256::digest(b"demo-3.0.tar.gz"),
                tar: Some(own),
            }]
        );
    }

    #[test]
    fn the_cached_name_follows_the_repository_then_the_reported_version() {
        let repo = view(vec![archive("demo-1.0.tar.gz", 300, None)]);
        assert_eq!(
            cached_names("demo", &v("1.0.0"), &repo),
            ["demo-1.0.tar.gz", "demo-1.0.0.tar.gz"]
        );
        assert_eq!(cached_names("demo", &v("4.0"), &repo), ["demo-4.0.tar.gz"]);
    }

    #[test]
    fn only_a_plan_short_of_a_base_takes_the_tufup_cache() {
        let (info, _) = archive("demo-2.0.tar.gz", 1, None);
        let full = |reason| Plan::Full {
            to: v("2.0"),
            archive: info.clone(),
            reason,
        };
        assert!(wants_base(&full(FullReason::BaseUnavailable)));
        assert!(!wants_base(&full(FullReason::PatchesDisabled)));
        assert!(!wants_base(&full(FullReason::ChainGap { from: v("1.0") })));
        assert!(!wants_base(&Plan::UpToDate));
        let patches = |rebuild_base| Plan::Patches {
            to: v("2.0"),
            patches: Vec::new(),
            archive: info.clone(),
            rebuild_base,
        };
        assert!(wants_base(&patches(Some(digest(b"t", 1)))));
        assert!(!wants_base(&patches(None)));
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut input = data;
        tufd_core::archive::compress(&mut input, tufd_core::archive::Compression::Gzip, &mut out)
            .unwrap();
        out
    }

    fn setup(tar: &[u8], cached: &[u8]) -> (tempfile::TempDir, DataLayout, PathBuf, RepoView) {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let tufup = dir.path().join("tufup-targets");
        std::fs::create_dir_all(&tufup).unwrap();
        std::fs::write(tufup.join("demo-2.0.tar.gz"), cached).unwrap();
        let signed = TarDigest {
            sha256: Sha256::digest(tar),
            size_bytes: tar.len() as u64,
        };
        let repo = view(vec![
            archive("demo-2.0.tar.gz", 99_999, None),
            patch("demo-2.0.patch", Some(signed)),
        ]);
        (dir, layout, tufup, repo)
    }

    #[test]
    fn a_regzipped_archive_whose_tar_is_the_signed_one_becomes_the_base() {
        let tar = b"the 2.0 tar".repeat(100);
        let (_dir, layout, tufup, repo) = setup(&tar, &gzip(&tar));
        let path = adopt(&layout, &tufup, "demo", &v("2.0"), &repo).unwrap();
        assert_eq!(path, layout.base_tar("demo", &v("2.0")));
        assert_eq!(std::fs::read(path).unwrap(), tar);
    }

    #[test]
    fn an_archive_downloaded_whole_is_checked_by_its_own_signed_hash() {
        let tar = b"the 1.0 tar".repeat(100);
        let gz = gzip(&tar);
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let tufup = dir.path().join("tufup-targets");
        std::fs::create_dir_all(&tufup).unwrap();
        std::fs::write(tufup.join("demo-1.0.tar.gz"), &gz).unwrap();
        // The first release: no patch leads to it, only the archive's own hash vouches for it.
        let (info, _) = archive("demo-1.0.tar.gz", gz.len() as u64, None);
        let signed = TargetFile {
            length: gz.len() as u64,
            digest: TargetDigest::Sha256(Sha256::digest(&gz)),
        };
        let repo = view(vec![(info.clone(), signed)]);
        let path = adopt(&layout, &tufup, "demo", &v("1.0"), &repo).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), tar);
        std::fs::remove_file(path).unwrap();
        // Same length, other bytes: refused.
        let other = TargetFile {
            length: gz.len() as u64,
            digest: TargetDigest::Sha256(Sha256::digest(b"other bytes")),
        };
        let repo = view(vec![(info, other)]);
        assert!(matches!(
            adopt(&layout, &tufup, "demo", &v("1.0"), &repo),
            Err(AdoptError::Mismatch { .. })
        ));
        assert_eq!(std::fs::read_dir(layout.cache()).unwrap().count(), 0);
    }

    #[test]
    fn a_tampered_archive_is_refused_and_nothing_is_written() {
        let tar = b"the 2.0 tar".repeat(100);
        let mut evil = tar.clone();
        evil[0] ^= 1;
        let (_dir, layout, tufup, repo) = setup(&tar, &gzip(&evil));
        let err = adopt(&layout, &tufup, "demo", &v("2.0"), &repo).unwrap_err();
        assert!(
            matches!(&err, AdoptError::Mismatch { reasons, .. } if reasons.len() == 1),
            "{err:?}"
        );
        // A longer tar is cut off at the signed size.
        let mut long = tar.clone();
        long.extend_from_slice(&[0; 4096]);
        std::fs::write(tufup.join("demo-2.0.tar.gz"), gzip(&long)).unwrap();
        assert!(matches!(
            adopt(&layout, &tufup, "demo", &v("2.0"), &repo),
            Err(AdoptError::Mismatch { .. })
        ));
        assert_eq!(
            std::fs::read_dir(layout.cache()).unwrap().count(),
            0,
            "nothing left in the cache"
        );
        assert!(matches!(
            adopt(&layout, &tufup, "demo", &v("1.0"), &repo),
            Err(AdoptError::NotCached { .. })
        ));
    }
}
