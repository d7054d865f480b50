//! Hostile hook `trap` for tufd-hook-host's tests: panics, which traps (HookError::Trap).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        panic!("hostile hook panics on purpose")
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        core::arch::wasm32::unreachable()
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
