//! Benchmark of the update path (not a timed test, `#[ignore]`d): with a ~24 MiB bundle served by
//! nginx, the time of the v1 → v3 patch update of a copied install with an empty data folder, and
//! of a no-update check afterwards. Run with
//! `cargo test -p tufd-tests --release -- --ignored --nocapture benchmark` (debug builds work too,
//! but are slower at hashing and patching).

use std::time::Duration;

use tufd_tests::support::bundle::LARGE_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn benchmark_no_update_check_and_v1_to_v3_patch_update() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release::plain("2.0"),
            Release::plain("3.0"),
        ],
        LARGE_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());

    let update = client.update();
    update.assert_success();
    assert_same_tree(&fx.bundle("3.0"), &client.install_dir);

    let client = client.with_current("3.0");
    let mut checks: Vec<Duration> = (0..5)
        .map(|_| {
            let out = client.check();
            out.assert_success();
            let json: serde_json::Value =
                serde_json::from_str(out.stdout.trim()).expect("check json");
            assert_eq!(json["update_available"], false, "{out}");
            out.elapsed
        })
        .collect();
    checks.sort();

    let archive = fx.repo.target_len("demo-3.0.tar.gz");
    let patches = fx.repo.target_len("demo-2.0.patch") + fx.repo.target_len("demo-3.0.patch");
    let blob_mib = LARGE_BLOB_BYTES >> 20;
    println!("benchmark ({blob_mib} MiB data file, nginx on 127.0.0.1):");
    for (version, took) in &fx.publish_times {
        println!("  tufd-repo add {version}: {:.2} s", took.as_secs_f64());
    }
    println!("  archive demo-3.0.tar.gz: {archive} B; patches 2.0 + 3.0: {patches} B");
    println!(
        "  v1 -> v3 patch update (copied install, empty data folder): {:.2} s",
        update.elapsed.as_secs_f64()
    );
    println!(
        "  no-update check: median {:.3} s (min {:.3} s, max {:.3} s, 5 runs)",
        checks[2].as_secs_f64(),
        checks[0].as_secs_f64(),
        checks[4].as_secs_f64()
    );
}
