//! `macos-app`: the install root is the `.app` bundle; swap the whole bundle with the staged
//! one in one step (the path never disappears), keep the old bundle as the backup, relaunch.
//!
//! Without a configured relaunch command, relaunches `Contents/MacOS/<app name>` inside the
//! new bundle.

use tufd_hooks_sdk::{
    Command, Decision, Hook, InstallContext, Program, Step, UpdateInfo, install, plans, step,
};

struct MacosApp;

impl Hook for MacosApp {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        if ctx.platform.os != "macos" {
            tufd_hooks_sdk::warn(&format!("macos-app hook running on {}", ctx.platform.os));
        }
        let mut steps = plans::swap_root(&ctx);
        if ctx.relaunch.is_none() {
            let exe = format!("Contents/MacOS/{}", ctx.app_name);
            steps.push(step::relaunch(Command {
                program: Program::InRoot(install(&exe)),
                args: Vec::new(),
            }));
        }
        Ok(steps)
    }

    fn on_update_available(_info: UpdateInfo) -> Decision {
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(MacosApp);
