//! Integration tests of `tufd_core::archive`: deterministic tars, round trips through
//! extraction, and every refusal by variant (hostile tars are built with the tar crate's raw
//! `Header` API, bypassing its own path checks).

#![cfg(unix)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use tar::{EntryType, Header};
use tufd_core::archive::{
    ArchiveError, Compression, ExtractLimits, compress, decompress, extract_tar, rebuild_tar,
    tar_digest_of_folder, write_compressed_tar, write_tar,
};

const LIMITS: ExtractLimits = ExtractLimits {
    max_total_bytes: 1 << 30,
    max_entries: 100_000,
    max_path_bytes: 4096,
    windows_names: false,
};

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A bundle with nested folders, an executable, a private file, an empty folder, relative
/// symlinks (one climbing with `..`), a hard link, long names and a long link target.
fn make_bundle(root: &Path) -> PathBuf {
    let b = root.join("bundle");
    fs::create_dir_all(b.join("bin")).unwrap();
    fs::create_dir_all(b.join("lib/deep/er")).unwrap();
    fs::create_dir_all(b.join("empty")).unwrap();
    fs::write(b.join("bin/app"), b"#!/bin/sh\necho hi\n").unwrap();
    set_mode(&b.join("bin/app"), 0o755);
    fs::write(b.join("lib/libx.so"), vec![7u8; 70_000]).unwrap();
    fs::write(b.join("lib/deep/er/secret"), b"s").unwrap();
    set_mode(&b.join("lib/deep/er/secret"), 0o600);
    set_mode(&b.join("lib/deep"), 0o750);
    fs::write(b.join("a-b"), b"dash sorts before slash").unwrap();
    fs::write(b.join("README"), b"readme").unwrap();
    fs::hard_link(b.join("README"), b.join("README.hard")).unwrap();
    symlink("../lib/libx.so", b.join("bin/libx.so")).unwrap();
    symlink("lib", b.join("liblink")).unwrap();
    let long_dir = "d".repeat(90);
    let long_file = format!("{}.txt", "f".repeat(120));
    fs::create_dir_all(b.join(&long_dir)).unwrap();
    fs::write(b.join(&long_dir).join(&long_file), b"long").unwrap();
    let long_target = format!("{long_dir}/{long_file}");
    symlink(&long_target, b.join("long-link")).unwrap();
    b
}

fn tar_of(folder: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let digest = write_tar(folder, &mut out, &mut |_| {}).unwrap();
    assert_eq!(digest.size_bytes, out.len() as u64);
    assert_eq!(digest.sha256, tufd_core::Sha256::digest(&out));
    out
}

/// (path, mode, link target) of each member, for readable comparisons.
fn members(tar: &[u8]) -> Vec<(String, u32, Option<String>)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).unwrap());
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                e.header().mode().unwrap(),
                link,
            )
        })
        .collect()
}

#[test]
fn same_bytes_from_two_runs_and_from_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = make_bundle(tmp.path());
    let first = tar_of(&bundle);
    assert!(first == tar_of(&bundle), "two runs differ");
    assert_eq!(first.len() % 512, 0);

    let copy_a = tmp.path().join("copy-a");
    let copy_r = tmp.path().join("copy-r");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&bundle)
        .arg(&copy_a)
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let status = Command::new("cp")
        .arg("-r")
        .arg(&bundle)
        .arg(&copy_r)
        .status()
        .unwrap();
    assert!(status.success());
    // Different mtimes on the `cp -r` copy, for certain.
    let status = Command::new("touch")
        .args(["-h", "-d", "2001-02-03 04:05:06"])
        .arg(copy_r.join("bin/app"))
        .arg(copy_r.join("liblink"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_ne!(
        fs::metadata(bundle.join("bin/app"))
            .unwrap()
            .modified()
            .unwrap(),
        fs::metadata(copy_r.join("bin/app"))
            .unwrap()
            .modified()
            .unwrap()
    );
    assert!(first == tar_of(&copy_a), "cp -a copy differs");
    assert_eq!(members(&first), members(&tar_of(&copy_r)));
    assert!(first == tar_of(&copy_r), "cp -r copy differs");
}

#[test]
fn layout_is_sorted_and_normalised() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = make_bundle(tmp.path());
    let tar = tar_of(&bundle);
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!(h.uid().unwrap(), 0);
        assert_eq!(h.gid().unwrap(), 0);
        assert_eq!(h.username_bytes().unwrap_or_default(), b"");
        assert_eq!(h.groupname_bytes().unwrap_or_default(), b"");
        names.push(String::from_utf8(entry.path_bytes().into_owned()).unwrap());
    }
    let d = "d".repeat(90);
    let f = format!("{}.txt", "f".repeat(120));
    let expected = vec![
        "README".to_string(),
        "README.hard".into(),
        "a-b".into(),
        "bin/".into(),
        "bin/app".into(),
        "bin/libx.so".into(),
        format!("{d}/"),
        format!("{d}/{f}"),
        "empty/".into(),
        "lib/".into(),
        "lib/deep/".into(),
        "lib/deep/er/".into(),
        "lib/deep/er/secret".into(),
        "lib/libx.so".into(),
        "liblink".into(),
        "long-link".into(),
    ];
    assert_eq!(names, expected);
}

