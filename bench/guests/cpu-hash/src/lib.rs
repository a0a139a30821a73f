//! CPU-bound guest (Rust spin-sdk 5, imports only wasi:*): hashes the request body — or, for a
//! body-less GET, a fixed 16 KiB buffer — `rounds` times with FNV-1a and answers the digest.
//!
//!   GET /?rounds=N     (default 16 rounds of 16 KiB = 256 KiB hashed, roughly 0.3-0.5 ms)

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

const DEFAULT_ROUNDS: u64 = 16;

fn fnv1a(mut hash: u64, data: &[u8]) -> u64 {
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let rounds = req
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("rounds="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .min(1 << 20);
    let fixed: Vec<u8>;
    let data: &[u8] = if req.body().is_empty() {
        fixed = (0..16 * 1024u32)
            .map(|i| (i.wrapping_mul(31) >> 3) as u8)
            .collect();
        &fixed
    } else {
        req.body()
    };
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for round in 0..rounds {
        hash = fnv1a(hash ^ round, data);
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(format!(
            "{hash:016x} rounds={rounds} bytes={}\n",
            data.len()
        ))
        .build())
}
