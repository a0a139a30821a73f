//! `spindle kube install`: everything a cluster needs, in the order `kubectl apply` needs it:
//! the CRDs, the namespace, service accounts with least-privilege RBAC, the RuntimeClass, the
//! operator Deployment (which creates the executors: `containerd-shim-spin`, the name SpinKube
//! manifests use, and `spindle`) and the node-installer DaemonSet. No webhook, so no
//! cert-manager.

use serde_json::{json, Value};

use crate::crd::{crds, GROUPS, VERSION};

/// The RuntimeClass both executors point at.
pub const RUNTIME_CLASS: &str = "wasmtime-spindle-v2";
/// The containerd runtime name (`spindle node install --runtime-name`), the RuntimeClass handler.
pub const HANDLER: &str = "spindle";
/// The node label the installer sets once the shim is on the node; the RuntimeClass schedules
/// Wasm pods only onto nodes that have it.
pub const NODE_LABEL: &str = "spindle.dev/containerd-shim-spindle";
/// The executors `spindle kube install` creates, in alphabetical order (the first is the
/// default of a SpinApp that names none).
pub const EXECUTORS: [&str; 2] = ["containerd-shim-spin", "spindle"];

/// The choices of `spindle kube install`.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The image with the `spindle` binary at `/usr/local/bin/spindle` (operator and installer).
    pub image: String,
    /// The operator's namespace.
    pub namespace: String,
    /// Where the operator creates the executors (SpinApps find executors in their own
    /// namespace).
    pub executor_namespaces: Vec<String>,
    /// containerd's config file on the nodes.
    pub containerd_config: String,
    /// The directory on the nodes where containerd finds shims.
    pub bin_dir: String,
    /// Run on the node (in its namespaces) when the config changed.
    pub restart_command: Option<String>,
    /// `host:port` of the API server, for clusters whose `kubernetes` Service does not reach it
    /// (a single-node cluster whose API server listens on 127.0.0.1): the operator then runs in
    /// the host network and talks to this address.
    pub api_server: Option<String>,
    /// Leave out the RuntimeClass's node selector (for nodes whose shim was installed by hand).
    pub no_node_selector: bool,
}

