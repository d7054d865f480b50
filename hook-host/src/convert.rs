//! Conversions between `tufd_core::install_plan`'s types and the generated WIT types: context and
//! update info go in, steps and decisions come out. Pure; the checker runs afterwards.

use std::time::Duration;

use tufd_core::install_plan::{
    self, Command, Decision, InstallContext, PlanPath, Program, Root, Step,
};

use crate::bindings::tufd::hook::types as wit;

fn root_in(root: wit::Root) -> Root {
    match root {
        wit::Root::Install => Root::Install,
        wit::Root::Staging => Root::Staging,
        wit::Root::Backup => Root::Backup,
    }
}

fn root_out(root: Root) -> wit::Root {
    match root {
        Root::Install => wit::Root::Install,
        Root::Staging => wit::Root::Staging,
        Root::Backup => wit::Root::Backup,
    }
}

fn path_in(p: wit::PlanPath) -> PlanPath {
    PlanPath::new(root_in(p.root), p.rel)
}

fn path_out(p: &PlanPath) -> wit::PlanPath {
    wit::PlanPath {
        root: root_out(p.root),
        rel: p.rel.clone(),
    }
}

fn program_in(p: wit::Program) -> Program {
    match p {
        wit::Program::InRoot(path) => Program::InRoot(path_in(path)),
        wit::Program::System(path) => Program::System(path),
    }
}

fn command_out(c: &Command) -> wit::Command {
    wit::Command {
        program: match &c.program {
            Program::InRoot(path) => wit::Program::InRoot(path_out(path)),
            Program::System(path) => wit::Program::System(path.clone()),
        },
        args: c.args.clone(),
    }
}

/// The context as the guest sees it.
pub(crate) fn context_out(ctx: &InstallContext) -> wit::InstallContext {
    wit::InstallContext {
        platform: wit::Platform {
            os: ctx.os.clone(),
            arch: ctx.arch.clone(),
        },
        app_name: ctx.app_name.clone(),
        installed_version: ctx.installed_version.to_string(),
        new_version: ctx.new_version.to_string(),
        install_dir: ctx.install_dir.to_string_lossy().into_owned(),
        staging_dir: ctx.staging_dir.to_string_lossy().into_owned(),
        backup_dir: ctx.backup_dir.to_string_lossy().into_owned(),
        app_pid: ctx.app_pid,
        relaunch: ctx.relaunch.as_ref().map(command_out),
        staging_files: ctx.staging_files.clone(),
        installed_files: ctx.installed_files.clone(),
        settings: ctx.settings.clone(),
    }
}

/// The update info as the guest sees it.
pub(crate) fn info_out(info: &install_plan::UpdateInfo) -> wit::UpdateInfo {
    wit::UpdateInfo {
        app_name: info.app_name.clone(),
        installed_version: info.installed_version.to_string(),
        new_version: info.new_version.to_string(),
        required: info.required,
        now_unix_seconds: info.now_unix_seconds,
        utc_offset_seconds: info.utc_offset_seconds,
        settings: info.settings.clone(),
    }
}

/// A step from the guest, unchecked.
pub(crate) fn step_in(step: wit::Step) -> Step {
    match step {
        wit::Step::WaitForExit(w) => Step::WaitForExit {
            pid: w.pid,
            timeout: Duration::from_millis(w.timeout_ms),
        },
        wit::Step::Move(m) => Step::Move {
            from: path_in(m.source),
            to: path_in(m.dest),
        },
        wit::Step::Swap(p) => Step::Swap {
            a: path_in(p.a),
            b: path_in(p.b),
        },
        wit::Step::Remove(path) => Step::Remove {
            path: path_in(path),
        },
        wit::Step::Copy(c) => Step::Copy {
            from: path_in(c.source),
            to: path_in(c.dest),
        },
        wit::Step::SetMode(s) => Step::SetMode {
            path: path_in(s.path),
            mode: s.mode,
        },
        wit::Step::Symlink(s) => Step::Symlink {
            path: path_in(s.path),
            target: s.target,
        },
        wit::Step::Run(c) => Step::Run {
            program: program_in(c.program),
            args: c.args,
        },
        wit::Step::Relaunch(c) => Step::Relaunch {
            program: program_in(c.program),
            args: c.args,
        },
    }
}

/// A decision from the guest.
pub(crate) fn decision_in(d: wit::Decision) -> Decision {
    match d {
        wit::Decision::InstallNow => Decision::InstallNow,
        wit::Decision::DeferUntil(unix_seconds) => Decision::DeferUntil { unix_seconds },
        wit::Decision::Skip => Decision::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_convert_field_by_field() {
        let p = |root, rel: &str| wit::PlanPath {
            root,
            rel: rel.to_owned(),
        };
        let step = step_in(wit::Step::Move(wit::SourceDest {
            source: p(wit::Root::Staging, "a"),
            dest: p(wit::Root::Backup, "b"),
        }));
        assert_eq!(
            step,
            Step::Move {
                from: PlanPath::new(Root::Staging, "a"),
                to: PlanPath::new(Root::Backup, "b"),
            }
        );
        let wait = step_in(wit::Step::WaitForExit(wit::WaitForExit {
            pid: 5,
            timeout_ms: 1500,
        }));
        assert_eq!(
            wait,
            Step::WaitForExit {
                pid: 5,
                timeout: Duration::from_millis(1500)
            }
        );
        assert_eq!(
            decision_in(wit::Decision::DeferUntil(99)),
            Decision::DeferUntil { unix_seconds: 99 }
        );
    }
}
