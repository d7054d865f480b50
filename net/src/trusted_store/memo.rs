//! [`Memo`]: what one [`super::TrustedStore`] remembers between its loads, so that a no-update
//! check does not redo the same pure work on every poll:
//! - parsed JSON documents (the store's files, tough's copies, the bodies handed to tough), for
//!   the "same JSON value?" comparisons of [`super::datastore`];
//! - parsed roots and the verdicts of the recording transport's own pre-check "does the store's
//!   snapshot (or targets) still verify against the newest root?" ([`super::recording`]).
//!
//! Entries are keyed by the sha256 of the exact bytes: parsing and signature checking
//! (`Root::verify_role`) are pure functions of them, so a remembered answer is the answer a new
//! computation would give. The pre-check only decides whether a trusted local copy is handed to
//! tough instead of the remote file; tough parses and verifies whatever it is handed on every
//! load, so nothing here stands in for TUF verification.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;
use sha2::Digest as _;
use tough::schema::{Root, Signed};

/// How many entries of each kind are kept (oldest dropped first). A no-update check touches
/// about a dozen documents (four roles as received, as tough re-serialised them, and the store's
/// copies); a repository has one current root, and a few extra entries cover a rotation.
const CAPACITY: usize = 16;

/// Documents larger than this are parsed every time rather than kept (bytes), so that a large
/// targets role is not held twice.
const MAX_VALUE_BYTES: usize = 256 * 1024;

/// sha256 of some exact bytes.
pub(crate) type BytesDigest = [u8; 32];

/// The sha256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> BytesDigest {
    sha2::Sha256::digest(bytes).into()
}

/// The sha256 of role file name `role_file`, a NUL and `bytes`: the same bytes checked as
/// another role (other keys) get another key.
pub(crate) fn role_digest(role_file: &str, bytes: &[u8]) -> BytesDigest {
    let mut hasher = sha2::Sha256::new();
    hasher.update(role_file.as_bytes());
    hasher.update([0]);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// Parsed documents, parsed roots and pre-check verdicts by digest (see the module
/// documentation).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// Document bytes → its JSON value (`None`: not JSON).
    values: VecDeque<(BytesDigest, Option<Arc<Value>>)>,
    /// Root bytes → the parsed root (`None`: the bytes are not a root).
    roots: VecDeque<(BytesDigest, Option<Arc<Signed<Root>>>)>,
    /// (root bytes, role bytes) → whether the role's signatures meet the root's threshold.
    verdicts: VecDeque<(BytesDigest, BytesDigest, bool)>,
}

impl Memo {
    /// `bytes` parsed as a JSON value (`None`: not JSON), from the memo when seen before.
    pub(crate) fn value(&mut self, bytes: &[u8]) -> Option<Arc<Value>> {
        if bytes.len() > MAX_VALUE_BYTES {
            return serde_json::from_slice(bytes).ok().map(Arc::new);
        }
        let key = digest(bytes);
        if let Some((_, value)) = self.values.iter().find(|(k, _)| *k == key) {
            return value.clone();
        }
        let value = serde_json::from_slice(bytes).ok().map(Arc::new);
        push_bounded(&mut self.values, (key, value.clone()));
        value
    }

    /// The root parsed from bytes of digest `key`, parsing with `parse` on a miss.
    pub(crate) fn root(
        &mut self,
        key: BytesDigest,
        parse: impl FnOnce() -> Option<Signed<Root>>,
    ) -> Option<Arc<Signed<Root>>> {
        if let Some((_, root)) = self.roots.iter().find(|(k, _)| *k == key) {
            return root.clone();
        }
        let root = parse().map(Arc::new);
        push_bounded(&mut self.roots, (key, root.clone()));
        root
    }

    /// The verdict for role bytes `role` under root bytes `root`, computed with `check` on a
    /// miss.
    pub(crate) fn verdict(
        &mut self,
        root: BytesDigest,
        role: BytesDigest,
        check: impl FnOnce() -> bool,
    ) -> bool {
        if let Some((_, _, verdict)) = self
            .verdicts
            .iter()
            .find(|(r, o, _)| *r == root && *o == role)
        {
            return *verdict;
        }
        let verdict = check();
        push_bounded(&mut self.verdicts, (root, role, verdict));
        verdict
    }

    /// How many verdicts are remembered (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.verdicts.len()
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() == CAPACITY {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_computed_once_per_pair_of_bytes() {
        let mut memo = Memo::default();
        let (root, a, b) = (digest(b"root"), digest(b"a"), digest(b"b"));
        let mut calls = 0;
        assert!(memo.verdict(root, a, || {
            calls += 1;
            true
        }));
        assert!(memo.verdict(root, a, || unreachable!("remembered")));
        assert!(!memo.verdict(root, b, || {
            calls += 1;
            false
        }));
        assert!(!memo.verdict(root, b, || unreachable!("remembered")));
        // Other root bytes: computed again.
        assert!(!memo.verdict(digest(b"root 2"), a, || {
            calls += 1;
            false
        }));
        assert_eq!(calls, 3);
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut memo = Memo::default();
        for i in 0..(CAPACITY as u32 * 3) {
            memo.verdict(digest(&i.to_le_bytes()), digest(b"x"), || true);
        }
        assert_eq!(memo.len(), CAPACITY);
        // The oldest was dropped: asked again, it is recomputed.
        let mut recomputed = false;
        memo.verdict(digest(&0u32.to_le_bytes()), digest(b"x"), || {
            recomputed = true;
            true
        });
        assert!(recomputed);
    }

    #[test]
    fn values_are_parsed_once_and_compared_by_content() {
        let mut memo = Memo::default();
        let a = memo.value(b"{\"a\": [1, 2]}").unwrap();
        let b = memo.value(b"{\"a\":[1,2]}").unwrap();
        assert_eq!(a, b);
        assert!(Arc::ptr_eq(&a, &memo.value(b"{\"a\": [1, 2]}").unwrap()));
        assert!(memo.value(b"not json").is_none());
        let big = format!("[{}0]", "0,".repeat(MAX_VALUE_BYTES));
        assert!(memo.value(big.as_bytes()).is_some());
        assert_eq!(memo.values.len(), 3, "large documents are not kept");
    }

    #[test]
    fn unparsable_roots_are_remembered_as_such() {
        let mut memo = Memo::default();
        let key = digest(b"not a root");
        assert!(memo.root(key, || None).is_none());
        assert!(memo.root(key, || unreachable!("remembered")).is_none());
    }
}
