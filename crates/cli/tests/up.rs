//! End-to-end tests: the real `spindle` binary serving real guests (built by
//! `.ci/build-guests.sh` with the real Spin SDKs) over real HTTP on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn multi() -> std::path::PathBuf {
    for c in ["multi_api", "multi_static", "multi_probe"] {
        require_built(&example(&format!(
            "multi/target/wasm32-wasip2/release/{c}.wasm"
        )));
    }
    example("multi/spin.toml")
}

#[test]
fn rust_spin_sdk_hello() {
    require_built(&example(
        "hello-rust/target/wasm32-wasip2/release/hello_rust.wasm",
    ));
    let s = Spindle::start(&example("hello-rust/spin.toml"), &[]);
    let r = s.get("/hello");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert_eq!(r.text(), "Hello from Spindle! (Rust spin-sdk)\n");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // The wildcard route takes sub-paths; anything else is a 404 with an empty body.
    assert_eq!(s.get("/hello/world").status, 200);
    let r = s.get("/goodbye");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(s.stdout().contains("Serving http://127.0.0.1:"));
    assert!(s.stdout().contains("hello: http://127.0.0.1:"));
}

/// Spin 4.0.x's WASIp3: a spin-sdk 6 `#[http_service]` component exports
/// `wasi:http/handler@0.3.0-rc-2026-03-15` and imports the rc interfaces.
#[test]
fn rust_spin_sdk_6_wasip3_release_candidate() {
    let wasm = repo_root()
        .join("tests/guests/p3-rc-2026-03-15/target/wasm32-wasip2/release/p3_rc_2026_03_15.wasm");
    require_built(&wasm);
    let s = Spindle::start(
        &repo_root().join("tests/guests/p3-rc-2026-03-15/spin.toml"),
        &[],
    );
    for path in ["/", "/some/path?x=1"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{}", s.stderr());
        let want = format!("rc-2026-03-15 GET {}\n", path.split('?').next().unwrap());
        assert_eq!(r.text(), want);
        assert_eq!(r.header("x-sdk"), Some("spin-sdk-6"));
    }
    let r = request(s.port, "POST", "/posted", &[], b"body").unwrap();
    assert_eq!(r.text(), "rc-2026-03-15 POST /posted\n");
    // Nothing was stubbed: the rc imports are linked to the host's 0.3.0 implementation.
    assert!(
        !s.stderr().contains("does not provide yet"),
        "{}",
        s.stderr()
    );
}

#[test]
fn rust_spin_sdk_7_wasip3_hello() {
    require_built(&example(
        "hello-rust-p3/target/wasm32-wasip2/release/hello_rust_p3.wasm",
    ));
    let s = Spindle::start(&example("hello-rust-p3/spin.toml"), &[]);
    for _ in 0..3 {
        let r = s.get("/anything?x=1");
        assert_eq!(r.status, 200, "{}", s.stderr());
        assert!(
            r.text()
                .starts_with("Hello from Spindle! (Rust spin-sdk 7, WASIp3)"),
            "{}",
            r.text()
        );
    }
}

#[test]
fn wasip3_instances_are_reused_within_the_limits() {
    require_built(&example(
        "hello-rust-p3/target/wasm32-wasip2/release/hello_rust_p3.wasm",
    ));
    let manifest = example("hello-rust-p3/spin.toml");
    // The guest counts the requests its instance has served.
    let nth = |s: &Spindle| -> u64 {
        let r = s.get("/");
        assert_eq!(r.status, 200, "{}", s.stderr());
        r.header("x-instance-request")
            .expect("x-instance-request header")
            .parse()
            .unwrap()
    };
    // At most 3 requests per instance, then a fresh one.
    let s = Spindle::start(
        &manifest,
        &[
            "--max-instance-reuse-count",
            "3",
            "--idle-instance-timeout",
            "60s",
        ],
    );
    let seen: Vec<u64> = (0..7).map(|_| nth(&s)).collect();
    assert_eq!(seen, [1, 2, 3, 1, 2, 3, 1]);
    drop(s);
    // An instance idle for longer than the idle timeout is dropped; a busy one is kept.
    let s = Spindle::start(&manifest, &["--idle-instance-timeout", "2s"]);
    assert_eq!(nth(&s), 1);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(nth(&s), 2);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        nth(&s),
        3,
        "idle for less than the timeout: still the same instance"
    );
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        nth(&s),
        1,
        "idle for longer than the timeout: a fresh instance"
    );
    // Reuse count 1 is a fresh instance per request, as for WASIp2.
    drop(s);
    let s = Spindle::start(&manifest, &["--max-instance-reuse-count", "1"]);
    assert_eq!([nth(&s), nth(&s), nth(&s)], [1, 1, 1]);
}