#[test]
fn round_trip_keeps_modes_links_and_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = make_bundle(tmp.path());
    let mut seen_progress = Vec::new();
    let mut tar = Vec::new();
    let digest = write_tar(&bundle, &mut tar, &mut |n| seen_progress.push(n)).unwrap();
    let content: u64 = 18 + 70_000 + 1 + 23 + 6 + 6 + 4;
    assert_eq!(*seen_progress.last().unwrap(), content);
    assert!(seen_progress.windows(2).all(|w| w[0] <= w[1]));

    let dest = tmp.path().join("install/app");
    let summary = extract_tar(&mut &tar[..], &dest, &LIMITS).unwrap();
    assert_eq!(summary.files, 7);
    assert_eq!(summary.symlinks, 3);
    assert_eq!(summary.dirs, 6);
    assert_eq!(summary.bytes, content);

    assert_eq!(mode_of(&dest.join("bin/app")), 0o755);
    assert_eq!(mode_of(&dest.join("lib/deep/er/secret")), 0o600);
    assert_eq!(mode_of(&dest.join("lib/deep")), 0o750);
    assert_eq!(
        fs::read_link(dest.join("bin/libx.so")).unwrap(),
        Path::new("../lib/libx.so")
    );
    assert_eq!(
        fs::read(dest.join("bin/libx.so")).unwrap(),
        vec![7u8; 70_000]
    );
    assert!(
        fs::symlink_metadata(dest.join("README.hard"))
            .unwrap()
            .is_file()
    );
    assert!(dest.join("empty").is_dir());

    // The install folder rebuilds exactly the published tar.
    let mut again = Vec::new();
    assert_eq!(rebuild_tar(&dest, &digest, &mut again).unwrap(), digest);
    assert!(again == tar);
    assert_eq!(tar_digest_of_folder(&dest).unwrap(), digest);

    // A changed install folder does not.
    set_mode(&dest.join("README"), 0o600);
    let err = rebuild_tar(&dest, &digest, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, ArchiveError::TarMismatch { .. }), "{err:?}");
}

#[test]
fn compressed_archives_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = make_bundle(tmp.path());
    let tar = tar_of(&bundle);
    for compression in [Compression::Gzip, Compression::Zstd] {
        let mut one_pass = Vec::new();
        let (digest, n) =
            write_compressed_tar(&bundle, compression, &mut one_pass, &mut |_| {}).unwrap();
        assert_eq!(n, one_pass.len() as u64);
        assert_eq!(digest.size_bytes, tar.len() as u64);
        let mut two_pass = Vec::new();
        compress(&mut &tar[..], compression, &mut two_pass).unwrap();
        assert!(one_pass == two_pass, "{compression}");
        let mut back = Vec::new();
        decompress(&mut &one_pass[..], compression, &mut back, tar.len() as u64).unwrap();
        assert!(back == tar);
        let err = decompress(&mut &one_pass[..], compression, &mut Vec::new(), 1024).unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge { limit: 1024 }),
            "{err:?}"
        );
    }
}

