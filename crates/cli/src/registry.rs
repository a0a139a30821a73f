//! `spindle registry push|pull|login` (alias `spindle oci`): Spin apps as OCI artifacts, in
//! Spin's layout, so `spin registry pull` / SpinKube run what Spindle pushes and vice versa.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use spindle_manifest::locked::LockedApp;
use spindle_oci::{AssembleOptions, Client, ClientOptions};

/// `spindle registry` subcommands.
#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Push the app to a registry (e.g. `spindle registry push ghcr.io/me/hello:v1`).
    Push(PushArgs),
    /// Pull an app from a registry into the local cache.
    Pull(PullArgs),
    /// Store credentials for a registry in Docker's config.json.
    Login(LoginArgs),
    /// Remove the credentials stored for a registry.
    Logout(LogoutArgs),
}

/// Flags shared by push and pull.
#[derive(Args, Debug, Clone)]
pub struct RegistryOptions {
    /// Use plain HTTP instead of HTTPS (registries on localhost/127.0.0.1 always use HTTP).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Cache directory (default: ~/.cache/spindle); pulled content goes to <DIR>/registry.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl RegistryOptions {
    fn client(&self) -> anyhow::Result<Client> {
        Client::new(ClientOptions {
            insecure: self.insecure,
            cache_dir: self.cache_dir.clone(),
            docker_config: None,
            progress: true,
        })
    }
}

/// Arguments of `spindle registry push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The app to push: a spin.toml file or a directory containing one.
    #[arg(short = 'f', long = "from", alias = "file", value_name = "APP")]
    pub from: Option<PathBuf>,

    /// Run `spindle build` first.
    #[arg(long)]
    pub build: bool,

    /// The build profile to push (`[component.<id>.profile.<NAME>]`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// An extra manifest annotation (K=V, repeatable).
    #[arg(long = "annotation", value_name = "K=V", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,

    #[command(flatten)]
    pub options: RegistryOptions,

    /// Where to push, e.g. `ghcr.io/me/hello:v1` or `127.0.0.1:5000/me/hello:v1`.
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
}

/// Arguments of `spindle registry pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub options: RegistryOptions,

    /// What to pull, e.g. `ghcr.io/me/hello:v1`.
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
}

/// Arguments of `spindle registry login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// User name (asked for on a terminal when left out).
    #[arg(short = 'u', long)]
    pub username: Option<String>,

    /// Password (prefer --password-stdin: command lines are visible to other users).
    #[arg(short = 'p', long, conflicts_with = "password_stdin")]
    pub password: Option<String>,

    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,

    /// Use plain HTTP instead of HTTPS for the credentials check.
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// The registry server, e.g. `ghcr.io` or `127.0.0.1:5000`.
    #[arg(value_name = "SERVER")]
    pub server: String,
}

/// Arguments of `spindle registry logout`.
#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry server, e.g. `ghcr.io` or `127.0.0.1:5000`.
    #[arg(value_name = "SERVER")]
    pub server: String,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got `{s}`")),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs a `spindle registry` subcommand.
pub fn run(command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Push(args) => push(args),
        RegistryCommand::Pull(args) => pull(args),
        RegistryCommand::Login(args) => login(args),
        RegistryCommand::Logout(args) => logout(args),
    }
}

fn push(args: PushArgs) -> anyhow::Result<()> {
    let manifest = crate::build::manifest_path(args.from.as_deref())?;
    if args.build {
        crate::build::build(&manifest, &[], args.profile.as_deref())?;
    }
    let loaded = spindle_manifest::load_with(
        &manifest,
        &spindle_manifest::LoadOptions {
            runnable: None,
            profile: args.profile.as_deref(),
        },
    )?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    let options = AssembleOptions {
        annotations: args.annotations.into_iter().collect(),
        force_archive: std::env::var_os(spindle_oci::ARCHIVE_LAYERS_ENV).is_some(),
        created: None,
    };
    let client = args.options.client()?;
    let locked = fetch_remote_sources(loaded.locked, args.options.cache_dir.clone())?;
    let artifact = spindle_oci::assemble(&locked, &options)?;
    println!("Pushing app to the registry...");
    let pushed = runtime()?.block_on(client.push(&artifact, &args.reference))?;
    println!(
        "Pushed with digest {} ({} blobs, {} uploaded{})",
        pushed.digest,
        pushed.blobs,
        pushed.uploaded,
        if artifact.archived {
            ", static files in archive layers"
        } else {
            ""
        }
    );
    Ok(())
}

fn pull(args: PullArgs) -> anyhow::Result<()> {
    let client = args.options.client()?;
    let pulled = runtime()?.block_on(client.pull(&args.reference))?;
    println!(
        "Pulled {}@{} ({} blobs downloaded, {} already cached) into {}",
        pulled.reference,
        pulled.digest,
        pulled.downloaded,
        pulled.cached,
        pulled.dir.display()
    );
    Ok(())
}

