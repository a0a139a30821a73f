//! One container: runwasi forked this process into the container's namespaces and root
//! filesystem; the app runs here exactly as `spindle up` runs it, configured the way SpinKube
//! configures its shim.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser as _;
use containerd_shim_wasm::sandbox::context::WasmLayer;

/// The manifest an image without Wasm layers is run from.
pub const ROOTFS_MANIFEST: &str = "/spin.toml";
/// The runtime config SpinKube mounts (from a Secret).
const RUNTIME_CONFIG: &str = "/runtime-config.toml";
/// Where the shim keeps the app's content and compiled code, inside the container's own
/// filesystem (never shared with another container).
const WORK_DIR: &str = "/.spindle";
/// SpinKube's default listen address for the shim.
const DEFAULT_LISTEN: &str = "0.0.0.0:80";

/// Runs the app in this container and returns the exit code: 0 after a clean shutdown
/// (SIGTERM drains in-flight requests), 1 (2 for a manifest error) after printing why it could
/// not start, to the container's stderr, where `ctr` and `kubectl logs` show it.
pub fn run(env: Vec<(String, String)>, layers: Vec<WasmLayer>) -> i32 {
    set_process_env(&env);
    crate::init_tracing();
    match start(layers) {
        Ok(()) => 0,
        Err(e) => crate::report_error(&e).into(),
    }
}

/// The container's environment becomes the process's (variables, `SPIN_*` settings): runwasi
/// leaves the shim's own environment in place.
fn set_process_env(env: &[(String, String)]) {
    // This thread is the only one that reads the environment from here on (the app has not
    // started yet); runwasi's threads do not read it.
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    for (k, v) in env {
        if !k.is_empty() && !k.contains('\0') && !v.contains('\0') {
            std::env::set_var(k, v);
        }
    }
}

fn start(layers: Vec<WasmLayer>) -> anyhow::Result<()> {
    let work = Path::new(WORK_DIR);
    let compiled = work.join("compiled");
    // Images of Spin apps have no /tmp: temporary files (the staged `files`) go under the
    // work directory unless the container says otherwise.
    if std::env::var_os("TMPDIR").is_none() && !Path::new("/tmp").is_dir() {
        let tmp = work.join("tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        std::env::set_var("TMPDIR", &tmp);
    }
    let mut argv: Vec<String> = vec!["up".into()];
    let listen = std::env::var("SPIN_HTTP_LISTEN_ADDR")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN.into());
    argv.extend(["--listen".into(), listen]);
    argv.extend(["--compiled-cache-dir".into(), path_arg(&compiled)]);
    if Path::new(RUNTIME_CONFIG).is_file() {
        argv.extend(["--runtime-config-file".into(), RUNTIME_CONFIG.into()]);
    }
    if let Ok(ids) = std::env::var("SPIN_COMPONENTS_TO_RETAIN") {
        for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            argv.extend(["--component-id".into(), id.into()]);
        }
    }
    if layers.is_empty() {
        tracing::info!("no Spin layers in the image: running {ROOTFS_MANIFEST}");
        argv.extend(["--from".into(), ROOTFS_MANIFEST.into()]);
        return crate::up::run(up_args(&argv)?);
    }
    let args = up_args(&argv)?;
    let locked = import(layers, work, &compiled)?;
    crate::up::run_app(args, locked, PathBuf::from("/"))
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

fn up_args(argv: &[String]) -> anyhow::Result<crate::up::UpArgs> {
    #[derive(clap::Parser)]
    struct Up {
        #[command(subcommand)]
        up: Command,
    }
    #[derive(clap::Subcommand)]
    enum Command {
        Up(crate::up::UpArgs),
    }
    let parsed =
        Up::try_parse_from(std::iter::once("spindle".to_string()).chain(argv.iter().cloned()))
            .map_err(|e| {
                anyhow::anyhow!("{e}").context("the container's SPIN_* settings are invalid")
            })?;
    let Command::Up(args) = parsed.up;
    Ok(args)
}

/// Stores the image's layers under `work` and returns the locked app, every content reference
/// pointing at a file there; precompiled components go to the compiled-code cache at
/// `compiled` and stay named by digest.
fn import(
    layers: Vec<WasmLayer>,
    work: &Path,
    compiled: &Path,
) -> anyhow::Result<spindle_manifest::locked::LockedApp> {
    let cache = spindle_oci::Cache::new(Some(work.to_path_buf()))?;
    let compile_cache = spindle_runtime::CompileCache::at(compiled);
    let mut precompiled = HashSet::new();
    let mut blobs = Vec::new();
    let descriptors: Vec<(String, String)> = layers
        .iter()
        .map(|l| {
            (
                l.config.media_type().to_string(),
                l.config.digest().to_string(),
            )
        })
        .collect();
    for (layer, (media_type, digest)) in layers.iter().zip(&descriptors) {
        if layer.precompiled && super::compiler::is_compiled_code(&layer.layer) {
            compile_cache
                .insert_precompiled(digest, &layer.layer)
                .with_context(|| format!("storing the precompiled code of layer {digest}"))?;
            precompiled.insert(digest.clone());
        } else {
            blobs.push(spindle_oci::LayerBlob {
                media_type,
                digest,
                bytes: &layer.layer,
            });
        }
    }
    let locked = spindle_oci::import_layers(&cache, &blobs, &precompiled)?;
    spindle_oci::resolve_to_cache_except(locked, &cache, &precompiled)
}
