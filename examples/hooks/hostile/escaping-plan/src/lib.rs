//! Hostile hook `escaping-plan` for tufd-hook-host's tests: plans a move whose path climbs out of its root (HookError::BadPlan).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        Ok(vec![step::move_to(
            staging("bin/app"),
            install("../../../usr/bin/app"),
        )])
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
