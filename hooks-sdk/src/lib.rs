//! Guest-side helpers for tufd install hooks. The WIT interface and bindings arrive with the WASM hooks issue.
