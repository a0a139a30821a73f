//! `spindle kube install|scaffold` and `spindle operator`: the command-line side of
//! `spindle_kube`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use spindle_kube::install::{self, InstallOptions};
use spindle_kube::scaffold::{self, ScaffoldOptions};

/// `spindle kube ...`.
#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Print what a cluster needs (CRDs, RBAC, RuntimeClass, executors, operator, node
    /// installer): `spindle kube install | kubectl apply -f -`.
    Install(InstallArgs),
    /// Print a SpinApp for an image (like `spin kube scaffold`).
    Scaffold(ScaffoldArgs),
}

/// `spindle kube install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The image with Spindle at /usr/local/bin/spindle (`scripts/k8s/image.sh` builds one).
    #[arg(long, default_value = concat!("localhost/spindle:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// The operator's namespace.
    #[arg(long, default_value = "spindle-system")]
    pub namespace: String,
    /// Namespaces in which the operator creates the executors (repeatable).
    #[arg(long = "executor-namespace", default_value = "default")]
    pub executor_namespaces: Vec<String>,
    /// containerd's config file on the nodes.
    #[arg(long, default_value = "/etc/containerd/config.toml")]
    pub containerd_config: String,
    /// Where containerd finds shims on the nodes.
    #[arg(long, default_value = "/usr/local/bin")]
    pub bin_dir: String,
    /// Run on the node after the config changed.
    #[arg(long, default_value = "systemctl restart containerd")]
    pub restart_command: String,
    /// Never restart containerd (restart it yourself).
    #[arg(long, conflicts_with = "restart_command")]
    pub no_restart: bool,
    /// `HOST:PORT` of the API server when the `kubernetes` Service does not reach it (a
    /// single-node cluster listening on 127.0.0.1): the operator runs in the host network.
    #[arg(long, value_name = "HOST:PORT")]
    pub api_server: Option<String>,
    /// Let Wasm pods schedule onto every node, not only those the installer labelled.
    #[arg(long)]
    pub no_node_selector: bool,
}

/// `spindle kube scaffold`.
#[derive(Args, Debug)]
pub struct ScaffoldArgs {
    /// The app's image reference.
    #[arg(short = 'f', long)]
    pub from: String,
    /// The SpinApp's name (default: the image's repository name).
    #[arg(long)]
    pub name: Option<String>,
    /// Replicas (the autoscaler's minimum with --autoscaler).
    #[arg(short = 'r', long, default_value_t = 2)]
    pub replicas: i32,
    /// The executor.
    #[arg(long, default_value = "containerd-shim-spin")]
    pub executor: String,
    /// A variable value, NAME=VALUE (repeatable).
    #[arg(short = 'v', long = "variable", value_parser = crate::up::parse_kv)]
    pub variables: Vec<(String, String)>,
    /// A runtime config file, put in a Secret the app loads.
    #[arg(short = 'c', long)]
    pub runtime_config_file: Option<PathBuf>,
    /// `hpa`: let an HPA scale the app.
    #[arg(long)]
    pub autoscaler: Option<String>,
    /// The autoscaler's maximum.
    #[arg(long, default_value_t = 3)]
    pub max_replicas: i32,
    /// The autoscaler's CPU target, in percent.
    #[arg(long, default_value_t = 60)]
    pub autoscaler_target_cpu_utilization: i32,
    /// CPU limit of the app's container (e.g. 100m).
    #[arg(long)]
    pub cpu_limit: Option<String>,
    /// Memory limit of the app's container (e.g. 128Mi).
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// CPU request.
    #[arg(long)]
    pub cpu_request: Option<String>,
    /// Memory request.
    #[arg(long)]
    pub memory_request: Option<String>,
    /// A Secret for pulling the image (repeatable).
    #[arg(short = 's', long = "image-pull-secret")]
    pub image_pull_secrets: Vec<String>,
    /// Run only this component (repeatable).
    #[arg(long = "component")]
    pub components: Vec<String>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub out: Option<PathBuf>,
}

/// `spindle operator`.
#[derive(Args, Debug)]
pub struct OperatorArgs {
    /// Watch only this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Create the executors `containerd-shim-spin` and `spindle` in this namespace when they
    /// are missing (repeatable; `spindle kube install` passes `default`).
    #[arg(long = "executor-namespace", value_name = "NS")]
    pub executor_namespaces: Vec<String>,
}

pub fn run(command: KubeCommand) -> anyhow::Result<()> {
    match command {
        KubeCommand::Install(a) => {
            let docs = install::manifests(&InstallOptions {
                image: a.image,
                namespace: a.namespace,
                executor_namespaces: a.executor_namespaces,
                containerd_config: a.containerd_config,
                bin_dir: a.bin_dir,
                restart_command: (!a.no_restart).then_some(a.restart_command),
                api_server: a.api_server,
                no_node_selector: a.no_node_selector,
            });
            print!("{}", install::to_yaml(&docs));
            Ok(())
        }
        KubeCommand::Scaffold(a) => {
            let runtime_config = match &a.runtime_config_file {
                Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the runtime config file {}", path.display())
                })?),
                None => None,
            };
            let docs = scaffold::scaffold(&ScaffoldOptions {
                from: a.from,
                name: a.name,
                replicas: a.replicas,
                executor: a.executor,
                variables: a.variables,
                runtime_config,
                autoscaler: a.autoscaler,
                max_replicas: a.max_replicas,
                target_cpu_utilization: a.autoscaler_target_cpu_utilization,
                cpu_limit: a.cpu_limit,
                memory_limit: a.memory_limit,
                cpu_request: a.cpu_request,
                memory_request: a.memory_request,
                image_pull_secrets: a.image_pull_secrets,
                components: a.components,
            })
            .map_err(anyhow::Error::msg)?;
            let yaml = install::to_yaml(&docs);
            match &a.out {
                Some(path) => std::fs::write(path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{yaml}"),
            }
            Ok(())
        }
    }
}

pub fn operator(args: OperatorArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = spindle_kube::client().await?;
        let options = spindle_kube::controller::Options {
            namespace: args.namespace,
            instance: std::env::var("POD_NAME").ok(),
            executor_namespaces: args.executor_namespaces,
        };
        spindle_kube::controller::run(client, options).await
    })
}

/// Labels this node for the node installer (`spindle node install --label-node`).
pub fn label_node(node: &str) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = spindle_kube::client().await?;
        spindle_kube::label_node(client, node, install::NODE_LABEL, "provisioned").await
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
