//! Hostile hooks: each fails with its own typed error, within bounds, and the host stays
//! usable afterwards.

use std::time::{Duration, Instant};

use tufd_core::install_plan::{Decision, PlanError, PlanLimits, Program, Step};
use tufd_hook_host::{HookError, HookHost};

use crate::support::{context, hook, host, quick, repo_root};

fn ctx() -> tufd_core::install_plan::InstallContext {
    context("linux", &["bin", "bin/app"], &["bin", "bin/app"])
}

#[test]
fn loop_forever_times_out_at_the_default_deadline() {
    let host = host("loop-forever");
    let started = Instant::now();
    let err = host.plan_install(&ctx()).unwrap_err();
    let elapsed = started.elapsed();
    println!("loop-forever stopped after {elapsed:?} (limit 2 s)");
    assert!(
        matches!(err, HookError::Timeout { limit, .. } if limit == Duration::from_secs(2)),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn loop_forever_policy_times_out_and_the_host_stays_usable() {
    let host = quick().build(hook("loop-forever")).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let err = host
            .on_update_available(&tufd_core::install_plan::UpdateInfo {
                app_name: "Demo".to_owned(),
                installed_version: "1.0".parse().unwrap(),
                new_version: "2.0".parse().unwrap(),
                required: false,
                now_unix_seconds: 0,
                utc_offset_seconds: 0,
                settings: vec![],
            })
            .unwrap_err();
        assert!(matches!(err, HookError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn memory_hog_hits_the_memory_limit() {
    let host = quick()
        .memory_limit_bytes(16 << 20)
        .timeout(Duration::from_secs(5))
        .build(hook("memory-hog"))
        .unwrap();
    let started = Instant::now();
    let err = host.plan_install(&ctx()).unwrap_err();
    assert!(
        matches!(err, HookError::OutOfMemory { limit_bytes, .. } if limit_bytes == 16 << 20),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // The policy export of the same hook allocates nothing and still answers.
    assert_eq!(
        host.on_update_available(&tufd_core::install_plan::UpdateInfo {
            app_name: "Demo".to_owned(),
            installed_version: "1.0".parse().unwrap(),
            new_version: "2.0".parse().unwrap(),
            required: false,
            now_unix_seconds: 0,
            utc_offset_seconds: 0,
            settings: vec![],
        })
        .unwrap(),
        Decision::InstallNow
    );
}

#[test]
fn memory_hog_with_the_default_limit() {
    let err = host("memory-hog").plan_install(&ctx()).unwrap_err();
    assert!(
        matches!(err, HookError::OutOfMemory { limit_bytes, .. } if limit_bytes == 64 << 20),
        "{err:?}"
    );
}

#[test]
fn a_panic_is_a_trap_with_the_panic_message() {
    let err = host("trap").plan_install(&ctx()).unwrap_err();
    match err {
        HookError::Trap { code, stderr, .. } => {
            assert_eq!(code, Some(wasmtime_trap_unreachable()));
            assert!(stderr.contains("panics on purpose"), "stderr: {stderr}");
        }
        other => panic!("expected Trap, got {other:?}"),
    }
}

fn wasmtime_trap_unreachable() -> wasmtime::Trap {
    wasmtime::Trap::UnreachableCodeReached
}

#[test]
fn an_error_answer_is_hook_refused() {
    let err = host("returns-error").plan_install(&ctx()).unwrap_err();
    match err {
        HookError::HookRefused { hook, message } => {
            assert_eq!(hook, "returns_error.wasm");
            assert_eq!(message, "refusing to install 2.0");
        }
        other => panic!("expected HookRefused, got {other:?}"),
    }
}

#[test]
fn a_path_escaping_its_root_is_a_bad_plan() {
    let err = host("escaping-plan").plan_install(&ctx()).unwrap_err();
    assert!(
        matches!(
            &err,
            HookError::BadPlan { source: PlanError::ParentComponent { step: 0, path }, .. }
                if path == "../../../usr/bin/app"
        ),
        "{err:?}"
    );
}

#[test]
fn an_absolute_path_is_a_bad_plan() {
    let err = host("absolute-path").plan_install(&ctx()).unwrap_err();
    assert!(
        matches!(
            &err,
            HookError::BadPlan { source: PlanError::AbsolutePath { path, .. }, .. }
                if path == "/etc/cron.d/evil"
        ),
        "{err:?}"
    );
}

#[test]
fn running_a_program_outside_is_refused_unless_allowed() {
    let err = host("runs-outside").plan_install(&ctx()).unwrap_err();
    assert!(
        matches!(
            &err,
            HookError::BadPlan { source: PlanError::ProgramNotAllowed { program, .. }, .. }
                if program == "/bin/sh"
        ),
        "{err:?}"
    );
    // Explicitly allowed in the configuration: accepted.
    let allowing = HookHost::builder()
        .plan_limits(PlanLimits {
            allowed_programs: vec!["/bin/sh".to_owned()],
            ..PlanLimits::default()
        })
        .build(hook("runs-outside"))
        .unwrap();
    let plan = allowing.plan_install(&ctx()).unwrap();
    assert!(matches!(
        &plan.steps()[0],
        Step::Run { program: Program::System(p), .. } if p == "/bin/sh"
    ));
}

#[test]
fn a_network_import_is_refused_at_load() {
    let err = HookHost::builder().build(hook("network")).unwrap_err();
    match err {
        HookError::ForbiddenImport { import, .. } => {
            assert!(import.starts_with("wasi:sockets/"), "{import}")
        }
        other => panic!("expected ForbiddenImport, got {other:?}"),
    }
}

#[test]
fn a_core_module_is_not_a_component() {
    let fixture = repo_root().join("examples/hooks/fixtures/not-a-component.wasm");
    let err = HookHost::builder().build(&fixture).unwrap_err();
    assert!(
        matches!(&err, HookError::Load { path, .. } if path == &fixture),
        "{err:?}"
    );
}

#[test]
fn garbage_and_missing_files_fail_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("hook.wasm");
    std::fs::write(&garbage, b"#!/bin/sh\necho not wasm\n").unwrap();
    let err = HookHost::builder().build(&garbage).unwrap_err();
    assert!(matches!(err, HookError::Load { .. }), "{err:?}");

    let err = HookHost::builder()
        .build(dir.path().join("missing.wasm"))
        .unwrap_err();
    assert!(matches!(err, HookError::Read { .. }), "{err:?}");
}

#[test]
fn the_guest_sees_no_files_environment_or_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = ctx();
    ctx.install_dir = dir.path().to_owned();
    let err = host("snoop").plan_install(&ctx).unwrap_err();
    match err {
        HookError::HookRefused { message, .. } => assert_eq!(
            message,
            "passwd=denied install-dir=denied cwd=denied env=0 args=0"
        ),
        other => panic!("expected HookRefused, got {other:?}"),
    }
}

#[test]
fn one_host_serves_concurrent_calls() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<HookHost>();

    let host = std::sync::Arc::new(host("linux-tree"));
    let expected = host.plan_install(&ctx()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let host = std::sync::Arc::clone(&host);
            std::thread::spawn(move || host.plan_install(&ctx()).unwrap())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), expected);
    }
}
