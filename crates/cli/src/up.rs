//! `spindle up`: load the app, start the HTTP trigger, serve until Ctrl-C or SIGTERM.
//!
//! Flags and environment variables follow `spin up`, so scripts carry over.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use spindle_http::{HttpTrigger, Target};
use spindle_runtime::{
    App, CapabilityOptions, CompileCache, EngineOptions, InstanceReuse, LogSinks, RuntimeConfig,
    RuntimeOptions, SpindleEngine,
};

/// Arguments of `spindle up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// The app to run: a spin.toml file, a directory containing one, or a registry reference
    /// (e.g. `ghcr.io/me/hello:v1`; a local path of that name wins).
    #[arg(short = 'f', long = "from", alias = "file", value_name = "APP")]
    pub from: Option<PathBuf>,

    /// Registry apps: use plain HTTP (localhost/127.0.0.1 registries always do).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Registry apps: cache directory (default: ~/.cache/spindle).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Run `spindle build` before starting.
    #[arg(long)]
    pub build: bool,

    /// The address to listen on.
    #[arg(
        long,
        env = "SPIN_HTTP_LISTEN_ADDR",
        default_value = "127.0.0.1:3000",
        value_name = "ADDRESS",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    /// If the port is taken, try the next ones (up to 20).
    #[arg(long)]
    pub find_free_port: bool,

    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "SPIN_TLS_CERT", requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, env = "SPIN_TLS_KEY", requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Largest HTTP/1 request head buffer, in bytes (hyper's default otherwise).
    #[arg(long, value_name = "BYTES")]
    pub http1_max_buf_size: Option<usize>,

    /// The app is this local file or directory (never a registry reference).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["from", "from_registry"])]
    pub from_file: Option<PathBuf>,

    /// The app is this registry reference (never a local path).
    #[arg(long, value_name = "REFERENCE", conflicts_with_all = ["from", "from_file"])]
    pub from_registry: Option<String>,

    /// Show only these components' output on the console (repeatable; all by default).
    #[arg(long, value_name = "ID")]
    pub follow: Vec<String>,

    /// Directory to stage the components' `files` in (a temporary one by default).
    #[arg(long, value_name = "DIR")]
    pub temp: Option<PathBuf>,

    /// Mount the components' `files` writable; writes go to staged copies, never to the app's
    /// own files.
    #[arg(long)]
    pub allow_transient_write: bool,

    /// Bytes of each pooled linear memory reset in place between instances (default 16 MiB):
    /// more keeps big (JS, Python) heaps resident and fast, less lowers peak memory.
    #[arg(long, env = "SPINDLE_POOLING_KEEP_RESIDENT", value_name = "BYTES")]
    pub pooling_keep_resident: Option<usize>,

    /// Keep debug information in compiled components (for native debuggers).
    #[arg(long)]
    pub debug_info: bool,

    /// Run only these components (repeatable); triggers of the others are left out.
    #[arg(short = 'c', long = "component-id", value_name = "ID")]
    pub component_id: Vec<String>,

    /// Pass an environment variable (K=V) to all components.
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,

    /// Directory for component stdout/stderr logs (default: the runtime config's `log_dir`, else
    /// `logs` in the state directory).
    #[arg(short = 'L', long, env = "SPIN_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Start log files empty instead of appending.
    #[arg(long)]
    pub truncate_logs: bool,

    /// Keep component output off the console (it still goes to the log files).
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Do not use the compiled-code cache.
    #[arg(long)]
    pub disable_cache: bool,

    /// Where compiled components are cached (default: ~/.cache/spindle/compiled).
    #[arg(long, env = "SPINDLE_COMPILED_CACHE_DIR", value_name = "DIR")]
    pub compiled_cache_dir: Option<PathBuf>,

    /// Allocate instances on demand instead of from the pooling allocator.
    #[arg(long)]
    pub disable_pooling: bool,

    /// The most linear memory one instance may use, in bytes.
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", value_name = "BYTES")]
    pub max_instance_memory: Option<usize>,

    /// Stop a request that runs longer than this (e.g. `30s`, `500ms`) and answer 500.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,

    /// WASIp3 components: requests one instance may serve before it is dropped.
    #[arg(long, default_value_t = 128)]
    pub max_instance_reuse_count: usize,

    /// WASIp3 components: requests one instance may serve at the same time.
    #[arg(long, default_value_t = 16)]
    pub max_instance_concurrent_reuse_count: usize,

    /// Where `default` key-value stores, SQLite databases and logs live (default: the runtime
    /// config's `state_dir`, else `.spin` next to the manifest). Nothing is written next to the
    /// manifest when it is set.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Spin runtime config file: key-value stores, SQLite databases, variable providers.
    #[arg(long, env = "RUNTIME_CONFIG_FILE", value_name = "FILE")]
    pub runtime_config_file: Option<PathBuf>,

    /// SQL to run against the `default` database before serving (`@file.sql` reads a file).
    #[arg(long = "sqlite", value_name = "SQL")]
    pub sqlite: Vec<String>,

    /// Set a key in the `default` key-value store before serving (K=V).
    #[arg(long = "key-value", value_name = "K=V", value_parser = parse_kv)]
    pub key_value: Vec<(String, String)>,

    /// Set an app variable (K=V, K=@file, or @file.json / @file.toml with a table of values).
    #[arg(long = "variable", value_name = "K=V")]
    pub variable: Vec<String>,

    /// The build profile: each component's `[component.<id>.profile.<NAME>]` overrides
    /// (source, environment, dependencies; with --build, the build command).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// For local apps whose `files` are all directories (and no `exclude_files`): mount them
    /// directly instead of staging copies, so host changes show without a restart.
    #[arg(long)]
    pub direct_mounts: bool,

    /// The format in which to print startup route information (as `spin up --format`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Plain)]
    pub format: OutputFormat,

    /// A wasmtime cache config file (TOML, `[cache] directory = ...`, `enabled = false`): where
    /// compiled code is cached. Also `WASMTIME_CACHE_FILE`.
    #[arg(
        long,
        env = "WASMTIME_CACHE_FILE",
        value_name = "FILE",
        conflicts_with = "disable_cache"
    )]
    pub cache: Option<PathBuf>,

    /// WASIp3 components: how long an idle instance is kept for reuse.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub idle_instance_timeout: Duration,
}

