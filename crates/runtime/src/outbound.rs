//! Outbound HTTP policy (`wasi:http/outgoing-handler`).
//!
//! Deny by default: a request from a guest is refused with `HttpRequestDenied` unless the
//! component's `allowed_outbound_hosts` grants it. The full grammar of those entries is not
//! implemented yet, so every outbound request is denied, and the console says which entry would
//! be needed.

use std::future::Future;
use std::sync::Arc;

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The outbound HTTP hooks of one instance.
pub struct OutboundHttp {
    component_id: Arc<str>,
}

impl OutboundHttp {
    /// The policy for `component_id`.
    pub fn new(component_id: Arc<str>) -> Self {
        Self { component_id }
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri.authority().map(|a| a.as_str()).unwrap_or("<no host>");
        tracing::warn!(
            "component `{}` was denied an outbound request to {scheme}://{host}: outbound HTTP is \
             not granted (help: add \"{scheme}://{host}\" to allowed_outbound_hosts; outbound \
             networking is not available in this Spindle version yet)",
            self.component_id
        );
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}
