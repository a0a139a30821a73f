//! A real OCI registry for tests: Debian's `docker-registry` (installed by
//! `.ci/install-services.sh`) on a free loopback port, stopped by PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{free_port, get, request, Reply};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A `docker-registry` process on 127.0.0.1, killed (by PID) and its storage removed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `htpasswd = Some((user, pass))` it requires basic auth.
    pub fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        Self::start_with(htpasswd, None)
    }

    /// Starts a registry serving `storage`, a tar.gz of another registry's storage directory.
    pub fn start_from_storage(storage: &Path) -> Registry {
        Self::start_with(None, Some(storage))
    }

    pub fn start_with(htpasswd: Option<(&str, &str)>, storage: Option<&Path>) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: run `bash .ci/install-services.sh` (installs Debian's \
             docker-registry and apache2-utils) before `cargo test`"
        );
        let dir = tempfile::tempdir().unwrap();
        if let Some(storage) = storage {
            let store = dir.path().join("store");
            std::fs::create_dir_all(&store).unwrap();
            let status = Command::new("tar")
                .arg("xzf")
                .arg(storage)
                .arg("-C")
                .arg(&store)
                .status()
                .unwrap();
            assert!(status.success(), "unpacking {}", storage.display());
        }
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("store").display()
        );
        if let Some((user, pass)) = htpasswd {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd is missing: run `bash .ci/install-services.sh`");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                file.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry { child, port, dir };
        let start = Instant::now();
        loop {
            if let Some(status) = registry.child.try_wait().unwrap() {
                panic!("docker-registry exited with {status}:\n{}", registry.log());
            }
            if let Ok(r) = get(port, "/v2/") {
                if r.status == 200 || r.status == 401 {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "docker-registry did not answer within 30 s:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where the registry stores a blob on disk.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("store/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// GET from the registry API (anonymous).
    pub fn fetch(&self, path: &str, accept: &str) -> Reply {
        let r = request(self.port, "GET", path, &[("accept", accept)], b"")
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r
    }

    pub fn manifest(&self, repo: &str, tag: &str) -> Value {
        self.fetch(&format!("/v2/{repo}/manifests/{tag}"), MANIFEST_TYPE)
            .json()
    }

    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let body = self
            .fetch(&format!("/v2/{repo}/blobs/{digest}"), "*/*")
            .body;
        assert_eq!(sha256(&body), digest, "registry served wrong bytes");
        body
    }

    pub fn blob_gets(&self, repo: &str) -> usize {
        self.log()
            .matches(&format!("\"GET /v2/{repo}/blobs/"))
            .count()
    }
}

impl Registry {
    /// Uploads `bytes` as a blob of `repo` (the registry API's two-step upload) and returns
    /// its digest.
    pub fn upload_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let start = request(
            self.port,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            b"",
        )
        .expect("starting a blob upload");
        assert_eq!(start.status, 202, "POST blobs/uploads: {}", start.text());
        let location = start
            .header("location")
            .expect("upload location")
            .to_string();
        let path = location
            .split_once("://")
            .map(|(_, rest)| rest[rest.find('/').unwrap_or(rest.len())..].to_string())
            .unwrap_or(location);
        let sep = if path.contains('?') { '&' } else { '?' };
        let done = request(
            self.port,
            "PUT",
            &format!("{path}{sep}digest={digest}"),
            &[("content-type", "application/octet-stream")],
            bytes,
        )
        .expect("finishing a blob upload");
        assert_eq!(done.status, 201, "PUT blob: {}", done.text());
        digest
    }

    /// Publishes `wasm` as package version `tag` of `repo` in the CNCF Wasm OCI artifact
    /// layout that `wkg oci push` writes (config `application/vnd.wasm.config.v0+json`, one
    /// `application/wasm` layer).
    pub fn push_wasm_package(&self, repo: &str, tag: &str, wasm: &[u8]) -> String {
        let config = serde_json::json!({
            "created": "2026-01-01T00:00:00Z",
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [sha256(wasm)],
            "component": { "exports": [], "imports": [] }
        })
        .to_string();
        let config_digest = self.upload_blob(repo, config.as_bytes());
        let layer_digest = self.upload_blob(repo, wasm);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "artifactType": "application/wasm",
            "config": {
                "mediaType": "application/vnd.wasm.config.v0+json",
                "digest": config_digest,
                "size": config.len()
            },
            "layers": [{
                "mediaType": "application/wasm",
                "digest": layer_digest,
                "size": wasm.len()
            }]
        })
        .to_string();
        let r = request(
            self.port,
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("content-type", MANIFEST_TYPE)],
            manifest.as_bytes(),
        )
        .expect("pushing a manifest");
        assert_eq!(r.status, 201, "PUT manifest: {}", r.text());
        layer_digest
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
