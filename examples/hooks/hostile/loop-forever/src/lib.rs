//! Hostile hook `loop-forever` for tufd-hook-host's tests: spins forever; the host's epoch deadline must stop it (HookError::Timeout).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