#[test]
fn python_spin_sdk_hello() {
    require_built(&example("hello-python/app.wasm"));
    let s = Spindle::start(&example("hello-python/spin.toml"), &[]);
    let r = s.get("/py?x=1");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert!(
        r.text().contains("Hello from Spindle! (Python spin-sdk)"),
        "{}",
        r.text()
    );
}

#[test]
fn javascript_hello() {
    require_built(&example("hello-js/dist/app.wasm"));
    let s = Spindle::start(&example("hello-js/spin.toml"), &[]);
    let r = s.get("/js");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert!(
        r.text().contains("Hello from Spindle! (JavaScript)"),
        "{}",
        r.text()
    );
}

#[test]
fn routing_precedence_static_files_and_redirects() {
    let s = Spindle::start(&multi(), &[]);

    // Exact beats wildcard.
    let exact = s.get("/api/users").json();
    assert_eq!(exact["headers"]["spin-matched-route"], "/api/users");
    assert_eq!(exact["headers"]["spin-path-info"], "");

    // `:id` segment plus wildcard remainder.
    let param = s.get("/api/users/42/orders/7").json();
    assert_eq!(param["headers"]["spin-matched-route"], "/api/users/:id/...");
    assert_eq!(param["headers"]["spin-path-match-id"], "42");
    assert_eq!(param["headers"]["spin-path-info"], "/orders/7");

    // Static files mounted from assets/ at / in the static component.
    let index = s.get("/static/index.html");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.body,
        std::fs::read(example("multi/assets/index.html")).unwrap()
    );
    let nested = s.get("/static/sub/dir/file.txt");
    assert_eq!(nested.status, 200);
    assert_eq!(
        nested.body,
        std::fs::read(example("multi/assets/sub/dir/file.txt")).unwrap()
    );
    assert_eq!(s.get("/static/missing.html").status, 404);

    // static_response: no component involved.
    let redirect = s.get("/old");
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("/static/index.html"));

    // No route.
    assert_eq!(s.get("/nowhere").status, 404);
}

#[test]
fn every_injected_header() {
    let s = Spindle::start(&multi(), &[]);
    let r = s.request(
        "GET",
        "/echo/a/b?theme=pink",
        &[("Host", "example.com:8080"), ("x-custom", "kept")],
    );
    assert_eq!(r.status, 200, "{}", s.stderr());
    let doc = r.json();
    let h = &doc["headers"];
    assert_eq!(
        h["spin-full-url"],
        "http://example.com:8080/echo/a/b?theme=pink"
    );
    assert_eq!(h["spin-path-info"], "/a/b");
    assert_eq!(h["spin-matched-route"], "/echo/...");
    assert_eq!(h["spin-raw-component-route"], "/echo/...");
    assert_eq!(h["spin-component-route"], "/echo");
    assert_eq!(h["spin-base-path"], "/");
    let client = h["spin-client-addr"].as_str().unwrap();
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert!(client[10..].parse::<u16>().is_ok(), "{client}");
    assert_eq!(h["x-custom"], "kept");
    // The guest sees an absolute request URI, as in Spin.
    assert_eq!(doc["uri"], "http://example.com:8080/echo/a/b?theme=pink");
    assert_eq!(doc["method"], "GET");
}