/// The manifests, each a JSON object.
pub fn manifests(o: &InstallOptions) -> Vec<Value> {
    let mut docs: Vec<Value> = crds().iter().map(|c| json!(c)).collect();
    let ns = &o.namespace;
    let labels = json!({"app.kubernetes.io/name": "spindle-operator", "app.kubernetes.io/part-of": "spindle"});
    docs.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    for sa in ["spindle-operator", "spindle-node-installer"] {
        docs.push(json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": sa, "namespace": ns},
        }));
    }
    let groups: Vec<&str> = GROUPS.to_vec();
    let rw = [
        "get", "list", "watch", "create", "patch", "update", "delete",
    ];
    docs.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "spindle-operator"},
        "rules": [
            {"apiGroups": groups, "resources": ["spinapps"], "verbs": ["get", "list", "watch", "patch", "update"]},
            {"apiGroups": groups, "resources": ["spinapps/status"], "verbs": ["get", "patch", "update"]},
            {"apiGroups": groups, "resources": ["spinappexecutors"], "verbs": ["get", "list", "watch", "create"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": rw},
            {"apiGroups": [""], "resources": ["services", "secrets"], "verbs": rw},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": rw},
            {"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["events.k8s.io", ""], "resources": ["events"], "verbs": ["create", "patch"]},
        ],
    }));
    docs.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "spindle-node-installer"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}],
    }));
    for name in ["spindle-operator", "spindle-node-installer"] {
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        }));
    }
    let mut runtime_class = json!({
        "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
        "metadata": {"name": RUNTIME_CLASS},
        "handler": HANDLER,
    });
    if !o.no_node_selector {
        runtime_class["scheduling"] = json!({"nodeSelector": {NODE_LABEL: "provisioned"}});
    }
    docs.push(runtime_class);
    let env = vec![
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    ];
    let mut pod = json!({
        "serviceAccountName": "spindle-operator",
        "containers": [{
            "name": "operator",
            "image": o.image,
            "imagePullPolicy": "IfNotPresent",
            "command": operator_command(o),
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
        }],
    });
    pod["containers"][0]["env"] = json!(env);
    reach_api_server(&mut pod, o);
    docs.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "spindle-operator", "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            // One operator at a time: the old one stops before the new one starts.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": "spindle-operator"}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }));

    let config_dir = parent(&o.containerd_config);
    let config_name = o
        .containerd_config
        .rsplit('/')
        .next()
        .unwrap_or("config.toml");
    let mut command = vec![
        "/usr/local/bin/spindle".to_string(),
        "node".into(),
        "install".into(),
        "--containerd-config".into(),
        format!("/host/containerd-config/{config_name}"),
        "--bin-dir".into(),
        "/host/bin".into(),
        "--label-node".into(),
        "$(NODE_NAME)".into(),
        "--stay".into(),
    ];
    if let Some(restart) = &o.restart_command {
        command.push("--restart-command".into());
        command.push(format!("nsenter -t 1 -m -u -i -n -p -- {restart}"));
    }
    let installer_labels = json!({"app.kubernetes.io/name": "spindle-node-installer", "app.kubernetes.io/part-of": "spindle"});
    let mut installer_pod = json!({
        "serviceAccountName": "spindle-node-installer",
        "hostPID": true,
        "tolerations": [{"operator": "Exists"}],
        "containers": [{
            "name": "installer",
            "image": o.image,
            "imagePullPolicy": "IfNotPresent",
            "command": command,
            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "securityContext": {"privileged": true},
            "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": [
                {"name": "containerd-config", "mountPath": "/host/containerd-config"},
                {"name": "bin", "mountPath": "/host/bin"},
            ],
        }],
        "volumes": [
            {"name": "containerd-config", "hostPath": {"path": config_dir, "type": "Directory"}},
            {"name": "bin", "hostPath": {"path": o.bin_dir, "type": "DirectoryOrCreate"}},
        ],
    });
    reach_api_server(&mut installer_pod, o);
    docs.push(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "spindle-node-installer", "namespace": ns, "labels": installer_labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "spindle-node-installer"}},
            "template": {
                "metadata": {"labels": installer_labels},
                "spec": installer_pod,
            },
        },
    }));
    docs
}

/// `spindle operator`, creating the default executors in the executor namespaces.
fn operator_command(o: &InstallOptions) -> Vec<String> {
    let mut command = vec!["/usr/local/bin/spindle".to_string(), "operator".into()];
    for ns in &o.executor_namespaces {
        command.push("--executor-namespace".into());
        command.push(ns.clone());
    }
    command
}

/// With `--api-server`, the pod runs in the host network and talks to that address instead of
/// the `kubernetes` Service.
fn reach_api_server(pod: &mut Value, o: &InstallOptions) {
    let Some(server) = &o.api_server else {
        return;
    };
    let (host, port) = server.rsplit_once(':').unwrap_or((server, "443"));
    let env = pod["containers"][0]["env"]
        .as_array_mut()
        .expect("the pods have env");
    env.push(json!({"name": "KUBERNETES_SERVICE_HOST", "value": host}));
    env.push(json!({"name": "KUBERNETES_SERVICE_PORT", "value": port}));
    pod["hostNetwork"] = json!(true);
    pod["dnsPolicy"] = json!("ClusterFirstWithHostNet");
}

/// The executors `spindle operator --executor-namespace NS` creates in `NS` when they are
/// missing, in the API group `group` (it does so for both groups). They are not in `spindle kube install`'s output because `kubectl
/// apply` cannot create objects of a kind whose CRD is in the same apply.
pub fn executors(group: &str, namespace: &str) -> Vec<Value> {
    EXECUTORS
        .iter()
        .map(|name| {
            json!({
                "apiVersion": format!("{group}/{VERSION}"), "kind": "SpinAppExecutor",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"createDeployment": true, "deploymentConfig": {"runtimeClassName": RUNTIME_CLASS}},
            })
        })
        .collect()
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((dir, _)) => dir.into(),
        None => ".".into(),
    }
}

