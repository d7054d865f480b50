//! The `tufd_repo` library without the binary: init, add, remove-latest, sign, keys and verify
//! called as functions on a real working folder, their outcomes checked as values and their
//! refusals matched by variant and kind (never by message text).

mod support;

use std::path::Path;

use support::make_bundle;
use tufd_repo::commands::add::{self, AddArgs};
use tufd_repo::commands::init::{self, InitArgs};
use tufd_repo::commands::keys::{self, KeysAction, KeysArgs};
use tufd_repo::commands::remove_latest::{self, RemoveLatestArgs};
use tufd_repo::commands::sign::{self, RoleArg, SignArgs, SignOutcome};
use tufd_repo::commands::verify::{self, VerifyArgs};
use tufd_repo::keys::Passphrase;
use tufd_repo::{Ctx, Error, ErrorKind};

fn init_args(encrypt_keys: bool) -> InitArgs {
    InitArgs {
        app_name: "lib_app".into(),
        no_consistent_snapshot: false,
        codec: None,
        compression: None,
        encrypt_keys,
    }
}

fn add_args(bundle: &Path, version: &str) -> AddArgs {
    AddArgs {
        bundle_dir: bundle.to_path_buf(),
        version: version.into(),
        required: false,
        meta: None,
        skip_patch: false,
        codec: None,
        allow_single_folder: false,
        rollout: None,
        platform: None,
    }
}

/// `init` in `dir`, then the loaded context.
async fn init_at(dir: &Path, passphrase: &Passphrase, encrypt: bool) -> Ctx {
    let config = dir.join("tufd-repo.toml");
    let done = init::run(&config, passphrase, init_args(encrypt))
        .await
        .unwrap();
    assert_eq!(done.app_name, "lib_app");
    assert!(done.root.is_file(), "{done}");
    Ctx::load(&config, passphrase.clone()).unwrap()
}

#[tokio::test]
async fn a_repository_is_edited_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let ctx = init_at(w, &Passphrase::none(), false).await;
    let lock = ctx.lock().unwrap();
    let second = ctx.lock().unwrap_err();
    assert!(matches!(second, Error::Locked { .. }), "{second:?}");
    assert_eq!(second.kind(), ErrorKind::Locked);

    make_bundle(&w.join("b1"), 1);
    let first = add::run(&ctx, add_args(&w.join("b1"), "1.0"))
        .await
        .unwrap();
    assert_eq!(first.archive.as_str(), "lib_app-1.0.tar.gz");
    assert!(first.patch.is_none(), "first release has no patch");
    assert!(
        first
            .to_string()
            .starts_with("published lib_app-1.0.tar.gz ("),
        "{first}"
    );
    make_bundle(&w.join("b2"), 2);
    let second = add::run(&ctx, add_args(&w.join("b2"), "1.1"))
        .await
        .unwrap();
    let patch = second.patch.as_ref().expect("patch from 1.0");
    assert_eq!(patch.name.as_str(), "lib_app-1.1.patch");
    assert_eq!(patch.from.to_string(), "1.0");
    assert!(patch.bytes < second.archive_bytes);

    let again = add::run(&ctx, add_args(&w.join("b2"), "1.1"))
        .await
        .unwrap_err();
    match &again {
        Error::NotNewer { given, latest } => {
            assert_eq!(
                (given.to_string(), latest.to_string()),
                ("1.1".into(), "1.1".into())
            );
        }
        other => panic!("expected NotNewer, got {other:?}"),
    }
    assert_eq!(again.kind(), ErrorKind::Release);
    assert!(
        again.report().starts_with("error[release]: "),
        "{}",
        again.report()
    );
    let mut bad_meta = add_args(&w.join("b2"), "1.2");
    bad_meta.meta = Some("[1]".into());
    assert!(matches!(
        add::run(&ctx, bad_meta).await,
        Err(Error::BadMeta { source: None })
    ));

    let report = verify::run(&ctx, VerifyArgs {}).await.unwrap();
    assert!(report.is_ok(), "{report}");

    let signed = sign::run(
        &ctx,
        SignArgs {
            role: RoleArg::Timestamp,
            expires_in: None,
            key: None,
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(
            signed,
            SignOutcome::Chain {
                role: RoleArg::Timestamp,
                timestamp_version,
            } if timestamp_version.get() == 4
        ),
        "init, two releases, then this: {signed:?}"
    );

    let removed = remove_latest::run(&ctx, RemoveLatestArgs {}).await.unwrap();
    assert_eq!(removed.version.to_string(), "1.1");
    let mut names: Vec<&str> = removed.targets.iter().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["lib_app-1.1.patch", "lib_app-1.1.tar.gz"]);
    assert!(removed.not_deleted.is_empty());

    let rotated = keys::run(
        &ctx,
        KeysArgs {
            action: KeysAction::Replace {
                role: RoleArg::Timestamp,
                name: None,
            },
        },
    )
    .await
    .unwrap();
    assert_eq!(rotated.root_version.get(), 2);
    assert_eq!(rotated.key_name, "timestamp-2");
    assert!(rotated.key_file.is_file());
    // The rotation saved the config: reload it, as the next command would.
    let ctx = Ctx::load(&ctx.config.path, Passphrase::none()).unwrap();
    assert!(verify::run(&ctx, VerifyArgs {}).await.unwrap().is_ok());

    // A key the config names is missing from the keystore.
    std::fs::rename(w.join("keystore/targets.der"), w.join("away.der")).unwrap();
    let missing = add::run(&ctx, add_args(&w.join("b2"), "1.1"))
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::KeyRead { .. }), "{missing:?}");
    assert_eq!(missing.kind(), ErrorKind::Key);
    drop(lock);
}

