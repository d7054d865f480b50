//! Loading a hook file into a compiled [`Component`]: read, hash, compile or take the
//! precompiled copy from the cache, check the imports against the allow-list.
//!
//! Cache layout: `<cache>/<sha256 of the .wasm>-<engine compatibility hash>.cwasm`, written
//! by [`Component::serialize`] after a compile (to a temporary name, then renamed), read back
//! with [`Component::deserialize`] (the crate's one `unsafe` call). The name
//! binds the file to the exact hook bytes and to this engine's configuration and version, and
//! wasmtime checks the header again when loading. A cache that cannot be written or read is
//! not an error: the hook is compiled in memory and a warning logged.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{HookError, Result};

/// Interfaces a hook may import, without their `@version`: `tufd:hook` (log, and the
/// functionless `types`), and the WASI
/// p2 interfaces a Rust standard library guest links. The WASI context grants nothing behind
/// them (no preopened folder, no environment, no arguments, no network, stdio captured), so
/// filesystem imports reach nothing; sockets and HTTP are refused at load.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "tufd:hook/log",
    "tufd:hook/types",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// How a hook's compiled code was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled from the `.wasm` now (and written to the cache, if one is configured).
    Compiled,
    /// Loaded from the precompiled cache.
    Cached,
}

/// What the last (re)load of a hook did, for logs and measurements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// The hook file.
    pub path: PathBuf,
    /// The sha256 of the `.wasm` file, lower-case hex.
    pub sha256: String,
    /// Compiled or taken from the cache.
    pub source: LoadSource,
    /// Wall time of read, hash, compile or cache load, and the import check.
    pub duration: Duration,
}

/// Size and modification time of the hook file: a change means "reload".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// The hook file's current stamp.
pub(crate) fn stamp(path: &Path) -> Result<FileStamp> {
    let meta = fs::metadata(path).map_err(|source| HookError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The file's bytes and their sha256 in hex.
pub(crate) fn read_hashed(path: &Path) -> Result<(Vec<u8>, String)> {
    let bytes = fs::read(path).map_err(|source| HookError::Read {
        path: path.to_owned(),
        source,
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// Compiles (or loads from `cache_dir`) and checks the imports of the hook `bytes` read
/// from `path`.
pub(crate) fn load_component(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
) -> Result<(Component, LoadReport)> {
    let started = Instant::now();
    let cache_file = cache_dir.map(|dir| dir.join(cache_name(engine, sha256)));
    let cached = cache_file
        .as_deref()
        .filter(|f| f.is_file())
        .and_then(|f| load_cached(engine, f));
    let (component, source) = match cached {
        Some(component) => (component, LoadSource::Cached),
        None => {
            let component = Component::from_binary(engine, bytes).map_err(|e| HookError::Load {
                path: path.to_owned(),
                reason: format!("{e:#}"),
            })?;
            if let Some(file) = &cache_file {
                write_cache(&component, file);
            }
            (component, LoadSource::Compiled)
        }
    };
    check_imports(engine, &component, path)?;
    let report = LoadReport {
        path: path.to_owned(),
        sha256: sha256.to_owned(),
        source,
        duration: started.elapsed(),
    };
    Ok((component, report))
}

/// `<sha256>-<compatibility hash>.cwasm`.
fn cache_name(engine: &Engine, sha256: &str) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{sha256}-{:016x}.cwasm", hasher.finish())
}

/// Loads a precompiled component; `None` (and the file removed) when it cannot be read or
/// wasmtime refuses it.
///
/// The file is read into memory rather than mapped (`deserialize_file`): a mapped file that
/// someone truncates or rewrites in place would crash the daemon with SIGBUS.
#[allow(unsafe_code)]
fn load_cached(engine: &Engine, file: &Path) -> Option<Component> {
    let bytes = match fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(file = %file.display(), %error, "cannot read the precompiled hook");
            return None;
        }
    };
    // SAFETY: `deserialize` trusts the bytes to be wasmtime's own output, since it turns
    // them into executable code. The file is ours: only `write_cache` writes into the cache
    // folder (the daemon's data folder, not writable by others), under a name made of the
    // sha256 of the hook's bytes and this engine's compatibility hash, and wasmtime still
    // checks the header (version, configuration) and refuses a mismatch with an error.
    match unsafe { Component::deserialize(engine, &bytes) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "dropping unusable precompiled hook");
            let _ = fs::remove_file(file);
            None
        }
    }
}

/// Writes the precompiled component to `file` (via a temporary name and a rename, so a
/// reader never sees half a file); failures only warn.
fn write_cache(component: &Component, file: &Path) {
    let result = (|| -> std::result::Result<(), String> {
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        let dir = file.parent().ok_or("cache file has no folder")?;
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        fs::rename(&tmp, file).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            e.to_string()
        })
    })();
    if let Err(error) = result {
        tracing::warn!(file = %file.display(), %error, "cannot write the precompiled hook cache");
    }
}

/// Refuses any import outside [`ALLOWED_IMPORTS`].
fn check_imports(engine: &Engine, component: &Component, path: &Path) -> Result<()> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let unversioned = name.split('@').next().unwrap_or(name);
        if !ALLOWED_IMPORTS.contains(&unversioned) {
            return Err(HookError::ForbiddenImport {
                path: path.to_owned(),
                import: name.to_owned(),
            });
        }
    }
    Ok(())
}
