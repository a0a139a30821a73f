//! Minimal Spin HTTP component written with the Rust Spin SDK 7 (`#[http_service]`).
//! It targets WASIp3: the component exports `wasi:http/handler@0.3.0`.

use spin_sdk::http::{FullBody, HeaderMap, HeaderValue, IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

#[http_service]
async fn handle_hello(_req: Request) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    (
        StatusCode::OK,
        headers,
        FullBody::new(&b"Hello from Spindle! (Rust spin-sdk 7, WASIp3)\n"[..]),
    )
}