#[tokio::test]
async fn refusals_are_told_apart_by_variant_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let config = w.join("tufd-repo.toml");
    let none = Ctx::load(&config, Passphrase::none()).unwrap_err();
    assert!(matches!(none, Error::ConfigRead { .. }), "{none:?}");
    assert_eq!(none.kind(), ErrorKind::Config);

    let no_pass = init::run(&config, &Passphrase::none(), init_args(true))
        .await
        .unwrap_err();
    assert!(matches!(no_pass, Error::EncryptNeedsPassphrase));
    let pass = Passphrase::new("correct horse");
    let ctx = init_at(w, &pass, true).await;
    let twice = init::run(&config, &pass, init_args(true))
        .await
        .unwrap_err();
    assert!(matches!(twice, Error::ConfigExists { .. }), "{twice:?}");
    assert_eq!(twice.kind(), ErrorKind::AlreadyExists);

    make_bundle(&w.join("b"), 1);
    let wrong = Ctx::load(&config, Passphrase::new("wrong")).unwrap();
    let err = add::run(&wrong, add_args(&w.join("b"), "1.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PassphraseWrong { .. }), "{err:?}");
    let without = Ctx::load(&config, Passphrase::none()).unwrap();
    let err = add::run(&without, add_args(&w.join("b"), "1.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PassphraseMissing { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Passphrase);
    let err = add::run(&ctx, add_args(&w.join("nothing"), "1.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BundleMissing { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Bundle);
    let err = remove_latest::run(&ctx, RemoveLatestArgs {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NothingToRemove { .. }), "{err:?}");

    add::run(&ctx, add_args(&w.join("b"), "1.0")).await.unwrap();
    // A published target removed behind the tool's back: verify lists it, and the outcome
    // turns into the `verify-failed` error.
    for e in std::fs::read_dir(ctx.layout.targets.clone()).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let report = verify::run(&ctx, VerifyArgs {}).await.unwrap();
    assert!(!report.is_ok());
    let problems = report.problems.len();
    let err = report.into_result().unwrap_err();
    assert!(
        matches!(err, Error::VerifyFailed { problems: n, .. } if n == problems),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::VerifyFailed);
}
