//! End-to-end tests of the runtime config's outbound HTTP settings: `[[client_tls]]` (a
//! component's HTTPS requests to a host trust a custom CA and present a client certificate)
//! against a local HTTPS server with its own CA that requires client certificates, and
//! `[outbound_http]` (`max_concurrent_requests`, `connection_pooling`). The `fetch` guest of `examples/outbound` makes
//! the requests.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

/// A test CA, and a server and a client certificate it issued, as PEM files in `dir`:
/// `ca.pem`, `server.pem`/`server.key` (for `localhost`), `client.pem`/`client.key`.
fn issue_certificates(dir: &Path) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "spindle test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, sans) in [
        ("server", vec!["localhost".to_string()]),
        ("client", vec!["client.test".to_string()]),
    ] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

fn pem_certs(path: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// An HTTPS server on 127.0.0.1 with the certificates of `dir`, requiring a client certificate
/// issued by the test CA. Each request gets `200 hello over mTLS`, after `delay`; the counter
/// records the most connections served at once. The thread ends after 60 s.
fn mtls_server(dir: &Path, delay: Duration) -> (u16, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(pem_certs(&dir.join("ca.pem")));
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            pem_certs(&dir.join("server.pem")),
            rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap(),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let max_seen = Arc::new(AtomicUsize::new(0));
    let seen = max_seen.clone();
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let active = Arc::new(AtomicUsize::new(0));
        while start.elapsed() < Duration::from_secs(60) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let (config, active, seen) = (config.clone(), active.clone(), seen.clone());
            std::thread::spawn(move || {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                // A failed handshake (unknown CA, no client certificate) ends here.
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                seen.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(delay);
                let body = "hello over mTLS";
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
                active.fetch_sub(1, Ordering::SeqCst);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, max_seen)
}

/// An app with the `fetch` component allowed `https://localhost:<port>`, in `dir`.
fn fetch_app(dir: &Path, port: u16) -> std::path::PathBuf {
    let wasm = example("outbound/target/wasm32-wasip2/release/outbound_fetch.wasm");
    require_built(&wasm);
    write_app(
        dir,
        "client-tls",
        "/fetch/...",
        "fetch",
        &wasm,
        &format!("allowed_outbound_hosts = [\"https://localhost:{port}\"]\n"),
    )
}

fn fetch(s: &Spindle, port: u16) -> Reply {
    let url = format!("https%3A%2F%2Flocalhost%3A{port}%2Fsecure");
    s.get(&format!("/fetch?url={url}"))
}

#[test]
fn client_tls_custom_ca_and_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    issue_certificates(dir.path());
    let (port, _) = mtls_server(dir.path(), Duration::ZERO);
    let manifest = fetch_app(dir.path(), port);

    // Without [[client_tls]]: the public roots do not know the test CA.
    let s = Spindle::start(&manifest, &[]);
    let r = fetch(&s, port);
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().to_lowercase().contains("tls"), "{}", r.text());
    s.stop();

    // The CA alone: the server still wants a client certificate.
    let ca_only = dir.path().join("ca-only.toml");
    std::fs::write(
        &ca_only,
        "[[client_tls]]\ncomponent_ids = [\"fetch\"]\nhosts = [\"localhost\"]\nca_roots_file = \"ca.pem\"\n",
    )
    .unwrap();
    let s = Spindle::start(
        &manifest,
        &["--runtime-config-file", ca_only.to_str().unwrap()],
    );
    let r = fetch(&s, port);
    assert_eq!(r.status, 502, "{}", r.text());
    s.stop();

    // CA and client certificate (paths relative to the runtime config file).
    let full = dir.path().join("full.toml");
    std::fs::write(
        &full,
        "[[client_tls]]\ncomponent_ids = [\"fetch\"]\nhosts = [\"localhost\"]\n\
         ca_roots_file = \"ca.pem\"\nclient_cert_file = \"client.pem\"\n\
         client_private_key_file = \"client.key\"\n",
    )
    .unwrap();
    let s = Spindle::start(
        &manifest,
        &["--runtime-config-file", full.to_str().unwrap()],
    );
    let r = fetch(&s, port);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "upstream 200\nhello over mTLS");
    s.stop();

    // The same without pooling: a connection of its own, with the same TLS settings.
    let unpooled = dir.path().join("unpooled.toml");
    let text = std::fs::read_to_string(&full).unwrap();
    std::fs::write(
        &unpooled,
        format!("[outbound_http]\nconnection_pooling = false\n\n{text}"),
    )
    .unwrap();
    let s = Spindle::start(
        &manifest,
        &["--runtime-config-file", unpooled.to_str().unwrap()],
    );
    let r = fetch(&s, port);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    assert_eq!(r.text(), "upstream 200\nhello over mTLS");
    s.stop();

    // Another component id: the entry does not apply.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&full)
            .unwrap()
            .replace("[\"fetch\"]", "[\"someone-else\"]"),
    )
    .unwrap();
    let s = Spindle::start(
        &manifest,
        &["--runtime-config-file", other.to_str().unwrap()],
    );
    assert_eq!(fetch(&s, port).status, 502);
}

