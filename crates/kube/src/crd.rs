//! The `SpinApp` and `SpinAppExecutor` resources, field for field as spin-operator 0.6 defines
//! them (`api/v1alpha1/*_types.go`), so SpinKube manifests apply unchanged. The CRDs are
//! generated from these types ([`crds`]): in `core.spinkube.dev/v1alpha1`, and the same schema
//! again in `core.spinoperator.dev/v1alpha1`, the group spin-operator used before 0.4.
//!
//! Validation that needs code (replicas with autoscaling, an unknown executor) is done by the
//! operator and reported as a condition and an Event: there is no admission webhook, so no
//! cert-manager, and no CEL rule (Kubernetes 1.20 has none).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapKeySelector, EnvVarSource, LocalObjectReference, SecretKeySelector, Volume,
    VolumeMount,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::ApiResource;
use kube::{CustomResource, CustomResourceExt as _, Resource as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of SpinKube since spin-operator 0.4.
pub const GROUP: &str = "core.spinkube.dev";
/// The group spin-operator used before 0.4, still in many tutorials: served and reconciled too.
pub const LEGACY_GROUP: &str = "core.spinoperator.dev";
/// Both groups, the current one first.
pub const GROUPS: [&str; 2] = [GROUP, LEGACY_GROUP];
/// The API version of both kinds in both groups.
pub const VERSION: &str = "v1alpha1";

/// A Spin app to run on the cluster: the operator makes a Deployment and a Service for it.
// `printcolumn(...)` is repeated once per column, as kube's derive wants it.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.spinkube.dev",
    version = "v1alpha1",
    kind = "SpinApp",
    namespaced,
    status = "SpinAppStatus",
    doc = "A Spin app: the operator runs it as a Deployment and a Service",
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Executor", type_ = "string", json_path = ".spec.executor"),
    printcolumn(
        name = "Deployment",
        type_ = "string",
        json_path = ".status.deploymentName",
        priority = "1"
    ),
    printcolumn(
        name = "Service",
        type_ = "string",
        json_path = ".status.serviceName",
        priority = "1"
    ),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.readyReplicas"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppSpec {
    /// How the app is executed (a SpinAppExecutor in the same namespace). Empty: the first
    /// executor in alphabetical order, set here by the operator.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub executor: String,
    /// The app's OCI reference (as `spin registry push` / `spindle registry push` wrote it).
    pub image: String,
    /// Secrets in the same namespace for pulling the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Readiness and liveness probes.
    #[serde(default, skip_serializing_if = "HealthChecks::is_empty")]
    pub checks: HealthChecks,
    /// Number of replicas (1 when unset). Must be unset with `enableAutoscaling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Leave the replica count to an autoscaler (the operator makes an HPA).
    #[serde(default)]
    pub enable_autoscaling: bool,
    /// Runtime configuration: key-value stores, SQLite databases, or a Secret holding a whole
    /// `runtime-config.toml`.
    #[serde(default, skip_serializing_if = "RuntimeConfig::is_empty")]
    pub runtime_config: RuntimeConfig,
    /// Volumes for the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Where the volumes are mounted in the app's container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Values for the app's variables (`SPIN_VARIABLE_<NAME>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<SpinVar>,
    /// Annotations for the Service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_annotations: BTreeMap<String, String>,
    /// Annotations for the Deployment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployment_annotations: BTreeMap<String, String>,
    /// Annotations for the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Labels for the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Resource limits and requests of the app's container.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// The components to run (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The pods' service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Limits per invocation; `memory` (e.g. `128Mi`) caps each instance's linear memory.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invocation_limits: BTreeMap<String, String>,
}

/// What the operator last saw of a SpinApp.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppStatus {
    /// `Available` and `Progressing`, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The executor running the app.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub active_scheduler: String,
    /// Ready pods of the app's Deployment.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The Deployment the operator made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    /// The Service the operator made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

/// `spec.runtimeConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    /// A Secret with a `runtime-config.toml` key: used as it is, the rest is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_from_secret: Option<String>,
    /// `[sqlite_database.<name>]` sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqlite_databases: Vec<StoreConfig>,
    /// `[key_value_store.<name>]` sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_value_stores: Vec<StoreConfig>,
    /// `[llm_compute]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_compute: Option<LlmComputeConfig>,
}

