//! The containerd shim (`containerd-shim-spindle-v2`) end to end, on a real containerd 1.7 with
//! a real registry: `spindle registry push` → `ctr image pull` → `ctr run --runtime
//! io.containerd.spindle.v2` → HTTP from the app, as a user does it. Needs root (containerd)
//! and `.ci/install-containerd.sh`.

mod support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::containerd::{Containerd, Task};
use support::registry::Registry;
use support::*;

/// An app with files (`/static`), a key-value store and a required variable (`/caps`), and
/// outbound HTTP to the host (`/fetch`).
fn test_app(dir: &Path) -> PathBuf {
    let assets = dir.join("assets");
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::copy(
        example("multi/assets/index.html"),
        assets.join("index.html"),
    )
    .unwrap();
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"spin_manifest_version = 2
[application]
name = "shim-test"
version = "1.0.0"

[variables]
api_token = {{ required = true }}

[[trigger.http]]
route = "/caps/..."
component = "caps"

[[trigger.http]]
route = "/static/..."
component = "static"

[[trigger.http]]
route = "/fetch/..."
component = "fetch"

[component.caps]
source = {caps:?}
key_value_stores = ["default"]
variables = {{ token = "{{{{ api_token }}}}" }}

[component.static]
source = {static_:?}
files = [{{ source = "assets", destination = "/" }}]

[component.fetch]
source = {fetch:?}
allowed_outbound_hosts = ["http://127.0.0.1:1024..65535"]
"#,
            caps = built("capabilities/target/wasm32-wasip2/release/capabilities.wasm"),
            static_ = built("multi/target/wasm32-wasip2/release/multi_static.wasm"),
            fetch = built("outbound/target/wasm32-wasip2/release/outbound_fetch.wasm"),
        ),
    )
    .unwrap();
    manifest
}

/// Waits until the app in a container answers on `port` (its health endpoint).
fn wait_serving(c: &Containerd, port: u16, task: &Task) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if get(port, "/.well-known/spin/health").is_ok_and(|r| r.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the container did not serve on port {port}\ncontainer output:\n{}\ncontainerd log:\n{}",
        task.output(),
        c.log()
    );
}

/// A server on 127.0.0.1 that answers one request after `delay`.
fn slow_upstream(delay: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        std::thread::sleep(delay);
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nslow");
    });
    (port, handle)
}

/// [`test_app`] pushed to a fresh registry and pulled into a fresh containerd: (its directory,
/// the registry, the image reference, containerd).
fn pushed_test_app() -> (tempfile::TempDir, Registry, String, Containerd) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = test_app(dir.path());
    let registry = Registry::start(None);
    let image = format!("{}/me/shim-test:v1", registry.addr());
    push(&manifest, &image);
    let c = Containerd::start();
    c.pull(&image);
    (dir, registry, image, c)
}

