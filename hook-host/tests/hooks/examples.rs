//! The example hooks' plans for given contexts, and the office-hours policy.

use std::time::Duration;

use tufd_core::install_plan::{Decision, PlanPath, Program, Root, Step, UpdateInfo};
use tufd_hook_host::HookError;

use crate::support::{context, host, p, relaunch, strings};

fn mv(from: PlanPath, to: PlanPath) -> Step {
    Step::Move { from, to }
}

#[test]
fn linux_tree_keeps_user_data_sets_modes_and_relaunches() {
    let mut ctx = context(
        "linux",
        &["bin", "bin/demo", "user-data", "user-data/settings.json"],
        &["bin", "bin/demo", "user-data", "user-data/defaults.json"],
    );
    ctx.app_pid = Some(4242);
    ctx.relaunch = Some(relaunch("bin/demo"));
    let plan = host("linux-tree").plan_install(&ctx).expect("plan");
    assert_eq!(
        plan.steps(),
        &[
            Step::WaitForExit {
                pid: 4242,
                timeout: Duration::from_secs(60)
            },
            mv(PlanPath::root(Root::Install), PlanPath::root(Root::Backup)),
            mv(PlanPath::root(Root::Staging), PlanPath::root(Root::Install)),
            // The new version ships its own user-data: the user's wins.
            Step::Remove {
                path: p(Root::Install, "user-data")
            },
            mv(p(Root::Backup, "user-data"), p(Root::Install, "user-data")),
            Step::SetMode {
                path: p(Root::Install, "bin/demo"),
                mode: 0o755
            },
            Step::Relaunch {
                program: Program::InRoot(p(Root::Install, "bin/demo")),
                args: strings(&["--updated"])
            },
        ]
    );
}

#[test]
fn linux_tree_honours_settings_and_skips_absent_paths() {
    let mut ctx = context(
        "linux",
        &["app", "logs", "logs/today.log"],
        &["app", "app/run"],
    );
    ctx.settings = vec![
        ("keep".to_owned(), "logs, user-data".to_owned()),
        ("executables".to_owned(), "app/run".to_owned()),
    ];
    let plan = host("linux-tree").plan_install(&ctx).expect("plan");
    assert_eq!(
        plan.steps(),
        &[
            mv(PlanPath::root(Root::Install), PlanPath::root(Root::Backup)),
            mv(PlanPath::root(Root::Staging), PlanPath::root(Root::Install)),
            // `logs` existed only in the old tree: moved over, nothing removed first;
            // `user-data` did not exist: nothing.
            mv(p(Root::Backup, "logs"), p(Root::Install, "logs")),
            Step::SetMode {
                path: p(Root::Install, "app/run"),
                mode: 0o755
            },
        ]
    );
}

#[test]
fn macos_app_swaps_the_bundle_whole_then_relaunches() {
    let mut ctx = context(
        "macos",
        &["Contents", "Contents/MacOS", "Contents/MacOS/Demo"],
        &["Contents", "Contents/MacOS", "Contents/MacOS/Demo"],
    );
    ctx.app_pid = Some(77);
    let plan = host("macos-app").plan_install(&ctx).expect("plan");
    assert_eq!(
        plan.steps(),
        &[
            Step::WaitForExit {
                pid: 77,
                timeout: Duration::from_secs(60)
            },
            Step::Swap {
                a: PlanPath::root(Root::Install),
                b: PlanPath::root(Root::Staging)
            },
            mv(PlanPath::root(Root::Staging), PlanPath::root(Root::Backup)),
            Step::Relaunch {
                program: Program::InRoot(p(Root::Install, "Contents/MacOS/Demo")),
                args: vec![]
            },
        ]
    );
}

