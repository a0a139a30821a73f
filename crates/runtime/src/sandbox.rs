//! What one component instance can see: the per-instance [`InstanceState`] kept in the wasmtime
//! `Store`, and the per-component [`InstanceTemplate`] every instance's state is made from (env,
//! read-only files, captured stdio, grants).
//!
//! Deny by default: an instance gets no host environment, no host files except its own mounted
//! `files`, no sockets, and no outbound HTTP.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capabilities::{CapabilityViews, ComponentGrants, InstanceCapabilities, View};

/// Everything the host keeps for one component instance.
pub struct InstanceState {
    /// WASI context: env, preopened files, stdio, clocks, random.
    pub wasi: WasiCtx,
    /// wasi:http context.
    pub http: WasiHttpCtx,
    /// The resource table shared by WASI and wasi:http.
    pub table: ResourceTable,
    /// Memory and table limits for this instance.
    pub limits: StoreLimits,
    /// When the request being handled must be finished; checked on every epoch tick.
    pub deadline: Option<Instant>,
    /// Key-value, SQLite, variables, Redis, outbound HTTP: what this instance was granted.
    pub caps: InstanceCapabilities,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.caps.outbound_http,
        }
    }
}

/// The linker every component is checked against: WASI p2 and p3 (clocks, random, cli,
/// filesystem, sockets gated by the grants), and every capability (wasi:http's outbound side
/// among them), each with its view of [`InstanceState`].
pub(crate) fn host_linker(
    engine: &wasmtime::Engine,
) -> anyhow::Result<wasmtime::component::Linker<InstanceState>> {
    let mut linker = wasmtime::component::Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    crate::capabilities::link_all(
        &mut linker,
        &CapabilityViews::<InstanceState> {
            key_value: |s| View::new(&mut s.caps.key_value, &mut s.table),
            sqlite: |s| View::new(&mut s.caps.sqlite, &mut s.table),
            variables: |s| View::new(&mut s.caps.variables, &mut s.table),
            redis: |s| View::new(&mut s.caps.redis, &mut s.table),
            unsupported: |s| View::new(&mut s.caps.unsupported, &mut s.table),
            outbound_http: |s| s.http(),
        },
    )?;
    Ok(linker)
}

/// A host directory mounted into a component as it is (`--direct-mounts`): changes on the
/// host show in the guest at once; read-only unless `--allow-transient-write`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectMount {
    /// The host directory.
    pub host: PathBuf,
    /// The absolute guest path.
    pub guest: String,
}

/// The resolved grants of one component, built once when the app loads and turned into a fresh
/// [`InstanceState`] for every instance.
pub struct InstanceTemplate {
    component_id: Arc<str>,
    env: Vec<(String, String)>,
    /// A host directory holding exactly the component's files, mounted read-only at `/`.
    files_root: Option<PathBuf>,
    stdout: GuestLog,
    stderr: GuestLog,
    max_memory: usize,
    grants: ComponentGrants,
    /// `--direct-mounts`: host directories mounted as they are, at their guest paths.
    mounts: Vec<DirectMount>,
    /// Mount `files_root` writable (`--allow-transient-write`).
    files_writable: bool,
}

impl InstanceTemplate {
    /// The template for `component_id` with the given environment, file root and log sinks.
    pub fn new(
        component_id: &str,
        env: Vec<(String, String)>,
        files_root: Option<PathBuf>,
        logs: &LogSinks,
        max_memory: usize,
        grants: ComponentGrants,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            component_id: component_id.into(),
            env,
            files_root,
            stdout: logs.open(component_id, Stream::Stdout)?,
            stderr: logs.open(component_id, Stream::Stderr)?,
            max_memory,
            grants,
            mounts: Vec::new(),
            files_writable: false,
        })
    }

    /// The component this template belongs to.
    pub fn component_id(&self) -> &str {
        &self.component_id
    }

    /// Mounts the component's files writable (`--allow-transient-write`): the staged copies
    /// change, the app's own files never do.
    pub(crate) fn set_files_writable(&mut self, writable: bool) {
        self.files_writable = writable;
    }

    /// Mounts host directories directly (`--direct-mounts`) instead of a staged file root.
    pub(crate) fn set_direct_mounts(&mut self, mounts: Vec<DirectMount>) {
        self.mounts = mounts;
    }

    /// Preopens the component's files: the staged root at `/`, or its direct mounts.
    fn preopen_files(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()> {
        if let Some(root) = &self.files_root {
            wasi.preopened_dir(root, "/", self.files_perms())
                .map_err(anyhow::Error::from)?;
        }
        for mount in &self.mounts {
            wasi.preopened_dir(&mount.host, &mount.guest, self.files_perms())
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot mount {} at {} for component `{}`: {e}",
                        mount.host.display(),
                        mount.guest,
                        self.component_id
                    )
                })?;
        }
        Ok(())
    }

    /// The component's `environment`.
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    fn files_perms(&self) -> FsPerms {
        if self.files_writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        }
    }

    /// Memory and table limits for one instance.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.max_memory)
            .instances(1000)
            .tables(1000)
            .memories(1000)
            .trap_on_grow_failure(false)
            .build()
    }

    /// A WASI context for running the component as a command (Wagi): its stderr log, its
    /// files read-only, no sockets. The caller adds env, args, stdin and stdout.
    pub(crate) fn command_wasi(&self) -> anyhow::Result<WasiCtxBuilder> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(self.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        self.preopen_files(&mut wasi)?;
        Ok(wasi)
    }

    /// Fresh per-instance state. Nothing is shared between instances except the log sinks.
    pub fn instance_state(&self) -> anyhow::Result<InstanceState> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.envs(&self.env)
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone());
        crate::sockets::grant(
            &mut wasi,
            self.component_id.clone(),
            self.grants.outbound().allowed().clone(),
        );
        self.preopen_files(&mut wasi)?;
        Ok(InstanceState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: self.store_limits(),
            deadline: None,
            caps: self.grants.instance_state(),
        })
    }
}

