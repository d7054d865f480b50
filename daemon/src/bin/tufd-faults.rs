//! `tufd-faults`: the `tufd` daemon built with the cargo feature `fault-injection`, whose named
//! crash points (`tufd_core::faults`) abort the process when `TUFD_FAULT_AT` or
//! `TUFD_FAULT_POINT` say so. Only the crash test (`tests/e2e/crash.rs`) runs it; it is a binary of its own so
//! that building it never replaces the real `tufd`.

fn main() -> std::process::ExitCode {
    tufd::main()
}
