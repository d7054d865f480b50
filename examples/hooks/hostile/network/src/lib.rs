//! Hostile hook `network` for tufd-hook-host's tests: tries to open a TCP connection, so the
//! component imports `wasi:sockets`; the host refuses it at load (HookError::ForbiddenImport).

use tufd_hooks_sdk::*;

struct Hostile;

impl Hook for Hostile {
    fn plan_install(_ctx: InstallContext) -> Result<Vec<Step>, String> {
        match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => Err("connected".to_owned()),
            Err(e) => Err(format!("cannot connect: {e}")),
        }
    }

    fn on_update_available(_info: UpdateInfo) -> Decision {
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(Hostile);
