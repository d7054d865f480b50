//! The built-in native plans, used when no hook is configured (docs/hooks.md; a hook that fails
//! falls back to them only with `hook-fallback = "native"`, docs/hooks.md, "Configure").
//!
//! Pure functions from an [`InstallContext`] to steps; they pass [`super::check_plan`] with
//! default limits. The same plans written as WASM hooks live in `examples/hooks/`.

use std::time::Duration;

use super::{InstallContext, PlanPath, Root, Step};

/// How long the built-in plans wait for the running app to exit: 60 seconds.
pub const EXIT_WAIT: Duration = Duration::from_secs(60);

/// The built-in plan for `ctx.os`: [`tree_plan`] on Windows (two renames once the app has
/// exited: Windows has no atomic exchange of folders), [`swap_plan`] elsewhere (Linux trees
/// and macOS `.app` bundles), whose one atomic exchange means the install folder always exists
/// and always holds one whole version, even if the machine dies mid-install.
pub fn native_plan(ctx: &InstallContext) -> Vec<Step> {
    match ctx.os.as_str() {
        "windows" => tree_plan(ctx),
        _ => swap_plan(ctx),
    }
}

/// The plan of Linux and macOS: wait for the app to exit, exchange the install folder and
/// staging in one step, carry the [`kept_paths`] from the old tree (now in staging) into the
/// new one, move the old tree to the backup, relaunch if configured. For a macOS `.app`
/// bundle (the install root is the bundle) the bundle path never disappears, as Launch
/// Services and the Dock expect.
pub fn swap_plan(ctx: &InstallContext) -> Vec<Step> {
    let mut steps = wait_for_app(ctx);
    steps.push(Step::Swap {
        a: PlanPath::root(Root::Install),
        b: PlanPath::root(Root::Staging),
    });
    steps.extend(carry_over(ctx, Root::Staging));
    steps.push(Step::Move {
        from: PlanPath::root(Root::Staging),
        to: PlanPath::root(Root::Backup),
    });
    steps.extend(relaunch(ctx));
    steps
}

