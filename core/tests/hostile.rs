//! The hostile-input corpus (`tests/hostile/`, made by `tests/hostile/generate.py` and described in
//! `tests/hostile/README.md`) run through tufd-core's unpacking layers: `extract_tar`,
//! `decompress`, `apply_verified` and `TargetName::parse`.
//!
//! Every case names the exact refusal it must get (variant and fields) in
//! `tests/hostile/cases/manifest.json`. Extraction cases also prove that nothing outside the
//! staging folder changed (a snapshot of the whole temp dir, holding an installed app and a
//! sentinel file beside staging, is byte-identical afterwards) and that staging is left as it
//! was. Control cases must succeed, so a harness that refuses everything fails too. See
//! `tests/hostile/README.md` for the list of cases.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tufd_core::archive::{ArchiveError, Compression, ExtractLimits, decompress, extract_tar};
use tufd_core::custom::TarDigest;
use tufd_core::patch::{PatchError, apply_verified};
use tufd_core::{Codec, Error, Sha256, TargetName};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hostile/cases")
}

struct Manifest {
    default_limits: ExtractLimits,
    absolute_target: PathBuf,
    cases: Vec<Map<String, Value>>,
}

fn manifest() -> Manifest {
    let text = fs::read_to_string(corpus_dir().join("manifest.json"))
        .expect("tests/hostile/cases/manifest.json: run python3 tests/hostile/generate.py");
    let doc: Value = serde_json::from_str(&text).unwrap();
    Manifest {
        default_limits: limits(&doc["default_limits"]),
        absolute_target: PathBuf::from(doc["absolute_target"].as_str().unwrap()),
        cases: doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_object().unwrap().clone())
            .collect(),
    }
}

fn limits(v: &Value) -> ExtractLimits {
    ExtractLimits {
        max_total_bytes: v["max_total_bytes"].as_u64().unwrap(),
        max_entries: v["max_entries"].as_u64().unwrap(),
        max_path_bytes: 4096,
        windows_names: false,
    }
}

fn cases_of<'a>(m: &'a Manifest, kind: &str) -> Vec<&'a Map<String, Value>> {
    let found: Vec<_> = m.cases.iter().filter(|c| c["kind"] == kind).collect();
    assert!(!found.is_empty(), "no {kind} cases in the manifest");
    found
}

fn name(case: &Map<String, Value>) -> &str {
    case["case"].as_str().unwrap()
}

fn read_case_file(case: &Map<String, Value>, key: &str) -> Vec<u8> {
    let file = case[key].as_str().unwrap();
    fs::read(corpus_dir().join(file)).unwrap_or_else(|e| panic!("{}: {file}: {e}", name(case)))
}

