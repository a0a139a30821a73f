//! `spindle kube scaffold`: a SpinApp manifest for an image, with the flags of
//! `spin kube scaffold`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{json, Value};

use crate::crd::{RuntimeConfig, SpinApp, SpinAppSpec, SpinVar};
use crate::workload::{
    HPA_CPU_ANNOTATION, HPA_MAX_ANNOTATION, HPA_MIN_ANNOTATION, RUNTIME_CONFIG_KEY,
};

/// What `spindle kube scaffold` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ScaffoldOptions {
    /// The app's image reference.
    pub from: String,
    /// The SpinApp's name (default: the image's repository name).
    pub name: Option<String>,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `spec.executor`.
    pub executor: String,
    /// `name=value` pairs.
    pub variables: Vec<(String, String)>,
    /// The contents of a runtime config file: put in a Secret the app loads.
    pub runtime_config: Option<String>,
    /// `hpa` gives `enableAutoscaling` and the HPA bounds.
    pub autoscaler: Option<String>,
    /// The HPA's `maxReplicas`.
    pub max_replicas: i32,
    /// The HPA's target CPU utilization, in percent.
    pub target_cpu_utilization: i32,
    /// `resources.limits.cpu`.
    pub cpu_limit: Option<String>,
    /// `resources.limits.memory`.
    pub memory_limit: Option<String>,
    /// `resources.requests.cpu`.
    pub cpu_request: Option<String>,
    /// `resources.requests.memory`.
    pub memory_request: Option<String>,
    /// `spec.imagePullSecrets`, by name.
    pub image_pull_secrets: Vec<String>,
    /// `spec.components`: the components to run (all when empty).
    pub components: Vec<String>,
}

/// The manifests: a runtime config Secret when one was given, then the SpinApp.
pub fn scaffold(o: &ScaffoldOptions) -> Result<Vec<Value>, String> {
    let name = match &o.name {
        Some(n) => n.clone(),
        None => name_from_image(&o.from)?,
    };
    let mut spec = SpinAppSpec {
        image: o.from.clone(),
        executor: o.executor.clone(),
        replicas: Some(o.replicas),
        variables: o
            .variables
            .iter()
            .map(|(name, value)| SpinVar {
                name: name.clone(),
                value: Some(value.clone()),
                value_from: None,
            })
            .collect(),
        image_pull_secrets: o
            .image_pull_secrets
            .iter()
            .map(|s| LocalObjectReference { name: s.clone() })
            .collect(),
        components: o.components.clone(),
        ..Default::default()
    };
    let quantity = |q: &Option<String>| q.clone().map(Quantity);
    for (key, limit, request) in [
        ("cpu", quantity(&o.cpu_limit), quantity(&o.cpu_request)),
        (
            "memory",
            quantity(&o.memory_limit),
            quantity(&o.memory_request),
        ),
    ] {
        if let Some(q) = limit {
            spec.resources.limits.insert(key.into(), q);
        }
        if let Some(q) = request {
            spec.resources.requests.insert(key.into(), q);
        }
    }
    let mut annotations = BTreeMap::new();
    match o.autoscaler.as_deref() {
        None => {}
        Some("hpa") => {
            if o.max_replicas < o.replicas {
                return Err(format!(
                    "--max-replicas ({}) is below --replicas ({}), the autoscaler's minimum",
                    o.max_replicas, o.replicas
                ));
            }
            spec.enable_autoscaling = true;
            spec.replicas = None;
            annotations.insert(HPA_MIN_ANNOTATION.to_string(), o.replicas.to_string());
            annotations.insert(HPA_MAX_ANNOTATION.to_string(), o.max_replicas.to_string());
            annotations.insert(
                HPA_CPU_ANNOTATION.to_string(),
                o.target_cpu_utilization.to_string(),
            );
        }
        Some(other) => {
            return Err(format!(
                "--autoscaler `{other}` is not supported (help: use `hpa`; the operator makes \
                 the HorizontalPodAutoscaler)"
            ))
        }
    }
    let mut docs = Vec::new();
    if let Some(config) = &o.runtime_config {
        let secret = format!("{name}-runtime-config");
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret},
            "type": "Opaque",
            "stringData": {RUNTIME_CONFIG_KEY: config},
        }));
        spec.runtime_config = RuntimeConfig {
            load_from_secret: Some(secret),
            ..Default::default()
        };
    }
    let mut app = SpinApp::new(&name, spec);
    if !annotations.is_empty() {
        app.metadata.annotations = Some(annotations);
    }
    let mut app = json!(app);
    if let Some(map) = app.as_object_mut() {
        map.remove("status");
    }
    docs.push(app);
    Ok(docs)
}

/// `127.0.0.1:5000/me/hello-app:v1` → `hello-app`, lowercased, as a Kubernetes name.
fn name_from_image(image: &str) -> Result<String, String> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repo = last.split(':').next().unwrap_or(last);
    let name: String = repo
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        return Err(format!(
            "cannot make a name from the image `{image}` (help: pass --name)"
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ScaffoldOptions {
        ScaffoldOptions {
            from: "127.0.0.1:5000/me/hello:v1".into(),
            replicas: 3,
            executor: "containerd-shim-spin".into(),
            max_replicas: 3,
            target_cpu_utilization: 60,
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_app() {
        let docs = scaffold(&ScaffoldOptions {
            variables: vec![("greeting".into(), "hi".into())],
            components: vec!["hello".into()],
            memory_limit: Some("64Mi".into()),
            image_pull_secrets: vec!["pull".into()],
            ..base()
        })
        .unwrap();
        assert_eq!(docs.len(), 1);
        let app = &docs[0];
        assert_eq!(app["apiVersion"], "core.spinkube.dev/v1alpha1");
        assert_eq!(app["kind"], "SpinApp");
        assert_eq!(app["metadata"]["name"], "hello");
        assert_eq!(app["spec"]["replicas"], 3);
        assert_eq!(app["spec"]["executor"], "containerd-shim-spin");
        assert_eq!(
            app["spec"]["variables"][0],
            json!({"name": "greeting", "value": "hi"})
        );
        assert_eq!(app["spec"]["resources"]["limits"]["memory"], "64Mi");
        assert_eq!(app["spec"]["imagePullSecrets"][0]["name"], "pull");
        assert!(app.get("status").is_none());
        let _: SpinApp = serde_json::from_value(app.clone()).unwrap();
    }

    #[test]
    fn hpa_and_runtime_config() {
        let docs = scaffold(&ScaffoldOptions {
            autoscaler: Some("hpa".into()),
            runtime_config: Some("[key_value_store.default]\ntype = \"spin\"\n".into()),
            replicas: 1,
            ..base()
        })
        .unwrap();
        assert_eq!(docs[0]["kind"], "Secret");
        let app = &docs[1];
        assert_eq!(
            app["spec"]["runtimeConfig"]["loadFromSecret"],
            "hello-runtime-config"
        );
        assert_eq!(app["spec"]["enableAutoscaling"], true);
        assert!(app["spec"].get("replicas").is_none());
        assert_eq!(app["metadata"]["annotations"][HPA_MAX_ANNOTATION], "3");
        assert!(scaffold(&ScaffoldOptions {
            autoscaler: Some("keda".into()),
            ..base()
        })
        .is_err());
    }

    #[test]
    fn names_from_images() {
        assert_eq!(
            name_from_image("ghcr.io/a/Spin_Hello:v1").unwrap(),
            "spin-hello"
        );
        assert_eq!(name_from_image("reg:5000/x/y@sha256:abc").unwrap(), "y");
        assert!(name_from_image(":::").is_err());
    }
}
