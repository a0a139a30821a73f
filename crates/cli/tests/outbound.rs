//! End-to-end tests of outbound HTTP (`allowed_outbound_hosts`), service chaining to a private
//! component, `self` requests and the Wagi executor: the real `spindle` binary serving the
//! guests of `examples/outbound` (built by `.ci/build-guests.sh`) over real HTTP on 127.0.0.1,
//! and `wasi:sockets` TCP/UDP from the `sockets` component to local echo servers.

mod support;

use std::io::Read as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use support::*;

fn outbound_app() -> std::path::PathBuf {
    for wasm in [
        "outbound/target/wasm32-wasip2/release/outbound_fetch.wasm",
        "outbound/target/wasm32-wasip2/release/outbound_private.wasm",
        "outbound/target/wasm32-wasip2/release/outbound_sockets.wasm",
        "outbound/target/wasm32-wasip2/release/outbound_wagi.wasm",
        "outbound/target/wasm32-wasip1/release/outbound_wagi.wasm",
    ] {
        require_built(&example(wasm));
    }
    example("outbound/spin.toml")
}

/// Percent-encodes a URL for use as a query parameter value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A one-shot HTTP server on 127.0.0.1: answers up to `max` requests with a fixed response and
/// reports each request head it read. The thread ends after `max` requests or 60 s idle.
fn upstream(max: usize) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        let start = std::time::Instant::now();
        while served < max && start.elapsed() < Duration::from_secs(60) {
            let (stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let body = "hello from upstream";
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tx.send(head);
            served += 1;
        }
    });
    (port, rx)
}

#[test]
fn allowed_request_reaches_a_local_server() {
    let (port, heads) = upstream(1);
    let s = Spindle::start(&outbound_app(), &[]);
    let url = format!("http://127.0.0.1:{port}/some/path?x=1");
    let r = s.get(&format!("/fetch?url={}", encode(&url)));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "upstream 200\nhello from upstream");
    let head = heads.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        head.starts_with("GET /some/path?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("x-from-fetch: yes"),
        "{head}"
    );
}

#[test]
fn denied_request_fails_with_http_request_denied_and_a_hint() {
    let s = Spindle::start(&outbound_app(), &[]);
    // `localhost` is not `127.0.0.1`: not granted.
    let r = s.get(&format!(
        "/fetch?url={}",
        encode("http://localhost:8081/x?secret=1")
    ));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
    let hint = "help: add \"http://localhost:8081\" to allowed_outbound_hosts of component `fetch`";
    assert!(s.wait_for_output(hint), "{}", s.stderr());
    assert!(s
        .stderr()
        .contains("component `fetch` was denied an outbound request to http://localhost:8081/x"));
    assert!(
        !s.stderr().contains("secret=1"),
        "queries stay out of the log"
    );

    // A port outside the granted range (1024..65535): the hint drops the default port.
    let r = s.get(&format!("/fetch?url={}", encode("http://127.0.0.1/")));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s.wait_for_output(
        "help: add \"http://127.0.0.1\" to allowed_outbound_hosts of component `fetch`"
    ));

    // HTTPS is a different scheme.
    let r = s.get(&format!("/fetch?url={}", encode("https://127.0.0.1:8443/")));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s.wait_for_output("help: add \"https://127.0.0.1:8443\""));
}

#[test]
fn service_chaining_reaches_the_private_component_in_memory() {
    let s = Spindle::start(&outbound_app(), &[]);
    let url = "http://private.spin.internal/items/3?color=red";
    let r = s.get(&format!("/fetch?url={}", encode(url)));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    let text = r.text();
    let json = text.strip_prefix("upstream 200\n").expect(&text);
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(doc["component"], "private");
    assert_eq!(doc["method"], "GET");
    let headers = &doc["headers"];
    assert_eq!(headers["spin-full-url"], url);
    assert_eq!(headers["spin-path-info"], "/items/3");
    assert_eq!(headers["spin-matched-route"], "/...");
    assert_eq!(headers["x-from-fetch"], "yes");
    assert!(headers.get("host").is_none(), "{headers}");

    // The private route is not reachable from outside.
    for path in ["/private", "/items/3", "/"] {
        assert_eq!(s.get(path).status, 404, "{path}");
    }

    // Chaining to a component the fetch component was not granted is denied.
    let r = s.get(&format!(
        "/fetch?url={}",
        encode("http://wagi.spin.internal/")
    ));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s.wait_for_output(
        "help: add \"http://wagi.spin.internal\" to allowed_outbound_hosts of component `fetch`"
    ));
}

#[test]
fn self_requests_go_through_the_app_router() {
    let s = Spindle::start(&outbound_app(), &[]);
    let r = s.get(&format!(
        "/fetch?url={}",
        encode("http://self/wagi/from-self?status=202")
    ));
    assert_eq!(r.status, 202, "{}\n{}", r.text(), s.stderr());
    assert!(r.text().starts_with("upstream 202\n"), "{}", r.text());
    assert!(r.text().contains("PATH_INFO=/from-self\n"), "{}", r.text());
}