#[test]
fn windows_locked_exe_renames_aside_moves_in_and_schedules_removal() {
    let mut ctx = context(
        "windows",
        &["Demo.exe", "lib", "lib/core.dll", "old.txt"],
        &["Demo.exe", "lib", "lib/core.dll", "new.txt"],
    );
    ctx.app_pid = Some(1234);
    ctx.relaunch = Some(relaunch("Demo.exe"));
    let plan = host("windows-locked-exe").plan_install(&ctx).expect("plan");
    let install = |rel| p(Root::Install, rel);
    let staging = |rel| p(Root::Staging, rel);
    let backup = |rel| p(Root::Backup, rel);
    assert_eq!(
        plan.steps(),
        &[
            // The running exe is renamed aside (allowed on Windows), not waited for.
            mv(install("Demo.exe"), install("Demo.exe.old")),
            mv(install("lib"), backup("lib")),
            mv(install("old.txt"), backup("old.txt")),
            mv(staging("Demo.exe"), install("Demo.exe")),
            mv(staging("lib"), install("lib")),
            mv(staging("new.txt"), install("new.txt")),
            Step::Relaunch {
                program: Program::InRoot(install("Demo.exe")),
                args: strings(&["--updated"])
            },
            // Removal scheduled: the old exe joins the backup, removed once 2.0 is healthy.
            mv(install("Demo.exe.old"), backup("Demo.exe")),
        ]
    );
    assert!(
        !plan
            .steps()
            .iter()
            .any(|s| matches!(s, Step::WaitForExit { .. }))
    );
}

#[test]
fn windows_locked_exe_refuses_a_release_without_its_exe() {
    let ctx = context("windows", &["Demo.exe"], &["Other.exe"]);
    let err = host("windows-locked-exe").plan_install(&ctx).unwrap_err();
    match err {
        HookError::HookRefused { message, .. } => assert!(message.contains("Demo.exe")),
        other => panic!("expected HookRefused, got {other:?}"),
    }
}

/// Wednesday 2024-01-03 00:00:00 UTC.
const WEDNESDAY: u64 = 1_704_240_000;

fn info(now: u64, offset: i32, required: bool) -> UpdateInfo {
    UpdateInfo {
        app_name: "Demo".to_owned(),
        installed_version: "1.0".parse().unwrap(),
        new_version: "2.0".parse().unwrap(),
        required,
        now_unix_seconds: now,
        utc_offset_seconds: offset,
        settings: Vec::new(),
    }
}

#[test]
fn office_hours_defers_inside_hours_only() {
    let policy = host("office-hours-policy");
    let hour = 3600;
    let cases = [
        // Wednesday 10:00 UTC: defer until 17:00.
        (
            WEDNESDAY + 10 * hour,
            0,
            false,
            Decision::DeferUntil {
                unix_seconds: WEDNESDAY + 17 * hour,
            },
        ),
        // Wednesday 09:30 UTC is 10:30 at UTC+1: defer until 17:00 local = 16:00 UTC.
        (
            WEDNESDAY + 9 * hour + 1800,
            3600,
            false,
            Decision::DeferUntil {
                unix_seconds: WEDNESDAY + 16 * hour,
            },
        ),
        // Wednesday 08:59 and 17:00: outside.
        (WEDNESDAY + 9 * hour - 60, 0, false, Decision::InstallNow),
        (WEDNESDAY + 17 * hour, 0, false, Decision::InstallNow),
        // Saturday 11:00: weekend.
        (
            WEDNESDAY + 3 * 24 * hour + 11 * hour,
            0,
            false,
            Decision::InstallNow,
        ),
        // Required releases install at once.
        (WEDNESDAY + 10 * hour, 0, true, Decision::InstallNow),
    ];
    for (now, offset, required, expected) in cases {
        let decision = policy
            .on_update_available(&info(now, offset, required))
            .expect("decision");
        assert_eq!(
            decision, expected,
            "now {now}, offset {offset}, required {required}"
        );
    }
}

#[test]
fn office_hours_reads_its_settings() {
    let policy = host("office-hours-policy");
    let mut i = info(WEDNESDAY + 18 * 3600, 0, false);
    i.settings = vec![
        ("start-hour".to_owned(), "8".to_owned()),
        ("end-hour".to_owned(), "20".to_owned()),
    ];
    assert_eq!(
        policy.on_update_available(&i).unwrap(),
        Decision::DeferUntil {
            unix_seconds: WEDNESDAY + 20 * 3600
        }
    );
}
