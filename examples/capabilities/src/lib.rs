//! Exercises Spin's host capabilities through the Rust Spin SDK: key-value, SQLite, variables
//! and outbound Redis. The same component is mounted twice in spin.toml: once with grants
//! (`/caps/...`) and once without (`/denied/...`), to show that access is deny-by-default.
//!
//!   GET    /<prefix>/kv/<store>/<key>        value, or 404
//!   PUT    /<prefix>/kv/<store>/<key>        sets the request body
//!   DELETE /<prefix>/kv/<store>/<key>        deletes
//!   GET    /<prefix>/kv-exists/<store>/<key> "true" / "false"
//!   GET    /<prefix>/kv-keys/<store>         JSON list of keys
//!   POST   /<prefix>/sql/<database>          runs the body as SQL, answers JSON {columns, rows}
//!   GET    /<prefix>/var/<name>              a variable's value
//!   GET    /<prefix>/redis?addr=<url>&key=<k>&value=<v>   SET then GET through outbound Redis
//!
//! Errors from the host come back as 500 (or 403 for access-denied) with the error's Debug text.

use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::{key_value, sqlite, variables};

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.into())
        .build()
}

fn json(value: serde_json::Value) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(value.to_string())
        .build()
}

fn kv_error(e: key_value::Error) -> Response {
    match e {
        key_value::Error::AccessDenied => text(403, "AccessDenied"),
        key_value::Error::NoSuchStore => text(404, "NoSuchStore"),
        other => text(500, format!("{other:?}")),
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| v.replace("%3A", ":").replace("%2F", "/"))
    })
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let info = req
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let parts: Vec<&str> = info.trim_start_matches('/').split('/').collect();
    Ok(match (req.method(), parts.as_slice()) {
        (Method::Get, ["kv", store, key]) => match key_value::Store::open(store) {
            Ok(s) => match s.get(key) {
                Ok(Some(v)) => text(200, String::from_utf8_lossy(&v)),
                Ok(None) => text(404, "not found"),
                Err(e) => kv_error(e),
            },
            Err(e) => kv_error(e),
        },
        (Method::Put, ["kv", store, key]) => match key_value::Store::open(store) {
            Ok(s) => match s.set(key, req.body()) {
                Ok(()) => text(200, "stored"),
                Err(e) => kv_error(e),
            },
            Err(e) => kv_error(e),
        },
        (Method::Delete, ["kv", store, key]) => match key_value::Store::open(store) {
            Ok(s) => match s.delete(key) {
                Ok(()) => text(200, "deleted"),
                Err(e) => kv_error(e),
            },
            Err(e) => kv_error(e),
        },
        (Method::Get, ["kv-exists", store, key]) => match key_value::Store::open(store) {
            Ok(s) => match s.exists(key) {
                Ok(b) => text(200, b.to_string()),
                Err(e) => kv_error(e),
            },
            Err(e) => kv_error(e),
        },
        (Method::Get, ["kv-keys", store]) => match key_value::Store::open(store) {
            Ok(s) => match s.get_keys() {
                Ok(mut keys) => {
                    keys.sort();
                    json(serde_json::json!(keys))
                }
                Err(e) => kv_error(e),
            },
            Err(e) => kv_error(e),
        },
        (Method::Post, ["sql", db]) => {
            let sql = String::from_utf8_lossy(req.body()).into_owned();
            match sqlite::Connection::open(db) {
                Ok(conn) => match conn.execute(&sql, &[]) {
                    Ok(result) => {
                        let rows: Vec<serde_json::Value> = result
                            .rows
                            .iter()
                            .map(|r| {
                                serde_json::Value::Array(
                                    r.values
                                        .iter()
                                        .map(|v| match v {
                                            sqlite::Value::Integer(i) => serde_json::json!(i),
                                            sqlite::Value::Real(f) => serde_json::json!(f),
                                            sqlite::Value::Text(s) => serde_json::json!(s),
                                            sqlite::Value::Blob(b) => serde_json::json!(b),
                                            sqlite::Value::Null => serde_json::Value::Null,
                                        })
                                        .collect(),
                                )
                            })
                            .collect();
                        json(serde_json::json!({"columns": result.columns, "rows": rows}))
                    }
                    Err(e) => text(500, format!("{e:?}")),
                },
                Err(sqlite::Error::AccessDenied) => text(403, "AccessDenied"),
                Err(e) => text(500, format!("{e:?}")),
            }
        }
        (Method::Get, ["var", name]) => match variables::get(name) {
            Ok(v) => text(200, v),
            Err(e) => text(404, format!("{e:?}")),
        },
        (Method::Get, ["redis"]) => {
            let q = req.query();
            let (Some(addr), Some(key), Some(value)) = (
                query_param(q, "addr"),
                query_param(q, "key"),
                query_param(q, "value"),
            ) else {
                return Ok(text(400, "need addr, key, value"));
            };
            match spin_sdk::redis::Connection::open(&addr) {
                Ok(conn) => match conn
                    .set(&key, &value.into_bytes())
                    .and_then(|()| conn.get(&key))
                {
                    Ok(Some(v)) => text(200, String::from_utf8_lossy(&v)),
                    Ok(None) => text(404, "not found"),
                    Err(e) => text(500, format!("{e:?}")),
                },
                Err(e) => text(403, format!("{e:?}")),
            }
        }
        _ => text(404, "no such capability route"),
    })
}