/// `--listen`: `IP:PORT`, or `HOST:PORT` with the host name resolved (as `spin up` does), the
/// first address it resolves to.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    if !s.contains(':') {
        return Err(format!(
            "`{s}` has no port (expected HOST:PORT, e.g. 127.0.0.1:3000)"
        ));
    }
    s.to_socket_addrs()
        .map_err(|e| {
            format!("cannot resolve `{s}`: {e} (expected HOST:PORT, e.g. localhost:3000)")
        })?
        .next()
        .ok_or_else(|| format!("`{s}` resolves to no address"))
}

pub(crate) fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got `{s}`")),
    }
}

/// Builds the capability settings from `--state-dir`, `--runtime-config-file`, `--sqlite`,
/// `--key-value` and `--variable`.
fn capability_options(
    args: &UpArgs,
    app_dir: &Path,
    runtime_config: Option<(RuntimeConfig, PathBuf)>,
) -> anyhow::Result<CapabilityOptions> {
    let (runtime_config, runtime_config_dir) =
        runtime_config.unwrap_or_else(|| (RuntimeConfig::default(), app_dir.to_path_buf()));
    let sqlite_statements = args
        .sqlite
        .iter()
        .map(|s| match s.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading --sqlite file {file}")),
            None => Ok(s.clone()),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut cli_variables = Vec::new();
    for v in &args.variable {
        cli_variables.extend(parse_variable(v)?);
    }
    // `--state-dir`, else the runtime config's `state_dir`, else `.spin` next to the manifest.
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| {
            runtime_config
                .state_dir
                .as_ref()
                .map(|d| runtime_config_dir.join(d))
        })
        .unwrap_or_else(|| app_dir.join(".spin"));
    Ok(CapabilityOptions {
        state_dir,
        runtime_config,
        runtime_config_dir,
        cli_variables,
        sqlite_statements,
        key_value_presets: args.key_value.clone(),
    })
}

