//! `tufd`: the update sidecar daemon. `main` only wires: parse the command line, read the
//! config, start logging, lock the data folder, start the engine, run the command, and map
//! errors to exit codes (0 success, 1 failure with `error[<kind>]: …` on stderr, 2 usage).

include!("entry.rs");