/// GNU tar and Python's tarfile (what tufup clients extract with) read our `.tar.gz`, when
/// they are installed: same names, modes, link targets and contents.
#[test]
fn system_tar_and_python_read_our_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = make_bundle(tmp.path());
    let gz = tmp.path().join("a.tar.gz");
    let mut file = fs::File::create(&gz).unwrap();
    write_compressed_tar(&bundle, Compression::Gzip, &mut file, &mut |_| {}).unwrap();
    file.flush().unwrap();
    let mut tools = 0;
    if let Ok(out) = Command::new("tar").arg("-tzf").arg(&gz).output() {
        tools += 1;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.lines().any(|l| l == "bin/app"), "{listing}");
        assert!(
            listing.lines().any(|l| l.len() > 200),
            "long name lost: {listing}"
        );
    }
    let script = r#"
import sys, tarfile, os
gz, dest = sys.argv[1], sys.argv[2]
with tarfile.open(gz, "r:gz") as t:
    kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    t.extractall(dest, **kw)
"#;
    let dest = tmp.path().join("py");
    if let Ok(status) = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&gz)
        .arg(&dest)
        .status()
    {
        tools += 1;
        assert!(status.success());
        assert_eq!(
            fs::read(dest.join("bin/app")).unwrap(),
            fs::read(bundle.join("bin/app")).unwrap()
        );
        assert_eq!(mode_of(&dest.join("bin/app")), 0o755);
        assert_eq!(
            fs::read_link(dest.join("bin/libx.so")).unwrap(),
            Path::new("../lib/libx.so")
        );
        let long = dest
            .join("d".repeat(90))
            .join(format!("{}.txt", "f".repeat(120)));
        assert_eq!(fs::read(long).unwrap(), b"long");
        // tarfile's "data" filter leaves folder modes to the umask (lib/deep 0o750 came out
        // 0o755); with that put back, rebuilding gives the same tar.
        set_mode(&dest.join("lib/deep"), 0o750);
        assert_eq!(members(&tar_of(&dest)), members(&tar_of(&bundle)));
        assert!(tar_of(&dest) == tar_of(&bundle));
    }
    eprintln!("checked with {tools} external readers");
}

#[test]
fn bad_bundles_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = &mut Vec::new();
    let missing = tmp.path().join("nope");
    let err = write_tar(&missing, sink, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ArchiveError::BundleMissing { ref path } if *path == missing),
        "{err:?}"
    );

    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    let err = write_tar(&file, sink, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ArchiveError::BundleNotFolder { .. }),
        "{err:?}"
    );

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = write_tar(&empty, sink, &mut |_| {}).unwrap_err();
    assert!(matches!(err, ArchiveError::BundleEmpty { .. }), "{err:?}");

    let fifo_dir = tmp.path().join("fifo");
    fs::create_dir(&fifo_dir).unwrap();
    let status = Command::new("mkfifo")
        .arg(fifo_dir.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = write_tar(&fifo_dir, sink, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ArchiveError::UnsupportedFileType { kind: "fifo", .. }),
        "{err:?}"
    );

    let abs = tmp.path().join("abs");
    fs::create_dir(&abs).unwrap();
    symlink("/etc/passwd", abs.join("l")).unwrap();
    let err = write_tar(&abs, sink, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ArchiveError::SymlinkAbsolute { .. }),
        "{err:?}"
    );

    let esc = tmp.path().join("esc");
    fs::create_dir_all(esc.join("sub")).unwrap();
    symlink("../../outside", esc.join("sub/l")).unwrap();
    let err = write_tar(&esc, sink, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ArchiveError::SymlinkEscapes { .. }),
        "{err:?}"
    );
}

// ---- hostile tars ----

