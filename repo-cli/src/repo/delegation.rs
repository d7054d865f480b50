//! Per-platform delegated targets roles (docs/repository-format.md, "Platforms"): the top-level
//! targets role delegates `<platform>/*` to the role named after the platform (terminating), so
//! that the key a platform's build machine holds signs that platform's releases and nothing
//! else. The role's metadata is `N.<platform>.json` (consistent snapshots) or
//! `<platform>.json`, and the snapshot lists it as `<platform>.json`.

use std::path::Path;

use tough::schema::key::Key;
use tough::schema::{DelegatedRole, Target, Targets};
use tufd_core::{Platform, TargetName};

use super::{Layout, Loaded, State, read_json, role_file};
use crate::error::{Error, Result};
use crate::keys::{Passphrase, Signer};

/// The delegated role of `platform`: its name is the platform name.
pub fn role_name(platform: &Platform) -> String {
    platform.as_str().to_owned()
}

/// The path pattern the role of `platform` is trusted for: `<platform>/*`.
pub fn pattern(platform: &Platform) -> String {
    format!("{platform}/*")
}

/// The delegation of `role` in `targets`, if it delegates it.
pub fn delegation<'a>(targets: &'a Targets, role: &str) -> Option<&'a DelegatedRole> {
    targets
        .delegations
        .as_ref()?
        .roles
        .iter()
        .find(|r| r.name == role)
}

/// The published metadata of delegated `role`, as the current snapshot names it; `None` when
/// the snapshot does not list it yet (delegated, nothing signed by it yet).
///
/// # Errors
/// [`Error::MetadataRead`], [`Error::MetadataParse`].
pub fn load_role(layout: &Layout, state: &State, role: &str) -> Result<Option<Loaded<Targets>>> {
    let Some(meta) = state
        .snapshot
        .signed
        .signed
        .meta
        .get(&format!("{role}.json"))
    else {
        return Ok(None);
    };
    let file = role_file(role, meta.version.get(), state.consistent());
    read_json(&layout.metadata, &file).map(Some)
}

/// The releases of `app` for `platform` (targets under `<platform>/`) that the top-level targets
/// and the platform's delegated role list, oldest first; a name both list is the top-level
/// role's entry (TUF's search order).
pub fn releases(
    top: &Targets,
    delegated: Option<&Targets>,
    app: &str,
    platform: &Platform,
) -> Vec<(TargetName, Target)> {
    let mut out: Vec<(TargetName, Target)> = Vec::new();
    for targets in std::iter::once(top).chain(delegated) {
        for (name, t) in &targets.targets {
            let Ok(parsed) = TargetName::parse(name.raw()) else {
                continue;
            };
            if parsed.app() == app
                && parsed.platform() == Some(platform)
                && !out.iter().any(|(n, _)| n.as_str() == parsed.as_str())
            {
                out.push((parsed, t.clone()));
            }
        }
    }
    out.sort_by(|a, b| {
        a.0.version()
            .cmp(b.0.version())
            .then(a.0.suffix().cmp(&b.0.suffix()))
    });
    out
}

/// The keys of the keystore that `role` lists, each once: every `<name>.der` in `keystore` is
/// tried (keys that do not load with `passphrase` are passed over, except the one named after
/// the role, whose passphrase errors are reported).
///
/// # Errors
/// [`Error::DelegatedKeyMissing`] when fewer than the role's threshold are found; the
/// passphrase errors of the key named after the role; [`Error::Io`] for an unreadable keystore.
pub async fn role_signers(
    keystore: &Path,
    passphrase: &Passphrase,
    role: &DelegatedRole,
) -> Result<Vec<Signer>> {
    let mut names: Vec<String> = match std::fs::read_dir(keystore) {
        Ok(entries) => entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".der").map(str::to_owned)
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("list", keystore)(e)),
    };
    names.sort();
    let mut out: Vec<Signer> = Vec::new();
    for name in names {
        match crate::keys::load(keystore, &name, passphrase).await {
            Ok(s) => {
                if role.keyids.contains(&s.key_id) && !out.iter().any(|o| o.key_id == s.key_id) {
                    out.push(s);
                }
            }
            Err(e @ (Error::PassphraseMissing { .. } | Error::PassphraseWrong { .. }))
                if name == role.name =>
            {
                return Err(e);
            }
            Err(_) => {}
        }
    }
    let threshold = role.threshold.get();
    if (out.len() as u64) < threshold {
        return Err(Error::DelegatedKeyMissing {
            role: role.name.clone(),
            threshold,
            available: out.len(),
        });
    }
    Ok(out)
}

/// Reads a `--key` of `delegate`: a TUF public key (the JSON `tufd-repo keygen` writes as
/// `<name>.pub.json`) or a PKCS#8 private key file, whose public half is taken.
///
/// # Errors
/// [`Error::KeyRead`], [`Error::PublicKey`] (neither form), the passphrase errors of an
/// encrypted private key.
pub async fn read_public_key(path: &Path, passphrase: &Passphrase) -> Result<Key> {
    let bytes = std::fs::read(path).map_err(|source| Error::KeyRead {
        path: path.to_path_buf(),
        source,
    })?;
    let json_error = match serde_json::from_slice::<Key>(&bytes) {
        Ok(key) => return Ok(key),
        Err(e) => e,
    };
    match crate::keys::load_file(path, "--key", passphrase).await {
        Ok(signer) => Ok(signer.key),
        Err(e @ (Error::PassphraseMissing { .. } | Error::PassphraseWrong { .. })) => Err(e),
        Err(_) => Err(Error::PublicKey {
            path: path.to_path_buf(),
            source: json_error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_roles_and_patterns() {
        let p = Platform::parse("windows-x86_64").unwrap();
        assert_eq!(role_name(&p), "windows-x86_64");
        assert_eq!(pattern(&p), "windows-x86_64/*");
    }

    #[tokio::test]
    async fn public_keys_from_json_or_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let der = crate::keys::generate(dir.path(), "linux", &Passphrase::none()).unwrap();
        let signer = crate::keys::load(dir.path(), "linux", &Passphrase::none())
            .await
            .unwrap();
        let json = dir.path().join("linux.pub.json");
        std::fs::write(&json, serde_json::to_vec(&signer.key).unwrap()).unwrap();
        for file in [&der, &json] {
            let key = read_public_key(file, &Passphrase::none()).await.unwrap();
            assert_eq!(key.key_id().unwrap(), signer.key_id);
        }
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"{}").unwrap();
        let err = read_public_key(&junk, &Passphrase::none()).await;
        assert!(matches!(err, Err(Error::PublicKey { .. })), "{err:?}");
    }
}
