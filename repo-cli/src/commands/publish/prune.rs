//! `publish --prune-older-than DAYS`: which objects of the destination no current metadata
//! references ([`referenced`], read from the local tree) and which of those may go
//! ([`select`], pure).
//!
//! An install may still fetch everything the current `timestamp.json` leads to: the snapshot it
//! names, the targets roles (top-level and delegated) that snapshot names, and the targets those
//! roles list; and every `N.root.json`, since a client walks root versions from the one it
//! trusts. Those are never deleted, nor `root.json` and `timestamp.json`, nor anything outside
//! `metadata/` and `targets/` (not ours). The rest goes once it is older than the threshold,
//! the age being the object's last modification at the destination (its upload).

use std::collections::BTreeSet;
use std::time::SystemTime;

use crate::error::Result;
use crate::repo::delegation::load_role;
use crate::repo::{Layout, State, role_file, target_file};

/// One object listed at the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its key under the destination (`targets/<sha256>.demo-1.0.tar.gz`).
    pub key: String,
    /// When it was last written there.
    pub modified: SystemTime,
}

/// The keys (`metadata/…`, `targets/…`) the current metadata of the local tree references.
///
/// # Errors
/// As [`State::load`] and [`load_role`]: metadata that cannot be read or parsed.
pub fn referenced(layout: &Layout) -> Result<BTreeSet<String>> {
    let state = State::load(layout)?;
    let consistent = state.consistent();
    let mut keys = BTreeSet::new();
    keys.insert("metadata/timestamp.json".to_owned());
    keys.insert(format!("metadata/{}", state.snapshot.file_name));
    let mut roles = vec![state.targets.signed.signed.clone()];
    for (name, meta) in &state.snapshot.signed.signed.meta {
        let Some(role) = name.strip_suffix(".json") else {
            continue;
        };
        keys.insert(format!(
            "metadata/{}",
            role_file(role, meta.version.get(), consistent)
        ));
        if role != "targets"
            && let Some(loaded) = load_role(layout, &state, role)?
        {
            roles.push(loaded.signed.signed);
        }
    }
    for targets in &roles {
        for (name, target) in &targets.targets {
            keys.insert(format!(
                "targets/{}",
                target_file(name.raw(), &hex::encode(&*target.hashes.sha256), consistent)
            ));
        }
    }
    Ok(keys)
}

/// Whether `key` is kept whatever the metadata says: every root, `timestamp.json`, and what is
/// not under `metadata/` or `targets/`.
pub fn always_kept(key: &str) -> bool {
    match key.strip_prefix("metadata/") {
        Some(name) => name == "timestamp.json" || name.ends_with("root.json"),
        None => !key.starts_with("targets/"),
    }
}

/// The keys of `listed` to delete: not [`always_kept`], not in `referenced`, and last modified
/// before `cutoff`; sorted.
pub fn select(listed: &[Listed], referenced: &BTreeSet<String>, cutoff: SystemTime) -> Vec<String> {
    let mut out: Vec<String> = listed
        .iter()
        .filter(|l| !always_kept(&l.key) && !referenced.contains(&l.key) && l.modified < cutoff)
        .map(|l| l.key.clone())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn selects_only_old_unreferenced_objects_of_the_repository() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86_400);
        let old = now - Duration::from_secs(40 * 86_400);
        let new = now - Duration::from_secs(86_400);
        let cutoff = now - Duration::from_secs(30 * 86_400);
        let listed: Vec<Listed> = [
            ("metadata/1.root.json", old),
            ("metadata/root.json", old),
            ("metadata/timestamp.json", old),
            ("metadata/1.snapshot.json", old),
            ("metadata/2.snapshot.json", old),
            ("metadata/3.snapshot.json", new),
            ("metadata/2.targets.json", old),
            ("targets/aa.demo-1.0.tar.gz", old),
            ("targets/bb.demo-2.0.tar.gz", old),
            ("targets/cc.demo-2.0.patch", new),
            ("index.html", old),
        ]
        .into_iter()
        .map(|(key, modified)| Listed {
            key: key.into(),
            modified,
        })
        .collect();
        let referenced: BTreeSet<String> =
            ["metadata/2.snapshot.json", "targets/bb.demo-2.0.tar.gz"]
                .into_iter()
                .map(str::to_owned)
                .collect();
        assert_eq!(
            select(&listed, &referenced, cutoff),
            [
                "metadata/1.snapshot.json",
                "metadata/2.targets.json",
                "targets/aa.demo-1.0.tar.gz"
            ]
        );
        // A threshold of 0 days still keeps what is referenced and every root.
        assert_eq!(select(&listed, &referenced, now).len(), 5);
    }
}
