//! `tufd-testkit`: what the workspace's tests share, so that each idea is written once.
//!
//! - [`rng`]: a seeded generator and the test data made from it (never for secrets).
//! - [`hooks`]: the example and hostile WASM hooks of `examples/hooks`, built once per test run.
//!
//! A dev-dependency only; nothing here ships.
#![warn(missing_docs)]

pub mod hooks;
pub mod rng;