/// `--variable`: `K=V`, `K=@file` (the file's contents), or `@vars.json` / `@vars.toml`.
fn parse_variable(arg: &str) -> anyhow::Result<Vec<(String, String)>> {
    if let Some(file) = arg.strip_prefix('@') {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading --variable {arg}"))?;
        let table: std::collections::BTreeMap<String, String> = if file.ends_with(".json") {
            serde_json::from_str(&text).with_context(|| format!("parsing {file}"))?
        } else if file.ends_with(".toml") {
            toml::from_str(&text).with_context(|| format!("parsing {file}"))?
        } else {
            bail!("--variable @{file}: expected a .json or .toml file of name = \"value\" pairs")
        };
        return Ok(table.into_iter().collect());
    }
    let (k, v) = parse_kv(arg).map_err(|e| anyhow::anyhow!("--variable: {e}"))?;
    let v = match v.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("reading --variable {k}=@{file}"))?
            .trim_end_matches('\n')
            .to_string(),
        None => v,
    };
    Ok(vec![(k, v)])
}

/// Runs `spindle up`.
/// The runtime config (with the directory its relative paths start from), and the engine,
/// built on a thread of its own (pooling allocator reservations, ~3 ms) while the caller reads
/// the app. The runtime config comes first: it can set the engine's memory limit.
#[allow(clippy::type_complexity)]
fn prepare(
    args: &UpArgs,
) -> anyhow::Result<(
    Option<(RuntimeConfig, PathBuf)>,
    std::thread::JoinHandle<anyhow::Result<SpindleEngine>>,
)> {
    let runtime_config = match &args.runtime_config_file {
        Some(path) => Some((
            RuntimeConfig::load(path)?,
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        )),
        None => None,
    };
    let mut engine_options = EngineOptions {
        pooling: !args.disable_pooling,
        ..EngineOptions::default()
    };
    let config_memory = runtime_config
        .as_ref()
        .and_then(|(config, _)| config.max_instance_memory)
        .map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX));
    if let Some(max) = args.max_instance_memory.or(config_memory) {
        engine_options.max_instance_memory = max;
    }
    engine_options.debug_info = args.debug_info;
    if let Some(bytes) = args.pooling_keep_resident {
        engine_options.keep_resident = bytes;
    }
    let engine = std::thread::Builder::new()
        .name("spindle-engine".into())
        .spawn(move || SpindleEngine::new(engine_options))
        .context("starting the engine thread")?;
    Ok((runtime_config, engine))
}

/// Serves an app that is already locked (the containerd shim builds it from the image's
/// layers), with `args` as `spindle up` would; `app_dir` is where `.spin/` goes by default.
pub fn run_app(
    args: UpArgs,
    locked: spindle_manifest::locked::LockedApp,
    app_dir: PathBuf,
) -> anyhow::Result<()> {
    let (runtime_config, engine) = prepare(&args)?;
    run_locked(
        args,
        locked,
        app_dir,
        engine,
        runtime_config,
        Default::default(),
    )
}

