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

/// Why Windows cannot hold a file name (Microsoft, "Naming Files, Paths, and Namespaces").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowsNameProblem {
    /// A reserved device name, alone or with an extension (`CON`, `nul`, `COM1`, `aux.txt`).
    ReservedName,
    /// Ends in a dot or a space, which Windows strips (`a.`, `b `).
    TrailingDotOrSpace,
    /// Holds a character Windows forbids in names (`<>:"|?*\`, controls); `:` would name an
    /// NTFS alternate data stream.
    ForbiddenCharacter(char),
}

impl std::fmt::Display for WindowsNameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowsNameProblem::ReservedName => f.write_str("a reserved device name"),
            WindowsNameProblem::TrailingDotOrSpace => f.write_str("ends in a dot or a space"),
            WindowsNameProblem::ForbiddenCharacter(c) => write!(f, "holds the character {c:?}"),
        }
    }
}

/// Why Windows cannot hold the single path component `name`, if it cannot. Pure; the same
/// rule on every OS, so a publisher on Linux refuses what a Windows client could not extract.
pub fn windows_name_problem(name: &str) -> Option<WindowsNameProblem> {
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\') || c.is_control())
    {
        return Some(WindowsNameProblem::ForbiddenCharacter(c));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some(WindowsNameProblem::TrailingDotOrSpace);
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    let reserved = matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit());
    reserved.then_some(WindowsNameProblem::ReservedName)
}

/// The key two paths share when Windows (case-insensitive) would take them for one: the
/// components lower-cased, joined by `/`.
pub fn case_folded(parts: &[String]) -> String {
    parts.join("/").to_lowercase()
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

    #[test]
    fn windows_names_that_cannot_exist_are_named() {
        use WindowsNameProblem as W;
        for name in [
            "CON",
            "con",
            "Nul",
            "aux.txt",
            "COM1",
            "lpt9.log",
            "PRN.tar.gz",
        ] {
            assert_eq!(windows_name_problem(name), Some(W::ReservedName), "{name}");
        }
        assert_eq!(windows_name_problem("a."), Some(W::TrailingDotOrSpace));
        assert_eq!(windows_name_problem("b "), Some(W::TrailingDotOrSpace));
        assert_eq!(
            windows_name_problem("x:y"),
            Some(W::ForbiddenCharacter(':'))
        );
        assert_eq!(
            windows_name_problem("a\\b"),
            Some(W::ForbiddenCharacter('\\'))
        );
        assert_eq!(
            windows_name_problem("tab\there"),
            Some(W::ForbiddenCharacter('\t'))
        );
        for name in [
            "console",
            "COM",
            "COM10",
            "auxiliary.txt",
            "app.exe",
            ".hidden",
            "con-x",
        ] {
            assert_eq!(windows_name_problem(name), None, "{name}");
        }
        assert_eq!(
            case_folded(&["Lib".into(), "README".into()]),
            case_folded(&["lib".into(), "readme".into()])
        );
    }

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
