//! Signing top-level roles with keystore keys, and building snapshot and timestamp.
//!
//! tough's `RepositoryEditor` always rebuilds targets, snapshot and timestamp together and has no
//! "re-sign the timestamp only" step (what a cron job needs), so `tufd-repo` signs each role
//! itself with tough's schema types, `Role::canonical_form` and `Sign`. Files are written as tough writes them (pretty JSON plus a newline),
//! snapshot and timestamp meta carry version, length and sha256, and every `expires` has whole
//! seconds (python-tuf refuses fractions).

use std::collections::HashMap;
use std::num::NonZeroU64;

use aws_lc_rs::rand::SystemRandom;
use serde::Serialize;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{
    Hashes, Metafile, Role, RoleType, Root, Signature, Signed, Snapshot, Timestamp,
};

use crate::config::role_name;
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::lifetime::Lifetime;

/// The spec version tough's editor and loader agree on.
pub const SPEC_VERSION: &str = "1.0.0";

/// `now + lifetime`, in whole seconds.
///
/// # Errors
/// [`Error::ExpiryOutOfRange`] past the largest date `jiff` represents (year 9999).
pub fn expiry(lifetime: Lifetime) -> Result<jiff::Timestamp> {
    let out_of_range = || Error::ExpiryOutOfRange { lifetime };
    let secs = i64::try_from(lifetime.seconds())
        .ok()
        .and_then(|s| s.checked_add(jiff::Timestamp::now().as_second()))
        .ok_or_else(out_of_range)?;
    jiff::Timestamp::from_second(secs).map_err(|_| out_of_range())
}

/// `version + 1`.
pub fn bump(v: NonZeroU64) -> NonZeroU64 {
    v.checked_add(1).unwrap_or(v)
}

/// A signed role and the exact bytes to publish.
#[derive(Clone, Debug)]
pub struct SignedFile<T> {
    /// The signed role.
    pub signed: Signed<T>,
    /// Serialised file content (pretty JSON, newline-terminated).
    pub bytes: Vec<u8>,
}

impl<T: Role + Serialize> SignedFile<T> {
    /// Serialises an already signed role.
    ///
    /// # Errors
    /// [`Error::MetadataSerialize`] (a bug).
    pub fn from_signed(signed: Signed<T>) -> Result<Self> {
        let mut bytes = serde_json::to_vec_pretty(&signed).map_err(Error::MetadataSerialize)?;
        bytes.push(b'\n');
        Ok(Self { signed, bytes })
    }

    /// The metafile entry (version, length, sha256) that names this file.
    pub fn metafile(&self) -> Metafile {
        metafile(&self.bytes, self.signed.signed.version())
    }
}

/// A snapshot/timestamp meta entry for a file of `bytes` at `version`.
pub fn metafile(bytes: &[u8], version: NonZeroU64) -> Metafile {
    Metafile {
        length: Some(bytes.len() as u64),
        hashes: Some(Hashes {
            sha256: tufd_core::Sha256::digest(bytes).as_bytes().to_vec().into(),
            _extra: HashMap::new(),
        }),
        version,
        _extra: HashMap::new(),
    }
}

/// A keystore key as a root names it: the signer and the key id that root gives its public key
/// (what every signature by it must carry, whatever id the key's own encoding hashes to).
#[derive(Clone, Copy, Debug)]
pub struct RootSigner<'a> {
    /// The key id, as the root's `keys` map spells it.
    pub key_id: &'a Decoded<Hex>,
    /// The keystore key.
    pub signer: &'a Signer,
}

/// The public half of a key, with its algorithm: equal for the same key written with other
/// extra fields (`keyid_hash_algorithms`) or another key id.
fn public_half(key: &Key) -> (u8, &[u8]) {
    match key {
        Key::Rsa { keyval, .. } => (0, &keyval.public),
        Key::Ed25519 { keyval, .. } => (1, &keyval.public),
        Key::Ecdsa { keyval, .. } | Key::EcdsaOld { keyval, .. } => (2, &keyval.public),
    }
}