pub fn run(mut args: UpArgs) -> anyhow::Result<()> {
    let (runtime_config, engine) = prepare(&args)?;
    let reference = match (&args.from_registry, &args.from_file) {
        (Some(reference), _) => Some(reference.clone()),
        (None, Some(path)) => {
            args.from = Some(path.clone());
            None
        }
        (None, None) => crate::registry::remote_reference(args.from.as_deref()),
    };
    if let Some(reference) = reference {
        if args.build {
            bail!("--build needs a local spin.toml, but {reference} is a registry reference");
        }
        let locked =
            crate::registry::pull_for_up(&reference, args.insecure, args.cache_dir.clone())?;
        let app_dir = std::env::current_dir().context("finding the current directory")?;
        if args.direct_mounts {
            tracing::warn!(
                "--direct-mounts applies to local apps only; the pulled app's files are staged"
            );
        }
        return run_locked(
            args,
            locked,
            app_dir,
            engine,
            runtime_config,
            Default::default(),
        );
    }
    if let Some(from) = args.from.as_deref().filter(|p| !p.exists()) {
        if let Some(problem) = from.to_str().and_then(spindle_oci::reference_problem) {
            bail!("{problem}");
        }
    }
    let manifest_path = crate::build::manifest_path(args.from.as_deref())?;
    if args.build {
        crate::build::build(&manifest_path, &[], args.profile.as_deref())?;
    } else {
        crate::build::warn_if_other_profile_built(&manifest_path, args.profile.as_deref());
    }
    let loaded = spindle_manifest::load_with(
        &manifest_path,
        &spindle_manifest::LoadOptions {
            runnable: Some(&["http"]),
            profile: args.profile.as_deref(),
        },
    )?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    let app_dir = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let direct_mounts = if args.direct_mounts {
        direct_mounts(&loaded.manifest, &manifest_path, &app_dir)?
    } else {
        Default::default()
    };
    let locked = crate::registry::fetch_remote_sources(loaded.locked, args.cache_dir.clone())?;
    run_locked(args, locked, app_dir, engine, runtime_config, direct_mounts)
}

type DirectMounts = std::collections::HashMap<String, Vec<spindle_runtime::DirectMount>>;

/// `--direct-mounts`: every component's `files` as host directories to mount as they are.
/// As in Spin, each entry must be a directory and `exclude_files` cannot be used. A directory
/// must resolve inside the app directory (a symlink out of it is refused, as when staging).
fn direct_mounts(
    manifest: &spindle_manifest::schema::AppManifest,
    manifest_path: &Path,
    app_dir: &Path,
) -> anyhow::Result<DirectMounts> {
    use spindle_manifest::schema::WasiFilesMount;
    let root = std::fs::canonicalize(if app_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        app_dir
    })
    .with_context(|| format!("resolving the app directory {}", app_dir.display()))?;
    let mut mounts = DirectMounts::new();
    for (id, component) in manifest.components.iter() {
        if !component.exclude_files.is_empty() {
            bail!(
                "component `{id}` ({}) uses `exclude_files`, which cannot be used with \
                 --direct-mounts (help: drop --direct-mounts, or the exclusions)",
                manifest_path.display()
            );
        }
        let mut list = Vec::new();
        for entry in &component.files {
            let (source, guest) = match entry {
                WasiFilesMount::Pattern(p) => {
                    (p.as_str(), format!("/{}", p.trim_start_matches("./")))
                }
                WasiFilesMount::Placement {
                    source,
                    destination,
                } => (source.as_str(), destination.clone()),
            };
            let host = root.join(source);
            let resolved = std::fs::canonicalize(&host).ok().filter(|p| p.is_dir());
            let Some(resolved) = resolved else {
                bail!(
                    "only directory mounts are supported with --direct-mounts; `{source}` in \
                     `files` of component `{id}` ({}) is not a directory (help: drop \
                     --direct-mounts, or map the directory that holds it)",
                    manifest_path.display()
                );
            };
            if !resolved.starts_with(&root) {
                bail!(
                    "`{source}` in `files` of component `{id}` ({}) resolves to {}, outside the \
                     app directory {}; refusing to mount it",
                    manifest_path.display(),
                    resolved.display(),
                    root.display()
                );
            }
            // `/data/` → `/data`, but `/` stays the root.
            let guest = match guest.trim_end_matches('/') {
                "" => "/".to_string(),
                trimmed => trimmed.to_string(),
            };
            list.push(spindle_runtime::DirectMount {
                host: resolved,
                guest,
            });
        }
        if !list.is_empty() {
            mounts.insert(id.to_string(), list);
        }
    }
    Ok(mounts)
}