#[test]
fn well_known_health_and_info() {
    let s = Spindle::start(&multi(), &[]);
    let health = s.get("/.well-known/spin/health");
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    let info = s.get("/.well-known/spin/info");
    assert_eq!(info.status, 200);
    assert_eq!(info.header("content-type"), Some("application/json"));
    let info = info.json();
    assert_eq!(info["name"], "multi");
    assert_eq!(info["version"], "0.1.0");
    assert_eq!(s.get("/.well-known/spin/other").status, 404);
}

#[test]
fn sandbox_env_and_files() {
    let s = Spindle::start_with_env(
        &multi(),
        &["-e", "FROM_FLAG=flag-value"],
        &[("SPINDLE_HOST_SECRET", "must-not-leak")],
    );
    // Granted: the manifest's `environment` and `-e`.
    let r = s.get("/probe/env/GREETING");
    assert_eq!((r.status, r.text().as_str()), (200, "hello-from-manifest"));
    assert_eq!(s.get("/probe/env/FROM_FLAG").text(), "flag-value");
    // Not granted: the host's environment.
    for name in ["SPINDLE_HOST_SECRET", "PATH", "HOME"] {
        let r = s.get(&format!("/probe/env/{name}"));
        assert_eq!((r.status, r.text().as_str()), (404, "unset"), "{name}");
    }
    // Not granted: host files, and the static component's files.
    for path in ["/etc/passwd", "/index.html", "/proc/self/environ"] {
        let r = s.get(&format!("/probe/file?path={path}"));
        assert_ne!(r.status, 200, "{path} was readable: {}", r.text());
    }
    // The static component can read its own files but nothing outside them.
    assert_eq!(s.get("/static/index.html").status, 200);
    assert_eq!(s.get("/static/../../etc/passwd").status, 404);
}

#[test]
fn guest_trap_is_a_500_and_the_server_keeps_serving() {
    let s = Spindle::start(&multi(), &[]);
    let r = s.get("/probe/panic");
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty(), "{}", r.text());
    assert!(
        s.wait_for_output("component `probe` failed handling GET /probe/panic"),
        "{}",
        s.stderr()
    );
    // The same component and others still work.
    assert_eq!(s.get("/probe/env/GREETING").status, 200);
    assert_eq!(s.get("/api/users").status, 200);
}

#[test]
fn infinite_loop_and_memory_bomb_fail_only_their_request() {
    let s = Spindle::start(
        &multi(),
        &[
            "--request-timeout",
            "2s",
            "--max-instance-memory",
            "134217728",
        ],
    );
    let start = Instant::now();
    let r = s.get("/probe/loop");
    assert_eq!(r.status, 500);
    assert!(start.elapsed() < Duration::from_secs(30));
    let r = s.get("/probe/alloc");
    assert_eq!(r.status, 500);
    assert_eq!(s.get("/probe/env/GREETING").status, 200);
    assert_eq!(s.get("/.well-known/spin/health").status, 200);
}

#[test]
fn guest_output_is_prefixed_and_logged() {
    let s = Spindle::start(&multi(), &[]);
    assert_eq!(s.get("/probe/stdout").status, 200);
    assert!(
        s.wait_for_output("[probe] probe says hello on stdout"),
        "stdout: {}",
        s.stdout()
    );
    assert!(s.wait_for_output("[probe] probe says hello on stderr"));
    let logged = std::fs::read_to_string(s.log_dir().join("probe_stdout.txt")).unwrap();
    assert!(logged.contains("probe says hello on stdout"), "{logged}");
    let logged = std::fs::read_to_string(s.log_dir().join("probe_stderr.txt")).unwrap();
    assert!(logged.contains("probe says hello on stderr"), "{logged}");
}