impl RuntimeConfig {
    /// Nothing configured: the app needs no runtime config file.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A key-value store or SQLite database of the runtime config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct StoreConfig {
    /// The store's label (`default`, or one the manifest grants).
    pub name: String,
    /// The backend (`spin`, `redis`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// The backend's keys (`path`, `url`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<RuntimeConfigOption>,
}

/// `spec.runtimeConfig.llmCompute`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct LlmComputeConfig {
    /// The backend.
    #[serde(rename = "type")]
    pub type_: String,
    /// The backend's keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<RuntimeConfigOption>,
}

/// One key of a runtime-config section: a value, or a reference to a ConfigMap or Secret key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfigOption {
    /// The key.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<RuntimeConfigVarSource>,
}

/// A ConfigMap or Secret key in the app's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfigVarSource {
    /// A key of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// A key of a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// A value for one of the app's variables.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpinVar {
    /// The variable's name, as in `[variables]` of spin.toml.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead (a Secret key, a ConfigMap key, a pod field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// `spec.resources`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Resources {
    /// The most the app's container may use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// What the scheduler reserves for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
}

impl Resources {
    fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.requests.is_empty()
    }
}

/// `spec.checks`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct HealthChecks {
    /// The readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<HealthProbe>,
    /// The liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<HealthProbe>,
}

impl HealthChecks {
    fn is_empty(&self) -> bool {
        self.readiness.is_none() && self.liveness.is_none()
    }
}

/// One probe, with spin-operator's defaults.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthProbe {
    /// An HTTP GET to the app.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "httpGet")]
    pub http_get: Option<HttpHealthProbe>,
    /// Seconds after start before the first probe.
    #[serde(default = "defaults::ten")]
    pub initial_delay_seconds: i32,
    /// Seconds after which a probe times out.
    #[serde(default = "defaults::one")]
    pub timeout_seconds: i32,
    /// Seconds between probes.
    #[serde(default = "defaults::ten")]
    pub period_seconds: i32,
    /// Successes in a row that count as healthy again.
    #[serde(default = "defaults::one")]
    pub success_threshold: i32,
    /// Failures in a row that count as unhealthy.
    #[serde(default = "defaults::three")]
    pub failure_threshold: i32,
}

mod defaults {
    pub fn one() -> i32 {
        1
    }
    pub fn three() -> i32 {
        3
    }
    pub fn ten() -> i32 {
        10
    }
}

/// `checks.*.httpGet`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpHealthProbe {
    /// The path to ask, e.g. `/healthz`.
    pub path: String,
    /// Headers to send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

/// A probe header.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct HttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// How SpinApps are run: by a containerd shim through a RuntimeClass, or by Spin in a container.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.spinkube.dev",
    version = "v1alpha1",
    kind = "SpinAppExecutor",
    namespaced,
    status = "SpinAppExecutorStatus",
    doc = "How SpinApps naming this executor are run"
)]
#[serde(rename_all = "camelCase")]
pub struct SpinAppExecutorSpec {
    /// Whether the operator makes a Deployment for the app (false: something else runs it).
    pub create_deployment: bool,
    /// How that Deployment is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<ExecutorDeploymentConfig>,
}

/// `SpinAppExecutor.spec.deploymentConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorDeploymentConfig {
    /// The RuntimeClass of the pods (a shim; `wasmtime-spindle-v2` for Spindle's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Instead of a shim: an image with Spin (or Spindle) that runs the app in a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spin_image: Option<String>,
    /// A Secret with CA certificates mounted at `/etc/ssl/certs/ca-certificates.crt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_cert_secret: String,
    /// Whether a default CA bundle Secret should be made (not done by Spindle's operator).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub install_default_ca_certs: bool,
    /// OpenTelemetry endpoints, passed to the app as `OTEL_EXPORTER_OTLP_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otel: Option<OtelConfig>,
}

/// `deploymentConfig.otel` (snake_case keys, as spin-operator spells them).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OtelConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exporter_otlp_endpoint: String,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exporter_otlp_traces_endpoint: String,
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exporter_otlp_metrics_endpoint: String,
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exporter_otlp_logs_endpoint: String,
}

/// SpinAppExecutor has no status fields (as in spin-operator).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SpinAppExecutorStatus {}

/// The four CRDs: both kinds in [`GROUP`], then in [`LEGACY_GROUP`].
pub fn crds() -> Vec<CustomResourceDefinition> {
    let current = [SpinApp::crd(), SpinAppExecutor::crd()];
    let legacy = current.clone().map(|crd| in_group(crd, LEGACY_GROUP));
    current.into_iter().chain(legacy).collect()
}

