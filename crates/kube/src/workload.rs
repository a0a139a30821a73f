//! What the operator makes for one SpinApp, shaped as spin-operator makes it: a Deployment
//! (one container named after the app, `command: ["/"]`, port `http-app`, `SPIN_*` env, the
//! runtime config mounted at `/runtime-config.toml`), a ClusterIP Service, the runtime config
//! Secret and, with `enableAutoscaling`, an HPA. Pure functions from the spec to the objects'
//! JSON, which the controller server-side applies; nothing here talks to the cluster.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{json, Value};

use crate::crd::{ExecutorDeploymentConfig, HealthProbe, RuntimeConfig, SpinAppSpec};

/// The key of the runtime config file in its Secret (and the file name in the container).
pub const RUNTIME_CONFIG_KEY: &str = "runtime-config.toml";
/// Where the runtime config is mounted, as the shim (Spin's and Spindle's) reads it.
pub const RUNTIME_CONFIG_PATH: &str = "/runtime-config.toml";
/// The container port's name, as spin-operator names it.
pub const PORT_NAME: &str = "http-app";
/// Annotations on the SpinApp that shape the HPA `enableAutoscaling` makes.
pub const HPA_MIN_ANNOTATION: &str = "spindle.dev/autoscaler-min-replicas";
/// See [`HPA_MIN_ANNOTATION`].
pub const HPA_MAX_ANNOTATION: &str = "spindle.dev/autoscaler-max-replicas";
/// See [`HPA_MIN_ANNOTATION`].
pub const HPA_CPU_ANNOTATION: &str = "spindle.dev/autoscaler-target-cpu-utilization";

/// The SpinApp the objects are made for.
pub struct App<'a> {
    /// The CRD group it lives in (labels are under that group, as spin-operator's are).
    pub group: &'a str,
    /// The SpinApp's name.
    pub name: &'a str,
    /// The SpinApp's namespace.
    pub namespace: &'a str,
    /// The controller reference every made object carries.
    pub owner: OwnerReference,
    /// The SpinApp's annotations (those under the group are passed on).
    pub annotations: &'a BTreeMap<String, String>,
    /// The SpinApp's spec.
    pub spec: &'a SpinAppSpec,
}

/// A spec the operator cannot turn into objects: reported as a condition and an Event.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct InvalidSpec(pub String);

