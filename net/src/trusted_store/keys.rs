//! One key counts once toward a threshold: metadata that lists one public key under two key ids
//! of one role is refused before the TUF client sees it ([`check_metadata`]).
//!
//! The TUF client counts valid signatures per declared key id (TUF specification 5.3.4, "a
//! threshold of keys"; key ids are opaque, so they are not recomputed from the key). A root —
//! or a delegating targets role — that lists the same public key under two ids lets that one key
//! sign twice and meet a threshold of 2. The specification's intent is a threshold of distinct
//! keys, so tufd compares the keys themselves: two ids of one role whose keys have the same raw
//! public key bytes (after decoding PEM or hex, so the two spellings of an ed25519 key match)
//! make the metadata invalid.
//!
//! Keys the client cannot use (an unknown key type or scheme, unparseable material) are left out
//! of the comparison: their signatures never count (TUF: unknown key types are ignored).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use sigstore_tuf::{Delegations, Key, RoleKeys};

/// Metadata whose role lists one public key under two key ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{metadata}: role {role} lists one public key under two key ids, {first} and {second}")]
pub struct KeyReuse {
    /// The metadata file (`2.root.json`, `targets.json`, a delegated role's file, or the path of
    /// the root tufd started from).
    pub metadata: String,
    /// The role whose key ids collide (`root`, `timestamp`, … or a delegated role's name).
    pub role: String,
    /// The first key id of the key, in the role's order.
    pub first: String,
    /// The other key id of the same key.
    pub second: String,
}

/// The part of a root this check reads.
#[derive(Deserialize)]
struct RootKeys {
    keys: BTreeMap<String, Key>,
    roles: BTreeMap<String, RoleKeys>,
}

/// The part of a targets role this check reads (its delegations).
#[derive(Deserialize)]
struct Delegating {
    #[serde(default)]
    delegations: Option<Delegations>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    signed: T,
}

/// What kind of metadata a file holds, by its name as the TUF client asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetadataKind {
    /// `root.json`, `N.root.json`: keys for the top-level roles.
    Root,
    /// `timestamp.json`, `snapshot.json`, `N.snapshot.json`: no keys.
    Keyless,
    /// Every other role file is a targets role (top-level or delegated), which may delegate.
    Targets,
}

impl MetadataKind {
    /// The kind of the metadata file `name` (without a folder).
    pub(crate) fn of(name: &str) -> Self {
        let unversioned = name
            .split_once('.')
            .filter(|(head, _)| !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()))
            .map_or(name, |(_, rest)| rest);
        match unversioned {
            "root.json" => MetadataKind::Root,
            "timestamp.json" | "snapshot.json" => MetadataKind::Keyless,
            _ => MetadataKind::Targets,
        }
    }
}

/// Checks metadata file `name` (`bytes`, as received) of kind `kind`: for a root, each of its
/// roles; for a targets role, each role it delegates to. Bytes that do not parse pass: the TUF
/// client refuses them with its own error.
///
/// # Errors
/// [`KeyReuse`] when one role lists one public key under two key ids.
pub(crate) fn check_metadata(name: &str, kind: MetadataKind, bytes: &[u8]) -> Result<(), KeyReuse> {
    match kind {
        MetadataKind::Keyless => Ok(()),
        MetadataKind::Root => {
            let Ok(root) = serde_json::from_slice::<Envelope<RootKeys>>(bytes) else {
                return Ok(());
            };
            let root = root.signed;
            for (role, role_keys) in &root.roles {
                check_role(&root.keys, &role_keys.keyids, name, role)?;
            }
            Ok(())
        }
        MetadataKind::Targets => {
            let Ok(targets) = serde_json::from_slice::<Envelope<Delegating>>(bytes) else {
                return Ok(());
            };
            let Some(delegations) = targets.signed.delegations else {
                return Ok(());
            };
            for role in &delegations.roles {
                check_role(&delegations.keys, &role.keyids, name, &role.name)?;
            }
            Ok(())
        }
    }
}

/// The raw public key bytes of `key`, `None` when the TUF client cannot verify with it.
fn public_key(key: &Key) -> Option<Vec<u8>> {
    key.verification_key().ok().map(|k| k.as_bytes().to_vec())
}

