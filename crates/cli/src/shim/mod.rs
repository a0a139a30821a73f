//! `containerd-shim-spindle-v2`: containerd runs Spin apps from OCI images the way it runs
//! container images, through runwasi's `containerd-shim-wasm` (its [`Shim`], [`Sandbox`] and
//! [`Compiler`] traits). The `spindle` binary answers as the shim when it is invoked under that
//! name (`spindle node install` copies it there).
//!
//! * runwasi reads the image from containerd's content store and hands over the layers of the
//!   Spin types ([`SUPPORTED_LAYERS`]); [`container`] stores them, rebuilds the locked app and
//!   runs it exactly as `spindle up` would (same flags, same runtime, same HTTP server), with
//!   SpinKube's environment: `SPIN_HTTP_LISTEN_ADDR` (default `0.0.0.0:80`),
//!   `/runtime-config.toml`, `SPIN_COMPONENTS_TO_RETAIN`, `SPIN_MAX_INSTANCE_MEMORY`, and the
//!   container's environment for `SPIN_VARIABLE_*`.
//! * [`compiler::SpindleCompiler`] precompiles each component layer once per image; runwasi keeps
//!   the result in containerd's content store, so a second container of the image compiles
//!   nothing.
//! * An image without Wasm layers runs `/spin.toml` from the container's root filesystem.

mod compiler;
mod container;
pub mod install;

use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Cli as _, Compiler, Config, Shim, Version};

/// The binary name containerd looks for, for the runtime [`RUNTIME_TYPE`].
pub const SHIM_BINARY: &str = "containerd-shim-spindle-v2";
/// The runtime type to give containerd (`ctr run --runtime`, CRI `runtime_type`).
pub const RUNTIME_TYPE: &str = "io.containerd.spindle.v2";

/// The layer types of a Spin app image (Spin's and `wkg`'s), all handed to the shim.
pub const SUPPORTED_LAYERS: &[&str] = &[
    spindle_oci::SPIN_APPLICATION_MEDIA_TYPE,
    spindle_oci::WASM_LAYER_MEDIA_TYPE,
    spindle_oci::WASM_LAYER_MEDIA_TYPE_WKG,
    spindle_oci::DATA_MEDIA_TYPE,
    spindle_oci::ARCHIVE_MEDIA_TYPE,
];

/// Whether this process was started as the shim (by its file name).
pub fn invoked_as_shim() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_os_string()))
        .is_some_and(|name| name == SHIM_BINARY)
}

/// Runs the shim (containerd's `start`, `delete` and the ttrpc server). Call it first thing in
/// `main`, before any thread starts: runwasi forks its container processes from this one.
pub fn main() {
    if std::env::args().any(|a| a == "start") {
        if let Err(e) = default_command_in_bundle() {
            eprintln!("containerd-shim-spindle-v2: {e:#}");
        }
    }
    SpindleShim::run(Config {
        no_setup_logger: false,
        default_log_level: "info".into(),
    });
}

/// Spin app images have no entrypoint (Spin's and Spindle's pushes alike): SpinKube gives
/// its pods `command: ["/"]`, and a plain `ctr run IMAGE ID` gives none, which the container
/// runtime refuses ("at least one process arg entry is required"). containerd runs `start`
/// in the container's bundle: a spec without process args gets `["/"]` there, the command the
/// shim ignores anyway.
fn default_command_in_bundle() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let args: Vec<String> = std::env::args().collect();
    let bundle = match args.iter().position(|a| a == "-bundle" || a == "--bundle") {
        Some(i) => args.get(i + 1).map(std::path::PathBuf::from),
        None => std::env::current_dir().ok(),
    }
    .context("finding the container's bundle")?;
    let path = bundle.join("config.json");
    let Ok(text) = std::fs::read(&path) else {
        return Ok(());
    };
    let mut spec: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
    let Some(process) = spec.get_mut("process").and_then(|p| p.as_object_mut()) else {
        return Ok(());
    };
    let empty = process
        .get("args")
        .and_then(|a| a.as_array())
        .is_none_or(|a| a.is_empty());
    if !empty {
        return Ok(());
    }
    process.insert("args".into(), serde_json::json!(["/"]));
    install::write_atomic(&path, &serde_json::to_vec(&spec)?)
}

struct SpindleShim;

impl Shim for SpindleShim {
    fn name() -> &'static str {
        "spindle"
    }

    fn version() -> Version {
        Version {
            version: env!("CARGO_PKG_VERSION"),
            revision: "<none>",
        }
    }

    type Sandbox = SpindleSandbox;

    async fn compiler() -> Option<impl Compiler> {
        match compiler::SpindleCompiler::new() {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("precompilation disabled: {e:#}");
                None
            }
        }
    }

    fn supported_layers_types() -> &'static [&'static str] {
        SUPPORTED_LAYERS
    }
}

#[derive(Default)]
struct SpindleSandbox;

impl Sandbox for SpindleSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        let env: Vec<(String, String)> = ctx
            .envs()
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let layers = match ctx.entrypoint().source {
            Source::Oci(layers) => layers.to_vec(),
            Source::File(_) => Vec::new(),
        };
        // `spindle up` builds its own async runtime, which cannot start inside runwasi's: it
        // runs on a thread of its own and this task waits for its exit code.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("spindle-app".into())
            .spawn(move || {
                let _ = tx.send(container::run(env, layers));
            })?;
        Ok(rx.await.unwrap_or(1))
    }

    async fn can_handle(&self, ctx: &impl RuntimeContext) -> anyhow::Result<()> {
        match ctx.entrypoint().source {
            Source::Oci(_) => Ok(()),
            Source::File(_) if std::path::Path::new(container::ROOTFS_MANIFEST).is_file() => Ok(()),
            Source::File(_) => anyhow::bail!(
                "the image has no Spin application layers and no {} in its root filesystem",
                container::ROOTFS_MANIFEST
            ),
        }
    }
}