/// Raw entry: `name` and `link` bytes are copied verbatim (no checks, no normalisation).
fn raw_entry(
    out: &mut tar::Builder<Vec<u8>>,
    name: &[u8],
    kind: EntryType,
    data: &[u8],
    link: Option<&[u8]>,
) {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    if let Some(link) = link {
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.append(&h, data).unwrap();
}

fn file(out: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    raw_entry(out, name.as_bytes(), EntryType::Regular, data, None);
}

fn hostile(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

fn extract_err(tar: &[u8], limits: &ExtractLimits) -> (ArchiveError, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let err = extract_tar(&mut &tar[..], &dest, limits).unwrap_err();
    assert!(
        !dest.exists(),
        "partial extraction left behind after {err:?}"
    );
    // Nothing escaped next to dest either.
    let siblings: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(siblings.is_empty(), "{siblings:?} after {err:?}");
    (err, tmp)
}

macro_rules! refuses {
    ($tar:expr, $pat:pat) => {
        refuses!($tar, $pat, &LIMITS)
    };
    ($tar:expr, $pat:pat, $limits:expr) => {{
        let (err, _tmp) = extract_err(&$tar, $limits);
        assert!(matches!(err, $pat), "got {err:?}");
    }};
}

#[test]
fn refuses_absolute_paths() {
    refuses!(
        hostile(|b| file(b, "/tmp/evil", b"x")),
        ArchiveError::AbsolutePath { .. }
    );
}

#[test]
fn refuses_parent_components() {
    refuses!(
        hostile(|b| file(b, "../evil", b"x")),
        ArchiveError::ParentComponent { .. }
    );
    refuses!(
        hostile(|b| file(b, "a/../../evil", b"x")),
        ArchiveError::ParentComponent { .. }
    );
    // The same through a GNU long name, which the tar crate's writer would not check.
    let long = format!("{}/../../../evil", "a".repeat(120));
    refuses!(
        hostile(|b| {
            raw_entry(
                b,
                b"././@LongLink",
                EntryType::GNULongName,
                long.as_bytes(),
                None,
            );
            file(b, "short", b"x");
        }),
        ArchiveError::ParentComponent { .. }
    );
}

#[test]
fn refuses_entries_below_a_symlink() {
    refuses!(
        hostile(|b| {
            raw_entry(b, b"link", EntryType::Symlink, b"", Some(b"sub"));
            file(b, "link/evil", b"x");
        }),
        ArchiveError::ThroughSymlink { .. }
    );
}

#[test]
fn refuses_symlinks_that_leave() {
    refuses!(
        hostile(|b| raw_entry(b, b"l", EntryType::Symlink, b"", Some(b"/etc/passwd"))),
        ArchiveError::SymlinkAbsolute { .. }
    );
    refuses!(
        hostile(|b| raw_entry(b, b"a/l", EntryType::Symlink, b"", Some(b"../.."))),
        ArchiveError::SymlinkEscapes { .. }
    );
    refuses!(
        hostile(|b| raw_entry(b, b"a/l", EntryType::Symlink, b"", Some(b"x/../../.."))),
        ArchiveError::SymlinkEscapes { .. }
    );
}

#[test]
fn refuses_hardlinks_devices_and_fifos() {
    refuses!(
        hostile(|b| {
            file(b, "a", b"x");
            raw_entry(b, b"b", EntryType::Link, b"", Some(b"a"));
        }),
        ArchiveError::Hardlink { .. }
    );
    for kind in [
        EntryType::Char,
        EntryType::Block,
        EntryType::Fifo,
        EntryType::XGlobalHeader,
        EntryType::new(b'S' + 1),
    ] {
        refuses!(
            hostile(|b| raw_entry(b, b"dev", kind, b"", None)),
            ArchiveError::UnsupportedEntry { .. }
        );
    }
    // The tar crate parses GNU sparse headers itself; a bogus one is malformed, a good one
    // would be refused by type.
    refuses!(
        hostile(|b| raw_entry(b, b"sparse", EntryType::GNUSparse, b"", None)),
        ArchiveError::UnsupportedEntry { .. } | ArchiveError::MalformedTar { .. }
    );
}

#[test]
fn names_windows_cannot_hold_are_refused_where_windows_rules_apply() {
    let windows = ExtractLimits {
        windows_names: true,
        ..LIMITS
    };
    for name in [
        "CON",
        "lib/aux.txt",
        "com1.dll",
        "notes.",
        "trailing ",
        "file:stream",
        "a?b",
    ] {
        let tar = hostile(|b| file(b, name, b"x"));
        refuses!(tar, ArchiveError::WindowsName { .. }, &windows);
        // Harmless where the OS can hold the name (Linux, macOS).
        let dir = tempfile::tempdir().unwrap();
        extract_tar(&mut &tar[..], dir.path(), &LIMITS).unwrap();
    }
    for (a, b) in [("README", "readme"), ("lib/a", "Lib/b")] {
        let tar = hostile(|t| {
            file(t, a, b"1");
            file(t, b, b"2");
        });
        refuses!(tar, ArchiveError::CaseCollision { .. }, &windows);
    }
    let fine = hostile(|t| {
        file(t, "lib/a", b"1");
        file(t, "lib/b", b"2");
        file(t, "console.txt", b"3");
    });
    let dir = tempfile::tempdir().unwrap();
    extract_tar(&mut &fine[..], dir.path(), &windows).unwrap();
}

#[test]
fn a_bundle_with_names_windows_cannot_hold_is_not_published() {
    for (names, windows_name) in [
        (&["aux.txt"][..], true),
        (&["dir/NUL"][..], true),
        (&["name."][..], true),
        (&["README", "readme"][..], false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, b"x").unwrap();
        }
        let err = write_tar(dir.path(), &mut std::io::sink(), &mut |_| {}).unwrap_err();
        if windows_name {
            assert!(
                matches!(err, ArchiveError::WindowsName { .. }),
                "{names:?}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, ArchiveError::CaseCollision { .. }),
                "{names:?}: {err:?}"
            );
        }
    }
}

#[test]
fn refuses_duplicates() {
    refuses!(
        hostile(|b| {
            file(b, "a", b"x");
            file(b, "./a", b"y");
        }),
        ArchiveError::DuplicateEntry { .. }
    );
}

#[test]
fn refuses_a_file_where_a_folder_is_needed() {
    refuses!(
        hostile(|b| {
            file(b, "a", b"x");
            file(b, "a/b", b"y");
        }),
        ArchiveError::ParentNotFolder { .. }
    );
}

#[test]
fn enforces_limits() {
    let many = hostile(|b| {
        for i in 0..5 {
            file(b, &format!("f{i}"), b"x");
        }
    });
    let limits = ExtractLimits {
        max_total_bytes: 1 << 20,
        max_entries: 4,
        max_path_bytes: 4096,
        windows_names: false,
    };
    refuses!(many, ArchiveError::TooManyEntries { limit: 4 }, &limits);

    let big = hostile(|b| {
        file(b, "a", &[1u8; 600]);
        file(b, "b", &[2u8; 600]);
    });
    let limits = ExtractLimits {
        max_total_bytes: 1000,
        max_entries: 100,
        max_path_bytes: 4096,
        windows_names: false,
    };
    refuses!(
        big,
        ArchiveError::ContentTooLarge { limit_bytes: 1000 },
        &limits
    );
}

#[test]
fn refuses_paths_and_link_targets_over_the_path_limit() {
    let limits = ExtractLimits {
        max_path_bytes: 50,
        ..LIMITS
    };
    let name = format!("d/{}", "n".repeat(48));
    assert_eq!(name.len(), 50);
    let at_limit = hostile(|b| file(b, &name, b"x"));
    let tmp = tempfile::tempdir().unwrap();
    extract_tar(&mut &at_limit[..], &tmp.path().join("dest"), &limits).unwrap();

    let long = hostile(|b| file(b, &format!("{name}x"), b"x"));
    refuses!(
        long,
        ArchiveError::PathTooLong {
            length: 51,
            limit: 50,
            ..
        },
        &limits
    );
    let target = "t".repeat(60);
    let link = hostile(|b| {
        raw_entry(b, b"l", EntryType::Symlink, b"", Some(target.as_bytes()));
    });
    refuses!(
        link,
        ArchiveError::PathTooLong {
            length: 60,
            limit: 50,
            ..
        },
        &limits
    );
}

#[test]
fn a_gnu_long_name_over_the_default_path_limit_is_refused_before_it_is_created() {
    let limits = ExtractLimits {
        max_path_bytes: tufd_core::archive::EntryLimits::DEFAULT.max_path_bytes,
        ..LIMITS
    };
    let long = format!("{}/f", "d".repeat(5000));
    let tar = hostile(|b| {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(1);
        b.append_data(&mut h, &long, &b"x"[..]).unwrap();
    });
    let (err, tmp) = extract_err(&tar, &limits);
    match err {
        ArchiveError::PathTooLong {
            entry,
            length,
            limit,
        } => {
            assert_eq!((length, limit), (5002, 4096));
            assert!(entry.len() <= 200, "{entry}");
        }
        other => panic!("got {other:?}"),
    }
    let dest = tmp.path().join("dest");
    assert!(std::fs::read_dir(&dest).map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn refuses_pax_size_that_disagrees_with_the_header() {
    // TARmageddon shape: the ustar header says 0 bytes, a PAX record says 512; a parser that
    // ignores PAX would read the "content" as a further (hidden) entry.
    let mut inner = tar::Builder::new(Vec::new());
    file(&mut inner, "hidden", b"payload");
    let smuggled = inner.into_inner().unwrap();
    let smuggled = &smuggled[..512 + 512]; // header + one data block
    let body = format!(" size={}\n", smuggled.len());
    let record = format!("{}{body}", body.len() + 2);
    assert_eq!(record.len(), body.len() + 2, "{record}");
    let tar = hostile(|b| {
        raw_entry(
            b,
            b"PaxHeaders/x",
            EntryType::XHeader,
            record.as_bytes(),
            None,
        );
        raw_entry(b, b"x", EntryType::Regular, b"", None);
        // The bytes the PAX size covers.
        b.get_mut().extend_from_slice(smuggled);
    });
    refuses!(
        tar,
        ArchiveError::SizeMismatch {
            header_size: 0,
            pax_size: 1024,
            ..
        }
    );
}

/// Regression (found with the hostile corpus, `tests/hostile/`): the tar crate skips a `size`
/// record it cannot parse and honours the *first* of repeated records, where GNU tar and Python
/// honour the last; `size=0` then `size=1024` used to pass as a 0-byte entry followed by the
/// smuggled one.
#[test]
fn unparseable_and_repeated_pax_records_are_refused() {
    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in records {
            let body = format!(" {key}={value}\n");
            let mut len = body.len() + 1;
            while len.to_string().len() + body.len() != len {
                len += 1;
            }
            out.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        out
    }
    let with_pax = |records: &[(&str, &str)]| {
        let data = pax(records);
        hostile(|b| {
            raw_entry(b, b"PaxHeaders/x", EntryType::XHeader, &data, None);
            raw_entry(b, b"x", EntryType::Regular, b"", None);
            b.get_mut().extend_from_slice(&[0u8; 1024]);
        })
    };
    let err = extract_err(&with_pax(&[("size", "0"), ("size", "1024")]), &LIMITS).0;
    assert!(
        matches!(
            err,
            ArchiveError::SizeMismatch {
                header_size: 0,
                pax_size: 1024,
                ..
            }
        ),
        "{err:?}"
    );
    for records in [
        &[("size", "12abc")][..],
        &[("size", "")][..],
        &[("size", "+0")][..],
        &[("size", "0"), ("size", "0")][..],
        &[("path", "x"), ("path", "../evil")][..],
        &[("linkpath", "a"), ("linkpath", "b")][..],
    ] {
        let err = extract_err(&with_pax(records), &LIMITS).0;
        assert!(
            matches!(err, ArchiveError::MalformedTar { .. }),
            "{records:?}: {err:?}"
        );
    }
    // A single well-formed record that agrees with the header is still fine.
    let tmp = tempfile::tempdir().unwrap();
    let ok = with_pax(&[("size", "0"), ("path", "renamed")]);
    extract_tar(&mut &ok[..], &tmp.path().join("out"), &LIMITS).unwrap();
    assert_eq!(fs::read(tmp.path().join("out/renamed")).unwrap(), b"");
}

#[test]
fn refuses_a_used_destination() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("keep"), b"x").unwrap();
    let tar = hostile(|b| file(b, "a", b"x"));
    let err = extract_tar(&mut &tar[..], tmp.path(), &LIMITS).unwrap_err();
    assert!(matches!(err, ArchiveError::DestNotEmpty { .. }), "{err:?}");
    assert_eq!(fs::read(tmp.path().join("keep")).unwrap(), b"x");
    assert!(!tmp.path().join("a").exists());
}

#[test]
fn failed_extraction_into_an_empty_folder_leaves_it_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = hostile(|b| {
        file(b, "dir/ok", b"fine");
        file(b, "/abs", b"x");
    });
    let err = extract_tar(&mut &tar[..], tmp.path(), &LIMITS).unwrap_err();
    assert!(matches!(err, ArchiveError::AbsolutePath { .. }), "{err:?}");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn refuses_truncated_tars() {
    let tar = hostile(|b| file(b, "a", &[5u8; 4000]));
    let cut = &tar[..512 + 1000];
    refuses!(cut, ArchiveError::MalformedTar { .. });
}

#[test]
fn accepts_tufup_style_members() {
    // tufup: `./` for the root, then `./name`.
    let tar = hostile(|b| {
        raw_entry(b, b"./", EntryType::Directory, b"", None);
        raw_entry(b, b"./bin/", EntryType::Directory, b"", None);
        file(b, "./bin/app", b"hi");
        raw_entry(b, b"./app", EntryType::Symlink, b"", Some(b"bin/app"));
    });
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("d");
    let summary = extract_tar(&mut &tar[..], &dest, &LIMITS).unwrap();
    assert_eq!((summary.files, summary.dirs, summary.symlinks), (1, 1, 1));
    assert_eq!(fs::read(dest.join("app")).unwrap(), b"hi");
}

#[test]
fn setuid_bits_are_dropped_from_the_tar_and_reported_for_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(bundle.join("bin")).unwrap();
    fs::write(bundle.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(bundle.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(bundle.join("plain"), b"x").unwrap();
    let dropped = tufd_core::archive::dropped_mode_bits(&bundle).unwrap();
    assert_eq!(dropped, vec![("bin/tool".to_owned(), 0o4755)]);
    let mut tar_bytes = Vec::new();
    write_tar(&bundle, &mut tar_bytes, &mut |_| {}).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let modes: Vec<(String, u32)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().mode().unwrap(),
            )
        })
        .collect();
    assert!(modes.contains(&("bin/tool".to_owned(), 0o755)), "{modes:?}");
    let signed = tufd_core::archive::tar_modes(&bundle).unwrap();
    assert_eq!(signed.mode_of("bin/tool"), 0o755);
}

