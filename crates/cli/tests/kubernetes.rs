//! `spindle operator` on a real single-node Kubernetes 1.20 (built from Debian's source by
//! `scripts/k8s/build.sh`, started by `scripts/k8s/up.sh`) with Spindle's shim on its
//! containerd, a real registry, and the operator running in-cluster from `spindle kube
//! install`'s manifests, then from outside the cluster with a kubeconfig. The workflow of a
//! user: push, install, scaffold or apply a SpinApp, curl the pods. Needs root.
//!
//! One test, in steps, because the cluster takes ~30 s to start and every step builds on the
//! state the one before left.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::kubernetes::Cluster;
use support::registry::Registry;
use support::*;

const GROUP: &str = "core.spinkube.dev";
const LEGACY: &str = "core.spinoperator.dev";
const WAIT: Duration = Duration::from_secs(120);

/// An app with two components: `caps` (key-value store, a plain variable and a required
/// secret one) and `hello`.
fn caps_app(dir: &Path) -> PathBuf {
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"spin_manifest_version = 2
[application]
name = "kube-caps"
version = "1.0.0"

[variables]
api_token = {{ required = true, secret = true }}
greeting = {{ default = "hello" }}

[[trigger.http]]
route = "/caps/..."
component = "caps"

[[trigger.http]]
route = "/hello/..."
component = "hello"

[component.caps]
source = {caps:?}
key_value_stores = ["default"]
variables = {{ token = "{{{{ api_token }}}}", message = "{{{{ greeting }}}}, world" }}

[component.hello]
source = {hello:?}
"#,
            caps = built("capabilities/target/wasm32-wasip2/release/capabilities.wasm"),
            hello = built("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm"),
        ),
    )
    .unwrap();
    manifest
}

/// `spindle ARGS` (must succeed): its stdout.
fn spindle_ok(args: &[&str]) -> String {
    let out = spindle_cmd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "spindle {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn get_pod(ip: &str, path: &str) -> Result<Reply, String> {
    request_to(&format!("http://{ip}"), "GET", path, &[], b"")
}

struct Steps {
    cluster: Cluster,
    _registry: Registry,
}

impl Steps {
    fn app(&self, group: &str, name: &str) -> Option<Value> {
        self.cluster.get_json(&[&format!("spinapps.{group}"), name])
    }