/// Manifests as one YAML stream (`---` between documents).
pub fn to_yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml::to_string(d).expect("JSON values serialise as YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InstallOptions {
        InstallOptions {
            image: "localhost/spindle:dev".into(),
            namespace: "spindle-system".into(),
            executor_namespaces: vec!["default".into()],
            containerd_config: "/etc/containerd/config.toml".into(),
            bin_dir: "/usr/local/bin".into(),
            restart_command: Some("systemctl restart containerd".into()),
            api_server: None,
            no_node_selector: false,
        }
    }

    #[test]
    fn everything_in_apply_order() {
        let docs = manifests(&options());
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
        assert!(first("CustomResourceDefinition") < first("Namespace"));
        assert!(first("Namespace") < first("ServiceAccount"));
        assert!(first("ClusterRoleBinding") < first("RuntimeClass"));
        assert!(first("RuntimeClass") < first("Deployment"));
        assert_eq!(kinds.last(), Some(&"DaemonSet"));
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "CustomResourceDefinition")
                .count(),
            4
        );
        let executors: Vec<(String, String)> = GROUPS
            .iter()
            .flat_map(|group| executors(group, "default"))
            .filter(|d| d["kind"] == "SpinAppExecutor")
            .map(|d| {
                (
                    d["apiVersion"].as_str().unwrap().into(),
                    d["metadata"]["name"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(executors.len(), 4);
        assert!(executors.contains(&(
            "core.spinkube.dev/v1alpha1".into(),
            "containerd-shim-spin".into()
        )));
        assert!(executors.contains(&("core.spinoperator.dev/v1alpha1".into(), "spindle".into())));
        let operator = &docs[first("Deployment")]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            operator["command"],
            json!([
                "/usr/local/bin/spindle",
                "operator",
                "--executor-namespace",
                "default"
            ])
        );
        let rc = &docs[first("RuntimeClass")];
        assert_eq!(
            (rc["metadata"]["name"].as_str(), rc["handler"].as_str()),
            (Some(RUNTIME_CLASS), Some(HANDLER))
        );
        let yaml = to_yaml(&docs);
        assert_eq!(yaml.matches("\n---\n").count() + 1, docs.len());
        let back: Vec<Value> = yaml
            .split("---\n")
            .map(|d| serde_yaml::from_str(d).unwrap())
            .collect();
        assert_eq!(back, docs);
    }

    #[test]
    fn node_installer_mounts_the_config_directory_and_restarts_through_the_host() {
        let docs = manifests(&options());
        let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
        let spec = &ds["spec"]["template"]["spec"];
        assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/etc/containerd");
        let cmd: Vec<&str> = spec["containers"][0]["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(cmd
            .windows(2)
            .any(|w| w == ["--containerd-config", "/host/containerd-config/config.toml"]));
        assert_eq!(
            cmd.last(),
            Some(&"nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd")
        );
    }

    #[test]
    fn api_server_address_puts_the_operator_in_the_host_network() {
        let mut o = options();
        o.api_server = Some("127.0.0.1:6443".into());
        let docs = manifests(&o);
        for kind in ["Deployment", "DaemonSet"] {
            let d = docs.iter().find(|d| d["kind"] == kind).unwrap();
            let pod = &d["spec"]["template"]["spec"];
            assert_eq!(pod["hostNetwork"], true, "{kind}");
            let env = pod["containers"][0]["env"].as_array().unwrap();
            assert!(env.contains(&json!({"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"})));
            assert!(env.contains(&json!({"name": "KUBERNETES_SERVICE_PORT", "value": "6443"})));
        }
    }
}