#[test]
fn port_in_use_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let manifest = multi();
    let (code, _out, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        &repo_root(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("--listen"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn app_with_source(dir: &std::path::Path, source_bytes: &[u8]) -> std::path::PathBuf {
    std::fs::write(dir.join("thing.wasm"), source_bytes).unwrap();
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"thing\"\n\n[component.thing]\nsource = \"thing.wasm\"\n",
    )
    .unwrap();
    manifest
}

#[test]
fn invalid_wasm_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = app_with_source(dir.path(), b"this is not wasm");
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("component `thing`"), "{err}");
    assert!(err.contains("not a WebAssembly binary"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn component_without_handler_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str("(component (core module))").unwrap();
    let manifest = app_with_source(dir.path(), &wasm);
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("component `thing`"), "{err}");
    assert!(err.contains("exports no HTTP handler"), "{err}");
}

#[test]
fn missing_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_spindle(&["up"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("or any of its parent directories"), "{err}");
    let (code, _, err) = run_spindle(&["up", "-f", "nope/spin.toml"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nope/spin.toml"), "{err}");
}

#[test]
fn manifest_errors_exit_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"thing\"\n\n[component.thing]\nsorce = \"thing.wasm\"\n",
    )
    .unwrap();
    let (code, _, err) = run_spindle(&["up", "-f", manifest.to_str().unwrap()], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spin.toml:10"), "{err}");
    assert!(err.contains("sorce"), "{err}");
}

#[test]
fn compiled_code_cache_is_written_then_reused() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let app = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&wasm).unwrap();
    let manifest = app_with_source(app.path(), &bytes);
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    let files = |dir: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| {
                    let e = e.unwrap();
                    (e.file_name(), e.metadata().unwrap().modified().unwrap())
                })
                .filter(|(name, _)| {
                    name.to_string_lossy().ends_with(".cwasm") || dir.ends_with("index")
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    // Entries are written in the background after the component is compiled, and joined at
    // shutdown: a graceful stop (SIGTERM) must leave them complete on disk.
    let run = || {
        let s = Spindle::start(&manifest, &["--compiled-cache-dir", cache_arg]);
        assert_eq!(s.get("/").status, 200, "{}", s.stderr());
        let stderr = s.stderr();
        assert!(
            s.stop(),
            "spindle did not exit cleanly on SIGTERM\n{stderr}"
        );
    };
    run();
    let first = files(cache.path());
    assert_eq!(first.len(), 1, "{first:?}");
    let index = files(&cache.path().join("index"));
    assert_eq!(index.len(), 1, "{index:?}");
    // Unchanged: served from the index, nothing rewritten.
    run();
    assert_eq!(files(cache.path()), first, "the cache entry was rewritten");
    assert_eq!(files(&cache.path().join("index")), index);
    // Rewritten with the same bytes (new mtime): a new index entry, the same compiled entry.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(app.path().join("thing.wasm"), &bytes).unwrap();
    run();
    assert_eq!(
        files(cache.path()),
        first,
        "same content must reuse the entry"
    );
    assert_eq!(files(&cache.path().join("index")).len(), 2);
    // Different content (a custom section appended): compiled again, a second entry.
    let mut changed = bytes.clone();
    changed.extend_from_slice(&[0, 6, 5, b'n', b'o', b't', b'e', b'!']);
    std::fs::write(app.path().join("thing.wasm"), &changed).unwrap();
    run();
    assert_eq!(files(cache.path()).len(), 2);
    assert_eq!(files(&cache.path().join("index")).len(), 3);
}

#[test]
fn core_module_with_component_metadata_is_componentized_on_load() {
    let dir = repo_root().join("tests/guests/core-hello");
    let wasm = dir.join("target/wasm32-unknown-unknown/release/core_hello.wasm");
    require_built(&wasm);
    // It really is a core module (version 1), not a component.
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(&bytes[..8], b"\0asm\x01\0\0\0");
    let s = Spindle::start(&dir.join("spin.toml"), &[]);
    let r = s.get("/core?x=1");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert_eq!(r.text(), "Hello from a core module! path=/core?x=1\n");
}

fn url_app(dir: &std::path::Path, url: &str, digest: &str) -> std::path::PathBuf {
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"remote\"\n\n[[trigger.http]]\nroute = \"/hello/...\"\ncomponent = \"hello\"\n\n[component.hello]\nsource = {{ url = \"{url}\", digest = \"{digest}\" }}\n"
        ),
    )
    .unwrap();
    manifest
}