    fn condition(&self, group: &str, name: &str, kind: &str) -> Option<(String, String, String)> {
        let app = self.app(group, name)?;
        let c = app["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == kind)?
            .clone();
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        Some((s("status"), s("reason"), s("message")))
    }

    /// Waits until the app's status says `n` ready and `n` Ready pods answer `path` with 200.
    fn wait_serving(&self, group: &str, name: &str, n: usize, path: &str) -> Vec<String> {
        let selector = format!("{group}/app-name={name}");
        self.cluster.wait_for(
            &format!("{name}: {n} pods ready and serving {path}"),
            WAIT,
            || {
                let app = self.app(group, name)?;
                (app["status"]["readyReplicas"] == n as i64).then_some(())?;
                let ips = self.cluster.ready_pod_ips(&selector);
                (ips.len() == n).then_some(())?;
                ips.iter()
                    .all(|ip| get_pod(ip, path).is_ok_and(|r| r.status == 200))
                    .then_some(ips)
            },
        )
    }

    fn wait_condition(&self, group: &str, name: &str, reason: &str) -> String {
        self.cluster
            .wait_for(&format!("{name}: condition reason {reason}"), WAIT, || {
                let (status, r, message) = self.condition(group, name, "Available")?;
                (status == "False" && r == reason).then_some(message)
            })
    }

    /// The Warning Events about a SpinApp, as `reason: note` lines.
    fn warnings(&self, name: &str) -> Vec<String> {
        let events = self.cluster.get_json(&["events"]).unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["involvedObject"]["kind"] == "SpinApp" && e["involvedObject"]["name"] == name
            })
            .filter(|e| e["type"] == "Warning")
            .map(|e| {
                format!(
                    "{}: {}",
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    fn wait_warning(&self, name: &str, reason: &str) -> String {
        self.cluster
            .wait_for(&format!("{name}: a {reason} Event"), WAIT, || {
                self.warnings(name)
                    .into_iter()
                    .find(|w| w.starts_with(&format!("{reason}:")))
            })
    }

    fn owned_count(&self, kind: &str, group: &str, name: &str) -> usize {
        let list = self
            .cluster
            .get_json(&[kind, "-l", &format!("{group}/app-name={name}")])
            .unwrap();
        list["items"].as_array().unwrap().len()
    }

    fn operator_pods(&self) -> Vec<Value> {
        let pods = self
            .cluster
            .get_json(&[
                "pods",
                "-n",
                "spindle-system",
                "-l",
                "app.kubernetes.io/name=spindle-operator",
            ])
            .unwrap();
        pods["items"].as_array().cloned().unwrap_or_default()
    }
}

/// `spindle operator` outside the cluster, with the cluster's kubeconfig; killed by PID.
struct OutsideOperator(Child, PathBuf);

impl OutsideOperator {
    fn start(cluster: &Cluster) -> OutsideOperator {
        let log = cluster.state.path().join("outside-operator.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = spindle_cmd()
            .arg("operator")
            .env("KUBECONFIG", cluster.kubeconfig())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        OutsideOperator(child, log)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for OutsideOperator {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

#[test]
fn spinapps_on_a_real_cluster() {
    let registry = Registry::start(None);
    let reg = registry.addr();
    let dir = tempfile::tempdir().unwrap();
    let hello = example("hello-rust/spin.toml");
    built("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    push(&hello, &format!("{reg}/kube/hello:v1"));
    push(&hello, &format!("{reg}/kube/hello:v2"));
    push(&caps_app(dir.path()), &format!("{reg}/kube/caps:v1"));

    let cluster = Cluster::start(&reg);
    let s = Steps {
        cluster,
        _registry: registry,
    };
    let c = &s.cluster;

    // --- spindle kube install: the operator in-cluster, the node installer on the node.
    let image = "localhost/spindle:test";
    let tar = c.state.path().join("spindle-image.tar");
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/k8s/image.sh"))
        .args([image, tar.to_str().unwrap()])
        .env("SPINDLE_BIN", env!("CARGO_BIN_EXE_spindle"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "image.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.import_image(&tar);
    let install = spindle_ok(&[
        "kube",
        "install",
        "--image",
        image,
        "--containerd-config",
        c.node_containerd_config().to_str().unwrap(),
        "--bin-dir",
        c.node_shim_dir().to_str().unwrap(),
        "--no-restart",
        "--api-server",
        "127.0.0.1:6443",
    ]);
    // The README's one-liner: `spindle kube install | kubectl apply -f -`.
    c.apply(&install);
    c.wait_for("the node installer labels the node", WAIT, || {
        let node = c.get_json(&["node", "localhost"])?;
        (node["metadata"]["labels"]["spindle.dev/containerd-shim-spindle"] == "provisioned")
            .then_some(())
    });
    c.kubectl_ok(&[
        "-n",
        "spindle-system",
        "rollout",
        "status",
        "deploy/spindle-operator",
        "--timeout=120s",
    ]);

    // --- The SpinApp from the SpinKube docs, in the pre-0.4 group, unchanged but the image.
    c.apply(&format!(
        "apiVersion: {LEGACY}/v1alpha1\nkind: SpinApp\nmetadata:\n  name: hello-wasm\nspec:\n  \
         image: {reg}/kube/hello:v1\n  replicas: 3\n  executor: containerd-shim-spin\n"
    ));
    let ips = s.wait_serving(LEGACY, "hello-wasm", 3, "/hello");
    for ip in &ips {
        let r = get_pod(ip, "/hello").unwrap();
        assert!(r.text().contains("Hello"), "{ip}: {}", r.text());
    }
    let table = c.kubectl_ok(&["get", &format!("spinapps.{LEGACY}")]);
    assert!(
        table.contains("READY") && table.contains("DESIRED") && table.contains("EXECUTOR"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("hello-wasm"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(row[1..4], ["3", "3", "containerd-shim-spin"], "{table}");
    let app = s.app(LEGACY, "hello-wasm").unwrap();
    assert_eq!(app["status"]["activeScheduler"], "containerd-shim-spin");
    assert_eq!(app["status"]["deploymentName"], "hello-wasm");
    let deployment = c.get_json(&["deploy", "hello-wasm"]).unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["runtimeClassName"], "wasmtime-spindle-v2");
    assert_eq!(pod["containers"][0]["command"], serde_json::json!(["/"]));
    assert_eq!(pod["containers"][0]["ports"][0]["name"], "http-app");
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["apiVersion"].as_str()),
        (Some("SpinApp"), Some("core.spinoperator.dev/v1alpha1"))
    );
    let managers: Vec<&str> = deployment["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"spindle-operator"), "{managers:?}");
    let svc = c.get_json(&["svc", "hello-wasm"]).unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http-app");

    // --- spindle kube scaffold, in core.spinkube.dev.
    let scaffolded = spindle_ok(&[
        "kube",
        "scaffold",
        "--from",
        &format!("{reg}/kube/hello:v1"),
        "--replicas",
        "3",
    ]);
    assert!(
        scaffolded.contains("apiVersion: core.spinkube.dev/v1alpha1"),
        "{scaffolded}"
    );
    c.apply(&scaffolded);
    s.wait_serving(GROUP, "hello", 3, "/hello");
    let table = c.kubectl_ok(&["get", "spinapps"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("hello "))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>()[1..4],
        ["3", "3", "containerd-shim-spin"]
    );

    // --- Scale 3 → 1 (spec) → 3 (kubectl scale, through the scale subresource).
    c.patch(&["spinapp", "hello"], "merge", r#"{"spec":{"replicas":1}}"#);
    s.wait_serving(GROUP, "hello", 1, "/hello");
    c.kubectl_ok(&["scale", "spinapp", "hello", "--replicas", "3"]);
    s.wait_serving(GROUP, "hello", 3, "/hello");

    // --- An image update rolls out.
    let v2 = format!(r#"{{"spec":{{"image":"{reg}/kube/hello:v2"}}}}"#);
    c.patch(&["spinapp", "hello"], "merge", &v2);
    c.wait_for("hello: every pod runs v2", WAIT, || {
        let pods = c.pods(&format!("{GROUP}/app-name=hello"));
        let live: Vec<_> = pods
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect();
        (live.len() == 3
            && live.iter().all(|p| {
                p["spec"]["containers"][0]["image"]
                    .as_str()
                    .is_some_and(|i| i.ends_with("hello:v2"))
            }))
        .then_some(())
    });
    s.wait_serving(GROUP, "hello", 3, "/hello");

    // --- Drift: a deleted Deployment comes back, an edited one is put back.
    let old_uid = c.get_json(&["deploy", "hello"]).unwrap()["metadata"]["uid"].clone();
    c.kubectl_ok(&["delete", "deploy", "hello", "--wait=false"]);
    c.wait_for("hello: the Deployment is recreated", WAIT, || {
        let d = c.get_json(&["deploy", "hello"])?;
        (d["metadata"]["uid"] != old_uid && d["metadata"]["deletionTimestamp"].is_null())
            .then_some(())
    });
    s.wait_serving(GROUP, "hello", 3, "/hello");
    c.kubectl_ok(&["scale", "deploy", "hello", "--replicas", "1"]);
    let edit =
        r#"[{"op":"replace","path":"/spec/template/spec/runtimeClassName","value":"other"}]"#;
    c.patch(&["deploy", "hello"], "json", edit);
    c.wait_for("hello: the edited Deployment is put back", WAIT, || {
        let d = c.get_json(&["deploy", "hello"])?;
        (d["spec"]["replicas"] == 3
            && d["spec"]["template"]["spec"]["runtimeClassName"] == "wasmtime-spindle-v2")
            .then_some(())
    });
    s.wait_serving(GROUP, "hello", 3, "/hello");

    // --- Restarting the operator (its pod deleted) makes no duplicates.
    let old_pod = s.operator_pods()[0]["metadata"]["name"].clone();
    c.kubectl_ok(&[
        "-n",
        "spindle-system",
        "delete",
        "pod",
        "-l",
        "app.kubernetes.io/name=spindle-operator",
    ]);
    c.wait_for("a new operator pod watching", WAIT, || {
        let pods = s.operator_pods();
        let new = pods.iter().find(|p| p["metadata"]["name"] != old_pod)?;
        let name = new["metadata"]["name"].as_str()?;
        let logs = c.kubectl(&["logs", "-n", "spindle-system", name]);
        String::from_utf8_lossy(&logs.stdout)
            .contains("watching SpinApps (core.spinoperator.dev")
            .then_some(())
    });
    // Let it reconcile every app once more.
    c.kubectl_ok(&["annotate", "spinapp", "hello", "test/poke=1"]);
    c.wait_for("hello: reconciled by the new operator", WAIT, || {
        let app = s.app(GROUP, "hello")?;
        (app["status"]["readyReplicas"] == 3).then_some(())
    });
    for (group, name) in [(GROUP, "hello"), (LEGACY, "hello-wasm")] {
        assert_eq!(s.owned_count("deploy", group, name), 1, "{name}");
        assert_eq!(s.owned_count("svc", group, name), 1, "{name}");
        assert_eq!(
            s.owned_count("secret", group, name),
            0,
            "{name}: no runtime config, so no Secret"
        );
    }
    let logs = c.kubectl_ok(&["logs", "-n", "spindle-system", "deploy/spindle-operator"]);
    assert!(
        logs.contains("watching SpinApps (core.spinkube.dev/v1alpha1)"),
        "{logs}"
    );

    // --- From here on the operator runs outside the cluster, with the kubeconfig.
    c.kubectl_ok(&[
        "-n",
        "spindle-system",
        "scale",
        "deploy/spindle-operator",
        "--replicas",
        "0",
    ]);
    c.wait_for("the in-cluster operator is gone", WAIT, || {
        s.operator_pods().is_empty().then_some(())
    });
    let mut outside = OutsideOperator::start(c);

    // --- Variables (plain and from a Secret), a key-value store, `components`.
    c.apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: caps-secrets}}
stringData: {{token: from-a-secret}}
---
apiVersion: {GROUP}/v1alpha1
kind: SpinApp
metadata: {{name: caps}}
spec:
  image: {reg}/kube/caps:v1
  replicas: 1
  components: [caps]
  variables:
  - {{name: greeting, value: hej}}
  - name: api_token
    valueFrom: {{secretKeyRef: {{name: caps-secrets, key: token}}}}
  runtimeConfig:
    keyValueStores:
    - name: default
      type: spin
      options: [{{name: path, value: /kv-default.db}}]
"#
    ));
    let ips = s.wait_serving(GROUP, "caps", 1, "/caps/var/token");
    let ip = &ips[0];
    assert_eq!(
        get_pod(ip, "/caps/var/token").unwrap().text(),
        "from-a-secret"
    );
    assert_eq!(
        get_pod(ip, "/caps/var/message").unwrap().text(),
        "hej, world"
    );
    let put = request_to(
        &format!("http://{ip}"),
        "PUT",
        "/caps/kv/default/k",
        &[],
        b"stored in the pod",
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        get_pod(ip, "/caps/kv/default/k").unwrap().text(),
        "stored in the pod"
    );
    assert_eq!(
        get_pod(ip, "/hello").unwrap().status,
        404,
        "`components: [caps]` leaves hello out"
    );
    let secret = c
        .get_json(&["secret", "-l", &format!("{GROUP}/app-name=caps")])
        .unwrap();
    let config = secret["items"][0]["data"]["runtime-config.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config = String::from_utf8(base64_decode(&config)).unwrap();
    assert!(
        config.contains("[key_value_store.default]") && config.contains("/kv-default.db"),
        "{config}"
    );

    // --- Faults: each a condition and an Event, none a crash of the operator.
    c.apply(&format!(
        r#"apiVersion: {GROUP}/v1alpha1
kind: SpinApp
metadata: {{name: missing-image}}
spec: {{image: "{reg}/kube/does-not-exist:v1", replicas: 1}}
---
apiVersion: {GROUP}/v1alpha1
kind: SpinApp
metadata: {{name: no-start}}
spec: {{image: "{reg}/kube/caps:v1", replicas: 1}}
---
apiVersion: {GROUP}/v1alpha1
kind: SpinApp
metadata: {{name: bad-executor}}
spec: {{image: "{reg}/kube/hello:v1", replicas: 1, executor: nope}}
---
apiVersion: {GROUP}/v1alpha1
kind: SpinApp
metadata: {{name: both}}
spec: {{image: "{reg}/kube/hello:v1", replicas: 2, enableAutoscaling: true}}
"#
    ));
    let m = s.wait_condition(GROUP, "missing-image", "ImagePullFailed");
    assert!(m.contains("does-not-exist"), "{m}");
    s.wait_warning("missing-image", "ImagePullFailed");
    // caps without its required variable: Spindle refuses to start, and says why.
    let m = s.wait_condition(GROUP, "no-start", "AppFailedToStart");
    assert!(
        m.contains("api_token"),
        "the log tail names the variable: {m}"
    );
    s.wait_warning("no-start", "AppFailedToStart");
    let pod = c.pods(&format!("{GROUP}/app-name=no-start"))[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = c.kubectl(&["logs", &pod]);
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("api_token"), "kubectl logs {pod}: {logs}");
    let m = s.wait_condition(GROUP, "bad-executor", "ExecutorNotFound");
    assert!(
        m.contains("`nope`") && m.contains("containerd-shim-spin"),
        "{m}"
    );
    s.wait_warning("bad-executor", "ExecutorNotFound");
    let m = s.wait_condition(GROUP, "both", "InvalidSpec");
    assert!(
        m.contains("spec.replicas") && m.contains("enableAutoscaling"),
        "{m}"
    );
    s.wait_warning("both", "InvalidSpec");
    assert_eq!(s.owned_count("deploy", GROUP, "both"), 0);
    // Fixing the spec fixes the app: autoscaling without replicas gets an HPA.
    let fix = r#"[{"op":"remove","path":"/spec/replicas"}]"#;
    c.patch(&["spinapp", "both"], "json", fix);
    let hpa = c.wait_for("both: an HPA", WAIT, || c.get_json(&["hpa", "both"]));
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "both");
    assert_eq!(hpa["apiVersion"], "autoscaling/v1");
    s.wait_serving(GROUP, "both", 1, "/hello");
    let log = outside.log();
    assert!(!log.contains("panicked"), "{log}");

    // --- Deleting a SpinApp removes everything it owns.
    c.kubectl_ok(&["delete", "spinapp", "hello"]);
    c.wait_for("hello: owned objects gone", WAIT, || {
        (s.owned_count("deploy", GROUP, "hello") == 0
            && s.owned_count("svc", GROUP, "hello") == 0
            && s.owned_count("secret", GROUP, "hello") == 0
            && s.owned_count("pods", GROUP, "hello") == 0)
            .then_some(())
    });
    assert!(
        outside.0.try_wait().unwrap().is_none(),
        "the operator kept running:\n{}",
        outside.log()
    );
    drop(outside);
    drop(s);
}

fn base64_decode(s: &str) -> Vec<u8> {
    let out = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(s.as_bytes())?;
            child.wait_with_output()
        });
    out.unwrap().stdout
}
