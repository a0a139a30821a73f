//! Minimal Spin HTTP component written with the Rust Spin SDK 5.x (`#[http_component]`).
//! It exports `wasi:http/incoming-handler@0.2.0` and imports only `wasi:*` interfaces.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle_hello(_req: Request) -> anyhow::Result<impl IntoResponse> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body("Hello from Spindle! (Rust spin-sdk)\n")
        .build())
}
