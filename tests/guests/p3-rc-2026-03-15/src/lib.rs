//! A Rust Spin SDK 6 (`#[http_service]`) component: it exports the WASIp3 release candidate
//! `wasi:http/handler@0.3.0-rc-2026-03-15` that Spin 4.0.x runs. It answers with the request's
//! method and path.

use spin_sdk::http::{HeaderMap, HeaderValue, IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.insert("x-sdk", HeaderValue::from_static("spin-sdk-6"));
    (
        StatusCode::OK,
        headers,
        format!("rc-2026-03-15 {method} {path}\n"),
    )
}
