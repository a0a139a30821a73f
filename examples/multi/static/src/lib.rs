//! `static` component: a tiny file server. The manifest maps `assets/` to `/` in the guest
//! filesystem; the file to serve is the part of the path after the route prefix, which the host
//! passes in the `spin-path-info` header.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn text(status: u16, msg: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(format!("{msg}\n"))
        .build()
}

#[http_component]
fn handle_static(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path_info = req
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .unwrap_or("/")
        .to_string();
    let mut path = if path_info.starts_with('/') { path_info } else { format!("/{path_info}") };
    if path.ends_with('/') {
        path.push_str("index.html");
    }
    if path.split('/').any(|seg| seg == "..") {
        return Ok(text(404, "not found"));
    }
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Response::builder()
            .status(200)
            .header("content-type", content_type(&path))
            .body(bytes)
            .build()),
        Err(_) => Ok(text(404, &format!("not found: {path}"))),
    }
}
