//! Spin 1.x's HTTP handler export, `fermyon:spin/inbound-http` (unversioned): one call per
//! request, with the whole request and response as records
//! (`handle-request: func(req: request) -> response`).
//!
//! As in Spin, the request carries the method, the path and query as `uri`, every header
//! (including the `spin-*` headers the HTTP trigger added), empty `params`, and the body; a
//! method the old interface cannot express (e.g. `TRACE`) is answered 405 without running the
//! guest. Each request gets a fresh instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Full};
use wasmtime::Engine;

use crate::handler::{Request, Response};
use crate::sandbox::{new_store, InstanceState, Sandbox};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit-legacy",
        world: "fermyon:spin/http-trigger",
        exports: { default: async },
    });
}

use bindings::fermyon::spin::http_types::{Method, Request as GuestRequest};
pub(crate) use bindings::HttpTriggerPre;

/// The name of the export.
pub(crate) const EXPORT: &str = "fermyon:spin/inbound-http";

/// The largest request body handed to the guest (the old interface takes it whole).
const MAX_BODY: usize = 64 << 20;

/// Runs requests through a component exporting `fermyon:spin/inbound-http`.
pub struct LegacyHttpHandler {
    engine: Engine,
    pre: HttpTriggerPre<InstanceState>,
    sandbox: Arc<Sandbox>,
    request_timeout: Option<Duration>,
}

impl LegacyHttpHandler {
    pub(crate) fn new(
        engine: Engine,
        pre: HttpTriggerPre<InstanceState>,
        sandbox: Sandbox,
        request_timeout: Option<Duration>,
    ) -> Self {
        Self {
            engine,
            pre,
            sandbox: Arc::new(sandbox),
            request_timeout,
        }
    }

    /// The component id.
    pub fn component_id(&self) -> &str {
        self.sandbox.component_id()
    }

    /// Runs one request. An error (trap, timeout) means the caller answers 500.
    pub async fn handle(&self, request: Request) -> anyhow::Result<Response> {
        let (parts, body) = request.into_parts();
        let Some(method) = method(&parts.method) else {
            return Ok(response(
                StatusCode::METHOD_NOT_ALLOWED,
                Vec::new(),
                Bytes::new(),
            ));
        };
        let body = http_body_util::Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the request body: {e}"))?
            .to_bytes();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let uri = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let guest_request = GuestRequest {
            method,
            uri,
            headers,
            params: Vec::new(),
            body: Some(body.to_vec()),
        };

        let mut state = self.sandbox.instance_state()?;
        state.deadline = self.request_timeout.map(|t| Instant::now() + t);
        let mut store = new_store(&self.engine, state);
        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .fermyon_spin_inbound_http()
                .call_handle_request(&mut store, &guest_request)
                .await
        };
        let guest_response = match self.request_timeout {
            Some(timeout) => tokio::time::timeout(timeout + Duration::from_millis(500), run)
                .await
                .map_err(|_| anyhow::anyhow!("the handler ran longer than {timeout:?}"))?,
            None => run.await,
        }
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

        let status = StatusCode::from_u16(guest_response.status).with_context(|| {
            format!(
                "the component answered with an invalid status code {}",
                guest_response.status
            )
        })?;
        Ok(response(
            status,
            guest_response.headers.unwrap_or_default(),
            Bytes::from(guest_response.body.unwrap_or_default()),
        ))
    }
}

fn method(method: &http::Method) -> Option<Method> {
    Some(match *method {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::HEAD => Method::Head,
        http::Method::OPTIONS => Method::Options,
        _ => return None,
    })
}

/// The HTTP response; headers that are not valid HTTP are dropped with a log line.
fn response(status: StatusCode, headers: Vec<(String, String)>, body: Bytes) -> Response {
    let mut response = http::Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => tracing::warn!("dropping the invalid response header {name:?}: {value:?}"),
        }
    }
    response
}
