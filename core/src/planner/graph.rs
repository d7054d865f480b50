//! The patch graph of one app and its cheapest path (rule 4 of the [planner](super)).
//!
//! Each usable patch is an edge `from → to` between versions: `to` is the version in the
//! patch's file name, `from` is its signed `tufup.from` or, when absent (tufup's patches), the
//! release immediately before `to` among all archives of the app, whatever their channel
//! (tufup's repository diffs each new archive against the previous latest one). Edges always
//! go up (`from < to`), so the graph is acyclic and the versions in ascending order are a
//! topological order: one relaxation pass over the edges sorted by `from` gives the same
//! answer as Dijkstra, without a heap. This module only builds edges and finds paths; the
//! choice of target and the reasons for a full download live in [`super`].

use std::collections::BTreeMap;

use crate::custom::TargetCustom;
use crate::version::Version;

use super::TargetInfo;

/// One usable patch: applied to the tar of `from`, it yields the tar of `to`.
#[derive(Clone, Debug)]
pub(crate) struct Edge<'a> {
    /// The version the patch applies to.
    pub(crate) from: Version,
    /// The version the patch produces.
    pub(crate) to: Version,
    /// The patch target itself.
    pub(crate) target: &'a TargetInfo,
}

/// A path through the patch graph: the patches in the order they apply.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chain<'a> {
    /// The patches, first applied first.
    pub(crate) patches: Vec<&'a TargetInfo>,
    /// Σ of the patches' signed lengths, in bytes (saturating).
    pub(crate) bytes: u64,
}

/// Builds the edges of the app's usable patches, sorted by (`from`, `to`, length, file name)
/// so that every later step is deterministic.
///
/// `patches` are the app's `.patch` targets; `archive_versions` are the versions of all of the
/// app's archives in ascending order (any channel). A patch is unusable, and left out, when
/// its custom has no signed `tar` digest (tufup ≤ 0.5: the result could not be verified), when
/// it has no `from` and no archive precedes its version, or when `from` is not below its
/// version.
pub(crate) fn edges<'a>(
    patches: impl IntoIterator<Item = &'a TargetInfo>,
    archive_versions: &[&Version],
) -> Vec<Edge<'a>> {
    let mut edges: Vec<Edge<'a>> = patches
        .into_iter()
        .filter_map(|target| {
            let TargetCustom::Patch(custom) = &target.custom else {
                return None;
            };
            custom.tar?;
            let to = target.name.version();
            let from = match &custom.from {
                Some(from) => from.clone(),
                None => {
                    // The greatest archive version below `to`.
                    let below = archive_versions.partition_point(|v| *v < to);
                    (*archive_versions.get(below.checked_sub(1)?)?).clone()
                }
            };
            (from < *to).then(|| Edge {
                from,
                to: to.clone(),
                target,
            })
        })
        .collect();
    edges.sort_by(|a, b| {
        (&a.from, &a.to, a.target.length, a.target.name.as_str()).cmp(&(
            &b.from,
            &b.to,
            b.target.length,
            b.target.name.as_str(),
        ))
    });
    edges
}

/// Best known way to reach a version: (Σ bytes, number of patches, index of the last edge).
#[derive(Clone, Copy)]
struct Reach {
    bytes: u64,
    steps: usize,
    via: Option<usize>,
}