impl App<'_> {
    /// `<group>/app-name`: on every object, the Deployment's selector.
    pub fn name_label(&self) -> String {
        format!("{}/app-name", self.group)
    }

    /// `<group>/app.<name>.status`: the Service selects pods that have it.
    pub fn status_label(&self) -> String {
        format!("{}/app.{}.status", self.group, self.name)
    }

    fn metadata(&self, name: &str, annotations: &BTreeMap<String, String>) -> Value {
        let mut meta = json!({
            "name": name,
            "namespace": self.namespace,
            "labels": {self.name_label(): self.name},
            "ownerReferences": [self.owner],
        });
        if !annotations.is_empty() {
            meta["annotations"] = json!(annotations);
        }
        meta
    }

    /// Checks what the schema cannot: replicas with autoscaling, replicas below 1.
    pub fn validate(&self) -> Result<(), InvalidSpec> {
        match (self.spec.replicas, self.spec.enable_autoscaling) {
            (Some(n), true) => Err(InvalidSpec(format!(
                "spec.replicas ({n}) is set together with spec.enableAutoscaling: the autoscaler \
                 sets the replica count; remove spec.replicas or set enableAutoscaling: false"
            ))),
            (Some(n), false) if n < 1 => Err(InvalidSpec(format!(
                "spec.replicas is {n}: a SpinApp needs at least 1 replica (use \
                 enableAutoscaling to let an autoscaler decide)"
            ))),
            _ => Ok(()),
        }
        .and(self.invocation_memory().map(|_| ()))
    }

    /// `invocationLimits.memory` in bytes.
    fn invocation_memory(&self) -> Result<Option<u64>, InvalidSpec> {
        let Some(q) = self.spec.invocation_limits.get("memory") else {
            return Ok(None);
        };
        parse_quantity(q).map(Some).ok_or_else(|| {
            InvalidSpec(format!(
                "spec.invocationLimits.memory `{q}` is not a memory quantity (e.g. 128Mi, 1Gi, \
                 500M or a number of bytes)"
            ))
        })
    }

    /// The Deployment: one container running the app's image under the executor's
    /// RuntimeClass, or under Spin in a container when the executor names a `spinImage`.
    /// `runtime_config_secret` is mounted at `/runtime-config.toml` (none when the app has no
    /// runtime config: variables come from the environment either way).
    pub fn deployment(
        &self,
        executor: &ExecutorDeploymentConfig,
        runtime_config_secret: Option<&str>,
    ) -> Result<Value, InvalidSpec> {
        self.validate()?;
        let spec = self.spec;
        let mut env = vec![json!({"name": "SPIN_HTTP_LISTEN_ADDR", "value": "0.0.0.0:80"})];
        for var in &spec.variables {
            let name = format!("SPIN_VARIABLE_{}", var.name.to_ascii_uppercase());
            env.push(match &var.value_from {
                Some(from) => json!({"name": name, "valueFrom": from}),
                None => json!({"name": name, "value": var.value.clone().unwrap_or_default()}),
            });
        }
        if !spec.components.is_empty() {
            let value = spec.components.join(",");
            env.push(json!({"name": "SPIN_COMPONENTS_TO_RETAIN", "value": value}));
        }
        if let Some(bytes) = self.invocation_memory()? {
            env.push(json!({"name": "SPIN_MAX_INSTANCE_MEMORY", "value": bytes.to_string()}));
        }
        if let Some(otel) = &executor.otel {
            for (name, value) in [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &otel.exporter_otlp_endpoint),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    &otel.exporter_otlp_traces_endpoint,
                ),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    &otel.exporter_otlp_metrics_endpoint,
                ),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    &otel.exporter_otlp_logs_endpoint,
                ),
            ] {
                if !value.is_empty() {
                    env.push(json!({"name": name, "value": value}));
                }
            }
        }

        let (mut mounts, mut volumes) = (vec![], vec![]);
        if let Some(secret) = runtime_config_secret {
            mounts.push(json!({
                "name": "spin-runtime-config",
                "mountPath": RUNTIME_CONFIG_PATH,
                "subPath": RUNTIME_CONFIG_KEY,
                "readOnly": true,
            }));
            volumes.push(json!({
                "name": "spin-runtime-config",
                "secret": {"secretName": secret, "defaultMode": 420},
            }));
        }
        if !executor.ca_cert_secret.is_empty() {
            mounts.push(json!({
                "name": "spin-ca",
                "mountPath": "/etc/ssl/certs/ca-certificates.crt",
                "subPath": "ca-certificates.crt",
                "readOnly": true,
            }));
            volumes.push(json!({
                "name": "spin-ca",
                "secret": {"secretName": executor.ca_cert_secret, "defaultMode": 420},
            }));
        }
        mounts.extend(spec.volume_mounts.iter().map(|m| json!(m)));
        volumes.extend(spec.volumes.iter().map(|v| json!(v)));

        let mut container = json!({
            "name": self.name,
            "ports": [{"name": PORT_NAME, "containerPort": 80, "protocol": "TCP"}],
            "env": env,
            "volumeMounts": mounts,
            // A Wasm app writes no termination-log file: the last lines of its log say why
            // it stopped, and the operator reports them in the SpinApp's condition.
            "terminationMessagePolicy": "FallbackToLogsOnError",
        });
        let mut pod_spec = json!({"containers": [], "volumes": volumes});
        match (&executor.runtime_class_name, &executor.spin_image) {
            (Some(class), _) => {
                container["image"] = json!(spec.image);
                container["command"] = json!(["/"]);
                pod_spec["runtimeClassName"] = json!(class);
                // A Wasm guest sees only the files its manifest maps from its own image, never
                // the pod's: a service account token would be a Secret fetched and mounted
                // for every pod for nothing (and, on kubelets limited to 5 API requests a
                // second, a slower start).
                pod_spec["automountServiceAccountToken"] = json!(false);
            }
            (None, Some(spin_image)) => {
                container["image"] = json!(spin_image);
                let mut args = vec![
                    "up".to_string(),
                    "--listen".into(),
                    "0.0.0.0:80".into(),
                    "-f".into(),
                    spec.image.clone(),
                ];
                if runtime_config_secret.is_some() {
                    args.extend(["--runtime-config-file".into(), RUNTIME_CONFIG_PATH.into()]);
                }
                for c in &spec.components {
                    args.extend(["--component-id".to_string(), c.clone()]);
                }
                container["args"] = json!(args);
            }
            (None, None) => {
                return Err(InvalidSpec(
                    "the executor's deploymentConfig names neither a runtimeClassName nor a \
                     spinImage, so there is nothing to run the app with"
                        .into(),
                ))
            }
        }
        if !spec.resources.limits.is_empty() || !spec.resources.requests.is_empty() {
            container["resources"] = json!(spec.resources);
        }
        if let Some(probe) = &spec.checks.readiness {
            container["readinessProbe"] = probe_json(probe);
        }
        if let Some(probe) = &spec.checks.liveness {
            container["livenessProbe"] = probe_json(probe);
        }
        pod_spec["containers"] = json!([container]);
        if !spec.image_pull_secrets.is_empty() {
            pod_spec["imagePullSecrets"] = json!(spec.image_pull_secrets);
        }
        if let Some(sa) = &spec.service_account_name {
            pod_spec["serviceAccountName"] = json!(sa);
        }

        let mut pod_labels = spec.pod_labels.clone();
        pod_labels.insert(self.name_label(), self.name.to_string());
        pod_labels.insert(self.status_label(), "ready".to_string());
        let mut template_meta = json!({"labels": pod_labels});
        if !spec.pod_annotations.is_empty() {
            template_meta["annotations"] = json!(spec.pod_annotations);
        }
        let mut deployment_spec = json!({
            "selector": {"matchLabels": {self.name_label(): self.name}},
            "template": {"metadata": template_meta, "spec": pod_spec},
        });
        if !spec.enable_autoscaling {
            deployment_spec["replicas"] = json!(spec.replicas.unwrap_or(1));
        }
        Ok(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(self.name, &spec.deployment_annotations),
            "spec": deployment_spec,
        }))
    }

    /// The ClusterIP Service: port 80 to `http-app` of the app's ready pods.
    pub fn service(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(self.name, &self.spec.service_annotations),
            "spec": {
                "type": "ClusterIP",
                "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME, "protocol": "TCP"}],
                "selector": {self.name_label(): self.name, self.status_label(): "ready"},
            },
        })
    }

    /// The runtime config Secret, named `<app>-<adler32 of the file>` as spin-operator names
    /// it, so a changed config is a new Secret and rolls the pods.
    pub fn runtime_config_secret(&self, toml: &str) -> Value {
        let name = format!("{}-{:x}", self.name, adler2::adler32_slice(toml.as_bytes()));
        let mut meta = self.metadata(&name, &BTreeMap::new());
        meta["labels"][self.runtime_config_label()] = json!("true");
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": "Opaque",
            "stringData": {RUNTIME_CONFIG_KEY: toml},
        })
    }

    /// Marks the runtime config Secrets the operator made, so old ones can be found and deleted.
    pub fn runtime_config_label(&self) -> String {
        format!("{}/runtime-config", self.group)
    }

    /// The HPA for `enableAutoscaling` (autoscaling/v1, which every Kubernetes serves), on the
    /// Deployment; bounds and CPU target from the SpinApp's `spindle.dev/autoscaler-*`
    /// annotations (defaults 1, 10, 80 %).
    pub fn hpa(&self) -> Result<Value, InvalidSpec> {
        let read = |key: &str, default: i32| -> Result<i32, InvalidSpec> {
            match self.annotations.get(key) {
                None => Ok(default),
                Some(v) => v.parse().ok().filter(|n: &i32| *n >= 1).ok_or_else(|| {
                    InvalidSpec(format!(
                        "annotation {key}: `{v}` is not a whole number of 1 or more"
                    ))
                }),
            }
        };
        let min = read(HPA_MIN_ANNOTATION, 1)?;
        let max = read(HPA_MAX_ANNOTATION, 10.max(min))?;
        let cpu = read(HPA_CPU_ANNOTATION, 80)?;
        if max < min {
            return Err(InvalidSpec(format!(
                "annotation {HPA_MAX_ANNOTATION} ({max}) is below {HPA_MIN_ANNOTATION} ({min})"
            )));
        }
        Ok(json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": self.metadata(self.name, &BTreeMap::new()),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.name},
                "minReplicas": min,
                "maxReplicas": max,
                "targetCPUUtilizationPercentage": cpu,
            },
        }))
    }
}