#[test]
fn url_source_is_downloaded_verified_and_cached() {
    use sha2::Digest as _;
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let bytes = std::fs::read(&wasm).unwrap();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    let (url, served) = serve_file(bytes, 4);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let manifest = url_app(dir.path(), &url, &digest);
    let cache_arg = ["--cache-dir", cache.to_str().unwrap()];
    {
        let s = Spindle::start(&manifest, &cache_arg);
        let r = s.get("/hello");
        assert_eq!(r.status, 200, "{}", s.stderr());
        assert_eq!(r.text(), "Hello from Spindle! (Rust spin-sdk)\n");
    }
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(cache.join("registry/blobs/sha256").join(hex).is_file());
    // A second start uses the cached, verified copy: no download.
    {
        let s = Spindle::start(&manifest, &cache_arg);
        assert_eq!(s.get("/hello").status, 200);
    }
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn url_source_with_wrong_digest_is_refused() {
    let (url, _) = serve_file(b"\0asm\x01\0\0\0".to_vec(), 1);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wrong = format!("sha256:{}", "0".repeat(64));
    let manifest = url_app(dir.path(), &url, &wrong);
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("component `hello`"), "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(err.contains("nothing was cached"), "{err}");
    assert!(!cache
        .join("registry/blobs/sha256")
        .join("0".repeat(64))
        .exists());
}

#[test]
fn component_id_runs_only_the_selected_components() {
    let s = Spindle::start(&multi(), &["-c", "api"]);
    assert_eq!(s.get("/api/users").status, 200);
    assert_eq!(s.get("/static/index.html").status, 404);
    // Triggers without a component (static_response) stay.
    assert_eq!(s.get("/old").status, 302);
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            multi().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "-c",
            "nope",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--component-id `nope`"), "{err}");
    assert!(err.contains("api"), "{err}");
}

/// `curl` against the HTTPS listener, trusting only `ca`.
fn curl_https(ca: &std::path::Path, port: u16, path: &str) -> Option<(String, String)> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code} %{http_version}"])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl is installed by scripts/install-services.sh");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n')?;
    out.status
        .success()
        .then(|| (status.to_string(), body.to_string()))
}

#[test]
fn tls_listener_serves_https() {
    require_built(&example(
        "hello-rust/target/wasm32-wasip2/release/hello_rust.wasm",
    ));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-addext"])
        .arg("subjectAltName=IP:127.0.0.1,DNS:localhost")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed by scripts/install-services.sh");
    assert!(status.success());
    let port = free_port();
    let mut child = spindle_cmd()
        .args(["up", "-f"])
        .arg(example("hello-rust/spin.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--log-dir"])
        .arg(dir.path().join("logs"))
        .env("SPIN_TLS_CERT", &cert)
        .env("SPIN_TLS_KEY", &key)
        .stdout(std::fs::File::create(dir.path().join("out.txt")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.txt")).unwrap())
        .spawn()
        .unwrap();
    let mut reply = None;
    for _ in 0..600 {
        reply = curl_https(&cert, port, "/hello");
        if reply.is_some() || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A client that connects and never starts the TLS handshake is dropped after 10 s.
    let silent = if reply.is_some() {
        use std::io::Read as _;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let started = std::time::Instant::now();
        let read = stream.read(&mut [0u8; 16]);
        Some((read.map_err(|e| e.kind()), started.elapsed()))
    } else {
        None
    };
    let _ = child.kill();
    let _ = child.wait();
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    let (status, body) = reply.unwrap_or_else(|| panic!("no HTTPS answer\n{out}\n{err}"));
    let (read, waited) = silent.unwrap();
    assert_eq!(
        read,
        Ok(0),
        "the silent connection was not closed: {out}{err}"
    );
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(19),
        "closed after {waited:?}"
    );
    assert_eq!(body, "Hello from Spindle! (Rust spin-sdk)\n");
    // ALPN offers HTTP/2, which curl picks.
    assert_eq!(status, "200 2", "{out}{err}");
    assert!(
        out.contains(&format!("Serving https://127.0.0.1:{port}")),
        "{out}"
    );

    // A key that does not match the certificate is a one-line error.
    let other = dir.path().join("other.pem");
    assert!(std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&other)
        .arg("2048")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success());
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            example("hello-rust/spin.toml").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            other.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("TLS key does not fit"), "{err}");
}

