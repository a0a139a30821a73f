//! A real single-node Kubernetes 1.20 for tests: `scripts/k8s/up.sh` (etcd, kube-apiserver,
//! controller-manager, scheduler, kubelet on containerd 1.7 with Spindle's shim), state under a
//! temp dir, stopped by `scripts/k8s/down.sh` (by PID) on drop. Needs root and the binaries of
//! `scripts/k8s/build.sh`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::repo_root;

/// Where `scripts/k8s/build.sh` puts the Kubernetes binaries.
pub fn k8s_bin() -> PathBuf {
    std::env::var_os("K8S_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/spindle-ci/k8s"))
        .join("bin")
}

pub struct Cluster {
    pub state: tempfile::TempDir,
}

impl Cluster {
    /// Starts the cluster; its CRI pulls over plain HTTP from `registry` (`host:port`).
    pub fn start(registry: &str) -> Cluster {
        assert!(
            k8s_bin().join("kube-apiserver").is_file(),
            "{} has no kube-apiserver: run `bash scripts/k8s/build.sh` first",
            k8s_bin().display()
        );
        let state = tempfile::Builder::new()
            .prefix("spindle-k8s-")
            .tempdir_in("/tmp")
            .unwrap();
        let cluster = Cluster { state };
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/k8s/up.sh"))
            .env("K8S_STATE", cluster.state.path())
            .env("REGISTRY", registry)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/k8s/up.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        cluster
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.state.path().join("kubeconfig")
    }

    /// The node's containerd config and shim directory (as `spindle node install` sees them).
    pub fn node_containerd_config(&self) -> PathBuf {
        self.state.path().join("node/containerd.toml")
    }

    pub fn node_shim_dir(&self) -> PathBuf {
        self.state.path().join("node/shims")
    }

    /// `ctr` in the node's `k8s.io` namespace.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new(super::containerd::containerd_root().join("usr/bin/ctr"))
            .arg("--address")
            .arg(self.state.path().join("node/containerd.sock"))
            .args(["-n", "k8s.io"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut child = Command::new(k8s_bin().join("kubectl"))
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = input {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `kubectl ARGS`, which must succeed: its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl patch OBJECT --type TYPE -p PATCH` (`merge` or `json`), which must succeed.
    pub fn patch(&self, object: &[&str], kind: &str, patch: &str) {
        let mut args = vec!["patch"];
        args.extend_from_slice(object);
        args.extend_from_slice(&["--type", kind, "-p", patch]);
        self.kubectl_ok(&args);
    }

    /// `kubectl apply -f -` of `yaml`, which must succeed.
    pub fn apply(&self, yaml: &str) -> String {
        let out = self.kubectl_with_input(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply: {}\n--- of:\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ARGS -o json`, or `None` when it does not exist.
    pub fn get_json(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend(["-o", "json"]);
        let out = self.kubectl(&all);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("NotFound"), "kubectl {}: {err}", all.join(" "));
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).unwrap())
    }

    /// What a failed wait prints: the objects, the SpinApps' status and recent events.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        for args in [
            &[
                "get",
                "spinapps.core.spinkube.dev,spinapps.core.spinoperator.dev,deploy,rs,pods,svc,hpa",
                "-A",
                "-o",
                "wide",
            ][..],
            &[
                "get",
                "spinapps.core.spinkube.dev,spinapps.core.spinoperator.dev",
                "-A",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}: {.status}{\"\\n\"}{end}",
            ],
            &["get", "events", "-A", "--sort-by=.lastTimestamp"],
            &[
                "logs",
                "-n",
                "spindle-system",
                "deploy/spindle-operator",
                "--tail=40",
            ],
        ] {
            let out = self.kubectl(args);
            s.push_str(&format!(
                "$ kubectl {}\n{}{}\n",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        s
    }

    /// Polls `check` every 250 ms until it returns `Some`, for at most `limit`; on timeout
    /// panics with `what` and the cluster's state.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = check() {
                eprintln!("  {what}: after {} ms", start.elapsed().as_millis());
                return v;
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {} s waiting for {what}\n{}",
                    limit.as_secs(),
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The pods with `selector`, as JSON objects.
    pub fn pods(&self, selector: &str) -> Vec<Value> {
        self.get_json(&["pods", "-l", selector])
            .map(|list| list["items"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The IPs of the Ready pods with `selector` that are not being deleted.
    pub fn ready_pod_ips(&self, selector: &str) -> Vec<String> {
        self.pods(selector)
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| {
                p["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
            .collect()
    }

    /// Imports an OCI image tar into the node's containerd.
    pub fn import_image(&self, tar: &Path) {
        let out = self.ctr(&["image", "import", tar.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "ctr image import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/k8s/down.sh"))
            .env("K8S_STATE", self.state.path())
            .stdin(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("scripts/k8s/down.sh failed: {status:?}");
        }
    }
}
