//! The CGI side of the Wagi executor: the variables a request becomes
//! (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`, `HTTP_*`, `X_FULL_URL`, `X_MATCHED_ROUTE`, ...,
//! as Spin/Wagi set them), argv from the executor's template, and the program's stdout parsed
//! as a CGI response.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, StatusCode};

use super::{response, Response};

/// The CGI version Wagi speaks.
const GATEWAY_INTERFACE: &str = "CGI/1.1";
/// `SERVER_SOFTWARE`, as Wagi and Spin set it.
const SERVER_SOFTWARE: &str = "WAGI/1";

/// The CGI view of one request.
pub(super) struct CgiRequest {
    pub(super) vars: BTreeMap<String, String>,
    script_name: String,
    query: String,
}

impl CgiRequest {
    pub(super) fn new(parts: &http::request::Parts, content_length: usize) -> Self {
        let headers = &parts.headers;
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (host, port) = host_and_port(parts);
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let query = parts.uri.query().unwrap_or("").to_string();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let raw_path_info = get("spin-path-info");
        let path_info = percent_decode(&raw_path_info);
        let script_name = get("spin-component-route");
        let client = get("spin-client-addr");
        let client_ip = client
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or(client);

        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            vars.insert(k.to_string(), v);
        };
        set("AUTH_TYPE", String::new());
        set("CONTENT_LENGTH", content_length.to_string());
        set("CONTENT_TYPE", get("content-type"));
        set(
            "X_FULL_URL",
            format!("{scheme}://{host}:{port}{path_and_query}"),
        );
        set("GATEWAY_INTERFACE", GATEWAY_INTERFACE.to_string());
        set("X_MATCHED_ROUTE", get("spin-matched-route"));
        set("QUERY_STRING", query.clone());
        set("REMOTE_ADDR", client_ip.clone());
        set("REMOTE_HOST", client_ip);
        set("REMOTE_USER", String::new());
        set("REQUEST_METHOD", parts.method.to_string());
        set("SCRIPT_NAME", script_name.clone());
        set("X_RAW_PATH_INFO", raw_path_info);
        set("PATH_INFO", path_info.clone());
        set("PATH_TRANSLATED", path_info);
        set("SERVER_NAME", host);
        set("SERVER_PORT", port);
        set("SERVER_PROTOCOL", format!("{:?}", parts.version));
        set("SERVER_SOFTWARE", SERVER_SOFTWARE.to_string());
        for (name, value) in headers {
            let key = format!(
                "HTTP_{}",
                name.as_str().to_ascii_uppercase().replace('-', "_")
            );
            // RFC 3875 4.1.18: credentials and hop-by-hop headers are not passed on.
            if key == "HTTP_AUTHORIZATION" || key == "HTTP_CONNECTION" {
                continue;
            }
            vars.insert(key, value.to_str().unwrap_or("CORRUPT VALUE").to_string());
        }
        Self {
            vars,
            script_name,
            query,
        }
    }

    /// argv from the template: `${SCRIPT_NAME}` is the route without its wildcard, `${ARGS}`
    /// the query string's `&`-separated parts, percent-decoded, one argument each.
    pub(super) fn argv(&self, template: &str) -> Vec<String> {
        let mut argv = Vec::new();
        for token in template.split_whitespace() {
            if token == "${ARGS}" {
                argv.extend(
                    self.query
                        .split('&')
                        .filter(|a| !a.is_empty())
                        .map(|a| percent_decode(&a.replace('+', " "))),
                );
            } else {
                argv.push(token.replace("${SCRIPT_NAME}", &self.script_name));
            }
        }
        argv
    }
}