#[test]
fn a_pushed_app_runs_on_containerd_with_files_variables_and_state_per_container() {
    let (_dir, _registry, image, c) = pushed_test_app();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut task = c.run(
        &image,
        "app1",
        &[
            ("SPIN_HTTP_LISTEN_ADDR", &listen),
            ("SPIN_VARIABLE_API_TOKEN", "token-from-the-container-env"),
        ],
    );
    wait_serving(&c, port, &task);

    // Files from the image's data layers.
    let r = get(port, "/static/index.html").unwrap();
    assert_eq!(r.status, 200, "{}", task.output());
    assert_eq!(
        r.body,
        std::fs::read(example("multi/assets/index.html")).unwrap()
    );
    // A variable from the container's environment.
    let r = get(port, "/caps/var/token").unwrap();
    assert_eq!(
        r.text(),
        "token-from-the-container-env",
        "{}",
        task.output()
    );
    // A key-value write, read back.
    let r = request(port, "PUT", "/caps/kv/default/greeting", &[], b"hi there").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get(port, "/caps/kv/default/greeting").unwrap().text(),
        "hi there"
    );
    // What `spindle up` prints reaches the container's output.
    let output = task.output();
    assert!(
        output.contains(&format!("Serving http://{listen}")),
        "{output}"
    );
    assert!(
        c.log().matches("precompiling layers for image").count() == 1,
        "the first container compiles the image's components once:\n{}",
        c.log()
    );

    // A second container of the same image: its own state, and nothing compiled again.
    let port2 = free_port();
    let listen2 = format!("127.0.0.1:{port2}");
    let task2 = c.run(
        &image,
        "app2",
        &[
            ("SPIN_HTTP_LISTEN_ADDR", &listen2),
            ("SPIN_VARIABLE_API_TOKEN", "second"),
        ],
    );
    wait_serving(&c, port2, &task2);
    assert_eq!(get(port2, "/caps/kv/default/greeting").unwrap().status, 404);
    assert_eq!(get(port2, "/caps/var/token").unwrap().text(), "second");
    assert_eq!(
        c.log().matches("precompiling layers for image").count(),
        1,
        "the second container compiled again:\n{}",
        c.log()
    );

    // SIGTERM during a slow request: the request completes, the task exits 0.
    let (up_port, upstream) = slow_upstream(Duration::from_secs(2));
    let client =
        std::thread::spawn(move || get(port, &format!("/fetch/?url=http://127.0.0.1:{up_port}/")));
    std::thread::sleep(Duration::from_millis(700));
    c.ctr_ok(&["task", "kill", "app1"]);
    let r = client.join().unwrap().expect("the in-flight request");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), task.output());
    assert!(r.text().contains("slow"), "{}", r.text());
    upstream.join().unwrap();
    assert_eq!(
        task.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        task.output()
    );
    assert!(task.output().contains("Shutting down"), "{}", task.output());
    // The other container still serves; SIGKILL ends it and leaves no process behind.
    assert_eq!(get(port2, "/caps/var/token").unwrap().text(), "second");
    let mut task2 = task2;
    c.ctr_ok(&["task", "kill", "-s", "SIGKILL", "app2"]);
    assert_eq!(task2.wait_exit(Duration::from_secs(30)), Some(137));
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(SHIM_NAME) && c.contains(" -id app2 "))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(get(port2, "/caps/var/token").is_err());
}

const SHIM_NAME: &str = "containerd-shim-spindle-v2";

#[test]
fn a_start_up_error_is_in_the_task_output_and_exits_non_zero() {
    let (_dir, _registry, image, c) = pushed_test_app();
    // No SPIN_VARIABLE_API_TOKEN: the required variable is missing.
    let port = free_port();
    let mut task = c.run(
        &image,
        "broken",
        &[("SPIN_HTTP_LISTEN_ADDR", &format!("127.0.0.1:{port}"))],
    );
    let code = task.wait_exit(Duration::from_secs(60));
    let output = task.output();
    assert!(
        code.is_some_and(|c| c != 0),
        "exit {code:?}\n{output}\n{}",
        c.log()
    );
    assert!(output.contains("api_token"), "{output}");
}