#[test]
fn client_tls_errors_name_the_entry_and_file() {
    let dir = tempfile::tempdir().unwrap();
    issue_certificates(dir.path());
    let manifest = fetch_app(dir.path(), 1443);
    for (config, want) in [
        (
            "[[client_tls]]\ncomponent_ids = [\"fetch\"]\nhosts = [\"localhost:8443\"]\n",
            "[[client_tls]] entry 1: host `localhost:8443`: ports are not supported",
        ),
        (
            "[[client_tls]]\ncomponent_ids = [\"fetch\"]\nhosts = [\"localhost\"]\nca_roots_file = \"missing.pem\"\n",
            "missing.pem (ca_roots_file)",
        ),
        (
            "[[client_tls]]\ncomponent_ids = [\"fetch\"]\nhosts = [\"localhost\"]\nclient_cert_file = \"client.pem\"\n",
            "`client_cert_file` and `client_private_key_file` go together",
        ),
        (
            "[outbound_http]\nmax_concurrent_requests = 0\n",
            "would block every outbound request",
        ),
    ] {
        let file = dir.path().join("rc.toml");
        std::fs::write(&file, config).unwrap();
        let (code, _, err) = run_spindle(
            &[
                "up",
                "-f",
                manifest.to_str().unwrap(),
                "--runtime-config-file",
                file.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_ne!(code, 0, "{config}");
        assert!(err.contains(want), "{config}\n{err}");
    }
}

#[test]
fn max_concurrent_requests_limits_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    issue_certificates(dir.path());
    let (port, max_seen) = mtls_server(dir.path(), Duration::from_millis(300));
    let manifest = fetch_app(dir.path(), port);
    let config = dir.path().join("limit.toml");
    std::fs::write(
        &config,
        "[outbound_http]\nmax_concurrent_requests = 1\n\n[[client_tls]]\n\
         component_ids = [\"fetch\"]\nhosts = [\"localhost\"]\nca_roots_file = \"ca.pem\"\n\
         client_cert_file = \"client.pem\"\nclient_private_key_file = \"client.key\"\n",
    )
    .unwrap();
    let s = Spindle::start(
        &manifest,
        &["--runtime-config-file", config.to_str().unwrap()],
    );
    let port_of_app = s.port;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let url = format!("https%3A%2F%2Flocalhost%3A{port}%2Fsecure");
                get(port_of_app, &format!("/fetch?url={url}")).unwrap()
            })
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Four requests were served, never two at once.
    assert_eq!(max_seen.load(Ordering::SeqCst), 1);
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1: answers every request of a connection with
/// `200 kept`, and counts the connections it accepted. The thread ends after 60 s.
fn keep_alive_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while let Ok(1) = stream.read(&mut byte) {
                    head.push(byte[0]);
                    if head.ends_with(b"\r\n\r\n") {
                        head.clear();
                        let _ =
                            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nkept");
                    }
                }
            });
        }
    });
    (port, connections)
}

#[test]
fn connections_are_pooled_unless_turned_off() {
    let wasm = example("outbound/target/wasm32-wasip2/release/outbound_fetch.wasm");
    require_built(&wasm);
    for (config, want) in [
        (None, 1),
        (Some("[outbound_http]\nconnection_pooling = true\n"), 1),
        (Some("[outbound_http]\nconnection_pooling = false\n"), 3),
    ] {
        let (port, connections) = keep_alive_server();
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("spin.toml");
        std::fs::write(
            &manifest,
            format!(
                "spin_manifest_version = 2\n[application]\nname = \"pool\"\n\
                 [[trigger.http]]\nroute = \"/fetch/...\"\ncomponent = \"fetch\"\n\
                 [component.fetch]\nsource = {wasm:?}\n\
                 allowed_outbound_hosts = [\"http://127.0.0.1:{port}\"]\n"
            ),
        )
        .unwrap();
        let mut args = Vec::new();
        let file = dir.path().join("rc.toml");
        if let Some(config) = config {
            std::fs::write(&file, config).unwrap();
            args = vec!["--runtime-config-file", file.to_str().unwrap()];
        }
        let s = Spindle::start(&manifest, &args);
        for _ in 0..3 {
            let r = s.get(&format!("/fetch?url=http%3A%2F%2F127.0.0.1%3A{port}%2Fx"));
            assert_eq!(r.text(), "upstream 200\nkept", "{config:?}\n{}", s.stderr());
        }
        assert_eq!(connections.load(Ordering::SeqCst), want, "{config:?}");
    }
}
