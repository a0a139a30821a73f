//! Test support: start the real `spindle` binary on 127.0.0.1 and talk HTTP to it.

#![allow(dead_code)]

pub mod containerd;
pub mod kubernetes;
pub mod registry;

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A path under `examples/`, which must have been built by `.ci/build-guests.sh`.
pub fn example(rel: &str) -> PathBuf {
    repo_root().join("examples").join(rel)
}

/// Fails the test (never skips) when a guest has not been built.
pub fn require_built(wasm: &Path) {
    assert!(
        wasm.exists(),
        "guest {} is missing: run `bash .ci/build-guests.sh` before `cargo test`",
        wasm.display()
    );
}

/// `examples/REL`, which must have been built.
pub fn built(rel: &str) -> PathBuf {
    let path = example(rel);
    require_built(&path);
    path
}

/// `spindle registry push -f MANIFEST REFERENCE` (must succeed).
pub fn push(manifest: &Path, reference: &str) {
    let (code, out, err) = run_spindle(
        &[
            "registry",
            "push",
            "-f",
            manifest.to_str().unwrap(),
            reference,
        ],
        manifest.parent().unwrap(),
    );
    assert_eq!(code, 0, "push {reference}: {out}\n{err}");
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `spindle up`, stopped (by PID) when dropped.
pub struct Spindle {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Spindle {
    /// Starts `spindle up -f manifest --listen 127.0.0.1:<free>` plus `extra` args and waits
    /// until the health endpoint answers. Uses a private compiled-code cache shared by the tests.
    pub fn start(manifest: &Path, extra: &[&str]) -> Spindle {
        Self::start_with_env(manifest, extra, &[])
    }

    pub fn start_with_env(manifest: &Path, extra: &[&str], env: &[(&str, &str)]) -> Spindle {
        Self::spawn(manifest, extra, env, true)
    }

    /// [`Spindle::start_with_env`] without `--log-dir`: logs go where spindle puts them.
    pub fn start_default_logs(manifest: &Path, extra: &[&str], env: &[(&str, &str)]) -> Spindle {
        Self::spawn(manifest, extra, env, false)
    }

    fn spawn(manifest: &Path, extra: &[&str], env: &[(&str, &str)], log_dir: bool) -> Spindle {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = spindle_cmd();
        cmd.arg("up")
            .arg("-f")
            .arg(manifest)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        if log_dir {
            cmd.arg("--log-dir").arg(dir.path().join("logs"));
        }
        cmd.args(extra)
            .stdout(std::fs::File::create(dir.path().join("stdout.txt")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.txt")).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting spindle");
        let mut s = Spindle { child, port, dir };
        s.wait_ready(Duration::from_secs(180));
        s
    }

    fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "spindle exited early with {status}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            if let Ok(r) = get(self.port, "/.well-known/spin/health") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "spindle did not become ready in {limit:?}\nstderr:\n{}",
            self.stderr()
        );
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.txt")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    pub fn get(&self, path: &str) -> Reply {
        get(self.port, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.stderr()))
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(self.port, method, path, headers, b"")
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.stderr()))
    }

    /// Waits (bounded) until `needle` shows up in the console output (stdout or stderr).
    pub fn wait_for_output(&self, needle: &str) -> bool {
        for _ in 0..50 {
            if self.stdout().contains(needle) || self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Spindle {
    /// Stops the server the way a user or kubelet does (SIGTERM), waits (bounded) for it to
    /// exit and returns whether it exited cleanly. Work the server finishes at shutdown (such
    /// as compiled-code cache writes) is complete when this returns.
    pub fn stop(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(sent, "could not send SIGTERM to spindle");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "spindle did not exit within 60 s of SIGTERM\n{}",
            self.stderr()
        );
    }
}

impl Drop for Spindle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `spindle` binary under test, with a compiled-code cache private to the test run.
pub fn spindle_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spindle"));
    let cache = repo_root().join("target").join("test-compiled-cache");
    cmd.env("SPINDLE_COMPILED_CACHE_DIR", cache)
        .env_remove("SPIN_HTTP_LISTEN_ADDR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs `spindle` to completion (for commands expected to fail fast), with a time limit.
pub fn run_spindle(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let mut child = spindle_cmd()
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("spindle {args:?} did not exit within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub fn get(port: u16, path: &str) -> Result<Reply, String> {
    request(port, "GET", path, &[], b"")
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (no redirects followed), with a 60 s timeout.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    request_to(
        &format!("http://127.0.0.1:{port}"),
        method,
        path,
        headers,
        body,
    )
}

/// One HTTP/1.1 request to `base` (`http://host:port`), as [`request`].
pub fn request_to(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(60))
        .build();
    let mut req = agent.request(method, &format!("{base}{path}"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            resp.all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .take(64 << 20)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Sends `head` (a raw HTTP/1.x request head, without the final blank line) on a fresh
/// connection with `Connection: close` and returns the status code and the whole response.
pub fn raw_request(port: u16, head: &str) -> (u16, String) {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Serves `body` over HTTP on 127.0.0.1 for up to `requests` connections; returns the URL and
/// a counter of requests served.
pub fn serve_file(
    body: Vec<u8>,
    requests: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hello.wasm", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for _ in 0..requests {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, served)
}

/// Writes `dir/spin.toml`: app `name`, one HTTP trigger from `route` to component `id` with
/// `source`, then `rest` (the component's own keys first, then any further tables). The first
/// line of `rest` is line 12 of the file. Returns the manifest's path.
pub fn write_app(
    dir: &Path,
    name: &str,
    route: &str,
    id: &str,
    source: &Path,
    rest: &str,
) -> PathBuf {
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n\n[application]\nname = \"{name}\"\n\n\
             [[trigger.http]]\nroute = \"{route}\"\ncomponent = \"{id}\"\n\n\
             [component.{id}]\nsource = {source:?}\n{rest}"
        ),
    )
    .unwrap();
    manifest
}