/// Fields of an accepted input (what the call returned), or the variant, fields and message of
/// the refusal.
type Outcome = Result<Map<String, Value>, (&'static str, Map<String, Value>, String)>;

/// Checks an outcome against `expect`: `{"ok": true}`, or `{"error": <variant>, <field>: …}`
/// where every listed field must equal the error's. Returns a problem description, if any.
fn check_expect(case: &Map<String, Value>, outcome: Outcome) -> Option<String> {
    let expect = case["expect"].as_object().unwrap();
    let case = name(case);
    match outcome {
        Ok(fields) => {
            if expect.get("ok") != Some(&Value::Bool(true)) {
                return Some(format!("{case}: accepted, expected {expect:?}"));
            }
            for (key, want) in expect.iter().filter(|(k, _)| *k != "ok") {
                if fields.get(key) != Some(want) {
                    return Some(format!(
                        "{case}: {key} = {:?}, expected {want}",
                        fields.get(key)
                    ));
                }
            }
            None
        }
        Err((variant, fields, message)) => {
            if expect.get("error").and_then(Value::as_str) != Some(variant) {
                return Some(format!(
                    "{case}: got {variant} ({message}), expected {expect:?}"
                ));
            }
            for (key, want) in expect.iter().filter(|(k, _)| *k != "error") {
                if fields.get(key) != Some(want) {
                    return Some(format!(
                        "{case}: {variant}.{key} = {:?}, expected {want} ({message})",
                        fields.get(key)
                    ));
                }
            }
            if message.is_empty() {
                return Some(format!("{case}: {variant} has an empty message"));
            }
            None
        }
    }
}

/// The variant of an [`ArchiveError`] and the fields a case may check.
fn archive_error(e: &ArchiveError) -> (&'static str, Map<String, Value>) {
    use ArchiveError as A;
    let (variant, fields) = match e {
        A::Io { path, .. } => ("Io", json!({ "path": path })),
        A::Stream { stage, .. } => ("Stream", json!({ "stage": stage })),
        A::TooLarge { limit } => ("TooLarge", json!({ "limit": limit })),
        A::Decompress { compression, .. } => {
            ("Decompress", json!({ "compression": compression.as_str() }))
        }
        A::MalformedTar { .. } => ("MalformedTar", json!({})),
        A::DestNotEmpty { path } => ("DestNotEmpty", json!({ "path": path })),
        A::NonUtf8Entry { entry } => ("NonUtf8Entry", json!({ "entry": entry })),
        A::EmptyEntryPath { entry } => ("EmptyEntryPath", json!({ "entry": entry })),
        A::AbsolutePath { entry } => ("AbsolutePath", json!({ "entry": entry })),
        A::ParentComponent { entry } => ("ParentComponent", json!({ "entry": entry })),
        A::ThroughSymlink { entry, symlink } => (
            "ThroughSymlink",
            json!({ "entry": entry, "symlink": symlink }),
        ),
        A::ParentNotFolder { entry, path } => {
            ("ParentNotFolder", json!({ "entry": entry, "path": path }))
        }
        A::SymlinkAbsolute { entry, target } => (
            "SymlinkAbsolute",
            json!({ "entry": entry, "target": target }),
        ),
        A::SymlinkEscapes { entry, target } => (
            "SymlinkEscapes",
            json!({ "entry": entry, "target": target }),
        ),
        A::Hardlink { entry, target } => ("Hardlink", json!({ "entry": entry, "target": target })),
        A::UnsupportedEntry { entry, kind } => {
            ("UnsupportedEntry", json!({ "entry": entry, "kind": kind }))
        }
        A::DuplicateEntry { entry } => ("DuplicateEntry", json!({ "entry": entry })),
        A::TooManyEntries { limit } => ("TooManyEntries", json!({ "limit": limit })),
        A::ContentTooLarge { limit_bytes } => {
            ("ContentTooLarge", json!({ "limit_bytes": limit_bytes }))
        }
        A::SizeMismatch {
            entry,
            header_size,
            pax_size,
        } => (
            "SizeMismatch",
            json!({ "entry": entry, "header_size": header_size, "pax_size": pax_size }),
        ),
        A::SymlinkUnsupported { entry } => ("SymlinkUnsupported", json!({ "entry": entry })),
        _ => ("other", json!({})),
    };
    (variant, fields.as_object().unwrap().clone())
}

fn patch_error(e: &PatchError) -> (&'static str, Map<String, Value>) {
    let (variant, fields) = match e {
        PatchError::Mismatch {
            expected_size,
            actual_size,
            ..
        } => (
            "Mismatch",
            json!({ "expected_size": expected_size, "actual_size": actual_size }),
        ),
        PatchError::Corrupt { codec, reason } => (
            "Corrupt",
            json!({ "codec": codec.as_str(), "reason": reason }),
        ),
        PatchError::TooLarge { limit_bytes } => ("TooLarge", json!({ "limit_bytes": limit_bytes })),
        PatchError::Diff { codec, .. } => ("Diff", json!({ "codec": codec.as_str() })),
        PatchError::Io { stage, .. } => ("Io", json!({ "stage": stage })),
        _ => ("other", json!({})),
    };
    (variant, fields.as_object().unwrap().clone())
}

/// What a path on disk is, for before/after comparisons.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File { bytes: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink(PathBuf),
    Other,
}

/// Every path under `root` except `skip` (and what lies below it), with its content.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, Node> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for child in fs::read_dir(&dir).unwrap() {
            let path = child.unwrap().path();
            if path == skip {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode();
            let node = if meta.file_type().is_symlink() {
                Node::Symlink(fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                todo.push(path.clone());
                Node::Dir { mode }
            } else if meta.is_file() {
                Node::File {
                    bytes: fs::read(&path).unwrap(),
                    mode,
                }
            } else {
                Node::Other
            };
            out.insert(path, node);
        }
    }
    out
}

/// A temp dir shaped like a daemon's data folder: an installed app, a sentinel beside the
/// staging folder, and the staging path (`updates/staging`, created or not).
struct Scene {
    dir: tempfile::TempDir,
    staging: PathBuf,
}

impl Scene {
    fn new(staging_exists: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("installed/app/bin")).unwrap();
        fs::write(
            root.join("installed/app/bin/run.sh"),
            b"#!/bin/sh\necho 1\n",
        )
        .unwrap();
        fs::write(root.join("installed/app/readme.txt"), b"installed\n").unwrap();
        symlink("bin/run.sh", root.join("installed/app/run")).unwrap();
        fs::create_dir_all(root.join("updates")).unwrap();
        fs::write(root.join("updates/sentinel.txt"), b"must stay\n").unwrap();
        fs::write(root.join("sentinel.txt"), b"must stay too\n").unwrap();
        let staging = root.join("updates/staging");
        if staging_exists {
            fs::create_dir(&staging).unwrap();
        }
        Scene { dir, staging }
    }
}

#[test]
fn corpus_lists_every_file_and_every_file_exists() {
    let m = manifest();
    let mut listed = BTreeSet::from(["manifest.json".to_owned()]);
    let mut names = BTreeSet::new();
    for case in &m.cases {
        assert!(names.insert(name(case).to_owned()), "{} twice", name(case));
        let kind = case["kind"].as_str().unwrap();
        assert!(
            ["extract", "decompress", "patch", "base", "target_name"].contains(&kind),
            "{}: unknown kind {kind}",
            name(case)
        );
        assert!(case["expect"].is_object(), "{}: no expect", name(case));
        if let Some(file) = case.get("file") {
            listed.insert(file.as_str().unwrap().to_owned());
        }
    }
    let on_disk: BTreeSet<String> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        on_disk, listed,
        "cases/ and manifest.json disagree: run python3 tests/hostile/generate.py"
    );
}

