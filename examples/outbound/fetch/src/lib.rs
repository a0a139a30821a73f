//! `fetch` component: performs an outbound HTTP GET to the URL given in the `url` query
//! parameter and answers with what came back, so tests can exercise `allowed_outbound_hosts`
//! and service chaining (`http://<component>.spin.internal/...`).
//!
//! * the upstream answered: its status, and a body `upstream <status>\n<upstream body>`
//! * the host denied the request (`HttpRequestDenied`): 403 with the error text
//! * any other error: 502 with the error text

use spin_sdk::http::{send, IntoResponse, Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle_fetch(req: Request) -> anyhow::Result<impl IntoResponse> {
    let query = req.query().to_string();
    let Some(url) = query_param(&query, "url") else {
        return Ok(text(
            400,
            "missing ?url=<absolute or relative URL>\n".to_string(),
        ));
    };
    let outbound = Request::builder()
        .method(Method::Get)
        .uri(url.as_str())
        .header("x-from-fetch", "yes")
        .build();
    match send::<_, Response>(outbound).await {
        Ok(resp) => {
            let status = *resp.status();
            let body = String::from_utf8_lossy(resp.body()).into_owned();
            Ok(text(status, format!("upstream {status}\n{body}")))
        }
        Err(e) => {
            let message = format!("{e:?}");
            let status = if message.contains("HttpRequestDenied") {
                403
            } else {
                502
            };
            Ok(text(
                status,
                format!("outbound request to {url} failed: {message}\n"),
            ))
        }
    }
}

fn text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)
        .build()
}

/// The percent-decoded value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