#[test]
fn relative_urls_go_through_the_app_router_when_self_is_allowed() {
    let s = Spindle::start(&outbound_app(), &[]);
    // The Rust SDK sends a relative URL with a placeholder authority and wasmtime's default
    // scheme (https); `http://self` allows it, as in Spin.
    for url in [
        "/wagi/relative?status=203",
        "http://self.alt/wagi/relative?status=203",
    ] {
        let r = s.get(&format!("/fetch?url={}", encode(url)));
        assert_eq!(r.status, 203, "{url}: {}\n{}", r.text(), s.stderr());
        assert!(r.text().contains("PATH_INFO=/relative\n"), "{}", r.text());
    }
    // Without a self entry, the same request is denied.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"no-self\"\n\
             [[trigger.http]]\nroute = \"/fetch/...\"\ncomponent = \"fetch\"\n\
             [component.fetch]\nsource = {:?}\nallowed_outbound_hosts = [\"http://127.0.0.1:1\"]\n",
            example("outbound/target/wasm32-wasip2/release/outbound_fetch.wasm")
                .to_str()
                .unwrap()
        ),
    )
    .unwrap();
    let s = Spindle::start(&manifest, &[]);
    let r = s.get(&format!("/fetch?url={}", encode("/wagi/relative")));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s.wait_for_output(
        "help: add \"http://self\" to allowed_outbound_hosts of component `fetch`"
    ));
}

#[test]
fn invalid_allowed_outbound_hosts_entry_fails_start() {
    outbound_app();
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("outbound/target/wasm32-wasip2/release/outbound_fetch.wasm");
    let manifest = write_app(
        dir.path(),
        "bad-hosts",
        "/...",
        "fetch",
        &wasm,
        "allowed_outbound_hosts = [\"https://ok.example.com\", \"ftp://files.example.com\"]\n",
    );
    let port = free_port().to_string();
    let (code, _out, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        dir.path(),
    );
    // A manifest error, with its file and line, before anything starts.
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "invalid `allowed_outbound_hosts` entry `ftp://files.example.com` in \
             [component.fetch]: no port was given and the scheme \"ftp\" has no known default \
             port"
        ),
        "{err}"
    );
    assert!(err.contains("spin.toml:12:"), "{err}");
    assert!(err.contains("add a port"), "{err}");
    assert!(!err.contains("listening"), "{err}");

    // A misspelled scheme gets a "did you mean".
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("ftp://files.example.com", "htps://files.example.com");
    std::fs::write(&manifest, text).unwrap();
    let (code, _out, err) = run_spindle(&["up", "-f", manifest.to_str().unwrap()], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("did you mean \"https://files.example.com\"?"),
        "{err}"
    );
}

/// A TCP echo server on `ip`: each connection gets back what it sent, up to its end. The
/// thread ends after `max` connections or 60 s idle.
fn tcp_echo(ip: &str, max: usize) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let (mut served, start) = (0, std::time::Instant::now());
        while served < max && start.elapsed() < Duration::from_secs(60) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut got = Vec::new();
            let _ = stream.read_to_end(&mut got);
            let _ = stream.write_all(&got);
            served += 1;
        }
    });
    port
}

/// A UDP echo server on `ip` (one reply per datagram, for 60 s at most).
fn udp_echo(ip: &str) -> u16 {
    let socket = UdpSocket::bind((ip, 0)).unwrap();
    let port = socket.local_addr().unwrap().port();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut buf = [0u8; 1500];
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(&buf[..n], from);
            }
        }
    });
    port
}