#[test]
fn legacy_fermyon_spin_inbound_http_component() {
    // A component exporting Spin 1.x's `fermyon:spin/inbound-http` (built with wit-bindgen).
    let dir = repo_root().join("tests/guests/legacy-http");
    require_built(&dir.join("target/wasm32-wasip2/release/legacy_http.wasm"));
    let s = Spindle::start(&dir.join("spin.toml"), &[]);
    let r = request(
        s.port,
        "POST",
        "/legacy/echo?abc=def",
        &[("x-custom", "bar")],
        b"payload",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let text = r.text();
    assert!(text.contains("method=Method::Post\n"), "{text}");
    assert!(text.contains("uri=/legacy/echo?abc=def\n"), "{text}");
    assert!(text.contains("params=[]\n"), "{text}");
    assert!(text.contains("matched=/legacy/...\n"), "{text}");
    assert!(
        text.contains(&format!(
            "full-url=http://127.0.0.1:{}/legacy/echo?abc=def\n",
            s.port
        )),
        "{text}"
    );
    assert!(text.contains("x-custom=bar\n"), "{text}");
    assert!(text.contains("body=payload\n"), "{text}");
    // Status and headers from the guest, no body.
    let r = s.get("/legacy/other");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-legacy"), Some("yes"));
    // A method the old interface cannot express never reaches the guest.
    assert_eq!(s.request("TRACE", "/legacy/echo", &[]).status, 405);
    // A panic is a 500 for that request only.
    let r = s.get("/legacy/trap");
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty());
    assert_eq!(s.get("/legacy/echo").status, 200);
}

#[test]
fn wasi_http_rc_2023_11_10_component() {
    // A componentize-py 0.7.1 guest on the WASI 0.2.0-rc-2023-11-10 snapshot: it exports the rc
    // incoming-handler and imports the rc io/clocks/random/cli/filesystem/sockets/http.
    let dir = repo_root().join("tests/guests/rc-2023-11-10");
    require_built(&dir.join("app.wasm"));
    let s = Spindle::start(&dir.join("spin.toml"), &[]);
    let r = s.request("GET", "/rc/some/path?x=1", &[("x-custom", "bar")]);
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text(),
        "hello from rc-2023-11-10 /rc/some/path?x=1 bar\n",
        "{}",
        s.stderr()
    );
    // An exception in the guest is a 500 for that request only.
    let r = s.get("/rc/trap");
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty());
    assert_eq!(s.get("/rc/again").status, 200);
}

#[test]
fn files_are_read_only_unless_transient_writes_are_allowed() {
    let original = std::fs::read_to_string(example("multi/probe-files/note.txt")).unwrap();
    let write = "/probe/write?path=/data/note.txt&data=changed";
    {
        let s = Spindle::start(&multi(), &[]);
        assert_eq!(s.get("/probe/file?path=/data/note.txt").text(), original);
        let r = s.get(write);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(s.get("/probe/file?path=/data/note.txt").text(), original);
    }
    // --allow-transient-write, with the files staged under --temp.
    let temp = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &multi(),
        &[
            "--allow-transient-write",
            "--temp",
            temp.path().to_str().unwrap(),
        ],
    );
    let r = s.get(write);
    assert_eq!((r.status, r.text().as_str()), (200, "written"));
    assert_eq!(s.get("/probe/file?path=/data/note.txt").text(), "changed");
    // The staged copy changed; the app's own file did not.
    let staged: Vec<_> = std::fs::read_dir(temp.path()).unwrap().collect();
    assert_eq!(staged.len(), 1, "one staging directory inside --temp");
    assert_eq!(
        std::fs::read_to_string(example("multi/probe-files/note.txt")).unwrap(),
        original
    );
}

