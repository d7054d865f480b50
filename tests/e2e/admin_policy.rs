//! An administrator's policy file outside the app (`--admin-policy FILE`; by default
//! `/etc/tufd/<app>.toml`): a pin keeps the app in its series while a newer one is out,
//! `disable` stops updates without contacting the server, and a broken edit keeps the last
//! good policy and says so in `status`.

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;

#[test]
fn a_pin_holds_the_series_disable_stops_checks_and_a_broken_file_keeps_the_last_good_policy() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release::plain("1.1"),
            Release::plain("2.0"),
        ],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let mut client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    let policy = fx.root().join("policy.toml");
    client.extra = vec![
        "--admin-policy".into(),
        policy.to_str().expect("utf-8").to_owned(),
    ];

    // Pinned to 1.*: 2.0 is out, 1.1 is what the app gets.
    std::fs::write(&policy, "pin = \"1.*\"\n").unwrap();
    let check = client.check_json();
    assert_eq!(check["latest"], "1.1", "{check}");
    assert!(
        check["managed"].as_str().is_some_and(|m| m.contains("1.*")),
        "{check}"
    );
    client.update().assert_success();
    assert_eq!(crate::app_version(&client.install_dir), "1.1");
    let client = client.with_current("1.1");

    // Disabled: no update, and the server is not contacted at all.
    std::fs::write(&policy, "disable = true\n").unwrap();
    let before = nginx.access_log().len();
    let check = client.check_json();
    assert_eq!(check["update_available"], false, "{check}");
    assert!(check["managed"].is_string(), "{check}");
    let out = client.update();
    out.assert_success();
    assert!(out.stdout.contains("managed"), "{out}");
    assert_eq!(crate::app_version(&client.install_dir), "1.1");
    assert_eq!(nginx.access_log().len(), before, "the server was contacted");

    // A broken edit: the last good policy (disabled) still applies, and status says why.
    std::fs::write(&policy, "disable = perhaps\n").unwrap();
    let status = client
        .command(&["status", "--json"])
        .output()
        .expect("status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    let managed = status["managed"].as_str().unwrap_or_default();
    assert!(
        managed.contains("updates disabled") && managed.contains("last good"),
        "{status}"
    );
    assert_eq!(client.check_json()["update_available"], false);
    assert_eq!(nginx.access_log().len(), before, "the server was contacted");

    // The file removed: the administrator lifted the policy; 2.0 is offered.
    std::fs::remove_file(&policy).unwrap();
    let check = client.check_json();
    assert_eq!(check["latest"], "2.0", "{check}");
    assert!(check.get("managed").is_none(), "{check}");
}