/// `crd` served under `group` instead.
fn in_group(mut crd: CustomResourceDefinition, group: &str) -> CustomResourceDefinition {
    crd.metadata.name = Some(format!("{}.{group}", crd.spec.names.plural));
    crd.spec.group = group.to_string();
    crd
}

/// The API resource of a SpinApp in `group` (one of [`GROUPS`]).
pub fn spinapp_resource(group: &str) -> ApiResource {
    with_group(ApiResource::erase::<SpinApp>(&()), group)
}

/// The API resource of a SpinAppExecutor in `group` (one of [`GROUPS`]).
pub fn executor_resource(group: &str) -> ApiResource {
    with_group(ApiResource::erase::<SpinAppExecutor>(&()), group)
}

fn with_group(mut resource: ApiResource, group: &str) -> ApiResource {
    resource.group = group.to_string();
    resource.api_version = format!("{group}/{}", resource.version);
    resource
}

/// The kind names, for messages.
pub fn spinapp_kind() -> String {
    SpinApp::kind(&()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(crd: &CustomResourceDefinition) -> serde_json::Value {
        serde_json::to_value(&crd.spec.versions[0].schema).unwrap()
    }

    #[test]
    fn four_crds_with_the_same_schema_in_both_groups() {
        let crds = crds();
        let names: Vec<_> = crds
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "spinapps.core.spinkube.dev",
                "spinappexecutors.core.spinkube.dev",
                "spinapps.core.spinoperator.dev",
                "spinappexecutors.core.spinoperator.dev",
            ]
        );
        assert_eq!(schema_of(&crds[0]), schema_of(&crds[2]));
        assert_eq!(crds[2].spec.group, LEGACY_GROUP);
    }

    #[test]
    fn spinapp_crd_has_spin_operator_columns_subresources_and_defaults() {
        let crd = SpinApp::crd();
        let v = &crd.spec.versions[0];
        let columns: Vec<_> = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns[..3],
            [
                ("Ready", ".status.readyReplicas"),
                ("Desired", ".spec.replicas"),
                ("Executor", ".spec.executor")
            ]
        );
        let sub = v.subresources.as_ref().unwrap();
        assert!(sub.status.is_some());
        let scale = sub.scale.as_ref().unwrap();
        assert_eq!(scale.spec_replicas_path, ".spec.replicas");
        assert_eq!(scale.status_replicas_path, ".status.readyReplicas");
        let schema = schema_of(&crd);
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["image"]));
        assert_eq!(
            spec["properties"]["enableAutoscaling"]["default"],
            serde_json::json!(false)
        );
        let probe = &spec["properties"]["checks"]["properties"]["readiness"]["properties"];
        for (field, default) in [
            ("initialDelaySeconds", 10),
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        ] {
            assert_eq!(probe[field]["default"], default, "{field}");
        }
        // Nothing needs CEL (Kubernetes 1.20 has none).
        assert!(!serde_json::to_string(&schema)
            .unwrap()
            .contains("x-kubernetes-validations"));
    }

    #[test]
    fn a_spin_operator_manifest_reads_unchanged() {
        let yaml = r#"
apiVersion: core.spinoperator.dev/v1alpha1
kind: SpinApp
metadata:
  name: hello-wasm
spec:
  image: ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0
  replicas: 3
  executor: containerd-shim-spin
  variables:
  - name: greeting
    value: hi
  - name: token
    valueFrom:
      secretKeyRef: {name: s, key: token}
  runtimeConfig:
    keyValueStores:
    - name: default
      type: spin
      options:
      - {name: path, value: /data/kv.db}
  checks:
    readiness:
      httpGet: {path: /health}
  invocationLimits:
    memory: 128Mi
"#;
        let app: SpinApp = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(app.spec.replicas, Some(3));
        assert_eq!(app.spec.executor, "containerd-shim-spin");
        assert_eq!(
            app.spec.variables[1]
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap()
                .key,
            "token"
        );
        let probe = app.spec.checks.readiness.unwrap();
        assert_eq!(
            (probe.initial_delay_seconds, probe.failure_threshold),
            (10, 3)
        );
        assert_eq!(
            app.spec.runtime_config.key_value_stores[0].options[0]
                .value
                .as_deref(),
            Some("/data/kv.db")
        );
    }
}
