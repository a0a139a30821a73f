//! `api` component: echoes back what the host handed to the guest as JSON, so tests can check
//! the request line, the full URI and every header the host injects (all the `spin-*` ones).
//!
//! It takes the raw `IncomingRequest` (not the SDK's `Request`, which keeps only the last value
//! of a repeated header), so repeated headers come out joined with ", ".

use std::collections::BTreeMap;

use spin_sdk::http::{IncomingRequest, IntoResponse, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle_api(req: IncomingRequest) -> anyhow::Result<impl IntoResponse> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers().entries() {
        let value = String::from_utf8_lossy(&value).into_owned();
        headers
            .entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let method = req.method().to_string();
    let uri = req.uri();
    let path_and_query = req.path_with_query();
    let body = req.into_body().await?;
    let doc = serde_json::json!({
        "method": method,
        "uri": uri,
        "path_and_query": path_and_query,
        "headers": headers,
        "body_len": body.len(),
    });
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(out)
        .build())
}
