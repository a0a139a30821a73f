//! Key-value, SQLite and variables through the Rust Spin SDK 7 (`#[http_service]`, WASIp3): the
//! async Spin 3.x interfaces (`spin:key-value@3.0.0`, `spin:sqlite@3.1.0`,
//! `spin:variables@3.0.0`).
//!
//!   GET  /kv/<key>     value, or 404       PUT /kv/<key>   stores the body
//!   GET  /kv-keys      keys, one per line
//!   POST /sql          runs the body as SQL; rows as `a|b|c` lines
//!   GET  /var/<name>   a variable
//!   GET  /redis/<addr-port>/<key>/<value>   outbound Redis (`spin:redis@3.0.0`) to
//!                      redis://127.0.0.1:<addr-port>: SET, GET, INCR, SADD/SMEMBERS/SREM,
//!                      EXECUTE, DEL, PUBLISH; a report, one line per call
//!   GET  /unsupported/<mqtt|pg>   opens a connection through an interface Spindle does not
//!                      back; answers with the error value the guest received

use http_body_util::BodyExt;
use spin_sdk::http::{FullBody, IntoResponse, Method, Request, StatusCode};
use spin_sdk::http_service;
use spin_sdk::{key_value, sqlite, variables};

fn reply(status: StatusCode, body: impl Into<Vec<u8>>) -> (StatusCode, FullBody<bytes::Bytes>) {
    (status, FullBody::new(bytes::Bytes::from(body.into())))
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let info = req
        .headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_string();
    let method = req.method().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let parts: Vec<&str> = info.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (Method::PUT, ["kv", key]) => match key_value::Store::open_default().await {
            Ok(store) => match store.set(key, &body).await {
                Ok(()) => reply(StatusCode::OK, "stored"),
                Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
            },
            Err(e) => reply(StatusCode::FORBIDDEN, format!("{e:?}")),
        },
        (Method::GET, ["kv", key]) => match key_value::Store::open_default().await {
            Ok(store) => match store.get(key).await {
                Ok(Some(v)) => reply(StatusCode::OK, v),
                Ok(None) => reply(StatusCode::NOT_FOUND, "not found"),
                Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
            },
            Err(e) => reply(StatusCode::FORBIDDEN, format!("{e:?}")),
        },
        (Method::GET, ["kv-keys"]) => match key_value::Store::open_default().await {
            Ok(store) => match store.get_keys().await.collect().await {
                Ok(mut keys) => {
                    keys.sort();
                    reply(StatusCode::OK, keys.join("\n"))
                }
                Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
            },
            Err(e) => reply(StatusCode::FORBIDDEN, format!("{e:?}")),
        },
        (Method::POST, ["sql"]) => {
            let sql = String::from_utf8_lossy(&body).into_owned();
            let conn = match sqlite::Connection::open_default().await {
                Ok(c) => c,
                Err(e) => return reply(StatusCode::FORBIDDEN, format!("{e:?}")),
            };
            match conn.execute(sql, []).await {
                Ok(result) => {
                    let mut out = result.columns().join("|");
                    match result.collect().await {
                        Ok(rows) => {
                            for row in rows {
                                out.push('\n');
                                let cells: Vec<String> = row
                                    .values
                                    .iter()
                                    .map(|v| match v {
                                        sqlite::Value::Integer(i) => i.to_string(),
                                        sqlite::Value::Real(f) => f.to_string(),
                                        sqlite::Value::Text(s) => s.clone(),
                                        sqlite::Value::Blob(b) => format!("{b:?}"),
                                        sqlite::Value::Null => "NULL".into(),
                                    })
                                    .collect();
                                out.push_str(&cells.join("|"));
                            }
                            reply(StatusCode::OK, out)
                        }
                        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
                    }
                }
                Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
            }
        }
        (Method::GET, ["var", name]) => match variables::get(name).await {
            Ok(v) => reply(StatusCode::OK, v),
            Err(e) => reply(StatusCode::NOT_FOUND, format!("{e:?}")),
        },
        (Method::GET, ["unsupported", "mqtt"]) => {
            match spin_sdk::mqtt::Connection::open("mqtt://127.0.0.1:1883", "u", "p", 30).await {
                Ok(_) => reply(StatusCode::OK, "connected?!"),
                Err(e) => reply(StatusCode::BAD_GATEWAY, format!("{e:?}")),
            }
        }
        (Method::GET, ["redis", port, key, value]) => {
            match redis_report(&format!("redis://127.0.0.1:{port}"), key, value).await {
                Ok(report) => reply(StatusCode::OK, report),
                Err(e) => reply(StatusCode::BAD_GATEWAY, format!("{e:?}")),
            }
        }
        (Method::GET, ["unsupported", "pg"]) => {
            match spin_sdk::pg::Connection::open("host=127.0.0.1 user=x dbname=y").await {
                Ok(_) => reply(StatusCode::OK, "connected?!"),
                Err(e) => reply(StatusCode::BAD_GATEWAY, format!("{e:?}")),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "no such route"),
    }
}

/// Every `spin:redis@3.0.0` call once, reported one line per call.
async fn redis_report(
    address: &str,
    key: &str,
    value: &str,
) -> Result<String, spin_sdk::redis::Error> {
    use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
    let conn = Connection::open(address).await?;
    let mut out = String::new();
    conn.set(key, value.as_bytes()).await?;
    let got = conn.get(key).await?.unwrap_or_default();
    out += &format!("get {}\n", String::from_utf8_lossy(&got));
    out += &format!("missing {:?}\n", conn.get(format!("{key}-missing")).await?);
    let counter = format!("{key}-counter");
    out += &format!("incr {}\n", conn.incr(&counter).await?);
    out += &format!("incr {}\n", conn.incr(&counter).await?);
    // INCR on a value that is not a number is a type error.
    out += &format!("incr-text {:?}\n", conn.incr(key).await.err());
    let set = format!("{key}-set");
    out += &format!("sadd {}\n", conn.sadd(&set, ["a", "b", "c"]).await?);
    out += &format!("srem {}\n", conn.srem(&set, ["b"]).await?);
    let mut members = conn.smembers(&set).await?;
    members.sort();
    out += &format!("smembers {}\n", members.join(","));
    let results = conn
        .execute(
            "APPEND",
            [
                RedisParameter::Binary(key.as_bytes().to_vec()),
                RedisParameter::Binary(b"!".to_vec()),
            ],
        )
        .await?;
    out += &format!("execute {:?}\n", results);
    let strlen = conn
        .execute("STRLEN", [RedisParameter::Binary(key.as_bytes().to_vec())])
        .await?;
    if let [RedisResult::Int64(n)] = strlen.as_slice() {
        out += &format!("strlen {n}\n");
    }
    conn.publish("spindle-test", b"hello").await?;
    out += &format!("del {}\n", conn.del([key, counter.as_str(), set.as_str()]).await?);
    Ok(out)
}