/// The `keep` setting (`--keep PATH`, repeatable; `keep = [...]` in tufd.toml; the hook
/// setting of the same name, comma-separated, as the `linux-tree` example hook reads it):
/// paths relative to the install folder, files or folders, that the app writes into its
/// install folder and that must survive updates (`settings.ini`, `logs`). Empty by default.
pub fn kept_paths(settings: &[(String, String)]) -> Vec<String> {
    settings
        .iter()
        .filter(|(key, _)| key == "keep")
        .flat_map(|(_, value)| value.split(','))
        .map(|p| p.trim().trim_matches('/').to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// For each kept path the installed tree has: remove the copy the new version ships (if any)
/// and move the old one in from `old` (the root holding the old tree at that point).
fn carry_over(ctx: &InstallContext, old: Root) -> Vec<Step> {
    let mut steps = Vec::new();
    for kept in kept_paths(&ctx.settings) {
        if !ctx.installed_files.contains(&kept) {
            continue;
        }
        if ctx.staging_files.contains(&kept) {
            steps.push(Step::Remove {
                path: PlanPath::new(Root::Install, kept.clone()),
            });
        }
        steps.push(Step::Move {
            from: PlanPath::new(old, kept.clone()),
            to: PlanPath::new(Root::Install, kept),
        });
    }
    steps
}

/// The installed top-level entries that the new version does not have and that are not kept:
/// files the app (or its user) added to the install folder, which go to the backup with the
/// old version and are gone after the next update. For a log line naming them.
pub fn left_behind(ctx: &InstallContext) -> Vec<String> {
    let kept = kept_paths(&ctx.settings);
    ctx.installed_files
        .iter()
        .filter(|f| !f.contains('/'))
        .filter(|f| !ctx.staging_files.contains(f))
        .filter(|f| {
            !kept
                .iter()
                .any(|k| k == *f || k.starts_with(&format!("{f}/")))
        })
        .cloned()
        .collect()
}

/// A folder tree: wait for the app to exit, move the install folder to the backup, move
/// staging to the install folder, relaunch if configured. Two renames, as the install
/// actor's journal expects; between them the install folder is missing (a crash there is
/// undone at the next start).
pub fn tree_plan(ctx: &InstallContext) -> Vec<Step> {
    let mut steps = wait_for_app(ctx);
    steps.push(Step::Move {
        from: PlanPath::root(Root::Install),
        to: PlanPath::root(Root::Backup),
    });
    steps.push(Step::Move {
        from: PlanPath::root(Root::Staging),
        to: PlanPath::root(Root::Install),
    });
    steps.extend(carry_over(ctx, Root::Backup));
    steps.extend(relaunch(ctx));
    steps
}

fn wait_for_app(ctx: &InstallContext) -> Vec<Step> {
    ctx.app_pid
        .map(|pid| Step::WaitForExit {
            pid,
            timeout: EXIT_WAIT,
        })
        .into_iter()
        .collect()
}

fn relaunch(ctx: &InstallContext) -> Option<Step> {
    ctx.relaunch.as_ref().map(|command| Step::Relaunch {
        program: command.program.clone(),
        args: command.args.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install_plan::{Command, PlanLimits, Program, check_plan};

    fn ctx(os: &str, pid: Option<u32>, relaunch: Option<Command>) -> InstallContext {
        InstallContext {
            os: os.to_owned(),
            arch: "x86_64".to_owned(),
            app_name: "demo".to_owned(),
            installed_version: "1.0".parse().unwrap(),
            new_version: "2.0".parse().unwrap(),
            install_dir: "/opt/demo".into(),
            staging_dir: "/var/lib/tufd/staging/demo-2.0".into(),
            backup_dir: "/var/lib/tufd/backup/demo-1.0".into(),
            app_pid: pid,
            relaunch,
            staging_files: vec!["bin".to_owned(), "bin/demo".to_owned()],
            installed_files: vec!["bin".to_owned(), "bin/demo".to_owned()],
            settings: vec![],
        }
    }

    fn command(rel: &str) -> Command {
        Command {
            program: Program::InRoot(PlanPath::new(Root::Install, rel)),
            args: vec!["--updated".to_owned()],
        }
    }

    #[test]
    fn tree_plan_waits_moves_twice_and_relaunches() {
        let c = ctx("windows", Some(4242), Some(command("bin/demo")));
        let plan = native_plan(&c);
        assert_eq!(
            plan,
            vec![
                Step::WaitForExit {
                    pid: 4242,
                    timeout: EXIT_WAIT
                },
                Step::Move {
                    from: PlanPath::root(Root::Install),
                    to: PlanPath::root(Root::Backup)
                },
                Step::Move {
                    from: PlanPath::root(Root::Staging),
                    to: PlanPath::root(Root::Install)
                },
                Step::Relaunch {
                    program: Program::InRoot(PlanPath::new(Root::Install, "bin/demo")),
                    args: vec!["--updated".to_owned()]
                },
            ]
        );
        check_plan(&plan, &PlanLimits::default()).expect("native plan passes the checker");
    }

    #[test]
    fn linux_swaps_atomically_then_keeps_the_old_tree_as_backup() {
        let plan = native_plan(&ctx("linux", None, None));
        assert_eq!(
            plan,
            vec![
                Step::Swap {
                    a: PlanPath::root(Root::Install),
                    b: PlanPath::root(Root::Staging)
                },
                Step::Move {
                    from: PlanPath::root(Root::Staging),
                    to: PlanPath::root(Root::Backup)
                },
            ]
        );
        let windows = native_plan(&ctx("windows", None, None));
        assert_eq!(windows.len(), 2);
        assert!(windows.iter().all(|s| matches!(s, Step::Move { .. })));
    }

    #[test]
    fn kept_paths_are_carried_over_and_other_extras_are_named() {
        let mut c = ctx("linux", None, None);
        c.installed_files = vec![
            "bin".into(),
            "bin/demo".into(),
            "settings.ini".into(),
            "logs".into(),
            "logs/a.log".into(),
            "notes.txt".into(),
        ];
        c.staging_files = vec!["bin".into(), "bin/demo".into(), "settings.ini".into()];
        c.settings = vec![("keep".into(), "settings.ini, logs/".into())];
        assert_eq!(kept_paths(&c.settings), ["settings.ini", "logs"]);
        let plan = native_plan(&c);
        assert_eq!(
            plan[1..4],
            [
                Step::Remove {
                    path: PlanPath::new(Root::Install, "settings.ini")
                },
                Step::Move {
                    from: PlanPath::new(Root::Staging, "settings.ini"),
                    to: PlanPath::new(Root::Install, "settings.ini")
                },
                Step::Move {
                    from: PlanPath::new(Root::Staging, "logs"),
                    to: PlanPath::new(Root::Install, "logs")
                },
            ]
        );
        check_plan(&plan, &PlanLimits::default()).expect("passes the checker");
        assert_eq!(left_behind(&c), ["notes.txt"]);
        let windows = native_plan(&ctx_like(&c, "windows"));
        assert_eq!(
            windows[3],
            Step::Move {
                from: PlanPath::new(Root::Backup, "settings.ini"),
                to: PlanPath::new(Root::Install, "settings.ini")
            }
        );
        check_plan(&windows, &PlanLimits::default()).expect("passes the checker");
    }

    fn ctx_like(c: &InstallContext, os: &str) -> InstallContext {
        InstallContext {
            os: os.to_owned(),
            ..c.clone()
        }
    }

    #[test]
    fn windows_uses_the_tree_plan() {
        let c = ctx("windows", Some(9), Some(command("demo.exe")));
        assert_eq!(native_plan(&c), tree_plan(&c));
    }

    #[test]
    fn macos_swaps_the_bundle_whole() {
        let c = ctx("macos", Some(7), Some(command("Contents/MacOS/demo")));
        let plan = native_plan(&c);
        assert_eq!(
            plan[1],
            Step::Swap {
                a: PlanPath::root(Root::Install),
                b: PlanPath::root(Root::Staging)
            }
        );
        assert_eq!(
            plan[2],
            Step::Move {
                from: PlanPath::root(Root::Staging),
                to: PlanPath::root(Root::Backup)
            }
        );
        assert!(matches!(plan[3], Step::Relaunch { .. }));
        assert_eq!(plan.len(), 4);
        check_plan(&plan, &PlanLimits::default()).expect("native plan passes the checker");
    }
}