/// The key id `root` gives `key` (looked up by its public half in the root's `keys`), if the
/// root holds it.
pub fn root_key_id<'a>(root: &'a Root, key: &Key) -> Option<&'a Decoded<Hex>> {
    let wanted = public_half(key);
    root.keys
        .iter()
        .find(|(_, k)| public_half(k) == wanted)
        .map(|(id, _)| id)
}

/// Signs `role` with every signer in `signers` under the key id its own encoding hashes to
/// (each once) and appends `keep` signatures whose key ids are not already present. Roles a
/// root's keys sign use [`sign_as`] with [`signers_for`] instead.
///
/// # Errors
/// As [`sign_as`].
pub async fn sign_with<T: Role + Serialize>(
    role: T,
    signers: &[&Signer],
    keep: &[Signature],
) -> Result<SignedFile<T>> {
    let as_own: Vec<RootSigner<'_>> = signers
        .iter()
        .map(|signer| RootSigner {
            key_id: &signer.key_id,
            signer,
        })
        .collect();
    sign_as(role, &as_own, keep).await
}

/// Signs `role` with every signer in `signers`, each once under the key id given with it, and
/// appends `keep` signatures whose key ids are not already present.
///
/// # Errors
/// [`Error::Sign`], or [`Error::CanonicalForm`] (a bug).
pub async fn sign_as<T: Role + Serialize>(
    role: T,
    signers: &[RootSigner<'_>],
    keep: &[Signature],
) -> Result<SignedFile<T>> {
    let data = role.canonical_form().map_err(|e| Error::CanonicalForm {
        role: T::TYPE.to_string(),
        source: Box::new(e),
    })?;
    let rng = SystemRandom::new();
    let mut signatures: Vec<Signature> = Vec::new();
    for s in signers {
        if signatures.iter().any(|x| &x.keyid == s.key_id) {
            continue;
        }
        let sig = s
            .signer
            .sign
            .sign(&data, &rng)
            .await
            .map_err(|source| Error::Sign {
                role: T::TYPE.to_string(),
                key: s.signer.name.clone(),
                source,
            })?;
        signatures.push(Signature {
            keyid: s.key_id.clone(),
            sig: sig.into(),
        });
    }
    for k in keep {
        if !signatures.iter().any(|x| x.keyid == k.keyid) {
            signatures.push(k.clone());
        }
    }
    SignedFile::from_signed(Signed {
        signed: role,
        signatures,
    })
}

/// The signers whose key `root` lists for `role`, each with the id `root` gives it
/// ([`root_key_id`]).
pub fn signers_for<'a>(
    root: &'a Root,
    role: RoleType,
    signers: &'a [Signer],
) -> Vec<RootSigner<'a>> {
    let Some(keys) = root.roles.get(&role) else {
        return Vec::new();
    };
    signers
        .iter()
        .filter_map(|signer| {
            let key_id = root_key_id(root, &signer.key)?;
            keys.keyids
                .contains(key_id)
                .then_some(RootSigner { key_id, signer })
        })
        .collect()
}

/// Signs a non-root `role` with the signers `root` lists for it, refusing to produce metadata
/// with fewer signatures than the role's threshold.
///
/// # Errors
/// [`Error::TooFewKeys`], or the errors of [`sign_with`].
pub async fn sign_role<T: Role + Serialize>(
    role: T,
    root: &Root,
    signers: &[Signer],
) -> Result<SignedFile<T>> {
    let usable = signers_for(root, T::TYPE, signers);
    let threshold = root.roles.get(&T::TYPE).map_or(1, |k| k.threshold.get());
    if (usable.len() as u64) < threshold {
        return Err(Error::TooFewKeys {
            role: role_name(T::TYPE),
            threshold,
            available: usable.len(),
        });
    }
    sign_as(role, &usable, &[]).await
}

/// A new snapshot (version `version`, expiring `expires`) listing `targets_meta`.
pub fn build_snapshot(
    version: NonZeroU64,
    expires: jiff::Timestamp,
    targets_meta: Metafile,
) -> Snapshot {
    let mut s = Snapshot::new(SPEC_VERSION.into(), version, expires);
    s.meta.insert("targets.json".into(), targets_meta);
    s
}

