//! `wagi` component: a WASI command run CGI-style (`executor = { type = "wagi" }`). The request
//! arrives as environment variables and stdin; the response is CGI headers + body on stdout.
//!
//! Echoes the request back as `key=value` lines. Query parameters steer it:
//! `status=NNN` answers with a `Status: NNN` header; `trap=1` panics (the host answers 500).

use std::io::{Read as _, Write as _};

fn main() {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let query = env("QUERY_STRING");
    let param = |name: &str| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    };
    if param("trap").is_some() {
        panic!("trap requested");
    }
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body).unwrap();

    let mut out = String::new();
    out.push_str("Content-Type: text/plain\n");
    if let Some(status) = param("status") {
        out.push_str(&format!("Status: {status}\n"));
    }
    out.push_str("X-Wagi: yes\n\n");
    for key in [
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "X_FULL_URL",
        "X_MATCHED_ROUTE",
        "X_RAW_PATH_INFO",
        "HTTP_X_CUSTOM",
        "GREETING",
    ] {
        out.push_str(&format!("{key}={}\n", env(key)));
    }
    let args: Vec<String> = std::env::args().collect();
    out.push_str(&format!("ARGS={}\n", args.join(" ")));
    out.push_str(&format!("BODY={}\n", String::from_utf8_lossy(&body)));
    let file = std::fs::read_to_string("/hello.txt").unwrap_or_else(|e| format!("error: {e}"));
    out.push_str(&format!("FILE={}\n", file.trim_end()));
    let write = std::fs::write("/written.txt", b"x").is_ok();
    out.push_str(&format!("WRITE_ALLOWED={write}\n"));
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}
