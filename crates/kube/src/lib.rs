#![deny(missing_docs)]
//! Spindle on Kubernetes.
//!
//! - [`crd`]: the `SpinApp` and `SpinAppExecutor` resources (spin-operator 0.6's schema), and
//!   their CRDs in `core.spinkube.dev` and the older `core.spinoperator.dev`;
//! - [`workload`]: the Deployment, Service, runtime config Secret and HPA made for a SpinApp
//!   (pure functions, no cluster);
//! - [`controller`]: `spindle operator`, which reconciles SpinApps into those objects and
//!   reports status, conditions and Events;
//! - [`install`] and [`scaffold`]: the manifests `spindle kube install` and
//!   `spindle kube scaffold` print.

pub mod controller;
pub mod crd;
pub mod install;
pub mod scaffold;
pub mod workload;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};

/// A client from the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or, in a pod, the service
/// account.
pub async fn client() -> anyhow::Result<kube::Client> {
    kube::Client::try_default().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach a Kubernetes cluster: {e} (help: set KUBECONFIG to a kubeconfig, or \
             run inside a pod with a service account)"
        )
    })
}

/// Sets `label=value` on `node` (the node installer's "done" mark).
pub async fn label_node(
    client: kube::Client,
    node: &str,
    label: &str,
    value: &str,
) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client);
    let patch = serde_json::json!({"metadata": {"labels": {label: value}}});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| anyhow::anyhow!("labelling node {node} with {label}={value}: {e}"))?;
    Ok(())
}
