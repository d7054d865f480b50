//! Hostile hook `memory-hog` for tufd-hook-host's tests: allocates without end; the host's memory limit must stop it (HookError::OutOfMemory).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let _ = &ctx;
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }

    fn on_update_available(info: UpdateInfo) -> Decision {
        let _ = &info;
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
