//! `probe` component: pokes at the sandbox so the host's isolation can be tested.
//!
//!   GET /probe/env/<NAME>        200 + value of env var NAME, or 404 `unset`
//!   GET /probe/file?path=<abs>   200 + file contents, or 404/403 + the io error text
//!   GET /probe/panic             panics (a trap, since panic = "abort")
//!   GET /probe/loop              spins forever
//!   GET /probe/alloc             allocates 64 MiB chunks until memory runs out
//!   GET /probe/stdout            writes a line to stdout and one to stderr, then 200
//!   GET /probe/write?path=<abs>&data=<text>   writes the file: 200, or 403 + the io error

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body.into())
        .build()
}

/// Minimal `application/x-www-form-urlencoded` value decoding.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

#[http_component]
fn handle_probe(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path_info = req
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| req.path().trim_start_matches("/probe").to_string());

    if let Some(name) = path_info.strip_prefix("/env/") {
        return Ok(match std::env::var(percent_decode(name)) {
            Ok(value) => text(200, value),
            Err(_) => text(404, "unset"),
        });
    }
    match path_info.as_str() {
        "/file" => {
            let Some(path) = query_param(req.query(), "path") else {
                return Ok(text(400, "missing ?path="));
            };
            Ok(match std::fs::read(&path) {
                Ok(bytes) => Response::builder()
                    .status(200)
                    .header("content-type", "application/octet-stream")
                    .body(bytes)
                    .build(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => text(404, e.to_string()),
                Err(e) => text(403, e.to_string()),
            })
        }
        "/write" => {
            let (Some(path), Some(data)) = (
                query_param(req.query(), "path"),
                query_param(req.query(), "data"),
            ) else {
                return Ok(text(400, "missing ?path=&data="));
            };
            Ok(match std::fs::write(&path, data) {
                Ok(()) => text(200, "written"),
                Err(e) => text(403, e.to_string()),
            })
        }
        "/panic" => panic!("probe was asked to panic"),
        "/loop" => loop {
            std::hint::black_box(());
        },
        "/alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 64 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "/stdout" => {
            println!("probe says hello on stdout");
            eprintln!("probe says hello on stderr");
            Ok(text(200, "wrote to stdout and stderr\n"))
        }
        other => Ok(text(404, format!("no such probe: {other}\n"))),
    }
}