fn check_role(
    keys: &BTreeMap<String, Key>,
    keyids: &[String],
    metadata: &str,
    role: &str,
) -> Result<(), KeyReuse> {
    let mut seen: HashMap<Vec<u8>, &str> = HashMap::new();
    for id in keyids {
        let Some(public) = keys.get(id).and_then(public_key) else {
            continue;
        };
        match seen.get(&public) {
            Some(first) if *first != id.as_str() => {
                return Err(KeyReuse {
                    metadata: metadata.to_owned(),
                    role: role.to_owned(),
                    first: (*first).to_owned(),
                    second: id.clone(),
                });
            }
            Some(_) => {}
            None => {
                seen.insert(public, id);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// An ed25519 public key (RFC 8032, test 1), hex.
    const ED: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    /// Another (RFC 8032, test 2).
    const ED2: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

    fn ed(public: &str) -> Value {
        json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public}})
    }

    fn root(keys: Value, root_ids: &[&str]) -> Vec<u8> {
        let role = |ids: &[&str]| json!({"keyids": ids, "threshold": 2});
        serde_json::to_vec(&json!({
            "signed": {
                "_type": "root", "spec_version": "1.0.31", "version": 2,
                "expires": "2100-01-01T00:00:00Z", "consistent_snapshot": true,
                "keys": keys,
                "roles": {
                    "root": role(root_ids), "timestamp": role(&["a"]),
                    "snapshot": role(&["a"]), "targets": role(&["a"]),
                },
            },
            "signatures": [],
        }))
        .unwrap()
    }

    #[test]
    fn a_root_listing_one_key_under_two_ids_of_a_role_is_refused() {
        let bytes = root(json!({"a": ed(ED), "b": ed(ED)}), &["a", "b"]);
        let err = check_metadata("2.root.json", MetadataKind::Root, &bytes).unwrap_err();
        assert_eq!((err.role.as_str(), err.first.as_str()), ("root", "a"));
        assert_eq!(err.second, "b");
    }

    #[test]
    fn the_same_key_in_upper_case_hex_is_the_same_key() {
        let bytes = root(
            json!({"a": ed(ED), "b": ed(&ED.to_uppercase())}),
            &["a", "b"],
        );
        assert!(check_metadata("root.json", MetadataKind::Root, &bytes).is_err());
    }

    #[test]
    fn distinct_keys_and_one_key_in_two_roles_pass() {
        let bytes = root(json!({"a": ed(ED), "b": ed(ED2)}), &["a", "b"]);
        check_metadata("2.root.json", MetadataKind::Root, &bytes).unwrap();
        // `c` is `a`'s key, but no role lists both ids: no threshold counts it twice.
        let bytes = root(json!({"a": ed(ED), "b": ed(ED2), "c": ed(ED)}), &["b", "c"]);
        check_metadata("2.root.json", MetadataKind::Root, &bytes).unwrap();
        // One id listed twice in a role is one key (the client counts ids once).
        let bytes = root(json!({"a": ed(ED)}), &["a", "a"]);
        check_metadata("2.root.json", MetadataKind::Root, &bytes).unwrap();
    }

    #[test]
    fn keys_of_an_unknown_type_are_left_out() {
        let unknown = json!({"keytype": "x-unknown", "scheme": "x-unknown",
            "keyval": {"public": ED}});
        let bytes = root(
            json!({"a": ed(ED), "b": unknown.clone(), "c": unknown}),
            &["a", "b", "c"],
        );
        check_metadata("2.root.json", MetadataKind::Root, &bytes).unwrap();
    }

    #[test]
    fn a_delegation_listing_one_key_under_two_ids_is_refused() {
        let targets = |ids: &[&str]| {
            serde_json::to_vec(&json!({
                "signed": {
                    "_type": "targets", "spec_version": "1.0.31", "version": 1,
                    "expires": "2100-01-01T00:00:00Z", "targets": {},
                    "delegations": {
                        "keys": {"a": ed(ED), "b": ed(ED), "c": ed(ED2)},
                        "roles": [{"name": "team", "keyids": ids, "threshold": 2,
                            "terminating": false, "paths": ["*"]}],
                    },
                },
                "signatures": [],
            }))
            .unwrap()
        };
        let err = check_metadata(
            "3.targets.json",
            MetadataKind::Targets,
            &targets(&["a", "b"]),
        )
        .unwrap_err();
        assert_eq!(err.role, "team");
        check_metadata(
            "3.targets.json",
            MetadataKind::Targets,
            &targets(&["a", "c"]),
        )
        .unwrap();
    }

    /// `testdata/twin-root/`: python-tuf's `1.root.json` (one root key, threshold 1) and a
    /// `2.root.json` listing that key under a second id, threshold 2, signed by the one key
    /// under both ids (`tests/python/attack_repo.py duplicate-key-root`).
    #[test]
    fn the_tuf_client_alone_lets_one_key_meet_a_threshold_of_two() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/trusted_store/testdata/twin-root");
        let v1 = std::fs::read(dir.join("1.root.json")).unwrap();
        let v2 = std::fs::read(dir.join("2.root.json")).unwrap();
        let mut set = sigstore_tuf::TrustedMetadataSet::from_root(&v1).unwrap();
        set.update_root(&v2).unwrap();
        assert_eq!(set.root().roles["root"].threshold, 2);
        let err = check_metadata("2.root.json", MetadataKind::Root, &v2).unwrap_err();
        assert_eq!(err.role, "root");
        check_metadata("1.root.json", MetadataKind::Root, &v1).unwrap();
    }

    #[test]
    fn unparseable_bytes_are_left_to_the_tuf_client() {
        check_metadata("2.root.json", MetadataKind::Root, b"{").unwrap();
        check_metadata("targets.json", MetadataKind::Targets, b"[]").unwrap();
    }

    #[test]
    fn file_names_tell_the_kind() {
        for (name, kind) in [
            ("root.json", MetadataKind::Root),
            ("12.root.json", MetadataKind::Root),
            ("timestamp.json", MetadataKind::Keyless),
            ("3.snapshot.json", MetadataKind::Keyless),
            ("targets.json", MetadataKind::Targets),
            ("2.targets.json", MetadataKind::Targets),
            ("4.team.json", MetadataKind::Targets),
            ("root.json.x", MetadataKind::Targets),
        ] {
            assert_eq!(MetadataKind::of(name), kind, "{name}");
        }
    }
}