/// `SERVER_NAME` / `SERVER_PORT`: from the `Host` header, else the URI, else `localhost:80`.
fn host_and_port(parts: &http::request::Parts) -> (String, String) {
    let mut host = parts.uri.host().unwrap_or("localhost").to_string();
    let mut port = parts.uri.port_u16().unwrap_or(80).to_string();
    if let Some(value) = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    {
        let mut split = value.splitn(2, ':');
        if let Some(h) = split.next().filter(|h| !h.is_empty()) {
            host = h.to_string();
        }
        if let Some(p) = split.next().filter(|p| !p.is_empty()) {
            port = p.to_string();
        }
    }
    (host, port)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Turns a CGI program's stdout into a response, with Wagi's rules: headers up to the first
/// blank line (`\r` ignored); `Status: NNN [reason]` sets the status; `Location` without
/// `Status` means 302; at least one of `Content-Type`, `Status`, `Location` is required.
pub(super) fn compose_response(stdout: &[u8]) -> Response {
    let (head, body) = split_head(stdout);
    let mut status = StatusCode::OK;
    let mut explicit_status = false;
    let mut sufficient = false;
    let mut headers = http::HeaderMap::new();
    for line in String::from_utf8_lossy(&head).trim().split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            tracing::warn!("Wagi program wrote a corrupt header line: {line:?}");
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        match name.to_ascii_lowercase().as_str() {
            "status" => {
                sufficient = true;
                explicit_status = true;
                let code = value.split_once(' ').map_or(value, |(code, _)| code);
                status = code.parse().unwrap_or_else(|_| {
                    tracing::warn!("Wagi program wrote an invalid Status: {value:?}");
                    StatusCode::BAD_GATEWAY
                });
            }
            lower => {
                if lower == "content-type" {
                    sufficient = true;
                }
                if lower == "location" {
                    sufficient = true;
                    if !explicit_status {
                        status = StatusCode::FOUND;
                    }
                }
                match (
                    HeaderName::from_bytes(lower.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    (Ok(n), Ok(v)) => {
                        headers.insert(n, v);
                    }
                    _ => tracing::warn!("Wagi program wrote an invalid header: {line:?}"),
                }
            }
        }
    }
    if !sufficient {
        let message = "Exactly one of 'location' or 'content-type' must be specified";
        tracing::error!("Wagi program's output is not a CGI response: {message}");
        return response(
            StatusCode::INTERNAL_SERVER_ERROR,
            http::HeaderMap::new(),
            Bytes::from_static(message.as_bytes()),
        );
    }
    response(status, headers, body)
}

/// Splits at the first blank line (`\n\n`, ignoring `\r`s in the header part). Without one,
/// everything is header and the body is empty.
fn split_head(stdout: &[u8]) -> (Vec<u8>, Bytes) {
    let mut head = Vec::new();
    let mut last = 0u8;
    for (i, &b) in stdout.iter().enumerate() {
        if b == b'\r' {
            continue;
        }
        if b == b'\n' && last == b'\n' {
            return (head, Bytes::copy_from_slice(&stdout[i + 1..]));
        }
        last = b;
        head.push(b);
    }
    (head, Bytes::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cgi_variables() {
        let p = parts(
            "http://127.0.0.1:3000/wagi/a%20b/c?x=1&y=two+words",
            &[
                ("host", "127.0.0.1:3000"),
                ("content-type", "text/plain"),
                ("x-custom", "v"),
                ("authorization", "secret"),
                ("spin-path-info", "/a%20b/c"),
                ("spin-matched-route", "/wagi/..."),
                ("spin-component-route", "/wagi"),
                ("spin-client-addr", "10.0.0.7:5555"),
            ],
        );
        let cgi = CgiRequest::new(&p, 5);
        let v = |k: &str| cgi.vars.get(k).cloned().unwrap_or_else(|| panic!("{k}"));
        assert_eq!(v("REQUEST_METHOD"), "POST");
        assert_eq!(v("CONTENT_LENGTH"), "5");
        assert_eq!(v("CONTENT_TYPE"), "text/plain");
        assert_eq!(v("PATH_INFO"), "/a b/c");
        assert_eq!(v("X_RAW_PATH_INFO"), "/a%20b/c");
        assert_eq!(v("QUERY_STRING"), "x=1&y=two+words");
        assert_eq!(v("SCRIPT_NAME"), "/wagi");
        assert_eq!(v("X_MATCHED_ROUTE"), "/wagi/...");
        assert_eq!(
            v("X_FULL_URL"),
            "http://127.0.0.1:3000/wagi/a%20b/c?x=1&y=two+words"
        );
        assert_eq!(v("SERVER_NAME"), "127.0.0.1");
        assert_eq!(v("SERVER_PORT"), "3000");
        assert_eq!(v("SERVER_PROTOCOL"), "HTTP/1.1");
        assert_eq!(v("REMOTE_ADDR"), "10.0.0.7");
        assert_eq!(v("HTTP_X_CUSTOM"), "v");
        assert_eq!(v("GATEWAY_INTERFACE"), "CGI/1.1");
        assert!(!cgi.vars.contains_key("HTTP_AUTHORIZATION"));
        assert_eq!(
            cgi.argv("${SCRIPT_NAME} ${ARGS}"),
            vec!["/wagi", "x=1", "y=two words"]
        );
        assert_eq!(cgi.argv("${SCRIPT_NAME} --flag"), vec!["/wagi", "--flag"]);
    }

    async fn compose(out: &str) -> (u16, Vec<(String, String)>, String) {
        let r = compose_response(out.as_bytes());
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn cgi_responses() {
        let (s, h, b) = compose("Content-Type: text/plain\n\nhello\n\nworld").await;
        assert_eq!((s, b.as_str()), (200, "hello\n\nworld"));
        assert_eq!(h, vec![("content-type".into(), "text/plain".into())]);

        let (s, _, b) =
            compose("Content-Type: text/plain\r\nStatus: 201 Created\r\n\r\nmade").await;
        assert_eq!((s, b.as_str()), (201, "made"));

        let (s, h, _) = compose("Location: /elsewhere\n\n").await;
        assert_eq!(s, 302);
        assert_eq!(h, vec![("location".into(), "/elsewhere".into())]);

        let (s, _, _) = compose("Status: 301\nLocation: /moved\n\n").await;
        assert_eq!(s, 301);

        let (s, _, _) = compose("Status: nope\nContent-Type: text/plain\n\n").await;
        assert_eq!(s, 502);

        let (s, _, b) = compose("just some text without headers").await;
        assert_eq!(s, 500);
        assert_eq!(
            b,
            "Exactly one of 'location' or 'content-type' must be specified"
        );
    }
}