/// Runs a locked app, from a local manifest or pulled from a registry; `app_dir` is where
/// `.spin/` (logs, state) goes by default.
fn run_locked(
    args: UpArgs,
    mut locked: spindle_manifest::locked::LockedApp,
    app_dir: PathBuf,
    engine: std::thread::JoinHandle<anyhow::Result<SpindleEngine>>,
    runtime_config: Option<(RuntimeConfig, PathBuf)>,
    direct_mounts: DirectMounts,
) -> anyhow::Result<()> {
    if !args.component_id.is_empty() {
        select_components(&mut locked, &args.component_id)?;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(spindle_http::tls::acceptor(cert, key)?),
        _ => None,
    };
    let serve_options = spindle_http::ServeOptions {
        tls,
        http1_max_buf_size: args.http1_max_buf_size,
    };
    let scheme = if serve_options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    for component in &mut locked.components {
        for (k, v) in &args.env {
            component.env.insert(k.clone(), v.clone());
        }
    }
    let capabilities = capability_options(&args, &app_dir, runtime_config)?;
    // As in Spin: `--log-dir`, else the runtime config's `log_dir`, else `<state dir>/logs`, so
    // that with `--state-dir` nothing is written next to the manifest.
    let log_dir = args
        .log_dir
        .clone()
        .or_else(|| {
            let config = &capabilities.runtime_config;
            config
                .log_dir
                .as_ref()
                .map(|d| capabilities.runtime_config_dir.join(d))
        })
        .unwrap_or_else(|| capabilities.state_dir.join("logs"));

    for id in &args.follow {
        if !locked.components.iter().any(|c| &c.id == id) {
            tracing::warn!("--follow {id}: the app has no component `{id}`");
        }
    }
    // `--temp DIR`: the files are staged in a fresh directory inside DIR (removed on exit).
    let staging = match &args.temp {
        Some(dir) => Some(
            tempfile::Builder::new()
                .prefix("spindle-files-")
                .tempdir_in(dir)
                .with_context(|| {
                    format!(
                        "cannot create a staging directory in {} (--temp)",
                        dir.display()
                    )
                })?,
        ),
        None => None,
    };
    let cache_file = args
        .cache
        .as_deref()
        .map(crate::cache_config::CacheFile::load)
        .transpose()?;
    let cache = if args.disable_cache || cache_file.as_ref().is_some_and(|c| !c.enabled) {
        CompileCache::disabled()
    } else {
        // An explicit `--cache` file's directory wins over `--compiled-cache-dir`.
        match cache_file
            .and_then(|c| c.directory)
            .or_else(|| args.compiled_cache_dir.clone())
            .or_else(CompileCache::default_dir)
        {
            Some(dir) => CompileCache::at(dir),
            None => CompileCache::disabled(),
        }
    };
    let options = RuntimeOptions {
        cache,
        logs: LogSinks {
            log_dir: Some(log_dir.clone()),
            truncate: args.truncate_logs,
            quiet: args.quiet,
            follow: (!args.follow.is_empty()).then(|| args.follow.clone()),
        },
        request_timeout: args.request_timeout,
        reuse: InstanceReuse {
            max_count: args.max_instance_reuse_count.max(1),
            max_concurrent: args.max_instance_concurrent_reuse_count.max(1),
            idle_timeout: args.idle_instance_timeout,
        },
        files_dir: staging.as_ref().map(|dir| dir.path().to_path_buf()),
        capabilities,
        allow_transient_write: args.allow_transient_write,
        direct_mounts,
    };

    // Listen before the app is loaded: a client that connects during start-up waits in the
    // backlog and is answered as soon as the app is ready, instead of being refused and
    // retrying. A port that is taken is reported before any loading work.
    let listener = bind_listener(args.listen, args.find_free_port)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let t0 = std::time::Instant::now();
        let engine = engine
            .join()
            .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
        tracing::debug!("startup: engine ready after {:?} more", t0.elapsed());
        // Loaded on this thread: nothing else runs on the runtime yet, and a hop to the
        // blocking pool would only add a thread start to the path to the first response.
        let descriptions: std::collections::HashMap<String, String> = locked
            .components
            .iter()
            .filter_map(|c| Some((c.id.clone(), c.description()?.to_string())))
            .collect();
        let app = App::load(&engine, locked, &options)?;
        tracing::debug!("startup: app loaded at {:?}", t0.elapsed());
        let trigger = HttpTrigger::shared(Arc::new(app));

        let listener = tokio::net::TcpListener::from_std(listener)
            .context("registering the listening socket")?;
        let addr = listener.local_addr()?;
        tracing::debug!("startup: listening at {:?}", t0.elapsed());
        let logging = format!(
            "Logging component stdio to {:?}",
            log_dir.display().to_string()
        );
        let base_url = format!("{scheme}://{addr}");
        match args.format {
            OutputFormat::Plain => {
                println!("{logging}");
                println!("\nServing {base_url}");
                print_routes(&trigger, &base_url, &descriptions);
            }
            OutputFormat::Json => {
                // stdout holds one JSON document; everything else goes to stderr.
                eprintln!("{logging}");
                println!("{}", routes_json(&trigger, &base_url, &descriptions));
            }
        }

        spindle_http::serve(trigger, listener, serve_options, shutdown_signal()).await?;
        println!("Shutting down");
        CompileCache::finish_writes();
        Ok(())
    })
}

