//! `private` component: reachable only through service chaining
//! (`http://private.spin.internal/...`); its route is `{ private = true }`. Echoes what the host
//! handed it as JSON, so tests can check the URI and the `spin-*` headers of a chained request.

use std::collections::BTreeMap;

use spin_sdk::http::{IncomingRequest, IntoResponse, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle_private(req: IncomingRequest) -> anyhow::Result<impl IntoResponse> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers().entries() {
        headers.insert(
            name.to_ascii_lowercase(),
            String::from_utf8_lossy(&value).into_owned(),
        );
    }
    let doc = serde_json_lite(&req.method().to_string(), &req.uri(), &headers);
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(doc)
        .build())
}

/// A tiny JSON writer (keeps the component free of serde).
fn serde_json_lite(method: &str, uri: &str, headers: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{\"component\":\"private\",");
    out.push_str(&format!(
        "\"method\":{},\"uri\":{},\"headers\":{{",
        q(method),
        q(uri)
    ));
    let fields: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{}:{}", q(k), q(v)))
        .collect();
    out.push_str(&fields.join(","));
    out.push_str("}}\n");
    out
}

fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
