//! Pure rules for paths inside an archive and for symlink targets, shared by
//! [`write_tar`](super::write_tar) (refuse to publish what a client would refuse) and
//! [`extract_tar`](super::extract_tar) (refuse what could leave the extraction folder).
//!
//! The symlink rule is lexical and deliberately strict: a target is relative, and `..` may only
//! appear at its start (`../lib/libfoo.so`, never `a/../../x`). Leading `..` components climb
//! real folders (entries below symlinks are refused), so counting them against the link's depth
//! is exact; the rest of the target only descends, and every symlink it may pass through obeys
//! the same rule. Hence no target, followed by the kernel, leaves the root.

use std::path::{Component, Path, PathBuf};

/// Why an entry path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// Empty, or only `.` components.
    Empty,
    /// Starts at a root or drive.
    Absolute,
    /// Holds `..`.
    Parent,
}

/// Why a symlink target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkProblem {
    /// Starts at a root or drive.
    Absolute,
    /// Empty, climbs above the root, or has `..` after a name.
    Escapes,
}

/// Splits an entry path (`./a/b`, `a/b/`, `a//b`) into its normal components, refusing
/// absolute paths and `..`. Parsing follows the host's path rules, so on Windows `C:x` and
/// `a\..\b` are refused too.
pub(crate) fn entry_components(raw: &str) -> Result<Vec<String>, PathProblem> {
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(PathProblem::Absolute);
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(PathProblem::Absolute),
            Component::ParentDir => return Err(PathProblem::Parent),
            Component::CurDir => {}
            Component::Normal(name) => {
                // `Path` came from a `&str`, so every component is UTF-8.
                let name = name.to_string_lossy().into_owned();
                if cfg!(windows) && name.contains(':') {
                    // An NTFS alternate data stream (`file:stream`).
                    return Err(PathProblem::Absolute);
                }
                parts.push(name);
            }
        }
    }
    if parts.is_empty() {
        return Err(PathProblem::Empty);
    }
    Ok(parts)
}

/// Checks the target of a symlink that lives in the folder `link_dir` (components below the
/// root); returns the target resolved against the root (lexically) as components.
pub(crate) fn resolve_link_target(
    link_dir: &[String],
    target: &str,
) -> Result<Vec<String>, LinkProblem> {
    if target.starts_with('/') || target.starts_with('\\') {
        return Err(LinkProblem::Absolute);
    }
    if target.is_empty() {
        return Err(LinkProblem::Escapes);
    }
    let mut resolved: Vec<String> = link_dir.to_vec();
    let mut seen_name = false;
    for component in Path::new(target).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(LinkProblem::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                if seen_name || resolved.pop().is_none() {
                    return Err(LinkProblem::Escapes);
                }
            }
            Component::Normal(name) => {
                seen_name = true;
                resolved.push(name.to_string_lossy().into_owned());
            }
        }
    }
    Ok(resolved)
}

/// Joins components under `root`.
pub(crate) fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entry_paths() {
        let ok: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("./a", &["a"]),
            ("a/b/", &["a", "b"]),
            ("./a//b/./c", &["a", "b", "c"]),
            ("a..b/..c", &["a..b", "..c"]),
        ];
        for (raw, want) in ok {
            assert_eq!(entry_components(raw).unwrap(), parts(want), "{raw}");
        }
        let bad: &[(&str, PathProblem)] = &[
            ("", PathProblem::Empty),
            (".", PathProblem::Empty),
            ("./", PathProblem::Empty),
            ("/etc/passwd", PathProblem::Absolute),
            ("//x", PathProblem::Absolute),
            ("\\x", PathProblem::Absolute),
            ("..", PathProblem::Parent),
            ("a/../../x", PathProblem::Parent),
            ("./../x", PathProblem::Parent),
            ("a/..", PathProblem::Parent),
        ];
        for (raw, want) in bad {
            assert_eq!(entry_components(raw), Err(*want), "{raw}");
        }
    }

    #[test]
    fn link_targets() {
        let ok: &[(&[&str], &str, &[&str])] = &[
            (&[], "a", &["a"]),
            (&["bin"], "../lib/x.so", &["lib", "x.so"]),
            (&["bin"], "..", &[]),
            (&["a", "b"], "../../c", &["c"]),
            (&["a"], "./x/./y", &["a", "x", "y"]),
        ];
        for (dir, target, want) in ok {
            assert_eq!(
                resolve_link_target(&parts(dir), target).unwrap(),
                parts(want),
                "{target}"
            );
        }
        let bad: &[(&[&str], &str, LinkProblem)] = &[
            (&[], "/etc/passwd", LinkProblem::Absolute),
            (&["a"], "\\x", LinkProblem::Absolute),
            (&[], "..", LinkProblem::Escapes),
            (&["a"], "../..", LinkProblem::Escapes),
            (&["a", "b"], "../../../x", LinkProblem::Escapes),
            (&["a"], "x/../y", LinkProblem::Escapes),
            (&["a"], "", LinkProblem::Escapes),
        ];
        for (dir, target, want) in bad {
            assert_eq!(
                resolve_link_target(&parts(dir), target),
                Err(*want),
                "{target}"
            );
        }
    }
}