#[test]
fn follow_limits_console_output_to_the_named_components() {
    let s = Spindle::start(&multi(), &["--follow", "api"]);
    assert_eq!(s.get("/probe/stdout").status, 200);
    // Still logged to the probe's files, but not shown on the console.
    let log = s.log_dir().join("probe_stdout.txt");
    for _ in 0..50 {
        if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("probe says hello")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("probe says hello on stdout"));
    assert!(!s.stdout().contains("probe says hello"), "{}", s.stdout());
    assert!(!s.stderr().contains("probe says hello"), "{}", s.stderr());
}

#[test]
fn log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    // `--follow` of an unknown component logs a warning; stderr is a file here.
    let s = Spindle::start(&multi(), &["--follow", "nobody"]);
    assert!(s.wait_for_output("the app has no component `nobody`"));
    assert!(!s.stderr().contains('\u{1b}'), "{:?}", s.stderr());
}

#[test]
fn up_in_a_subdirectory_finds_the_manifest_and_listen_resolves_host_names() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let app = tempfile::tempdir().unwrap();
    let manifest = app_with_source(app.path(), &std::fs::read(&wasm).unwrap());
    let sub = manifest.parent().unwrap().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let port = free_port();
    let log = app.path().join("up.log");
    let mut child = spindle_cmd()
        .args(["up", "--listen", &format!("localhost:{port}")])
        .current_dir(&sub)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let mut reply = None;
    for _ in 0..600 {
        if let Ok(r) = get(port, "/") {
            reply = Some(r);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let err = std::fs::read_to_string(log.with_extension("err")).unwrap();
    let reply = reply.unwrap_or_else(|| panic!("no answer on localhost:{port}\n{err}"));
    assert_eq!(reply.status, 200, "{err}");
    assert!(err.contains("from a parent directory"), "{err}");
    // A name that does not resolve is a one-line error naming it.
    let (code, _, err) = run_spindle(&["up", "--listen", "no-such-host.invalid:3000"], &sub);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-host.invalid"), "{err}");
}

#[test]
fn unknown_and_unsupported_trigger_types_are_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thing.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let manifest = dir.path().join("spin.toml");
    let write = |trigger: &str| {
        std::fs::write(
            &manifest,
            format!(
                "spin_manifest_version = 2\n[application]\nname = \"t\"\n\n[[trigger.http]]\n\
                 route = \"/...\"\ncomponent = \"thing\"\n\n{trigger}\ncomponent = \"thing\"\n\n\
                 [component.thing]\nsource = \"thing.wasm\"\n"
            ),
        )
        .unwrap();
    };
    write("[[trigger.htpp]]\nroute = \"/x\"");
    let (code, _, err) = run_spindle(&["up"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown trigger type `htpp`"), "{err}");
    assert!(err.contains("did you mean `http`?"), "{err}");
    assert!(err.contains("spin.toml:9"), "{err}");
    write("[[trigger.redis]]\nchannel = \"messages\"");
    let (code, _, err) = run_spindle(&["up"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Spindle cannot run `[[trigger.redis]]` triggers"),
        "{err}"
    );
}

#[test]
fn format_json_prints_the_routes_as_one_document() {
    require_built(&example(
        "multi/target/wasm32-wasip2/release/multi_api.wasm",
    ));
    let s = Spindle::start(&example("multi/spin.toml"), &["--format", "json"]);
    let stdout = s.stdout();
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["base_url"], format!("http://127.0.0.1:{}", s.port));
    let routes = doc["routes"].as_array().unwrap();
    assert!(!routes.is_empty());
    for r in routes {
        assert!(
            r["id"].is_string() && r["route"].is_string() && r["wildcard"].is_boolean(),
            "{r}"
        );
    }
    assert!(routes.iter().any(|r| r["wildcard"] == true), "{doc}");
    // The log-location line moved to stderr.
    assert!(s.stderr().contains("Logging component stdio to"));
    // Plain (the default) is unchanged.
    let plain = Spindle::start(&example("multi/spin.toml"), &[]);
    assert!(
        plain.stdout().contains("Available Routes:"),
        "{}",
        plain.stdout()
    );
}

#[test]
fn cache_file_sets_the_compiled_code_directory_or_turns_it_off() {
    let wasm = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&wasm);
    let dir = tempfile::tempdir().unwrap();
    let cache_file = dir.path().join("cache.toml");
    std::fs::write(
        &cache_file,
        "[cache]\ndirectory = \"compiled\"\ncleanup-interval = \"1h\"\n",
    )
    .unwrap();
    let s = Spindle::start(
        &example("hello-rust/spin.toml"),
        &["--cache", cache_file.to_str().unwrap()],
    );
    assert_eq!(s.get("/hello").status, 200);
    assert!(
        s.wait_for_output("`cleanup-interval` tunes wasmtime's own cache"),
        "{}",
        s.stderr()
    );
    assert!(s.stop());
    let entries = std::fs::read_dir(dir.path().join("compiled"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        entries, 1,
        "the relative directory is next to the cache file"
    );

    // `enabled = false`: nothing is written.
    let off = tempfile::tempdir().unwrap();
    std::fs::write(
        off.path().join("cache.toml"),
        "[cache]\nenabled = false\ndirectory = \"compiled\"\n",
    )
    .unwrap();
    let s = Spindle::start(
        &example("hello-rust/spin.toml"),
        &["--cache", off.path().join("cache.toml").to_str().unwrap()],
    );
    assert_eq!(s.get("/hello").status, 200);
    assert!(s.stop());
    assert!(!off.path().join("compiled").exists());

    // A typo is an error naming the file.
    std::fs::write(&cache_file, "[cache]\ndirectroy = \"x\"\n").unwrap();
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            example("hello-rust/spin.toml").to_str().unwrap(),
            "--cache",
            cache_file.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("unknown key `directroy`") && err.contains("cache.toml"),
        "{err}"
    );
}

/// Spin 4 build profiles: `--profile NAME` applies `[component.<id>.profile.<NAME>]` (source,
/// environment, build command) for `up` and `build`; `build` records the profile it built and
/// `up` warns when another one was built more recently.
#[test]
fn build_profiles_switch_source_environment_and_build_command() {
    let hello = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    let probe = example("multi/target/wasm32-wasip2/release/multi_probe.wasm");
    require_built(&hello);
    require_built(&probe);
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_app(
        dir.path(),
        "profiles",
        "/...",
        "app",
        &hello,
        &format!(
            r#"environment = {{ MODE = "release", KEPT = "base" }}
[component.app.build]
command = "echo release > built.txt"

[component.app.profile.debug]
source = {probe:?}
environment = {{ MODE = "debug" }}
[component.app.profile.debug.build]
command = "echo debug > built.txt"
"#
        ),
    );

    // The default profile: the hello component.
    let s = Spindle::start(&manifest, &[]);
    assert!(s.get("/hello").text().contains("Hello"), "{}", s.stderr());
    s.stop();

    // --profile debug: the probe, with the profile's environment merged over the base.
    let s = Spindle::start(&manifest, &["--profile", "debug"]);
    assert_eq!(s.get("/env/MODE").text(), "debug");
    assert_eq!(s.get("/env/KEPT").text(), "base");
    s.stop();

    // `build --profile debug` runs the profile's command and records it.
    let (code, out, err) = run_spindle(
        &[
            "build",
            "-f",
            manifest.to_str().unwrap(),
            "--profile",
            "debug",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("built.txt"))
            .unwrap()
            .trim(),
        "debug"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".spin/last-build.txt")).unwrap(),
        "debug"
    );
    // `up` without the profile warns that another one was built more recently.
    let s = Spindle::start(&manifest, &[]);
    assert!(
        s.wait_for_output("you built profile `debug` more recently than the default profile"),
        "{}",
        s.stderr()
    );
    s.stop();

    // A profile no component defines: a warning with the profiles there are.
    let s = Spindle::start(&manifest, &["--profile", "debgu"]);
    assert!(
        s.wait_for_output("no component defines the build profile `debgu`"),
        "{}",
        s.stderr()
    );
    assert!(
        s.stderr().contains("did you mean `debug`?"),
        "{}",
        s.stderr()
    );
    assert!(s.get("/hello").text().contains("Hello"));
}