fn login(args: LoginArgs) -> anyhow::Result<()> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let terminal = std::io::stdin().is_terminal();
    let username = match args.username {
        Some(u) => u,
        None if terminal && !args.password_stdin => {
            eprint!("Username: ");
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the user name")?;
            line.trim().to_string()
        }
        None => bail!(
            "no user name given (help: pass -u USER; on a terminal, leave it out to be asked)"
        ),
    };
    if username.is_empty() {
        bail!("the user name is empty");
    }
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from standard input")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) if terminal => {
            rpassword::prompt_password("Password: ").context("reading the password")?
        }
        (None, false) => {
            bail!("no password given (help: pass --password-stdin and pipe it in, or -p PASSWORD)")
        }
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    runtime()?.block_on(spindle_oci::auth::validate_credentials(
        &args.server,
        &username,
        &password,
        args.insecure,
    ))?;
    let path = spindle_oci::auth::docker_config_path()?;
    let key = spindle_oci::auth::store_credentials(&path, &args.server, &username, &password)?;
    println!(
        "Login succeeded: credentials for {key} stored in {}",
        path.display()
    );
    Ok(())
}

fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let path = spindle_oci::auth::docker_config_path()?;
    match spindle_oci::auth::remove_credentials(&path, &args.server)? {
        Some(key) => println!("Removed the credentials for {key} from {}", path.display()),
        None => println!(
            "No credentials for {} in {}; nothing to do",
            spindle_oci::auth::server_key(&args.server),
            path.display()
        ),
    }
    Ok(())
}

/// The registry reference `from` names, if it is one: Spin's rule is that an existing local
/// path wins; otherwise a string that parses as a reference with an explicit registry host is
/// pulled.
pub fn remote_reference(from: Option<&Path>) -> Option<String> {
    let from = from?;
    if from.exists() {
        return None;
    }
    let s = from.to_str()?;
    spindle_oci::looks_like_reference(s).then(|| s.to_string())
}

/// Downloads `source = { url, digest }` components and registry packages (`package =
/// "ns:name"`, for components and dependencies) into the cache (once, verified) and points the
/// locked app at the cached files. Apps without such sources are returned unchanged.
pub fn fetch_remote_sources(
    locked: LockedApp,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<LockedApp> {
    let has_urls = spindle_oci::any_source(&locked, |s| {
        s.starts_with("http://") || s.starts_with("https://")
    });
    let has_packages = spindle_oci::has_package_sources(&locked);
    if !has_urls && !has_packages {
        return Ok(locked);
    }
    let rt = runtime()?;
    let mut locked = locked;
    if has_packages {
        let client = spindle_oci::Client::new(spindle_oci::ClientOptions {
            cache_dir: cache_dir.clone(),
            progress: true,
            ..Default::default()
        })?;
        let config = spindle_oci::PackageConfig::load()?;
        locked = rt.block_on(spindle_oci::fetch_package_sources(locked, &client, &config))?;
    }
    if has_urls {
        let cache = spindle_oci::Cache::new(cache_dir)?;
        locked = rt.block_on(spindle_oci::fetch_url_sources(locked, &cache))?;
    }
    Ok(locked)
}

/// Pulls `reference` for `spindle up`: returns the locked app with every digest reference
/// rewritten to a `file://` path in the cache, ready for the runtime.
pub fn pull_for_up(
    reference: &str,
    insecure: bool,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<LockedApp> {
    let options = RegistryOptions {
        insecure,
        cache_dir,
    };
    let client = options.client()?;
    // A digest names immutable content: a complete cached copy is run without the registry.
    // A tag is pulled; the cache is read only when the registry cannot be reached.
    let cached = if reference.contains("@sha256:") {
        client.cached(reference)?
    } else {
        None
    };
    let pulled = match cached {
        Some(cached) => {
            eprintln!(
                "Using {}@{} from the cache (pulled earlier)",
                cached.reference, cached.digest
            );
            cached
        }
        None => match runtime()?.block_on(client.pull(reference)) {
            Ok(pulled) => {
                eprintln!(
                    "Pulled {}@{} ({} blobs downloaded, {} already cached)",
                    pulled.reference, pulled.digest, pulled.downloaded, pulled.cached
                );
                pulled
            }
            Err(e) => match e.downcast_ref::<spindle_oci::Unreachable>() {
                Some(_) => match client.cached(reference)? {
                    Some(cached) => {
                        tracing::warn!(
                            "{e:#}\nrunning the copy of {} pulled earlier ({}); it may be out \
                             of date",
                            cached.reference,
                            cached.digest
                        );
                        cached
                    }
                    None => return Err(e.context(format!("cannot pull the app {reference}"))),
                },
                None => return Err(e.context(format!("cannot pull the app {reference}"))),
            },
        },
    };
    let mut locked = spindle_oci::resolve_to_cache(pulled.locked, client.cache())?;
    locked
        .metadata
        .insert("origin".into(), format!("oci:{}", pulled.reference).into());
    Ok(locked)
}