#[test]
fn sockets_reach_what_allowed_outbound_hosts_grants() {
    // The example grants `*://{{ upstream_host }}:1024..65535` (a template, default 127.0.0.1).
    let s = Spindle::start(&outbound_app(), &[]);
    let tcp = tcp_echo("127.0.0.1", 1);
    let r = s.get(&format!("/sockets/tcp?addr=127.0.0.1:{tcp}&msg=hello-tcp"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "echo hello-tcp");
    let udp = udp_echo("127.0.0.1");
    let r = s.get(&format!("/sockets/udp?addr=127.0.0.1:{udp}&msg=hello-udp"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "echo hello-udp");

    // Another IP, with a server listening there: denied before any packet is sent.
    let other = tcp_echo("127.0.0.2", 1);
    let r = s.get(&format!("/sockets/tcp?addr=127.0.0.2:{other}&msg=x"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("access-denied"), "{}", r.text());
    assert!(
        s.wait_for_output(&format!(
            "component `sockets` was denied a tcp connection to 127.0.0.2:{other}: not allowed \
             by its allowed_outbound_hosts (help: add \"tcp://127.0.0.2:{other}\""
        )),
        "{}",
        s.stderr()
    );
    let other_udp = udp_echo("127.0.0.2");
    let r = s.get(&format!("/sockets/udp?addr=127.0.0.2:{other_udp}&msg=x"));
    assert_eq!(r.status, 403, "{}", r.text());
    // A port outside the granted range.
    let r = s.get("/sockets/tcp?addr=127.0.0.1:80&msg=x");
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn socket_entries_cidr_names_and_schemes() {
    outbound_app();
    let cidr_port = tcp_echo("127.0.0.2", 1);
    let outside = tcp_echo("127.0.0.5", 1);
    let named = tcp_echo("127.0.0.1", 1);
    let postgres = tcp_echo("127.0.0.1", 1);
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("outbound/target/wasm32-wasip2/release/outbound_sockets.wasm");
    let manifest = write_app(
        dir.path(),
        "sockets",
        "/sockets/...",
        "sockets",
        &wasm,
        &format!(
            r#"allowed_outbound_hosts = [
    "tcp://127.0.0.0/30:{cidr_port}",
    "*://127.0.0.5/32:{cidr_port}",
    "*://localhost:{named}",
    "postgres://127.0.0.1:{postgres}",
]
"#
        ),
    );
    let s = Spindle::start(&manifest, &[]);
    // In the range.
    let r = s.get(&format!(
        "/sockets/tcp?addr=127.0.0.2:{cidr_port}&msg=in-range"
    ));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "echo in-range");
    // Outside it (127.0.0.5 is granted another port only).
    let r = s.get(&format!("/sockets/tcp?addr=127.0.0.5:{outside}&msg=x"));
    assert_eq!(r.status, 403, "{}", r.text());
    // `tcp://` grants no UDP.
    let r = s.get(&format!("/sockets/udp?addr=127.0.0.2:{cidr_port}&msg=x"));
    assert_eq!(r.status, 403, "{}", r.text());
    // A host name: the guest looks it up, and the address it connects to is the name's.
    let r = s.get(&format!("/sockets/tcp?addr=localhost:{named}&msg=by-name"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "echo by-name");
    // `postgres://` is for the postgres interface, not raw sockets (as in Spin).
    let r = s.get(&format!("/sockets/tcp?addr=127.0.0.1:{postgres}&msg=x"));
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn wagi_request_is_cgi() {
    let s = Spindle::start(&outbound_app(), &[]);
    for route in ["/wagi", "/wagi-component"] {
        let r = request(
            s.port,
            "POST",
            &format!("{route}/some/path?status=201&name=a%20b"),
            &[("x-custom", "custom-value"), ("content-type", "text/plain")],
            b"request body",
        )
        .unwrap();
        let text = r.text();
        assert_eq!(r.status, 201, "{route}: {text}\n{}", s.stderr());
        assert_eq!(r.header("content-type"), Some("text/plain"), "{route}");
        assert_eq!(r.header("x-wagi"), Some("yes"), "{route}");
        for line in [
            "REQUEST_METHOD=POST",
            "PATH_INFO=/some/path",
            "QUERY_STRING=status=201&name=a%20b",
            "CONTENT_LENGTH=12",
            "CONTENT_TYPE=text/plain",
            &format!("SCRIPT_NAME={route}"),
            "SERVER_NAME=127.0.0.1",
            &format!("SERVER_PORT={}", s.port),
            "SERVER_PROTOCOL=HTTP/1.1",
            &format!(
                "X_FULL_URL=http://127.0.0.1:{}{route}/some/path?status=201&name=a%20b",
                s.port
            ),
            &format!("X_MATCHED_ROUTE={route}/..."),
            "X_RAW_PATH_INFO=/some/path",
            "HTTP_X_CUSTOM=custom-value",
            "GREETING=hello-from-manifest",
            "BODY=request body",
            "WRITE_ALLOWED=false",
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{route}: missing {line}:\n{text}"
            );
        }
        if route == "/wagi" {
            // argv = "${SCRIPT_NAME} first ${ARGS}"; files mounted read-only.
            assert!(
                text.contains("ARGS=/wagi first status=201 name=a b\n"),
                "{text}"
            );
            assert!(
                text.contains("FILE=a file mounted read-only into the WAGI guest\n"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("ARGS=/wagi-component status=201 name=a b\n"),
                "{text}"
            );
        }
    }
    // Without a Status header the answer is 200.
    let r = s.get("/wagi");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("PATH_INFO=\n"), "{}", r.text());
}

#[test]
fn wagi_trap_is_a_500_for_that_request_only() {
    let s = Spindle::start(&outbound_app(), &[]);
    for route in ["/wagi", "/wagi-component"] {
        let r = s.get(&format!("{route}?trap=1"));
        assert_eq!(r.status, 500, "{route}: {}", r.text());
        let r = s.get(&format!("{route}/after"));
        assert_eq!(r.status, 200, "{route}: {}", r.text());
    }
    assert!(s.wait_for_output("trap requested"), "{}", s.stderr());
}