fn probe_json(probe: &HealthProbe) -> Value {
    let mut v = json!({
        "initialDelaySeconds": probe.initial_delay_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "periodSeconds": probe.period_seconds,
        "successThreshold": probe.success_threshold,
        "failureThreshold": probe.failure_threshold,
    });
    if let Some(get) = &probe.http_get {
        v["httpGet"] = json!({
            "path": get.path,
            "port": PORT_NAME,
            "httpHeaders": get.http_headers,
        });
    }
    v
}

/// The generated `runtime-config.toml`: the `SPIN_VARIABLE_` env provider (so `variables` and
/// their `valueFrom` reach the app), then each store and database with its options, values
/// taken from `resolve` for `valueFrom` options.
pub fn runtime_config_toml(
    config: &RuntimeConfig,
    mut resolve: impl FnMut(&str, &crate::crd::RuntimeConfigVarSource) -> Result<String, InvalidSpec>,
) -> Result<String, InvalidSpec> {
    let mut doc = toml::Table::new();
    let mut env = toml::Table::new();
    env.insert("type".into(), "env".into());
    env.insert("prefix".into(), "SPIN_VARIABLE".into());
    doc.insert(
        "config_provider".into(),
        toml::Value::Array(vec![toml::Value::Table(env)]),
    );
    let mut section = |key: &str, stores: &[crate::crd::StoreConfig]| -> Result<(), InvalidSpec> {
        if stores.is_empty() {
            return Ok(());
        }
        let mut tables = toml::Table::new();
        for store in stores {
            let mut t = toml::Table::new();
            t.insert("type".into(), store.type_.clone().into());
            for option in &store.options {
                let value = match (&option.value, &option.value_from) {
                    (_, Some(from)) => resolve(&option.name, from)?,
                    (Some(v), None) => v.clone(),
                    (None, None) => String::new(),
                };
                t.insert(option.name.clone(), value.into());
            }
            tables.insert(store.name.clone(), toml::Value::Table(t));
        }
        doc.insert(key.into(), toml::Value::Table(tables));
        Ok(())
    };
    section("key_value_store", &config.key_value_stores)?;
    section("sqlite_database", &config.sqlite_databases)?;
    if let Some(llm) = &config.llm_compute {
        let mut t = toml::Table::new();
        t.insert("type".into(), llm.type_.clone().into());
        for option in &llm.options {
            t.insert(
                option.name.clone(),
                option.value.clone().unwrap_or_default().into(),
            );
        }
        doc.insert("llm_compute".into(), toml::Value::Table(t));
    }
    Ok(toml::to_string(&doc).expect("a TOML table serialises"))
}

