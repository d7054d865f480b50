//! Pure helpers for the `/`-separated relative paths of plans and file lists.
//!
//! The daemon refuses absolute paths, `..`, `.` (except a whole path `.` naming a root),
//! empty components, `\` and `:`; these helpers build paths that pass and tell file lists
//! apart, so that a hook never has to assemble path text by hand.

/// `base` joined with `child`: `join("bin", "app")` is `bin/app`; a `base` of `.` or `""`
/// gives `child`; leading and trailing `/` of either part are dropped.
pub fn join(base: &str, child: &str) -> String {
    let base = base.trim_matches('/');
    let child = child.trim_matches('/');
    match (base, child) {
        ("" | ".", c) => c.to_owned(),
        (b, "" | ".") => b.to_owned(),
        (b, c) => format!("{b}/{c}"),
    }
}

/// Whether `files` (a context's `staging-files` or `installed-files`) holds `path` itself or
/// anything below it (`contains(files, "user-data")` is true for `user-data/settings.json`).
pub fn contains(files: &[String], path: &str) -> bool {
    let path = path.trim_matches('/');
    files.iter().any(|f| {
        f == path
            || f.strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The distinct first components of `files`, in first-seen order (`bin/app`, `bin/lib`,
/// `README` give `bin`, `README`).
pub fn top_level(files: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        let first = f.trim_start_matches('/').split('/').next().unwrap_or("");
        if !first.is_empty() && !out.iter().any(|o| o == first) {
            out.push(first.to_owned());
        }
    }
    out
}

/// Whether a relative path is one the daemon accepts (see the module doc); `.` is accepted.
pub fn is_plain_relative(rel: &str) -> bool {
    if rel == "." {
        return true;
    }
    !rel.is_empty()
        && !rel.starts_with('/')
        && rel
            .split('/')
            .all(|c| !matches!(c, "" | "." | "..") && !c.contains(['\\', ':', '\0']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn join_table() {
        for (base, child, expected) in [
            ("bin", "app", "bin/app"),
            (".", "app", "app"),
            ("", "app", "app"),
            ("bin/", "/app", "bin/app"),
            ("bin", ".", "bin"),
            ("a/b", "c/d", "a/b/c/d"),
        ] {
            assert_eq!(join(base, child), expected, "{base} + {child}");
        }
    }

    #[test]
    fn contains_matches_whole_components() {
        let f = files(&[
            "user-data",
            "user-data/a.json",
            "user-database/x",
            "bin/app",
        ]);
        assert!(contains(&f, "user-data"));
        assert!(contains(&f, "user-data/"));
        assert!(contains(&f, "bin"));
        assert!(!contains(&f, "user"));
        assert!(!contains(&f, "lib"));
        assert!(!contains(&files(&["user-database/x"]), "user-data"));
    }

    #[test]
    fn top_level_keeps_order_without_duplicates() {
        let f = files(&["bin", "bin/app", "README", "lib/x", "bin/y"]);
        assert_eq!(top_level(&f), files(&["bin", "README", "lib"]));
    }

    #[test]
    fn plain_relative_table() {
        for (rel, ok) in [
            ("bin/app", true),
            (".", true),
            ("", false),
            ("/etc", false),
            ("a/../b", false),
            ("a//b", false),
            ("a/./b", false),
            ("C:x", false),
            ("a\\b", false),
        ] {
            assert_eq!(is_plain_relative(rel), ok, "{rel}");
        }
    }
}
