//! What differs between operating systems, in one place: each function here has one
//! implementation per OS family ([`unix`] for Linux and macOS, `windows`), so that the rest of
//! the crate has no `cfg` blocks. Pure decisions stay outside; these are the thin calls.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("tufd-install supports Unix (Linux, macOS) and Windows");

use std::path::Path;

/// Whether two existing paths are on the same file system (`false` when either cannot be
/// read or the OS does not say).
pub fn same_device(a: &Path, b: &Path) -> bool {
    matches!((device(a), device(b)), (Some(a), Some(b)) if a == b)
}
