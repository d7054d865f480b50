//! The plan checker: every step of a plan is checked before any runs (docs/hooks.md, "The
//! interface", the checks of each step; docs/architecture.md, "Design rules").
//!
//! Security promise: a [`CheckedPlan`] names only paths that stay inside the root they name
//! (relative, no `..`, no `.` except the root itself, no empty component, no `\`, `:` or NUL,
//! so no Windows drive or stream either), symbolic links whose target resolves inside the
//! link's own root, permission bits without setuid, setgid, sticky or world-write, and programs
//! inside the install folder or listed in [`PlanLimits::allowed_programs`]. The checker is
//! lexical: it does not look at the disk; the executor still refuses to follow links that
//! leave a root.

use std::time::Duration;

use super::{PlanPath, Program, Root, Step};

/// Bounds a plan must stay within.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanLimits {
    /// Absolute paths of programs outside the install folder a plan may run or relaunch
    /// (exact text match, e.g. `/usr/bin/open`). Default: none.
    pub allowed_programs: Vec<String>,
    /// Most steps in one plan. Default 10,000.
    pub max_steps: usize,
    /// Longest [`Step::WaitForExit`] timeout. Default 10 minutes.
    pub max_wait: Duration,
    /// Longest relative path or argument, in bytes. Default 4,096.
    pub max_path_bytes: usize,
    /// Most arguments of one program. Default 256.
    pub max_args: usize,
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits {
            allowed_programs: Vec::new(),
            max_steps: 10_000,
            max_wait: Duration::from_secs(600),
            max_path_bytes: 4096,
            max_args: 256,
        }
    }
}

/// A plan every step of which passed [`check_plan`]; only the checker builds one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPlan(Vec<Step>);

impl CheckedPlan {
    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The steps, in order, by value.
    pub fn into_steps(self) -> Vec<Step> {
        self.0
    }
}

