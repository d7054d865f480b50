//! Hostile hook `snoop` for tufd-hook-host's tests: looks for files, environment variables
//! and arguments, and reports what it found as its error message. The host grants none.

use tufd_hooks_sdk::*;

struct Hostile;

fn found<T, E>(result: Result<T, E>) -> &'static str {
    if result.is_ok() { "readable" } else { "denied" }
}

impl Hook for Hostile {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        Err(format!(
            "passwd={} install-dir={} cwd={} env={} args={}",
            found(std::fs::read("/etc/passwd")),
            found(std::fs::read_dir(&ctx.install_dir)),
            found(std::fs::read_dir(".")),
            std::env::vars_os().count(),
            std::env::args_os().count(),
        ))
    }

    fn on_update_available(_info: UpdateInfo) -> Decision {
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
