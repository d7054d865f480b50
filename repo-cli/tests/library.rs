//! The `tufd_repo` library without the binary: init, add, remove-latest (flat and of a
//! delegated platform), sign, keys and verify
//! called as functions on a real working folder, their outcomes checked as values and their
//! refusals matched by variant and kind (never by message text).

mod support;

use std::path::Path;

use support::make_bundle;
use tufd_repo::commands::add::{self, AddArgs};
use tufd_repo::commands::delegate::{self, DelegateArgs, KeygenArgs};
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

    let removed = remove_latest::run(&ctx, RemoveLatestArgs::default())
        .await
        .unwrap();
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
    let err = remove_latest::run(&ctx, RemoveLatestArgs::default())
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

/// The names of the files under `targets/<platform>/`, without their hash prefixes, sorted.
fn platform_files(ctx: &Ctx, platform: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ctx.layout.targets.join(platform))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| n.split_once('.').unwrap().1.to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_platform_release_is_removed_with_its_delegated_key_alone() {
    const LINUX: &str = "linux-x86_64";
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let ctx = init_at(w, &Passphrase::none(), false).await;
    let _lock = ctx.lock().unwrap();
    let key = delegate::keygen(&ctx, KeygenArgs { name: LINUX.into() })
        .await
        .unwrap();
    delegate::run(
        &ctx,
        DelegateArgs {
            platform: LINUX.into(),
            keys: vec![key.public],
            threshold: 1,
        },
    )
    .await
    .unwrap();
    // The top-level targets key goes offline: every step below that succeeds signed without it.
    std::fs::rename(
        w.join("keystore/targets.der"),
        w.join("offline-targets.der"),
    )
    .unwrap();
    let add_linux = |bundle: &str, version: &str| AddArgs {
        platform: Some(LINUX.into()),
        ..add_args(&w.join(bundle), version)
    };
    make_bundle(&w.join("b1"), 1);
    make_bundle(&w.join("b2"), 2);
    make_bundle(&w.join("b3"), 3);
    add::run(&ctx, add_linux("b1", "1.0")).await.unwrap();
    add::run(&ctx, add_linux("b2", "2.0")).await.unwrap();

    // Without --platform only flat releases count: there are none.
    let err = remove_latest::run(&ctx, RemoveLatestArgs::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NothingToRemove { platform: None, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Release);

    // The platform's key missing: refused, nothing removed.
    let linux_key = w.join(format!("keystore/{LINUX}.der"));
    std::fs::rename(&linux_key, w.join("offline-linux.der")).unwrap();
    let linux_args = || RemoveLatestArgs {
        platform: Some(LINUX.into()),
    };
    let err = remove_latest::run(&ctx, linux_args()).await.unwrap_err();
    assert!(matches!(err, Error::DelegatedKeyMissing { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Key);
    std::fs::rename(w.join("offline-linux.der"), &linux_key).unwrap();
    assert_eq!(
        platform_files(&ctx, LINUX),
        [
            "lib_app-1.0.tar.gz",
            "lib_app-2.0.patch",
            "lib_app-2.0.tar.gz"
        ]
    );

    let removed = remove_latest::run(&ctx, linux_args()).await.unwrap();
    assert_eq!(removed.version.to_string(), "2.0");
    let mut names: Vec<&str> = removed.targets.iter().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "linux-x86_64/lib_app-2.0.patch",
            "linux-x86_64/lib_app-2.0.tar.gz"
        ]
    );
    assert!(removed.not_deleted.is_empty(), "{:?}", removed.not_deleted);
    assert_eq!(platform_files(&ctx, LINUX), ["lib_app-1.0.tar.gz"]);
    assert!(verify::run(&ctx, VerifyArgs {}).await.unwrap().is_ok());

    // The same version again, with other content: patched from 1.0 as before.
    let again = add::run(&ctx, add_linux("b3", "2.0")).await.unwrap();
    assert!(again.patch.is_some(), "{again}");
    assert!(verify::run(&ctx, VerifyArgs {}).await.unwrap().is_ok());

    for version in ["2.0", "1.0"] {
        let removed = remove_latest::run(&ctx, linux_args()).await.unwrap();
        assert_eq!(removed.version.to_string(), version);
    }
    assert!(platform_files(&ctx, LINUX).is_empty());
    assert!(verify::run(&ctx, VerifyArgs {}).await.unwrap().is_ok());
    let err = remove_latest::run(&ctx, linux_args()).await.unwrap_err();
    assert!(
        matches!(&err, Error::NothingToRemove { platform: Some(p), .. } if p == LINUX),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Release);

    // A platform nobody delegated is listed by the top-level targets role, whose key removes
    // its release; the other platform's releases are not touched.
    std::fs::rename(
        w.join("offline-targets.der"),
        w.join("keystore/targets.der"),
    )
    .unwrap();
    add::run(&ctx, add_linux("b1", "1.0")).await.unwrap();
    let windows = |bundle: &str, version: &str| AddArgs {
        platform: Some("windows-x86_64".into()),
        ..add_args(&w.join(bundle), version)
    };
    add::run(&ctx, windows("b1", "1.0")).await.unwrap();
    add::run(&ctx, windows("b2", "1.1")).await.unwrap();
    let removed = remove_latest::run(
        &ctx,
        RemoveLatestArgs {
            platform: Some("windows-x86_64".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(removed.version.to_string(), "1.1");
    assert_eq!(
        platform_files(&ctx, "windows-x86_64"),
        ["lib_app-1.0.tar.gz"]
    );
    assert_eq!(platform_files(&ctx, LINUX), ["lib_app-1.0.tar.gz"]);
    assert!(verify::run(&ctx, VerifyArgs {}).await.unwrap().is_ok());
}
