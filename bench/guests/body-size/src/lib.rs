//! Streams `size` bytes (query parameter, default 1024, at most 1 GiB) in chunks of at most
//! 64 KiB, without ever holding the whole body: the response headers go out first, then each
//! chunk is written to the outgoing body stream as the client reads. Rust spin-sdk 5, imports
//! only wasi:*, so it runs on `wasmtime serve -S cli` too.

use futures::SinkExt;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

const CHUNK: usize = 64 * 1024;

#[http_component]
async fn handle(req: IncomingRequest, response_out: ResponseOutparam) {
    let size = req
        .path_with_query()
        .unwrap_or_default()
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| {
            kv.strip_prefix("size=")
                .and_then(|v| v.parse::<usize>().ok())
        })
        .unwrap_or(1024)
        .min(1 << 30);
    let headers = Fields::from_list(&[
        (
            "content-type".to_string(),
            b"application/octet-stream".to_vec(),
        ),
        ("content-length".to_string(), size.to_string().into_bytes()),
    ])
    .unwrap();
    let response = OutgoingResponse::new(headers);
    response.set_status_code(200).unwrap();
    let mut body = response.take_body();
    response_out.set(response);
    let chunk: Vec<u8> = (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK);
        if body.send(chunk[..n].to_vec()).await.is_err() {
            return; // client went away
        }
        left -= n;
    }
    let _ = body.flush().await;
    let _ = body.close().await;
}
