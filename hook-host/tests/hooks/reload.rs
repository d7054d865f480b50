//! Reload on change, and the precompiled cache (with the load and call figures printed for
//! the closing note: run with `--nocapture`).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tufd_hook_host::{HookError, HookHost, LoadSource};

use crate::support::{context, hook};

/// Replaces `dest` with `src`'s bytes the way an installer would: write aside, rename.
fn replace(dest: &Path, src: &Path) {
    let tmp = dest.with_extension("new");
    fs::copy(src, &tmp).unwrap();
    fs::rename(&tmp, dest).unwrap();
}

#[test]
fn a_replaced_hook_file_is_picked_up_by_the_next_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hook.wasm");
    fs::copy(hook("linux-tree"), &file).unwrap();
    let host = HookHost::builder().build(&file).unwrap();
    let ctx = context("linux", &["bin"], &["bin"]);
    assert!(host.plan_install(&ctx).is_ok());
    let first = host.load_report().unwrap();

    replace(&file, &hook("returns-error"));
    let err = host.plan_install(&ctx).unwrap_err();
    assert!(matches!(err, HookError::HookRefused { .. }), "{err:?}");
    let second = host.load_report().unwrap();
    assert_ne!(first.sha256, second.sha256);

    // A broken replacement fails the call with a load error (no silent fallback) ...
    fs::write(dir.path().join("broken"), b"not wasm").unwrap();
    replace(&file, &dir.path().join("broken"));
    let err = host.plan_install(&ctx).unwrap_err();
    assert!(matches!(err, HookError::Load { .. }), "{err:?}");

    // ... and a good one afterwards works again.
    replace(&file, &hook("linux-tree"));
    assert!(host.plan_install(&ctx).is_ok());
    assert_eq!(host.load_report().unwrap().sha256, first.sha256);
}

#[test]
fn the_precompiled_cache_is_used_and_measured() {
    let cache = tempfile::tempdir().unwrap();
    let file = hook("linux-tree");

    let cold = HookHost::builder()
        .cache_dir(cache.path())
        .build(&file)
        .unwrap();
    let cold_report = cold.load_report().unwrap();
    assert_eq!(cold_report.source, LoadSource::Compiled);
    let cached_files: Vec<_> = fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(cached_files.len(), 1, "one .cwasm in the cache");

    let warm = HookHost::builder()
        .cache_dir(cache.path())
        .build(&file)
        .unwrap();
    let warm_report = warm.load_report().unwrap();
    assert_eq!(warm_report.source, LoadSource::Cached);
    assert_eq!(warm_report.sha256, cold_report.sha256);

    let ctx = context(
        "linux",
        &["bin", "bin/app", "user-data", "user-data/a"],
        &["bin", "bin/app"],
    );
    let cold_plan = cold.plan_install(&ctx).unwrap();
    let warm_plan = warm.plan_install(&ctx).unwrap();
    assert_eq!(cold_plan, warm_plan);

    const CALLS: u32 = 50;
    let started = Instant::now();
    for _ in 0..CALLS {
        warm.plan_install(&ctx).unwrap();
    }
    let per_call = started.elapsed() / CALLS;

    // A corrupt cache file is dropped and the hook compiled again.
    for entry in fs::read_dir(cache.path()).unwrap() {
        fs::write(entry.unwrap().path(), b"corrupt").unwrap();
    }
    let recovered = HookHost::builder()
        .cache_dir(cache.path())
        .build(&file)
        .unwrap();
    assert_eq!(
        recovered.load_report().unwrap().source,
        LoadSource::Compiled
    );

    println!(
        "hook linux_tree.wasm ({} bytes): load cold (compile + cache write) {:?}, \
         from cache {:?}; plan_install call (fresh store + instantiate + call + check) \
         {:?} average over {CALLS}",
        fs::metadata(&file).unwrap().len(),
        cold_report.duration,
        warm_report.duration,
        per_call
    );
    assert!(per_call < Duration::from_secs(1));
}
