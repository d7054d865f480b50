//! `tufd`: the update sidecar daemon. Everything is in the library (`tufd::main`): parse the
//! command line, run the command, and exit 0 on success, 100 when `check --exit-code` finds an
//! update, 1 on failure (`error[<kind>]: …` on stderr), 2 on usage errors.

fn main() -> std::process::ExitCode {
    tufd::main()
}
