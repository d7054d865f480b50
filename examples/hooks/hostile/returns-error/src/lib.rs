//! Hostile hook `returns-error` for tufd-hook-host's tests: refuses to plan (HookError::HookRefused).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        Err(format!("refusing to install {}", ctx.new_version))
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        Decision::Skip
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