#[test]
fn the_app_spin_pushed_runs_on_containerd() {
    let registry = Registry::start_from_storage(
        &repo_root().join("tests/fixtures/spin-4.0.2-push/registry-storage.tar.gz"),
    );
    let image = format!("{}/interop/spin-pushed:v1", registry.addr());
    let c = Containerd::start();
    c.pull(&image);
    let port = free_port();
    let task = c.run(
        &image,
        "spin-pushed",
        &[("SPIN_HTTP_LISTEN_ADDR", &format!("127.0.0.1:{port}"))],
    );
    wait_serving(&c, port, &task);
    let r = get(port, "/x/fs").unwrap();
    assert_eq!(r.status, 200, "{}", task.output());
    let text = r.text();
    for needle in [
        "read /assets/hello.txt: ok",
        "hello from a file",
        "big.bin",
        "dup.bin",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn node_install_adds_the_runtime_keeps_the_file_and_uninstall_restores_it_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let bin = dir.path().join("bin");
    // A containerd 1.x config with comments, odd spacing and other runtimes.
    let original = "# containerd config, hand-edited\nversion = 2\n\n[plugins]\n  \
                    [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"pause:3.9\"  # pinned\n    \
                    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n      \
                    runtime_type = \"io.containerd.runc.v2\"\n# trailing comment, no newline";
    std::fs::write(&config, original).unwrap();
    let install = |extra: &[&str]| {
        let mut args = vec![
            "node",
            "install",
            "--containerd-config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = run_spindle(&args, dir.path());
        assert_eq!(code, 0, "{out}\n{err}");
        out
    };
    let out = install(&[]);
    assert!(out.contains("Restart containerd"), "{out}");
    let installed = std::fs::read_to_string(&config).unwrap();
    assert!(installed.starts_with(original), "{installed}");
    assert!(
        installed.contains(
            "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.spindle]\n  \
             runtime_type = \"io.containerd.spindle.v2\""
        ),
        "{installed}"
    );
    let shim = bin.join("containerd-shim-spindle-v2");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(shim.metadata().unwrap().permissions().mode() & 0o111, 0o111);
    assert_eq!(
        std::fs::read(&shim).unwrap(),
        std::fs::read(repo_root().join("target/release/spindle")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.toml.spindle-backup")).unwrap(),
        original
    );
    // Idempotent: nothing changes the second time.
    let out = install(&["--restart-command", "echo restarted > restarted.txt"]);
    assert!(out.contains("Nothing to do"), "{out}");
    assert!(!dir.path().join("restarted.txt").exists());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), installed);
    // Uninstall: the file as it was, byte for byte; the binary gone; the restart command run.
    install(&[
        "--uninstall",
        "--restart-command",
        "echo restarted > restarted.txt",
    ]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    assert!(!shim.exists());
    assert!(dir.path().join("restarted.txt").exists());

    // A containerd 2.x config (version 3) gets the runtime under the 2.x CRI plugin.
    std::fs::write(&config, "version = 3\n").unwrap();
    install(&[]);
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.spindle]"));
    // A config that is not TOML is left alone, with the reason.
    std::fs::write(&config, "version = = 2\n").unwrap();
    let (code, _, err) = run_spindle(
        &[
            "node",
            "install",
            "--containerd-config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("is not valid TOML; nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "version = = 2\n");
}

/// An OCI image (a plain container image: one tar layer, `amd64` config) whose root filesystem
/// holds `/spin.toml` and the hello component, imported into `c` as `name`.
fn rootfs_image(c: &Containerd, dir: &Path, name: &str) {
    use sha2::Digest as _;
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::copy(
        built("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm"),
        rootfs.join("hello.wasm"),
    )
    .unwrap();
    std::fs::write(
        rootfs.join("spin.toml"),
        "spin_manifest_version = 2\n[application]\nname = \"in-rootfs\"\n[[trigger.http]]\n\
         route = \"/hello/...\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"hello.wasm\"\n",
    )
    .unwrap();
    let layout = dir.join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let layer = dir.join("layer.tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (ld, ls) = put(&std::fs::read(&layer).unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [ld] }
    })
    .to_string();
    let (cd, cs) = put(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls }]
    })
    .to_string();
    let (md, ms) = put(manifest.as_bytes());
    std::fs::write(
        layout.join("index.json"),
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": md, "size": ms,
                "annotations": { "io.containerd.image.name": name }
            }]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        "{\"imageLayoutVersion\":\"1.0.0\"}",
    )
    .unwrap();
    let tarball = dir.join("image.tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&tarball)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(status.success());
    c.ctr_ok(&["image", "import", tarball.to_str().unwrap()]);
}

#[test]
fn an_image_without_wasm_layers_runs_the_spin_toml_in_its_root_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let c = Containerd::start();
    let name = "docker.io/library/spin-in-rootfs:v1";
    rootfs_image(&c, dir.path(), name);
    let port = free_port();
    let task = c.run(
        name,
        "in-rootfs",
        &[("SPIN_HTTP_LISTEN_ADDR", &format!("127.0.0.1:{port}"))],
    );
    wait_serving(&c, port, &task);
    let r = get(port, "/hello").unwrap();
    assert_eq!(r.status, 200, "{}", task.output());
    assert!(
        task.output().contains("running /spin.toml"),
        "{}",
        task.output()
    );
}
