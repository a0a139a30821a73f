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
    App, CompileCache, EngineOptions, InstanceReuse, LogSinks, RuntimeOptions, SpindleEngine,
};

/// Arguments of `spindle up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// The app to run: a spin.toml file or a directory containing one.
    #[arg(short = 'f', long = "from", alias = "file", value_name = "APP")]
    pub from: Option<PathBuf>,

    /// The address to listen on.
    #[arg(
        long,
        env = "SPIN_HTTP_LISTEN_ADDR",
        default_value = "127.0.0.1:3000",
        value_name = "ADDRESS"
    )]
    pub listen: SocketAddr,

    /// If the port is taken, try the next ones (up to 20).
    #[arg(long)]
    pub find_free_port: bool,

    /// Pass an environment variable (K=V) to all components.
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,

    /// Directory for component stdout/stderr logs (default: `.spin/logs` next to the manifest).
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

    /// WASIp3 components: how long an idle instance is kept for reuse.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub idle_instance_timeout: Duration,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got `{s}`")),
    }
}

/// Finds the manifest: `-f` as a file, `-f` as a directory holding spin.toml, or ./spin.toml.
fn manifest_path(from: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = match from {
        Some(p) if p.is_dir() => p.join("spin.toml"),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("spin.toml"),
    };
    if !candidate.exists() {
        match from {
            Some(_) => bail!(
                "no app at {}: the file does not exist (help: pass a spin.toml or a directory \
                 containing one with -f)",
                candidate.display()
            ),
            None => bail!(
                "no spin.toml in the current directory (help: run `spindle up` in an app \
                 directory, or pass one with `spindle up -f path/to/spin.toml`)"
            ),
        }
    }
    Ok(candidate)
}

/// Runs `spindle up`.
pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let manifest_path = manifest_path(args.from.as_deref())?;
    let loaded = spindle_manifest::load(&manifest_path)?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    let mut locked = loaded.locked;
    for component in &mut locked.components {
        for (k, v) in &args.env {
            component.env.insert(k.clone(), v.clone());
        }
    }

    let app_dir = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| app_dir.join(".spin").join("logs"));

    let mut engine_options = EngineOptions {
        pooling: !args.disable_pooling,
        ..EngineOptions::default()
    };
    if let Some(max) = args.max_instance_memory {
        engine_options.max_instance_memory = max;
    }
    let cache = if args.disable_cache {
        CompileCache::disabled()
    } else {
        match args
            .compiled_cache_dir
            .clone()
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
        },
        request_timeout: args.request_timeout,
        reuse: InstanceReuse {
            max_count: args.max_instance_reuse_count.max(1),
            max_concurrent: args.max_instance_concurrent_reuse_count.max(1),
            idle_timeout: args.idle_instance_timeout,
        },
        files_dir: None,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let engine = SpindleEngine::new(engine_options)?;
        let app = tokio::task::spawn_blocking(move || App::load(&engine, locked, &options))
            .await
            .context("loading the app")??;
        let trigger = Arc::new(HttpTrigger::new(Arc::new(app)));

        let listener = bind_listener(args.listen, args.find_free_port).await?;
        let addr = listener.local_addr()?;
        println!(
            "Logging component stdio to {:?}",
            log_dir.display().to_string()
        );
        println!("\nServing http://{addr}");
        print_routes(&trigger, addr);

        spindle_http::serve(trigger, listener, shutdown_signal()).await?;
        println!("Shutting down");
        Ok(())
    })
}

async fn bind_listener(
    addr: SocketAddr,
    find_free_port: bool,
) -> anyhow::Result<tokio::net::TcpListener> {
    if !find_free_port {
        return spindle_http::bind(addr).await;
    }
    let mut last = None;
    for offset in 0..20u16 {
        let mut candidate = addr;
        candidate.set_port(addr.port().saturating_add(offset));
        match spindle_http::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

fn print_routes(trigger: &HttpTrigger, addr: SocketAddr) {
    println!("Available Routes:");
    for (pattern, target) in trigger.router().routes() {
        let name = match target {
            Target::Component(id) => id.clone(),
            Target::Static { status, .. } => format!("static response {status}"),
        };
        let shown = pattern.without_wildcard();
        let wildcard = if pattern.is_wildcard() {
            " (wildcard)"
        } else {
            ""
        };
        println!("  {name}: http://{addr}{shown}{wildcard}");
    }
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