#[test]
fn a_rebuild_leaves_out_kept_paths_and_everything_below_them() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    fs::create_dir_all(release.join("bin")).unwrap();
    fs::write(release.join("bin/app"), b"app").unwrap();
    fs::write(release.join("logs-readme"), b"not a kept path").unwrap();
    let signed = tufd_core::archive::tar_digest_of_folder(&release).unwrap();
    let installed = dir.path().join("installed");
    fs::create_dir_all(installed.join("bin")).unwrap();
    fs::write(installed.join("bin/app"), b"app").unwrap();
    fs::write(installed.join("logs-readme"), b"not a kept path").unwrap();
    fs::create_dir_all(installed.join("logs/old")).unwrap();
    fs::write(installed.join("logs/old/a.log"), b"x").unwrap();
    fs::write(installed.join("settings.ini"), b"mine").unwrap();
    let exclude = vec!["logs".to_owned(), "settings.ini".to_owned()];
    let rebuild = tufd_core::archive::Rebuild {
        modes: None,
        exclude: &exclude,
        only: None,
    };
    let rebuilt =
        tufd_core::archive::write_tar_with(&installed, rebuild, &mut std::io::sink(), &mut |_| {})
            .unwrap();
    assert_eq!(rebuilt, signed);
    assert_ne!(
        tufd_core::archive::tar_digest_of_folder(&installed).unwrap(),
        signed
    );
}

#[test]
fn a_rebuild_from_the_release_entries_leaves_added_files_out() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    fs::create_dir_all(release.join("bin")).unwrap();
    fs::write(release.join("bin/app"), b"app").unwrap();
    let signed = tufd_core::archive::tar_digest_of_folder(&release).unwrap();
    let installed = dir.path().join("installed");
    fs::create_dir_all(installed.join("bin")).unwrap();
    fs::write(installed.join("bin/app"), b"app").unwrap();
    fs::write(installed.join("bin/crash.dmp"), b"added by the app").unwrap();
    fs::create_dir_all(installed.join("cache")).unwrap();
    fs::write(installed.join("notes.txt"), b"added by the user").unwrap();
    let only: std::collections::HashSet<String> =
        ["bin", "bin/app"].into_iter().map(str::to_owned).collect();
    let rebuild = tufd_core::archive::Rebuild {
        modes: None,
        exclude: &[],
        only: Some(&only),
    };
    let rebuilt =
        tufd_core::archive::write_tar_with(&installed, rebuild, &mut std::io::sink(), &mut |_| {})
            .unwrap();
    assert_eq!(rebuilt, signed);
}
