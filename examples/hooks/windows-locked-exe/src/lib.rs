//! `windows-locked-exe`: the app's exe is running (and so locked against writing and
//! deleting, but not against renaming). Rename it aside, move the old files to the backup and
//! the new files in, relaunch, and hand the old exe to the backup, which the daemon removes
//! once the new version runs. The app never has to exit before the files are in place.
//!
//! Settings: `exe = "MyApp.exe"` (default: the relaunch program, else `<app name>.exe`).

use tufd_hooks_sdk::{Decision, Hook, InstallContext, Program, Step, UpdateInfo, plans, setting};

struct WindowsLockedExe;

impl Hook for WindowsLockedExe {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let exe = match (setting(&ctx.settings, "exe"), &ctx.relaunch) {
            (Some(exe), _) => exe.to_owned(),
            (None, Some(command)) => match &command.program {
                Program::InRoot(path) => path.rel.clone(),
                Program::System(_) => format!("{}.exe", ctx.app_name),
            },
            (None, None) => format!("{}.exe", ctx.app_name),
        };
        if exe.contains('/') {
            return Err(format!(
                "exe `{exe}` must sit at the top of the install folder"
            ));
        }
        if !ctx.staging_files.contains(&exe) {
            return Err(format!("the new version has no `{exe}`"));
        }
        Ok(plans::replace_with_locked_exe(&ctx, &exe))
    }

    fn on_update_available(_info: UpdateInfo) -> Decision {
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(WindowsLockedExe);
