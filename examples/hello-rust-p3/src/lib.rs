//! Minimal Spin HTTP component written with the Rust Spin SDK 7 (`#[http_service]`).
//! It targets WASIp3: the component exports `wasi:http/handler@0.3.0`.
//!
//! WASIp3 instances may serve several requests (see `--max-instance-reuse-count`); the
//! `x-instance-request` response header says which request of its instance this one was.

use std::sync::atomic::{AtomicU64, Ordering};

use spin_sdk::http::{FullBody, HeaderMap, HeaderValue, IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

static REQUESTS: AtomicU64 = AtomicU64::new(0);

#[http_service]
async fn handle_hello(_req: Request) -> impl IntoResponse {
    let served = REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.insert("x-instance-request", HeaderValue::from(served));
    (
        StatusCode::OK,
        headers,
        FullBody::new(&b"Hello from Spindle! (Rust spin-sdk 7, WASIp3)\n"[..]),
    )
}