/// Why a plan was refused. `step` is the 0-based index of the offending step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// More steps than [`PlanLimits::max_steps`].
    #[error("plan has {count} steps, more than the limit of {max}")]
    TooManySteps {
        /// Steps in the plan.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An empty relative path (the root itself is `.`).
    #[error("step {step}: empty path in {root} (use `.` for the folder itself)")]
    EmptyPath {
        /// The step index.
        step: usize,
        /// The root the path was in.
        root: Root,
    },
    /// An absolute path (`/x`, `\x`, `C:x`).
    #[error("step {step}: path `{path}` is absolute")]
    AbsolutePath {
        /// The step index.
        step: usize,
        /// The path as given.
        path: String,
    },
    /// A `..` component.
    #[error("step {step}: path `{path}` has a `..` component")]
    ParentComponent {
        /// The step index.
        step: usize,
        /// The path as given.
        path: String,
    },
    /// A component that is empty, `.`, or holds `\`, `:` or NUL.
    #[error("step {step}: path `{path}` is not a plain relative path: {reason}")]
    BadComponent {
        /// The step index.
        step: usize,
        /// The path as given.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A path or argument longer than [`PlanLimits::max_path_bytes`].
    #[error("step {step}: a path or argument is {len} bytes long, more than {max}")]
    TooLong {
        /// The step index.
        step: usize,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The step may not act on a root folder itself (removing the install folder, running a
    /// folder, making a root a link).
    #[error("step {step}: `{path}` names a root folder, which this step may not act on")]
    RootNotAllowed {
        /// The step index.
        step: usize,
        /// The path.
        path: PlanPath,
    },
    /// Source and destination are the same or one lies inside the other.
    #[error("step {step}: `{a}` and `{b}` overlap")]
    Overlap {
        /// The step index.
        step: usize,
        /// One path.
        a: PlanPath,
        /// The other.
        b: PlanPath,
    },
    /// Permission bits outside `0o777`, or world-writable.
    #[error(
        "step {step}: mode {mode:#o} for `{path}` is refused (setuid, setgid, sticky, or world-writable)"
    )]
    BadMode {
        /// The step index.
        step: usize,
        /// The path.
        path: PlanPath,
        /// The mode asked for.
        mode: u32,
    },
    /// A link target that is absolute or resolves outside the link's root.
    #[error("step {step}: link `{path}` -> `{target}` leaves its root")]
    SymlinkEscapes {
        /// The step index.
        step: usize,
        /// The link path.
        path: PlanPath,
        /// The link text.
        target: String,
    },
    /// A program outside the install folder and not in the allow-list.
    #[error("step {step}: program `{program}` is outside the install folder and not allowed")]
    ProgramNotAllowed {
        /// The step index.
        step: usize,
        /// The program as given.
        program: String,
    },
    /// An argument holding NUL, or too many arguments.
    #[error("step {step}: bad arguments: {reason}")]
    BadArguments {
        /// The step index.
        step: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Process id 0.
    #[error("step {step}: process id 0 is not a process")]
    BadPid {
        /// The step index.
        step: usize,
    },
    /// A wait longer than [`PlanLimits::max_wait`].
    #[error("step {step}: wait of {timeout:?} is longer than the limit of {max:?}")]
    WaitTooLong {
        /// The step index.
        step: usize,
        /// The timeout asked for.
        timeout: Duration,
        /// The limit.
        max: Duration,
    },
}

/// Checks every step of `steps` and returns them as a [`CheckedPlan`].
///
/// # Errors
/// The first refusal found, as a [`PlanError`] naming the step (see the module doc for the
/// rules).
pub fn check_plan(steps: &[Step], limits: &PlanLimits) -> Result<CheckedPlan, PlanError> {
    if steps.len() > limits.max_steps {
        return Err(PlanError::TooManySteps {
            count: steps.len(),
            max: limits.max_steps,
        });
    }
    for (index, step) in steps.iter().enumerate() {
        check_step(index, step, limits)?;
    }
    Ok(CheckedPlan(steps.to_vec()))
}

fn check_step(step: usize, s: &Step, limits: &PlanLimits) -> Result<(), PlanError> {
    match s {
        Step::WaitForExit { pid, timeout } => {
            if *pid == 0 {
                return Err(PlanError::BadPid { step });
            }
            if *timeout > limits.max_wait {
                return Err(PlanError::WaitTooLong {
                    step,
                    timeout: *timeout,
                    max: limits.max_wait,
                });
            }
        }
        Step::Move { from, to } | Step::Copy { from, to } => {
            check_path(step, from, limits)?;
            check_path(step, to, limits)?;
            check_disjoint(step, from, to)?;
        }
        Step::Swap { a, b } => {
            check_path(step, a, limits)?;
            check_path(step, b, limits)?;
            check_disjoint(step, a, b)?;
        }
        Step::Remove { path } => {
            check_path(step, path, limits)?;
            if path.is_root() && path.root == Root::Install {
                return Err(PlanError::RootNotAllowed {
                    step,
                    path: path.clone(),
                });
            }
        }
        Step::SetMode { path, mode } => {
            check_path(step, path, limits)?;
            if mode & !0o777 != 0 || mode & 0o002 != 0 {
                return Err(PlanError::BadMode {
                    step,
                    path: path.clone(),
                    mode: *mode,
                });
            }
        }
        Step::Symlink { path, target } => {
            check_path(step, path, limits)?;
            if path.is_root() {
                return Err(PlanError::RootNotAllowed {
                    step,
                    path: path.clone(),
                });
            }
            check_len(step, target, limits)?;
            if !link_stays_inside(&path.rel, target) {
                return Err(PlanError::SymlinkEscapes {
                    step,
                    path: path.clone(),
                    target: target.clone(),
                });
            }
        }
        Step::Run { program, args } | Step::Relaunch { program, args } => {
            check_program(step, program, limits)?;
            check_args(step, args, limits)?;
        }
    }
    Ok(())
}

/// Checks one relative path (see the module doc).
fn check_path(step: usize, path: &PlanPath, limits: &PlanLimits) -> Result<(), PlanError> {
    let rel = path.rel.as_str();
    if rel.is_empty() {
        return Err(PlanError::EmptyPath {
            step,
            root: path.root,
        });
    }
    check_len(step, rel, limits)?;
    if path.is_root() {
        return Ok(());
    }
    let bytes = rel.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if rel.starts_with('/') || rel.starts_with('\\') || drive {
        return Err(PlanError::AbsolutePath {
            step,
            path: rel.to_owned(),
        });
    }
    let bad = |reason| PlanError::BadComponent {
        step,
        path: rel.to_owned(),
        reason,
    };
    for component in rel.split('/') {
        match component {
            "" => return Err(bad("empty component")),
            "." => return Err(bad("`.` component")),
            ".." => {
                return Err(PlanError::ParentComponent {
                    step,
                    path: rel.to_owned(),
                });
            }
            c if c.contains('\\') => return Err(bad("`\\` in a component")),
            c if c.contains(':') => return Err(bad("`:` in a component")),
            c if c.contains('\0') => return Err(bad("NUL in a component")),
            _ => {}
        }
    }
    Ok(())
}

fn check_len(step: usize, text: &str, limits: &PlanLimits) -> Result<(), PlanError> {
    if text.len() > limits.max_path_bytes {
        return Err(PlanError::TooLong {
            step,
            len: text.len(),
            max: limits.max_path_bytes,
        });
    }
    Ok(())
}

/// Refuses `a` and `b` when equal or when one lies inside the other (same root).
fn check_disjoint(step: usize, a: &PlanPath, b: &PlanPath) -> Result<(), PlanError> {
    if a.root != b.root {
        return Ok(());
    }
    let inside = |outer: &PlanPath, inner: &PlanPath| {
        outer.is_root()
            || inner.rel == outer.rel
            || inner
                .rel
                .strip_prefix(outer.rel.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if inside(a, b) || inside(b, a) {
        return Err(PlanError::Overlap {
            step,
            a: a.clone(),
            b: b.clone(),
        });
    }
    Ok(())
}

/// Whether link text `target`, placed at `link_rel`, resolves inside the link's root.
fn link_stays_inside(link_rel: &str, target: &str) -> bool {
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\\')
        || target.contains(':')
        || target.contains('\0')
    {
        return false;
    }
    // Start from the link's folder: its components minus the last.
    let mut depth = link_rel.split('/').count() - 1;
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

fn check_program(step: usize, program: &Program, limits: &PlanLimits) -> Result<(), PlanError> {
    let refused = || PlanError::ProgramNotAllowed {
        step,
        program: program.to_string(),
    };
    match program {
        Program::InRoot(path) => {
            check_path(step, path, limits)?;
            if path.root != Root::Install {
                return Err(refused());
            }
            if path.is_root() {
                return Err(PlanError::RootNotAllowed {
                    step,
                    path: path.clone(),
                });
            }
        }
        Program::System(path) => {
            if !limits.allowed_programs.iter().any(|p| p == path) {
                return Err(refused());
            }
        }
    }
    Ok(())
}

fn check_args(step: usize, args: &[String], limits: &PlanLimits) -> Result<(), PlanError> {
    if args.len() > limits.max_args {
        return Err(PlanError::BadArguments {
            step,
            reason: "too many arguments",
        });
    }
    for arg in args {
        check_len(step, arg, limits)?;
        if arg.contains('\0') {
            return Err(PlanError::BadArguments {
                step,
                reason: "NUL in an argument",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(root: Root, rel: &str) -> PlanPath {
        PlanPath::new(root, rel)
    }

    fn mv(from: &str, to: &str) -> Step {
        Step::Move {
            from: p(Root::Staging, from),
            to: p(Root::Install, to),
        }
    }

    fn run_in(root: Root, rel: &str) -> Step {
        Step::Run {
            program: Program::InRoot(p(root, rel)),
            args: vec![],
        }
    }

    fn check_one(step: Step) -> Result<CheckedPlan, PlanError> {
        let limits = PlanLimits {
            allowed_programs: vec!["/usr/bin/open".to_owned()],
            ..PlanLimits::default()
        };
        check_plan(&[step], &limits)
    }

    #[test]
    fn accepts_good_steps() {
        let good = vec![
            Step::WaitForExit {
                pid: 42,
                timeout: Duration::from_secs(30),
            },
            Step::Move {
                from: PlanPath::root(Root::Install),
                to: PlanPath::root(Root::Backup),
            },
            Step::Swap {
                a: PlanPath::root(Root::Install),
                b: PlanPath::root(Root::Staging),
            },
            mv("bin/app", "bin/app"),
            Step::Move {
                from: p(Root::Install, "app.exe"),
                to: p(Root::Install, "app.exe.old"),
            },
            Step::Remove {
                path: PlanPath::root(Root::Backup),
            },
            Step::Remove {
                path: p(Root::Install, "app.exe.old"),
            },
            Step::Copy {
                from: p(Root::Backup, "user-data"),
                to: p(Root::Install, "user-data"),
            },
            Step::SetMode {
                path: p(Root::Install, "bin/app"),
                mode: 0o755,
            },
            Step::Symlink {
                path: p(Root::Install, "lib/libfoo.so"),
                target: "libfoo.so.2".to_owned(),
            },
            Step::Symlink {
                path: p(Root::Install, "bin/tool"),
                target: "../libexec/./tool".to_owned(),
            },
            run_in(Root::Install, "bin/migrate"),
            Step::Relaunch {
                program: Program::System("/usr/bin/open".to_owned()),
                args: vec!["-n".to_owned(), "x".to_owned()],
            },
        ];
        let plan = check_plan(
            &good,
            &PlanLimits {
                allowed_programs: vec!["/usr/bin/open".to_owned()],
                ..PlanLimits::default()
            },
        )
        .expect("good plan");
        assert_eq!(plan.steps(), good.as_slice());
        assert_eq!(plan.into_steps(), good);
    }

    /// One row per refusal: the step and a predicate on the error it must give.
    #[test]
    fn refuses_each_bad_step() {
        type Case = (&'static str, Step, fn(&PlanError) -> bool);
        let cases: Vec<Case> = vec![
            ("empty path", mv("", "a"), |e| {
                matches!(
                    e,
                    PlanError::EmptyPath {
                        step: 0,
                        root: Root::Staging
                    }
                )
            }),
            (
                "absolute unix",
                mv("/etc/passwd", "a"),
                |e| matches!(e, PlanError::AbsolutePath { path, .. } if path == "/etc/passwd"),
            ),
            ("absolute backslash", mv("a", "\\Windows\\x"), |e| {
                matches!(e, PlanError::AbsolutePath { .. })
            }),
            ("drive letter", mv("C:evil.exe", "a"), |e| {
                matches!(e, PlanError::AbsolutePath { .. })
            }),
            (
                "parent component",
                mv("a", "../outside"),
                |e| matches!(e, PlanError::ParentComponent { path, .. } if path == "../outside"),
            ),
            ("parent deep inside", mv("a/b/../../../x", "a"), |e| {
                matches!(e, PlanError::ParentComponent { .. })
            }),
            ("empty component", mv("a//b", "c"), |e| {
                matches!(
                    e,
                    PlanError::BadComponent {
                        reason: "empty component",
                        ..
                    }
                )
            }),
            ("trailing slash", mv("a/", "c"), |e| {
                matches!(
                    e,
                    PlanError::BadComponent {
                        reason: "empty component",
                        ..
                    }
                )
            }),
            ("dot component", mv("a/./b", "c"), |e| {
                matches!(
                    e,
                    PlanError::BadComponent {
                        reason: "`.` component",
                        ..
                    }
                )
            }),
            ("backslash inside", mv("a\\..\\..\\x", "c"), |e| {
                matches!(e, PlanError::BadComponent { .. })
            }),
            ("alternate stream", mv("a", "app.exe:stream"), |e| {
                matches!(e, PlanError::BadComponent { .. })
            }),
            ("nul", mv("a\0b", "c"), |e| {
                matches!(e, PlanError::BadComponent { .. })
            }),
            ("too long", mv(&"a".repeat(5000), "c"), |e| {
                matches!(
                    e,
                    PlanError::TooLong {
                        len: 5000,
                        max: 4096,
                        ..
                    }
                )
            }),
            (
                "move root into itself",
                Step::Move {
                    from: PlanPath::root(Root::Install),
                    to: p(Root::Install, "old"),
                },
                |e| matches!(e, PlanError::Overlap { .. }),
            ),
            (
                "move into own child",
                Step::Move {
                    from: p(Root::Install, "lib"),
                    to: p(Root::Install, "lib/x"),
                },
                |e| matches!(e, PlanError::Overlap { .. }),
            ),
            (
                "swap with itself",
                Step::Swap {
                    a: p(Root::Install, "a"),
                    b: p(Root::Install, "a"),
                },
                |e| matches!(e, PlanError::Overlap { .. }),
            ),
            (
                "remove install root",
                Step::Remove {
                    path: PlanPath::root(Root::Install),
                },
                |e| matches!(e, PlanError::RootNotAllowed { .. }),
            ),
            (
                "setuid",
                Step::SetMode {
                    path: p(Root::Install, "bin/app"),
                    mode: 0o4755,
                },
                |e| matches!(e, PlanError::BadMode { mode: 0o4755, .. }),
            ),
            (
                "setgid",
                Step::SetMode {
                    path: p(Root::Install, "bin/app"),
                    mode: 0o2755,
                },
                |e| matches!(e, PlanError::BadMode { .. }),
            ),
            (
                "sticky",
                Step::SetMode {
                    path: p(Root::Install, "tmp"),
                    mode: 0o1777,
                },
                |e| matches!(e, PlanError::BadMode { .. }),
            ),
            (
                "world writable",
                Step::SetMode {
                    path: p(Root::Install, "bin/app"),
                    mode: 0o757,
                },
                |e| matches!(e, PlanError::BadMode { .. }),
            ),
            (
                "huge mode",
                Step::SetMode {
                    path: p(Root::Install, "bin/app"),
                    mode: u32::MAX,
                },
                |e| matches!(e, PlanError::BadMode { .. }),
            ),
            (
                "symlink absolute",
                Step::Symlink {
                    path: p(Root::Install, "etc"),
                    target: "/etc".to_owned(),
                },
                |e| matches!(e, PlanError::SymlinkEscapes { .. }),
            ),
            (
                "symlink climbs out",
                Step::Symlink {
                    path: p(Root::Install, "bin/x"),
                    target: "../../outside".to_owned(),
                },
                |e| matches!(e, PlanError::SymlinkEscapes { .. }),
            ),
            (
                "symlink empty target",
                Step::Symlink {
                    path: p(Root::Install, "x"),
                    target: String::new(),
                },
                |e| matches!(e, PlanError::SymlinkEscapes { .. }),
            ),
            (
                "symlink at root",
                Step::Symlink {
                    path: PlanPath::root(Root::Install),
                    target: "x".to_owned(),
                },
                |e| matches!(e, PlanError::RootNotAllowed { .. }),
            ),
            (
                "run from staging",
                run_in(Root::Staging, "setup"),
                |e| matches!(e, PlanError::ProgramNotAllowed { program, .. } if program == "staging:setup"),
            ),
            ("run from backup", run_in(Root::Backup, "app"), |e| {
                matches!(e, PlanError::ProgramNotAllowed { .. })
            }),
            ("run escaping", run_in(Root::Install, "../../bin/sh"), |e| {
                matches!(e, PlanError::ParentComponent { .. })
            }),
            ("run root folder", run_in(Root::Install, "."), |e| {
                matches!(e, PlanError::RootNotAllowed { .. })
            }),
            (
                "run system program not allowed",
                Step::Run {
                    program: Program::System("/bin/sh".to_owned()),
                    args: vec!["-c".to_owned(), "rm -rf ~".to_owned()],
                },
                |e| matches!(e, PlanError::ProgramNotAllowed { program, .. } if program == "/bin/sh"),
            ),
            (
                "relaunch system program not allowed",
                Step::Relaunch {
                    program: Program::System("/usr/bin/open2".to_owned()),
                    args: vec![],
                },
                |e| matches!(e, PlanError::ProgramNotAllowed { .. }),
            ),
            (
                "nul argument",
                Step::Relaunch {
                    program: Program::InRoot(p(Root::Install, "app")),
                    args: vec!["a\0b".to_owned()],
                },
                |e| matches!(e, PlanError::BadArguments { .. }),
            ),
            (
                "too many arguments",
                Step::Run {
                    program: Program::InRoot(p(Root::Install, "app")),
                    args: vec![String::new(); 300],
                },
                |e| matches!(e, PlanError::BadArguments { .. }),
            ),
            (
                "pid zero",
                Step::WaitForExit {
                    pid: 0,
                    timeout: Duration::from_secs(1),
                },
                |e| matches!(e, PlanError::BadPid { step: 0 }),
            ),
            (
                "wait too long",
                Step::WaitForExit {
                    pid: 7,
                    timeout: Duration::from_secs(3600),
                },
                |e| matches!(e, PlanError::WaitTooLong { .. }),
            ),
        ];
        for (name, step, expected) in cases {
            let err = check_one(step).expect_err(name);
            assert!(expected(&err), "{name}: unexpected error {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn reports_the_index_of_the_bad_step() {
        let steps = vec![mv("a", "a"), mv("b", "b"), mv("/abs", "c")];
        let err = check_plan(&steps, &PlanLimits::default()).unwrap_err();
        assert!(
            matches!(err, PlanError::AbsolutePath { step: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_too_many_steps() {
        let steps = vec![mv("a", "a"); 3];
        let limits = PlanLimits {
            max_steps: 2,
            ..PlanLimits::default()
        };
        assert_eq!(
            check_plan(&steps, &limits),
            Err(PlanError::TooManySteps { count: 3, max: 2 })
        );
    }

    #[test]
    fn link_resolution_is_lexical() {
        assert!(link_stays_inside("a", "b"));
        assert!(link_stays_inside("a/b", "../c"));
        assert!(!link_stays_inside("a/b", "../../c"));
        assert!(link_stays_inside("a/b/c", "../../d/../e"));
        assert!(!link_stays_inside("a", "x/../../y"));
    }
}