/// A new timestamp listing `snapshot_meta`.
pub fn build_timestamp(
    version: NonZeroU64,
    expires: jiff::Timestamp,
    snapshot_meta: Metafile,
) -> Timestamp {
    let mut t = Timestamp::new(SPEC_VERSION.into(), version, expires);
    t.meta.insert("snapshot.json".into(), snapshot_meta);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_has_whole_seconds() {
        let e = expiry(Lifetime::days(1)).unwrap();
        assert_eq!(e.subsec_nanosecond(), 0);
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains('.'), "{text}");
        let now = jiff::Timestamp::now().as_second();
        assert!((e.as_second() - now - 86_400).abs() <= 1);
        assert!(matches!(
            expiry(Lifetime::days(u64::MAX)),
            Err(Error::ExpiryOutOfRange { .. })
        ));
        assert!(matches!(
            expiry(Lifetime::days(10_000 * 366)),
            Err(Error::ExpiryOutOfRange { .. })
        ));
    }

    /// A root as tufup writes it: a key under a legacy securesystemslib id (not the sha256 of
    /// the key as written) with its `keyid_hash_algorithms` field.
    #[tokio::test]
    async fn signs_under_the_key_id_the_root_declares() {
        use crate::keys::Passphrase;
        let dir = tempfile::tempdir().unwrap();
        crate::keys::generate(dir.path(), "k", &Passphrase::none()).unwrap();
        let signer = crate::keys::load(dir.path(), "k", &Passphrase::none())
            .await
            .unwrap();
        let Key::Ed25519 { keyval, .. } = &signer.key else {
            panic!("not ed25519")
        };
        let legacy = "ab".repeat(32);
        let role = serde_json::json!({"keyids": [legacy], "threshold": 1});
        let root = serde_json::json!({"signatures": [], "signed": {
            "_type": "root", "spec_version": "1.0.31", "consistent_snapshot": false,
            "version": 1, "expires": "2030-01-01T00:00:00Z",
            "keys": {legacy.clone(): {"keytype": "ed25519", "scheme": "ed25519",
                "keyid_hash_algorithms": ["sha256", "sha512"],
                "keyval": {"public": hex::encode(&*keyval.public)}}},
            "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role}}});
        let bytes = serde_json::to_vec(&root).unwrap();
        assert!(
            serde_json::from_slice::<Signed<Root>>(&bytes).is_err(),
            "tough's own parser checks key ids"
        );
        let root = crate::repo::parse_root(&bytes).unwrap().signed;
        assert_eq!(
            hex::encode(&**root_key_id(&root, &signer.key).unwrap()),
            legacy
        );
        let targets = tough::schema::Targets::new(
            SPEC_VERSION.into(),
            NonZeroU64::MIN,
            expiry(Lifetime::days(1)).unwrap(),
        );
        let file = sign_role(targets, &root, std::slice::from_ref(&signer))
            .await
            .unwrap();
        let [signature] = file.signed.signatures.as_slice() else {
            panic!("one signature")
        };
        assert_eq!(hex::encode(&*signature.keyid), legacy);
        let signed = file.signed.signed.canonical_form().unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ED25519,
            &*keyval.public,
        )
        .verify(&signed, &signature.sig)
        .expect("signature verifies");
        // Written again, the root keeps the id and the extra field it was signed with.
        let again = SignedFile::from_signed(Signed {
            signed: root,
            signatures: Vec::new(),
        })
        .unwrap();
        let text = String::from_utf8(again.bytes).unwrap();
        assert!(text.contains(&legacy) && text.contains("keyid_hash_algorithms"));
    }

    #[test]
    fn metafile_hashes_bytes() {
        let m = metafile(b"abc", NonZeroU64::new(3).unwrap());
        assert_eq!(m.length, Some(3));
        assert_eq!(
            hex::encode(&*m.hashes.unwrap().sha256),
            tufd_core::Sha256::digest(b"abc").to_string()
        );
    }
}
