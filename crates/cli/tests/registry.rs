//! End-to-end packaging tests: `spindle build`, and `spindle registry push/pull/login` and
//! `spindle up --from` against a real OCI registry (Debian's `docker-registry`, installed by
//! `.ci/install-services.sh`), started here on a free port and stopped by PID.
//!
//! Manifests, configs and blobs are fetched from the registry's HTTP API with a plain HTTP
//! client and checked field by field against Spin's artifact layout.

mod support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::registry::{sha256, Registry};
use support::*;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LOCKED_TYPE: &str = "application/vnd.fermyon.spin.application.v1+config";
const WASM_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
const DATA_TYPE: &str = "application/vnd.wasm.content.layer.v1+data";
const ARCHIVE_TYPE: &str = "application/vnd.wasm.content.bundle.v1.tar+gzip";

/// Isolated environment for one test: cache dir, Docker config dir, working directory.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        for d in ["cache", "docker", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Env { dir }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = spindle_cmd();
        cmd.args(args)
            .current_dir(self.dir.path().join("work"))
            .env("DOCKER_CONFIG", self.docker_config())
            .env("HOME", self.dir.path())
            .env_remove("SPIN_OCI_ARCHIVE_LAYERS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs spindle to completion (bounded), feeding `stdin`.
    fn run_with(&self, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut cmd = self.cmd(args);
        cmd.stdin(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).unwrap();
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).unwrap();
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(300) {
                let _ = child.kill();
                panic!("spindle {args:?} did not exit within 300 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (
            status.code().unwrap_or(-1),
            out.join().unwrap(),
            err.join().unwrap(),
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_with(args, b"", &[])
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(
            code, 0,
            "spindle {args:?} failed:\nstdout:\n{out}\nstderr:\n{err}"
        );
        out
    }

    /// `spindle up --from <reference>` on a free port, waiting until it serves.
    fn up_from(&self, reference: &str) -> Up {
        let port = free_port();
        let log = self.dir.path().join(format!("up-{port}.log"));
        let child = self
            .cmd(&[
                "up",
                "--from",
                reference,
                "--cache-dir",
                self.cache().to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log-dir",
                self.dir.path().join("logs").to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let mut up = Up { child, port, log };
        let start = Instant::now();
        loop {
            if let Some(status) = up.child.try_wait().unwrap() {
                panic!("spindle up exited with {status}:\n{}", up.output());
            }
            if matches!(get(port, "/.well-known/spin/health"), Ok(r) if r.status == 200) {
                return up;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "spindle up did not serve within 180 s:\n{}",
                up.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every file under the cache directory.
    fn cached_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        walk(&e.path(), out);
                    } else {
                        out.push(e.path());
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.cache(), &mut out);
        out
    }

    fn cached_blob(&self, digest: &str) -> PathBuf {
        self.cache()
            .join("registry/blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }
}

struct Up {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Up {
    fn output(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default()
        )
    }

    fn get(&self, path: &str) -> Reply {
        get(self.port, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.output()))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn layer_types(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect()
}

fn layer_digests(manifest: &Value, media_type: &str) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["mediaType"] == media_type)
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Checks the manifest, config and locked-app layer against Spin's layout; returns the
/// locked app.
fn check_layout(reg: &Registry, repo: &str, manifest: &Value) -> Value {
    assert_eq!(manifest["schemaVersion"], 2);
    // Like Spin's (tests/fixtures/spin-4.0.2-push/manifest.json): no `mediaType` field.
    assert!(manifest.get("mediaType").is_none(), "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], CONFIG_TYPE);
    let layers = manifest["layers"].as_array().unwrap();
    for l in layers {
        let digest = l["digest"].as_str().unwrap();
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{l}");
        assert_eq!(
            l["size"].as_u64().unwrap() as usize,
            std::fs::metadata(reg.blob_file(digest)).unwrap().len() as usize
        );
    }
    // Identical layers are pushed once.
    let mut digests: Vec<_> = layers.iter().map(|l| l["digest"].clone()).collect();
    digests.sort_by_key(|d| d.to_string());
    digests.dedup();
    assert_eq!(
        digests.len(),
        layers.len(),
        "duplicate layers in {manifest:#}"
    );
    // The locked app is the last layer, exactly once.
    let locked_digests = layer_digests(manifest, LOCKED_TYPE);
    assert_eq!(locked_digests.len(), 1);
    assert_eq!(layers.last().unwrap()["mediaType"], LOCKED_TYPE);

    let config: Value =
        serde_json::from_slice(&reg.blob(repo, manifest["config"]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip1");
    assert_eq!(
        config["config"]["Labels"]["com.fermyon.spin.lockedAppDigest"],
        locked_digests[0].as_str()
    );
    assert_eq!(config["rootfs"]["type"], "layers");

    let locked: Value = serde_json::from_slice(&reg.blob(repo, &locked_digests[0])).unwrap();
    // Spin writes version 0 unless the app needs version 1's `must_understand`.
    let version = if locked.get("must_understand").is_some() {
        1
    } else {
        0
    };
    assert_eq!(locked["spin_lock_version"], version);
    assert!(
        locked["metadata"].get("origin").is_none(),
        "origin must be removed"
    );
    let wasm = layer_digests(manifest, WASM_TYPE);
    for c in locked["components"].as_array().unwrap() {
        let source = &c["source"];
        assert_eq!(source["content_type"], "application/wasm");
        assert!(source.get("source").is_none(), "{source}");
        assert!(wasm.contains(&source["digest"].as_str().unwrap().to_string()));
        for f in c["files"].as_array().into_iter().flatten() {
            assert!(f.get("source").is_none(), "{f}");
            let path = f["path"].as_str().unwrap();
            assert!(
                !path.starts_with('/'),
                "paths in artifacts are relative: {path}"
            );
            let digest = f["digest"].as_str().unwrap();
            if f.get("inline").is_some() {
                assert!(
                    !layers.iter().any(|l| l["digest"] == digest),
                    "inlined {path} pushed"
                );
            }
        }
    }
    let ann = &manifest["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.title"],
        locked["metadata"]["name"]
    );
    assert!(ann["org.opencontainers.image.created"]
        .as_str()
        .unwrap()
        .contains('T'));
    locked
}

fn multi_wasm(c: &str) -> PathBuf {
    let p = example(&format!(
        "multi/target/wasm32-wasip2/release/multi_{c}.wasm"
    ));
    require_built(&p);
    p
}

#[test]
fn push_pull_compare_and_up_from() {
    let wasms: Vec<_> = ["api", "static", "probe"].map(multi_wasm).to_vec();
    let reg = Registry::start(None);
    let env = Env::new();
    let reference = format!("{}/me/multi:v1", reg.addr());
    let manifest_path = example("multi/spin.toml");
    let out = env.ok(&[
        "registry",
        "push",
        "-f",
        manifest_path.to_str().unwrap(),
        &reference,
    ]);
    assert!(out.contains("Pushed with digest sha256:"), "{out}");

    // Layout, field by field.
    let manifest = reg.manifest("me/multi", "v1");
    let locked = check_layout(&reg, "me/multi", &manifest);
    let ann = &manifest["annotations"];
    assert_eq!(ann["org.opencontainers.image.title"], "multi");
    assert_eq!(ann["org.opencontainers.image.version"], "0.1.0");
    assert_eq!(
        ann["org.opencontainers.image.description"],
        "Several components, routes, static files, a redirect and a sandbox probe"
    );
    assert!(ann.get("org.opencontainers.image.authors").is_none());

    // Byte-for-byte: one wasm layer per component, one data layer per file over 128 bytes,
    // smaller files inline, each equal to its source file.
    let wasm_layers = layer_digests(&manifest, WASM_TYPE);
    assert_eq!(wasm_layers.len(), 3);
    for w in &wasms {
        let bytes = std::fs::read(w).unwrap();
        let digest = sha256(&bytes);
        assert!(wasm_layers.contains(&digest), "{} not pushed", w.display());
        assert_eq!(reg.blob("me/multi", &digest), bytes);
    }
    let assets = example("multi/assets");
    let static_files = locked["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "static")
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .clone();
    let mut expected_data = Vec::new();
    for rel in ["index.html", "style.css", "sub/dir/file.txt"] {
        let bytes = std::fs::read(assets.join(rel)).unwrap();
        let entry = static_files
            .iter()
            .find(|f| f["path"] == rel)
            .unwrap_or_else(|| panic!("{rel} missing from {static_files:#?}"));
        assert_eq!(entry["digest"], sha256(&bytes).as_str());
        if bytes.len() <= 128 {
            assert!(entry.get("inline").is_some(), "{rel} should be inline");
        } else {
            assert!(entry.get("inline").is_none(), "{rel} should be a layer");
            assert_eq!(reg.blob("me/multi", &sha256(&bytes)), bytes);
            expected_data.push(sha256(&bytes));
        }
    }
    let mut data_layers = layer_digests(&manifest, DATA_TYPE);
    data_layers.sort();
    expected_data.sort();
    assert_eq!(data_layers, expected_data);

    // Pull: every layer lands in the cache, byte-identical.
    let out = env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &reference,
    ]);
    assert!(out.contains("already cached"), "{out}");
    for w in &wasms {
        let bytes = std::fs::read(w).unwrap();
        assert_eq!(
            std::fs::read(env.cached_blob(&sha256(&bytes))).unwrap(),
            bytes
        );
    }
    for d in &expected_data {
        assert_eq!(
            std::fs::read(env.cached_blob(d)).unwrap(),
            reg.blob("me/multi", d)
        );
    }

    // A second pull downloads no blob.
    let before = reg.blob_gets("me/multi");
    let out = env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &reference,
    ]);
    assert!(out.contains("(0 blobs downloaded"), "{out}");
    assert_eq!(
        reg.blob_gets("me/multi"),
        before,
        "second pull fetched blobs"
    );

    // up --from runs the pulled app.
    let up = env.up_from(&reference);
    let r = up.get("/api/users");
    assert_eq!(r.status, 200, "{}", up.output());
    assert_eq!(r.json()["headers"]["spin-matched-route"], "/api/users");
    let r = up.get("/static/index.html");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, std::fs::read(assets.join("index.html")).unwrap());
    let r = up.get("/static/sub/dir/file.txt"); // inlined in the artifact
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        std::fs::read(assets.join("sub/dir/file.txt")).unwrap()
    );
    assert_eq!(up.get("/old").status, 302);
    assert!(
        up.output().contains("0 blobs downloaded"),
        "{}",
        up.output()
    );
}

#[test]
fn corrupt_blob_is_detected_and_nothing_is_cached() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let reg = Registry::start(None);
    let env = Env::new();
    let reference = format!("{}/me/hello:v1", reg.addr());
    let hello = example("hello-rust/spin.toml");
    env.ok(&[
        "registry",
        "push",
        "-f",
        hello.to_str().unwrap(),
        &reference,
    ]);

    let manifest = reg.manifest("me/hello", "v1");
    check_layout(&reg, "me/hello", &manifest);
    assert_eq!(
        layer_types(&manifest),
        [WASM_TYPE.to_string(), LOCKED_TYPE.to_string()]
    );
    let digest = layer_digests(&manifest, WASM_TYPE).remove(0);
    assert_eq!(digest, sha256(&std::fs::read(&wasm).unwrap()));

    // Flip one byte of the stored blob.
    let file = reg.blob_file(&digest);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let (code, out, err) = env.run(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &reference,
    ]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("layer 0") && err.contains(&digest) && err.contains("corrupt"),
        "the error must name the layer: {err}"
    );
    assert_eq!(env.cached_files(), Vec::<PathBuf>::new(), "{err}");

    // up --from fails the same way, and leaves nothing either.
    let (code, _, err) = env.run(&[
        "up",
        "--from",
        &reference,
        "--cache-dir",
        env.cache().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&digest), "{err}");
    assert_eq!(env.cached_files(), Vec::<PathBuf>::new());
}

/// An app serving its static files (multi's `static` component) with many files: some tiny
/// (inlined), some duplicated (one layer).
fn many_files_app(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let wasm = multi_wasm("static");
    std::fs::copy(&wasm, dir.join("static.wasm")).unwrap();
    std::fs::write(
        dir.join("spin.toml"),
        r#"spin_manifest_version = 2
[application]
name = "many-files"
version = "2.0.0"
authors = ["Ada <ada@example.com>", "Bob"]

[[trigger.http]]
route = "/static/..."
component = "static"

[component.static]
source = "static.wasm"
files = [{ source = "assets", destination = "/" }]
"#,
    )
    .unwrap();
    let mut files = Vec::new();
    for i in 0..12 {
        files.push((format!("unique/{i}.txt"), format!("{i:>1000}").into_bytes()));
    }
    files.push(("tiny/a.txt".into(), b"a".to_vec()));
    files.push(("tiny/exactly128.txt".into(), vec![b'x'; 128]));
    files.push(("tiny/just-over.txt".into(), vec![b'y'; 129]));
    files.push(("tiny/empty.txt".into(), Vec::new()));
    for i in 0..4 {
        files.push((format!("dup/{i}.bin"), vec![b'd'; 700]));
    }
    for (rel, bytes) in &files {
        let p = dir.join("assets").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files
}

#[test]
fn many_static_files_inlined_deduplicated_and_archived() {
    let reg = Registry::start(None);
    let env = Env::new();
    let app = env.dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let files = many_files_app(&app);
    let reference = format!("{}/me/many:v1", reg.addr());
    let manifest_path = app.join("spin.toml");
    env.ok(&[
        "registry",
        "push",
        "-f",
        manifest_path.to_str().unwrap(),
        &reference,
    ]);

    let manifest = reg.manifest("me/many", "v1");
    let locked = check_layout(&reg, "me/many", &manifest);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.authors"],
        "Ada <ada@example.com>, Bob"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.version"],
        "2.0.0"
    );
    // 12 unique + just-over + one for the four duplicates; tiny files are inlined.
    let data = layer_digests(&manifest, DATA_TYPE);
    assert_eq!(data.len(), 14, "{manifest:#}");
    assert_eq!(layer_digests(&manifest, WASM_TYPE).len(), 1);
    let entries = locked["components"][0]["files"].as_array().unwrap();
    assert_eq!(entries.len(), files.len());
    for (rel, bytes) in &files {
        let e = entries.iter().find(|e| e["path"] == rel.as_str()).unwrap();
        assert_eq!(e["digest"], sha256(bytes).as_str(), "{rel}");
        assert_eq!(e.get("inline").is_some(), bytes.len() <= 128, "{rel}");
        if bytes.len() > 128 {
            assert_eq!(reg.blob("me/many", &sha256(bytes)), *bytes, "{rel}");
        }
    }

    // The same app as archive layers (forced, as with Spin's SPIN_OCI_ARCHIVE_LAYERS).
    let archived = format!("{}/me/many:archived", reg.addr());
    let (code, out, err) = env.run_with(
        &[
            "registry",
            "push",
            "-f",
            manifest_path.to_str().unwrap(),
            &archived,
        ],
        b"",
        &[("SPIN_OCI_ARCHIVE_LAYERS", "1")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let manifest = reg.manifest("me/many", "archived");
    check_layout(&reg, "me/many", &manifest);
    assert_eq!(
        layer_types(&manifest),
        [WASM_TYPE, ARCHIVE_TYPE, LOCKED_TYPE].map(String::from)
    );

    // Both run from the registry and serve every file, tiny and duplicated ones included.
    for r in [&reference, &archived] {
        let up = env.up_from(r);
        for (rel, bytes) in &files {
            let reply = up.get(&format!("/static/{rel}"));
            assert_eq!(reply.status, 200, "{r} {rel}: {}", up.output());
            assert_eq!(reply.body, *bytes, "{r} {rel}");
        }
    }
}

#[test]
fn login_stores_docker_credentials_and_push_pull_use_them() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let reg = Registry::start(Some(("spindle-user", "s3cret")));
    let env = Env::new();
    let server = reg.addr();
    let reference = format!("{server}/me/hello:v1");
    let hello = example("hello-rust/spin.toml");
    let config_json = env.docker_config().join("config.json");

    // Without credentials: a 401 with the command to fix it.
    let (code, _, err) = env.run(&[
        "registry",
        "push",
        "-f",
        hello.to_str().unwrap(),
        &reference,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("401") && err.contains(&format!("spindle registry login {server}")),
        "{err}"
    );

    // A wrong password is refused and nothing is stored.
    let (code, _, err) = env.run_with(
        &[
            "registry",
            "login",
            &server,
            "-u",
            "spindle-user",
            "--password-stdin",
        ],
        b"wrong\n",
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rejected"), "{err}");
    assert!(!config_json.exists());

    // The right one is stored in Docker's format, mode 0600.
    let (code, out, err) = env.run_with(
        &[
            "registry",
            "login",
            &server,
            "-u",
            "spindle-user",
            "--password-stdin",
        ],
        b"s3cret\n",
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let config: Value = serde_json::from_slice(&std::fs::read(&config_json).unwrap()).unwrap();
    // base64("spindle-user:s3cret")
    assert_eq!(
        config["auths"][&server]["auth"],
        "c3BpbmRsZS11c2VyOnMzY3JldA=="
    );
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&config_json)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    env.ok(&[
        "registry",
        "push",
        "-f",
        hello.to_str().unwrap(),
        &reference,
    ]);
    let out = env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &reference,
    ]);
    assert!(out.contains("Pulled"), "{out}");
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(
        std::fs::read(env.cached_blob(&sha256(&bytes))).unwrap(),
        bytes
    );

    // Credentials written by `docker login` (other keys, username/password form) work too.
    std::fs::write(
        &config_json,
        format!(
            r#"{{"auths": {{"{server}": {{"auth": "c3BpbmRsZS11c2VyOnMzY3JldA=="}}}},
               "HttpHeaders": {{"User-Agent": "Docker-Client"}}}}"#
        ),
    )
    .unwrap();
    let other_cache = env.dir.path().join("cache2");
    env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        other_cache.to_str().unwrap(),
        &reference,
    ]);

    // Logout removes this server's credentials and keeps everything else; pulls are then
    // refused again.
    let out = env.ok(&["registry", "logout", &server]);
    assert!(
        out.contains(&format!("Removed the credentials for {server}")),
        "{out}"
    );
    let config: Value = serde_json::from_slice(&std::fs::read(&config_json).unwrap()).unwrap();
    assert!(config["auths"].get(&server).is_none(), "{config}");
    assert_eq!(config["HttpHeaders"]["User-Agent"], "Docker-Client");
    let (code, _, err) = env.run(&[
        "registry",
        "pull",
        "--cache-dir",
        env.dir.path().join("cache3").to_str().unwrap(),
        &reference,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    let out = env.ok(&["registry", "logout", &server]);
    assert!(out.contains("nothing to do"), "{out}");
    // Without -u and without a terminal to ask on, login says what to pass.
    let (code, _, err) = env.run(&["registry", "login", &server]);
    assert_ne!(code, 0);
    assert!(err.contains("pass -u USER"), "{err}");
}

fn build_app(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        r#"spin_manifest_version = 2
[application]
name = "builds"

[[trigger.http]]
route = "/..."
component = "one"

[[trigger.http]]
route = "/two/..."
component = "two"

[[trigger.http]]
route = "/three/..."
component = "three"

[component.one]
source = "sub/one.wasm"
[component.one.build]
command = "echo building && touch out.txt && echo to-stderr >&2"
workdir = "sub"

[component.two]
source = "two.wasm"
[component.two.build]
command = ["echo first", "exit 3", "touch never.txt"]

[component.three]
source = "three.wasm"
"#,
    )
    .unwrap();
    manifest
}

