//! Integration tests of `tufd-hook-host` with real components: the example hooks'
//! plans, the hostile guests' typed failures, reload on change, and the precompiled cache.
//! The hooks workspace (`examples/hooks`) is built once for `wasm32-wasip2` by
//! [`support::hooks_dir`].

mod examples;
mod hostile;
mod reload;
mod support;