/// What a store's data must give [`new_store`]: its limits and its request's deadline.
pub(crate) trait StoreBounds: Send + 'static {
    /// Memory and table limits of the instance.
    fn limits(&mut self) -> &mut StoreLimits;
    /// When the request being handled must be finished.
    fn deadline(&self) -> Option<Instant>;
}

impl StoreBounds for InstanceState {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// A store for one instance with `state`: its memory limits, and an epoch callback that traps
/// once the state's deadline has passed and otherwise yields, so a busy guest never holds a
/// runtime thread for more than one tick.
pub(crate) fn new_store<T: StoreBounds>(engine: &wasmtime::Engine, state: T) -> Store<T> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| s.limits());
    store.epoch_deadline_callback(|ctx| match ctx.data().deadline() {
        Some(deadline) if Instant::now() >= deadline => Ok(UpdateDeadline::Interrupt),
        _ => Ok(UpdateDeadline::Yield(1)),
    });
    store.set_epoch_deadline(1);
    store
}

/// Which guest stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

/// Where guest output goes: the console (each line prefixed with the component id) and, with a
/// log directory, `<dir>/<component>_stdout.txt` / `_stderr.txt` as Spin writes them.
#[derive(Debug, Clone, Default)]
pub struct LogSinks {
    /// `--log-dir`; `None` writes to the console only.
    pub log_dir: Option<PathBuf>,
    /// `--truncate-logs`: start each log file empty instead of appending.
    pub truncate: bool,
    /// `-q`: keep guest output off the console.
    pub quiet: bool,
    /// `--follow ID`: only these components' output goes to the console (all when `None`).
    pub follow: Option<Vec<String>>,
}

impl LogSinks {
    fn open(&self, component_id: &str, stream: Stream) -> anyhow::Result<GuestLog> {
        let file = match &self.log_dir {
            Some(dir) => Some(open_log_file(dir, component_id, stream, self.truncate)?),
            None => None,
        };
        Ok(GuestLog(Arc::new(GuestLogInner {
            prefix: format!("[{component_id}] "),
            stream,
            console: !self.quiet
                && self
                    .follow
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| id == component_id)),
            file: Mutex::new(LogState {
                file,
                partial: Vec::new(),
            }),
        })))
    }
}

fn open_log_file(
    dir: &Path,
    component_id: &str,
    stream: Stream,
    truncate: bool,
) -> anyhow::Result<File> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating log directory {}", dir.display()))?;
    let name = match stream {
        Stream::Stdout => format!("{component_id}_stdout.txt"),
        Stream::Stderr => format!("{component_id}_stderr.txt"),
    };
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .append(!truncate)
        .write(true)
        .truncate(truncate)
        .open(&path)
        .with_context(|| format!("opening log file {}", path.display()))
}

/// One component's stdout or stderr: line-buffered, prefixed, written to console and file.
#[derive(Clone)]
pub struct GuestLog(Arc<GuestLogInner>);

struct GuestLogInner {
    prefix: String,
    stream: Stream,
    console: bool,
    file: Mutex<LogState>,
}

struct LogState {
    file: Option<File>,
    partial: Vec<u8>,
}

impl GuestLog {
    fn write_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut state = self.0.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = state.file.as_mut() {
            file.write_all(bytes)?;
        }
        if !self.0.console {
            return Ok(());
        }
        state.partial.extend_from_slice(bytes);
        // Emit complete lines only, so output from concurrent instances doesn't interleave
        // mid-line. A runaway guest without newlines is flushed every 64 KiB.
        let cut = match state.partial.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if state.partial.len() > 64 * 1024 => state.partial.len(),
            None => return Ok(()),
        };
        let chunk: Vec<u8> = state.partial.drain(..cut).collect();
        drop(state);
        let mut text = String::new();
        for line in String::from_utf8_lossy(&chunk).lines() {
            text.push_str(&self.0.prefix);
            text.push_str(line);
            text.push('\n');
        }
        match self.0.stream {
            Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes)
            .map_err(|e| StreamError::LastOperationFailed(wasmtime::format_err!(e)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

impl tokio::io::AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write_bytes(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