/// The committed corpus is what the generator writes (run with `python3`, which CI installs).
#[test]
fn corpus_matches_its_generator() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hostile/generate.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg("--check")
        .output()
        .expect("python3 runs tests/hostile/generate.py");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hostile_tars_are_refused_and_nothing_leaves_staging() {
    let m = manifest();
    let mut problems = Vec::new();
    let absolute_existed = m.absolute_target.exists();
    for case in cases_of(&m, "extract") {
        let tar = read_case_file(case, "file");
        let limits = case.get("limits").map_or(m.default_limits.clone(), limits);
        for staging_exists in [false, true] {
            let scene = Scene::new(staging_exists);
            let before = snapshot(scene.dir.path(), &scene.staging);
            let result = extract_tar(&mut &tar[..], &scene.staging, &limits);
            let after = snapshot(scene.dir.path(), &scene.staging);
            let label = format!("{} (staging existed: {staging_exists})", name(case));
            if before != after {
                problems.push(format!("{label}: the temp dir outside staging changed"));
            }
            let ok = result.is_ok();
            let outcome = result
                .map(|summary| {
                    json!({ "files": summary.files, "symlinks": summary.symlinks })
                        .as_object()
                        .unwrap()
                        .clone()
                })
                .map_err(|e| {
                    let (variant, fields) = archive_error(&e);
                    (variant, fields, e.to_string())
                });
            if let Some(problem) = check_expect(case, outcome) {
                problems.push(format!("{label}: {problem}"));
            }
            if !ok {
                let left = if staging_exists {
                    match fs::read_dir(&scene.staging) {
                        Ok(mut children) => children.next().map(|c| c.unwrap().path()),
                        Err(_) => Some(scene.staging.clone()),
                    }
                } else {
                    fs::symlink_metadata(&scene.staging)
                        .ok()
                        .map(|_| scene.staging.clone())
                };
                if let Some(left) = left {
                    problems.push(format!("{label}: staging not restored: {left:?} remains"));
                }
            }
        }
    }
    if !absolute_existed && m.absolute_target.exists() {
        problems.push(format!("{:?} was created", m.absolute_target));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn decompression_stops_at_the_signed_tar_size() {
    let m = manifest();
    let mut problems = Vec::new();
    for case in cases_of(&m, "decompress") {
        let archive = read_case_file(case, "file");
        let compression = match case["compression"].as_str().unwrap() {
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            other => panic!("{}: unknown compression {other}", name(case)),
        };
        let max_bytes = case["max_bytes"].as_u64().unwrap();
        let mut out = Vec::new();
        let outcome = decompress(&mut &archive[..], compression, &mut out, max_bytes)
            .map(|n| json!({ "bytes": n }).as_object().unwrap().clone())
            .map_err(|e| {
                let (variant, fields) = archive_error(&e);
                (variant, fields, e.to_string())
            });
        if out.len() as u64 > max_bytes {
            problems.push(format!("{}: wrote {} bytes", name(case), out.len()));
        }
        problems.extend(check_expect(case, outcome));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn hostile_patches_are_refused_before_or_by_the_signed_digest() {
    let m = manifest();
    let mut problems = Vec::new();
    for case in cases_of(&m, "patch") {
        let base = read_case_file(case, "base");
        let patch = read_case_file(case, "file");
        let codec: Codec = case["codec"].as_str().unwrap().parse().unwrap();
        let signed = &case["signed"];
        let digest = TarDigest {
            sha256: signed["sha256"]
                .as_str()
                .unwrap()
                .parse::<Sha256>()
                .unwrap(),
            size_bytes: signed["size_bytes"].as_u64().unwrap(),
        };
        let mut out = Vec::new();
        let outcome = apply_verified(codec, &base, &patch, &digest, &mut out)
            .map(|()| Map::new())
            .map_err(|e| {
                let (variant, fields) = patch_error(&e);
                (variant, fields, e.to_string())
            });
        if out.len() as u64 > digest.size_bytes {
            problems.push(format!("{}: wrote {} bytes", name(case), out.len()));
        }
        problems.extend(check_expect(case, outcome));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn hostile_target_names_do_not_parse() {
    let m = manifest();
    let mut problems = Vec::new();
    for case in cases_of(&m, "target_name") {
        let input = case["input"].as_str().unwrap();
        let outcome = match TargetName::parse(input) {
            Ok(parsed) => Ok(json!({ "parsed": format!("{parsed:?}") })
                .as_object()
                .unwrap()
                .clone()),
            Err(e @ Error::InvalidTargetName { reason, .. }) => Err((
                "InvalidTargetName",
                json!({ "reason": reason }).as_object().unwrap().clone(),
                e.to_string(),
            )),
            Err(e) => Err(("other", Map::new(), e.to_string())),
        };
        problems.extend(check_expect(case, outcome));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
