//! `spindle`: run Spin apps. The binary only parses arguments and calls the library crates.

mod build;
mod cache_config;
mod kube;
mod registry;
mod shim;
mod up;

use std::process::ExitCode;

use clap::Parser;

/// Run WebAssembly HTTP apps written for Spin, on a laptop or on Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "spindle", version, about, propagate_version = true)]
// Parsed once at startup; boxing `up`'s many flags would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Cli {
    /// Start the app's triggers and serve it (like `spin up`).
    #[command(alias = "u")]
    Up(up::UpArgs),
    /// Run each component's build command (like `spin build`).
    #[command(alias = "b")]
    Build(build::BuildArgs),
    /// Push, pull and log in to OCI registries (like `spin registry`).
    #[command(alias = "oci", subcommand)]
    Registry(registry::RegistryCommand),
    /// Set up a Kubernetes or containerd node to run Spin apps.
    #[command(subcommand)]
    Node(shim::install::NodeCommand),
    /// Run Spin apps on Kubernetes: install Spindle into a cluster, scaffold SpinApps.
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Run the SpinApp operator (in a pod, or outside the cluster with a kubeconfig).
    Operator(kube::OperatorArgs),
}

/// Exit code for a bad manifest or bad arguments, as clap uses for usage errors.
pub const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    // containerd starts the shim under its own name; runwasi forks container processes from
    // this process, so nothing (no thread) may start before it takes over.
    if shim::invoked_as_shim() {
        shim::main();
        return ExitCode::SUCCESS;
    }
    // Library errors (a guest trap, an instance dropped mid-request) are reported as one-line
    // messages, so capturing a stack backtrace for each of them is wasted work: with
    // RUST_BACKTRACE=1 in the environment it cost ~12 % of throughput. Panics still get
    // backtraces; set RUST_LIB_BACKTRACE=1 explicitly to get them for errors too.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    init_tracing();
    let result = match cli {
        Cli::Up(args) => up::run(args),
        Cli::Build(args) => build::run(args),
        Cli::Registry(command) => registry::run(command),
        Cli::Node(command) => shim::install::run(command),
        Cli::Kube(command) => kube::run(command),
        Cli::Operator(args) => kube::operator(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report_error(&e)),
    }
}

/// Prints `e` for the user (a manifest error as it is, with its locations) and returns the
/// exit code: [`EXIT_BAD_INPUT`] for a manifest error, 1 otherwise.
pub(crate) fn report_error(e: &anyhow::Error) -> u8 {
    if let Some(manifest_error) = e.downcast_ref::<spindle_manifest::ManifestError>() {
        eprintln!("{manifest_error}");
        return EXIT_BAD_INPUT;
    }
    eprintln!("Error: {e:#}");
    1
}

pub(crate) fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SPINDLE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,wasmtime_wasi_http=off,cranelift=warn"));
    // Colour only on a terminal (log lines end up in files and `kubectl logs`), and never
    // with NO_COLOR set to anything (https://no-color.org).
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init()
        .ok();
}