#[test]
fn build_runs_commands_streams_output_and_stops_at_first_failure() {
    let env = Env::new();
    let app = env.dir.path().join("app");
    let manifest = build_app(&app);
    let m = manifest.to_str().unwrap();

    let (code, out, err) = env.run(&["build", "-f", m, "-c", "one"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[one] building"), "{out}");
    assert!(err.contains("[one] to-stderr"), "{err}");
    assert!(
        app.join("sub/out.txt").exists(),
        "workdir is relative to the manifest"
    );
    assert!(!out.contains("[two]"), "{out}");

    let (code, out, err) = env.run(&["b", "-f", m]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("[two] first"), "{out}");
    assert!(
        err.contains("component `two`") && err.contains("exit code 3"),
        "the error must name the component and the exit code: {err}"
    );
    assert!(
        !app.join("never.txt").exists(),
        "the build must stop at the first failure"
    );

    let (code, _, err) = env.run(&["build", "-f", m, "-c", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no component `nope`") && err.contains("one, two, three"),
        "{err}"
    );
}

#[test]
fn up_build_builds_then_serves() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let env = Env::new();
    let app = env.dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("spin.toml"),
        format!(
            r#"spin_manifest_version = 2
[application]
name = "up-build"

[[trigger.http]]
route = "/hello/..."
component = "hello"

[component.hello]
source = "out/hello.wasm"
[component.hello.build]
command = "mkdir -p out && cp '{}' out/hello.wasm"
"#,
            wasm.display()
        ),
    )
    .unwrap();
    let s = Spindle::start(&app.join("spin.toml"), &["--build"]);
    assert!(app.join("out/hello.wasm").exists());
    let r = s.get("/hello");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert_eq!(r.text(), "Hello from Spindle! (Rust spin-sdk)\n");
    assert!(
        s.stdout().contains("Building component hello"),
        "{}",
        s.stdout()
    );
}

/// Uploads one blob with the registry's monolithic upload API.
fn upload_blob(reg: &Registry, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let start = agent
        .post(&format!("http://{}/v2/{repo}/blobs/uploads/", reg.addr()))
        .send_bytes(b"")
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.header("location").unwrap().to_string();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("http://{}{location}", reg.addr())
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let put = agent
        .put(&format!("{url}{sep}digest={digest}"))
        .set("content-type", "application/octet-stream")
        .send_bytes(bytes)
        .unwrap();
    assert_eq!(put.status(), 201);
    digest
}

#[test]
fn pulls_spin_1_artifacts_with_the_locked_app_as_config_and_wkg_wasm_layers() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let reg = Registry::start(None);
    let env = Env::new();
    let repo = "old/hello";
    let wasm_bytes = std::fs::read(&wasm).unwrap();
    let wasm_digest = upload_blob(&reg, repo, &wasm_bytes);
    // Spin 1.x: the locked app is the manifest's config; `application/wasm` is wkg's type.
    let locked = serde_json::json!({
        "spin_lock_version": 0,
        "metadata": {"name": "old-hello", "trigger": {"type": "http", "base": "/"}},
        "triggers": [{"id": "t", "trigger_type": "http",
            "trigger_config": {"route": "/hello/...", "component": "hello"}}],
        "components": [{"id": "hello",
            "source": {"content_type": "application/wasm", "digest": wasm_digest},
            "files": [{"inline": "aGkh", "path": "hi.txt"}]}]
    });
    let locked_bytes = serde_json::to_vec(&locked).unwrap();
    let config_digest = upload_blob(&reg, repo, &locked_bytes);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": LOCKED_TYPE, "digest": config_digest,
            "size": locked_bytes.len()},
        "layers": [{"mediaType": "application/wasm", "digest": wasm_digest,
            "size": wasm_bytes.len()}]
    });
    let r = ureq::put(&format!("http://{}/v2/{repo}/manifests/v1", reg.addr()))
        .set("content-type", MANIFEST_TYPE)
        .send_bytes(&serde_json::to_vec(&manifest).unwrap())
        .unwrap();
    assert_eq!(r.status(), 201);

    let reference = format!("{}/{repo}:v1", reg.addr());
    let up = env.up_from(&reference);
    let r = up.get("/hello");
    assert_eq!(r.status, 200, "{}", up.output());
    assert_eq!(r.text(), "Hello from Spindle! (Rust spin-sdk)\n");
    assert_eq!(
        std::fs::read(env.cached_blob(&wasm_digest)).unwrap(),
        wasm_bytes
    );
}