/// Finds the cheapest chain from `start` to `end` over `edges` (as sorted by [`edges`]),
/// skipping edges whose target `excluded` says so. Cheapest means fewest bytes; ties go to
/// fewer patches, then to the edge met first in the sorted order.
///
/// # Errors
/// When `end` cannot be reached, the furthest version reachable from `start` without going
/// past `end` (`start` itself when no edge leaves it): the place the chain has a gap.
pub(crate) fn cheapest_path<'a>(
    edges: &[Edge<'a>],
    start: &Version,
    end: &Version,
    excluded: impl Fn(&TargetInfo) -> bool,
) -> Result<Chain<'a>, Version> {
    let mut best: BTreeMap<&Version, Reach> = BTreeMap::new();
    best.insert(
        start,
        Reach {
            bytes: 0,
            steps: 0,
            via: None,
        },
    );
    for (index, edge) in edges.iter().enumerate() {
        if edge.to > *end || excluded(edge.target) {
            continue;
        }
        // Sorted by `from` and every edge goes up: all edges into `edge.from` are done.
        let Some(here) = best.get(&edge.from).copied() else {
            continue;
        };
        let candidate = Reach {
            bytes: here.bytes.saturating_add(edge.target.length),
            steps: here.steps + 1,
            via: Some(index),
        };
        let better = best
            .get(&edge.to)
            .is_none_or(|known| (candidate.bytes, candidate.steps) < (known.bytes, known.steps));
        if better {
            best.insert(&edge.to, candidate);
        }
    }
    let Some(reached) = best.get(end).copied() else {
        let furthest = best.keys().next_back().copied().unwrap_or(start);
        return Err(furthest.clone());
    };
    let mut patches = Vec::with_capacity(reached.steps);
    let mut via = reached.via;
    while let Some(index) = via {
        let edge = &edges[index];
        patches.push(edge.target);
        via = best.get(&edge.from).and_then(|r| r.via);
    }
    patches.reverse();
    Ok(Chain {
        patches,
        bytes: reached.bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::{Codec, PatchCustom, TarDigest};
    use crate::hash::Sha256;
    use crate::target_name::TargetName;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn patch(file: &str, length: u64, from: Option<&str>, with_tar: bool) -> TargetInfo {
        TargetInfo {
            name: TargetName::parse(file).unwrap(),
            length,
            custom: TargetCustom::Patch(PatchCustom {
                tar: with_tar.then(|| TarDigest {
                    sha256: Sha256::digest(file.as_bytes()),
                    size_bytes: 10,
                }),
                codec: Codec::Bsdiff4,
                from: from.map(v),
                user: None,
            }),
        }
    }

    fn names(chain: &Chain<'_>) -> Vec<String> {
        chain.patches.iter().map(|p| p.name.to_string()).collect()
    }

    #[test]
    fn implicit_from_is_the_previous_archive_of_any_channel() {
        let patches = [
            patch("a-2.0.patch", 5, None, true),
            patch("a-3.0.patch", 5, None, true),
            patch("a-1.0.patch", 5, None, true),
            patch("a-4.0.patch", 5, None, false),
        ];
        let versions = [v("1.0"), v("2.0"), v("2.1rc1"), v("3.0"), v("4.0")];
        let refs: Vec<&Version> = versions.iter().collect();
        let edges = edges(&patches, &refs);
        let pairs: Vec<(String, String)> = edges
            .iter()
            .map(|e| (e.from.to_string(), e.to.to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("1.0".into(), "2.0".into()),
                ("2.1rc1".into(), "3.0".into())
            ],
            "1.0 has no archive before it; 4.0 has no tar digest"
        );
    }

    #[test]
    fn explicit_from_must_be_below() {
        let patches = [
            patch("a-3.0.patch", 5, Some("1.0"), true),
            patch("a-2.0.patch", 5, Some("2.0"), true),
        ];
        let versions = [v("1.0"), v("2.0"), v("3.0")];
        let refs: Vec<&Version> = versions.iter().collect();
        let edges = edges(&patches, &refs);
        assert_eq!(edges.len(), 1);
        assert_eq!(edges[0].from, v("1.0"));
        assert_eq!(edges[0].to, v("3.0"));
    }

    #[test]
    fn cheapest_path_prefers_bytes_then_fewer_patches() {
        let cases: [(&str, u64, u64, u64, &[&str]); 3] = [
            ("direct is cheaper", 10, 6, 6, &["a-3.0.patch"]),
            (
                "chain is cheaper",
                20,
                6,
                6,
                &["a-2.0.patch", "a-3.0.patch"],
            ),
            ("tie goes to fewer patches", 12, 6, 6, &["a-3.0.patch"]),
        ];
        for (case, direct, first, second, expected) in cases {
            let patches = [
                patch("a-2.0.patch", first, Some("1.0"), true),
                patch("a-3.0.patch", second, Some("2.0"), true),
                patch("a-3.0.patch", direct, Some("1.0"), true),
            ];
            let versions = [v("1.0"), v("2.0"), v("3.0")];
            let refs: Vec<&Version> = versions.iter().collect();
            let edges = edges(&patches, &refs);
            let chain = cheapest_path(&edges, &v("1.0"), &v("3.0"), |_| false).unwrap();
            assert_eq!(names(&chain), expected, "{case}");
            assert_eq!(
                chain.bytes,
                chain.patches.iter().map(|p| p.length).sum::<u64>(),
                "{case}"
            );
        }
    }

    #[test]
    fn gap_reports_the_furthest_reachable_version() {
        let patches = [
            patch("a-2.0.patch", 5, None, true),
            patch("a-4.0.patch", 5, None, true),
            patch("a-5.0.patch", 5, None, true),
        ];
        let versions = [v("1.0"), v("2.0"), v("3.0"), v("4.0"), v("5.0")];
        let refs: Vec<&Version> = versions.iter().collect();
        let edges = edges(&patches, &refs);
        assert_eq!(
            cheapest_path(&edges, &v("1.0"), &v("5.0"), |_| false),
            Err(v("2.0"))
        );
        assert_eq!(
            cheapest_path(&edges, &v("2.0"), &v("4.0"), |_| false),
            Err(v("2.0"))
        );
        assert_eq!(
            cheapest_path(&edges, &v("1.0"), &v("5.0"), |p| p.name.as_str()
                == "a-2.0.patch"),
            Err(v("1.0"))
        );
        let chain = cheapest_path(&edges, &v("3.0"), &v("5.0"), |_| false).unwrap();
        assert_eq!(names(&chain), ["a-4.0.patch", "a-5.0.patch"]);
    }

    #[test]
    fn start_equal_to_end_is_an_empty_chain() {
        let chain = cheapest_path(&[], &v("1.0"), &v("1.0.0"), |_| false).unwrap();
        assert!(chain.patches.is_empty());
        assert_eq!(chain.bytes, 0);
    }
}