/// `-c/--component-id`: keeps only the named components and the triggers that run them.
fn select_components(
    locked: &mut spindle_manifest::locked::LockedApp,
    ids: &[String],
) -> anyhow::Result<()> {
    for id in ids {
        if !locked.components.iter().any(|c| &c.id == id) {
            let known: Vec<&str> = locked.components.iter().map(|c| c.id.as_str()).collect();
            bail!(
                "--component-id `{id}` is not a component of this app (help: the app has {})",
                known.join(", ")
            );
        }
    }
    locked.components.retain(|c| ids.contains(&c.id));
    locked.triggers.retain(|t| {
        t.trigger_config
            .get("component")
            .and_then(serde_json::Value::as_str)
            .is_none_or(|c| ids.iter().any(|id| id == c))
    });
    Ok(())
}

fn bind_listener(addr: SocketAddr, find_free_port: bool) -> anyhow::Result<std::net::TcpListener> {
    if !find_free_port {
        return spindle_http::bind(addr);
    }
    let mut last = None;
    for offset in 0..20u16 {
        let mut candidate = addr;
        candidate.set_port(addr.port().saturating_add(offset));
        match spindle_http::bind(candidate) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

/// `--format`: how the startup route information is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `Serving <url>` and one line per route (and its description).
    Plain,
    /// One JSON document: `{"base_url": ..., "routes": [{"id", "route", "wildcard",
    /// "description"?}]}`, as Spin prints it.
    Json,
}

/// Each route's id (component id, or `static response <status>`), path and wildcard flag.
fn route_list(trigger: &HttpTrigger) -> Vec<(String, String, bool)> {
    trigger
        .routes()
        .map(|(pattern, target)| {
            let id = match target {
                Target::Component(id) => id.clone(),
                Target::Static { status, .. } => format!("static response {status}"),
            };
            (
                id,
                pattern.without_wildcard().to_string(),
                pattern.is_wildcard(),
            )
        })
        .collect()
}

fn print_routes(
    trigger: &HttpTrigger,
    base_url: &str,
    descriptions: &std::collections::HashMap<String, String>,
) {
    println!("Available Routes:");
    for (id, route, wildcard) in route_list(trigger) {
        let suffix = if wildcard { " (wildcard)" } else { "" };
        println!("  {id}: {base_url}{route}{suffix}");
        if let Some(description) = descriptions.get(&id) {
            println!("    {description}");
        }
    }
}

fn routes_json(
    trigger: &HttpTrigger,
    base_url: &str,
    descriptions: &std::collections::HashMap<String, String>,
) -> String {
    let routes: Vec<serde_json::Value> = route_list(trigger)
        .into_iter()
        .map(|(id, route, wildcard)| {
            let mut entry = serde_json::json!({ "id": id, "route": route, "wildcard": wildcard });
            if let Some(description) = descriptions.get(&id) {
                entry["description"] = description.clone().into();
            }
            entry
        })
        .collect();
    let doc = serde_json::json!({ "base_url": base_url, "routes": routes });
    serde_json::to_string_pretty(&doc).expect("JSON values serialize")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