/// A Kubernetes memory quantity (`128Mi`, `1Gi`, `500M`, `1e6`, `1024`) in bytes.
pub fn parse_quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e')
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    (n >= 0.0 && n.is_finite()).then_some((n * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Secret, Service};

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "core.spinkube.dev/v1alpha1".into(),
            kind: "SpinApp".into(),
            name: "hello".into(),
            uid: "u-1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn shim() -> ExecutorDeploymentConfig {
        ExecutorDeploymentConfig {
            runtime_class_name: Some("wasmtime-spindle-v2".into()),
            ..Default::default()
        }
    }

    fn spec_from(yaml: &str) -> SpinAppSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn with<T>(spec: &SpinAppSpec, f: impl FnOnce(App) -> T) -> T {
        let annotations = BTreeMap::new();
        f(App {
            group: GROUP,
            name: "hello",
            namespace: "ns",
            owner: owner(),
            annotations: &annotations,
            spec,
        })
    }

    #[test]
    fn deployment_is_shaped_as_spin_operator_makes_it() {
        let spec = spec_from(
            r#"
image: reg/hello:v1
replicas: 3
variables: [{name: greeting, value: hi}, {name: token, valueFrom: {secretKeyRef: {name: s, key: k}}}]
components: [a, b]
invocationLimits: {memory: 128Mi}
checks: {readiness: {httpGet: {path: /health}}}
resources: {limits: {memory: 64Mi}}
podLabels: {team: x}
imagePullSecrets: [{name: pull}]
serviceAccountName: runner
"#,
        );
        let d = with(&spec, |app| {
            app.deployment(&shim(), Some("hello-abc")).unwrap()
        });
        let typed: Deployment = serde_json::from_value(d.clone()).expect("a valid Deployment");
        assert_eq!(typed.spec.as_ref().unwrap().replicas, Some(3));
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["runtimeClassName"], "wasmtime-spindle-v2");
        let c = &pod["containers"][0];
        assert_eq!(c["name"], "hello");
        assert_eq!(c["command"], json!(["/"]));
        assert_eq!(c["image"], "reg/hello:v1");
        assert_eq!(c["ports"][0]["name"], "http-app");
        let env = c["env"].as_array().unwrap();
        let find = |n: &str| env.iter().find(|e| e["name"] == n).cloned();
        assert_eq!(
            find("SPIN_HTTP_LISTEN_ADDR").unwrap()["value"],
            "0.0.0.0:80"
        );
        assert_eq!(find("SPIN_VARIABLE_GREETING").unwrap()["value"], "hi");
        assert_eq!(
            find("SPIN_VARIABLE_TOKEN").unwrap()["valueFrom"]["secretKeyRef"]["key"],
            "k"
        );
        assert_eq!(find("SPIN_COMPONENTS_TO_RETAIN").unwrap()["value"], "a,b");
        assert_eq!(
            find("SPIN_MAX_INSTANCE_MEMORY").unwrap()["value"],
            "134217728"
        );
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/runtime-config.toml");
        assert_eq!(pod["volumes"][0]["secret"]["secretName"], "hello-abc");
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http-app");
        assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
        assert_eq!(c["resources"]["limits"]["memory"], "64Mi");
        assert_eq!(pod["imagePullSecrets"][0]["name"], "pull");
        assert_eq!(pod["serviceAccountName"], "runner");
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["core.spinkube.dev/app-name"], "hello");
        assert_eq!(labels["core.spinkube.dev/app.hello.status"], "ready");
        assert_eq!(labels["team"], "x");
        assert_eq!(d["metadata"]["ownerReferences"][0]["uid"], "u-1");
    }

    #[test]
    fn no_runtime_config_no_mount_and_no_token() {
        let spec = spec_from("image: reg/hello:v1\nreplicas: 1");
        let d = with(&spec, |app| app.deployment(&shim(), None).unwrap());
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["volumes"], json!([]));
        assert!(pod["containers"][0]
            .get("volumeMounts")
            .is_none_or(|m| m == &json!([])));
        assert_eq!(pod["automountServiceAccountToken"], false);
    }

    #[test]
    fn service_selects_ready_pods_on_http_app() {
        let spec = spec_from("image: reg/hello:v1");
        let s = with(&spec, |app| app.service());
        let _: Service = serde_json::from_value(s.clone()).expect("a valid Service");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], "http-app");
        assert_eq!(s["spec"]["ports"][0]["port"], 80);
        assert_eq!(
            s["spec"]["selector"]["core.spinkube.dev/app.hello.status"],
            "ready"
        );
    }

    #[test]
    fn autoscaling_leaves_replicas_to_the_hpa_and_refuses_both() {
        let spec = spec_from("image: i\nenableAutoscaling: true");
        let d = with(&spec, |app| app.deployment(&shim(), Some("s")).unwrap());
        assert!(d["spec"].get("replicas").is_none());
        let hpa = with(&spec, |app| app.hpa().unwrap());
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "hello");
        assert_eq!(
            (
                hpa["spec"]["minReplicas"].clone(),
                hpa["spec"]["maxReplicas"].clone()
            ),
            (json!(1), json!(10))
        );
        let both = spec_from("image: i\nenableAutoscaling: true\nreplicas: 2");
        let err = with(&both, |app| app.deployment(&shim(), Some("s")).unwrap_err());
        assert!(err.0.contains("remove spec.replicas"), "{err}");
        let zero = spec_from("image: i\nreplicas: 0");
        assert!(with(&zero, |app| app.validate()).is_err());
        let bad_memory = spec_from("image: i\ninvocationLimits: {memory: lots}");
        let err = with(&bad_memory, |app| app.validate().unwrap_err());
        assert!(err.0.contains("`lots`"), "{err}");
    }

    #[test]
    fn spin_image_executor_runs_spin_up_in_a_container() {
        let spec = spec_from("image: reg/hello:v1\ncomponents: [a]");
        let exec = ExecutorDeploymentConfig {
            spin_image: Some("spin:3".into()),
            ..Default::default()
        };
        let d = with(&spec, |app| app.deployment(&exec, Some("s")).unwrap());
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "spin:3");
        assert_eq!(
            c["args"],
            json!([
                "up",
                "--listen",
                "0.0.0.0:80",
                "-f",
                "reg/hello:v1",
                "--runtime-config-file",
                "/runtime-config.toml",
                "--component-id",
                "a"
            ])
        );
        assert!(d["spec"]["template"]["spec"]
            .get("runtimeClassName")
            .is_none());
    }

    #[test]
    fn runtime_config_has_the_env_provider_stores_and_resolved_values() {
        let spec = spec_from(
            r#"
image: i
runtimeConfig:
  keyValueStores:
  - {name: default, type: spin, options: [{name: path, value: /data/kv.db}]}
  sqliteDatabases:
  - {name: default, type: spin, options: [{name: path, valueFrom: {secretKeyRef: {name: s, key: p}}}]}
"#,
        );
        let toml = runtime_config_toml(&spec.runtime_config, |name, from| {
            assert_eq!(name, "path");
            Ok(format!(
                "from-{}",
                from.secret_key_ref.as_ref().unwrap().key
            ))
        })
        .unwrap();
        let parsed: toml::Table = toml.parse().unwrap();
        assert_eq!(
            parsed["config_provider"][0]["prefix"].as_str(),
            Some("SPIN_VARIABLE")
        );
        assert_eq!(
            parsed["key_value_store"]["default"]["path"].as_str(),
            Some("/data/kv.db")
        );
        assert_eq!(
            parsed["sqlite_database"]["default"]["path"].as_str(),
            Some("from-p")
        );
        let secret = with(&spec, |app| app.runtime_config_secret(&toml));
        let _: Secret = serde_json::from_value(secret.clone()).unwrap();
        let name = secret["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("hello-") && name.len() > 6, "{name}");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("128Mi"), Some(128 << 20));
        assert_eq!(parse_quantity("1Gi"), Some(1 << 30));
        assert_eq!(parse_quantity("500M"), Some(500_000_000));
        assert_eq!(parse_quantity("1e6"), Some(1_000_000));
        assert_eq!(parse_quantity("4096"), Some(4096));
        assert_eq!(parse_quantity("lots"), None);
        assert_eq!(parse_quantity("-1Mi"), None);
    }
}
