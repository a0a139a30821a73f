//! Hello world exporting `wasi:http/incoming-handler@0.2` through the `wasip2` crate's
//! wit-bindgen-generated bindings. Imports only wasi:http / wasi:io.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Handler;

const TEXT: &[u8] = b"Hello from Spindle! (Rust wit-bindgen)\n";

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"text/plain".to_vec()),
            (
                "content-length".to_string(),
                TEXT.len().to_string().into_bytes(),
            ),
        ])
        .unwrap();
        let response = OutgoingResponse::new(headers);
        let body = response.body().unwrap();
        ResponseOutparam::set(response_out, Ok(response));
        {
            let out = body.write().unwrap();
            out.blocking_write_and_flush(TEXT).unwrap();
        }
        OutgoingBody::finish(body, None).unwrap();
    }
}

wasip2::http::proxy::export!(Handler);
