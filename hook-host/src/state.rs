//! What one store holds for one call: an empty WASI context (stdio captured in memory), the
//! resource table, the memory limiter, and the `tufd:hook/log` import, which forwards to
//! `tracing`.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::tufd::hook::log;

/// Bytes of guest stdout and of stderr kept per call: 16 KiB each.
pub(crate) const STDIO_CAPTURE_BYTES: usize = 16 * 1024;
/// Log messages a guest may write per call; later ones are dropped: 1,000.
const MAX_LOG_MESSAGES: usize = 1000;
/// Longest log message kept, in bytes: 4 KiB.
const MAX_LOG_BYTES: usize = 4096;
/// Most table elements (function references) a guest may have: 100,000.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps each linear memory at `limit_bytes` and remembers a refusal, so that the trap that
/// follows (a Rust guest aborts when allocation fails) is reported as out of memory.
pub(crate) struct Limiter {
    pub(crate) limit_bytes: usize,
    pub(crate) refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The store data of one call.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    hook: String,
    log_messages: usize,
}

impl HostState {
    /// A fresh state granting nothing: no preopened folders, no environment, no arguments,
    /// no network, stdin closed, stdout and stderr captured.
    pub(crate) fn new(hook: &str, memory_limit_bytes: usize) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                limit_bytes: memory_limit_bytes,
                refused: false,
            },
            stdout,
            stderr,
            hook: hook.to_owned(),
            log_messages: 0,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log_messages += 1;
        if self.log_messages > MAX_LOG_MESSAGES {
            return;
        }
        let message = crate::host::truncate(message, MAX_LOG_BYTES);
        let hook = self.hook.as_str();
        match level {
            log::Level::Trace => tracing::trace!(hook, "{message}"),
            log::Level::Debug => tracing::debug!(hook, "{message}"),
            log::Level::Info => tracing::info!(hook, "{message}"),
            log::Level::Warn => tracing::warn!(hook, "{message}"),
            log::Level::Error => tracing::error!(hook, "{message}"),
        }
    }
}

/// The `types` interface has no functions; its (empty) host trait is still required.
impl crate::bindings::tufd::hook::types::Host for HostState {}