/// What real Spin 4.0.2 pushed (tests/fixtures/spin-4.0.2-push, see its README).
fn spin_fixture(name: &str) -> PathBuf {
    repo_root()
        .join("tests/fixtures/spin-4.0.2-push")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A locked app with its components' `files` sorted by path (Spin lists them in directory
/// order, which is not stable across filesystems).
fn files_sorted(mut locked: Value) -> Value {
    for component in locked["components"].as_array_mut().unwrap() {
        if let Some(files) = component["files"].as_array_mut() {
            files.sort_by_key(|f| f["path"].as_str().unwrap().to_string());
        }
    }
    locked
}

fn object_keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn runs_what_spin_pushed_and_pushes_what_spin_pushes() {
    let reg = Registry::start_from_storage(&spin_fixture("registry-storage.tar.gz"));
    let env = Env::new();
    let spin_repo = "interop/spin-pushed";
    let spin_manifest = reg.manifest(spin_repo, "v1");
    assert_eq!(spin_manifest, read_json(&spin_fixture("manifest.json")));
    let spin_locked = read_json(&spin_fixture("locked-app.json"));

    // 1. `spindle up --from` the app Spin pushed: the inlined files (unpadded base64) and the
    //    deduplicated data layer both reach the guest.
    {
        let up = env.up_from(&format!("{}/{spin_repo}:v1", reg.addr()));
        let r = up.get("/x/fs");
        assert_eq!(r.status, 200, "{}", up.output());
        let text = r.text();
        for needle in [
            "read /assets/hello.txt: ok",
            "hello from a file",
            "list /assets: ok",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        for file in ["big.bin", "dup.bin", "tiny.txt", "hello.txt"] {
            assert!(text.contains(file), "{file} missing from:\n{text}");
        }
    }

    // 2. The same app, pushed by Spindle, is what Spin pushed: same layers, same locked app,
    //    same config, same annotation keys.
    let app = env.dir.path().join("same-app");
    std::fs::create_dir_all(app.join("assets")).unwrap();
    std::fs::copy(spin_fixture("spin.toml"), app.join("spin.toml")).unwrap();
    let layer = |media_type: &str| layer_digests(&spin_manifest, media_type)[0].clone();
    std::fs::write(
        app.join("shape.wasm"),
        reg.blob(spin_repo, &layer(WASM_TYPE)),
    )
    .unwrap();
    let data = reg.blob(spin_repo, &layer(DATA_TYPE));
    std::fs::write(app.join("assets/big.bin"), &data).unwrap();
    std::fs::write(app.join("assets/dup.bin"), &data).unwrap();
    std::fs::write(app.join("assets/tiny.txt"), "tiny\n").unwrap();
    std::fs::write(app.join("assets/hello.txt"), "hello from a file\n").unwrap();
    let ours_repo = "interop/spindle-pushed";
    env.ok(&[
        "registry",
        "push",
        "-f",
        app.join("spin.toml").to_str().unwrap(),
        &format!("{}/{ours_repo}:v1", reg.addr()),
    ]);
    let ours = reg.manifest(ours_repo, "v1");

    // The manifest: the same keys, the same layers (media types, digests, sizes, order)
    // apart from the locked app's, the same annotations apart from the creation time.
    assert_eq!(object_keys(&ours), object_keys(&spin_manifest), "{ours:#}");
    assert_eq!(ours["schemaVersion"], spin_manifest["schemaVersion"]);
    assert_eq!(layer_types(&ours), layer_types(&spin_manifest));
    let layers = |m: &Value| -> Vec<Value> { m["layers"].as_array().unwrap().clone() };
    assert_eq!(layers(&ours).len(), layers(&spin_manifest).len());
    for (a, b) in layers(&ours).iter().zip(layers(&spin_manifest).iter()) {
        assert_eq!(object_keys(a), object_keys(b));
        if b["mediaType"] != LOCKED_TYPE {
            assert_eq!(a, b);
        }
    }
    assert_eq!(
        object_keys(&ours["config"]),
        object_keys(&spin_manifest["config"])
    );
    assert_eq!(
        ours["config"]["mediaType"],
        spin_manifest["config"]["mediaType"]
    );
    let mut our_annotations = ours["annotations"].clone();
    let mut spin_annotations = spin_manifest["annotations"].clone();
    let created = "org.opencontainers.image.created";
    assert!(our_annotations[created].as_str().unwrap().contains('T'));
    our_annotations.as_object_mut().unwrap().remove(created);
    spin_annotations.as_object_mut().unwrap().remove(created);
    assert_eq!(our_annotations, spin_annotations);

    // The locked app: identical JSON (files in path order).
    let our_locked: Value =
        serde_json::from_slice(&reg.blob(ours_repo, &layer_digests(&ours, LOCKED_TYPE)[0]))
            .unwrap();
    assert_eq!(
        files_sorted(our_locked.clone()),
        files_sorted(spin_locked.clone())
    );

    // The config: identical but for the locked app's digest it names.
    let mut our_config: Value =
        serde_json::from_slice(&reg.blob(ours_repo, ours["config"]["digest"].as_str().unwrap()))
            .unwrap();
    let label = "com.fermyon.spin.lockedAppDigest";
    assert_eq!(
        our_config["config"]["Labels"][label],
        layer_digests(&ours, LOCKED_TYPE)[0]
    );
    let mut spin_config = read_json(&spin_fixture("config.json"));
    our_config["config"]["Labels"][label] = Value::Null;
    spin_config["config"]["Labels"][label] = Value::Null;
    assert_eq!(our_config, spin_config);
}

#[test]
fn cached_apps_start_offline_and_malformed_references_are_explained() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let reg = Registry::start(None);
    let env = Env::new();
    let tag = format!("{}/me/offline:v1", reg.addr());
    let hello = example("hello-rust/spin.toml");
    let out = env.ok(&["registry", "push", "-f", hello.to_str().unwrap(), &tag]);
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {out}"))
        .to_string();
    let by_digest = format!("{}/me/offline@{digest}", reg.addr());
    env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &by_digest,
    ]);
    env.ok(&[
        "registry",
        "pull",
        "--cache-dir",
        env.cache().to_str().unwrap(),
        &tag,
    ]);
    // While the registry runs, a cached digest reference is not fetched again.
    let manifest_gets = |reg: &Registry| reg.log().matches("/manifests/").count();
    let before = manifest_gets(&reg);
    {
        let up = env.up_from(&by_digest);
        assert_eq!(up.get("/hello").status, 200);
        assert!(up.output().contains("from the cache"), "{}", up.output());
    }
    assert_eq!(manifest_gets(&reg), before, "{}", reg.log());

    // The registry is gone: the digest starts offline, the tag with a warning.
    drop(reg);
    {
        let up = env.up_from(&by_digest);
        assert_eq!(up.get("/hello").status, 200);
    }
    let up = env.up_from(&tag);
    assert_eq!(up.get("/hello").status, 200);
    let output = up.output();
    assert!(output.contains("cannot reach the registry"), "{output}");
    assert!(output.contains("pulled earlier"), "{output}");
    drop(up);

    // A reference without a registry host, or with capitals, is explained as a reference.
    for bad in ["MyOrg/Hello", "myorg/hello:v1"] {
        let (code, _, err) = env.run(&["up", "--from", bad]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("registry reference"), "{bad}: {err}");
        assert!(!err.contains("does not exist"), "{bad}: {err}");
    }
}
