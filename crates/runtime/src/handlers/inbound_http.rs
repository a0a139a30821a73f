//! Spin 1.x's HTTP handler export, `fermyon:spin/inbound-http` (unversioned): one call per
//! request, with the whole request and response as records
//! (`handle-request: func(req: request) -> response`).
//!
//! As in Spin, the request carries the method, the path and query as `uri`, every header
//! (including the `spin-*` headers the HTTP trigger added), empty `params`, and the body; a
//! method the old interface cannot express (e.g. `TRACE`) is answered 405 without running the
//! guest. Each request gets a fresh instance.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use wasmtime::component::InstancePre;

use super::{collect_body, response, Deadline, Execution, Handle, HandleError, Request, Response};
use crate::sandbox::InstanceState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit-legacy",
        world: "fermyon:spin/http-trigger",
        exports: { default: async },
    });
}

use bindings::fermyon::spin::http_types::{Method, Request as GuestRequest};
use bindings::HttpTriggerPre;

/// The name of the export.
pub(super) const EXPORT: &str = "fermyon:spin/inbound-http";

/// The largest request body handed to the guest (the old interface takes it whole).
const MAX_BODY: usize = 64 << 20;

/// Runs requests through a component exporting `fermyon:spin/inbound-http`.
pub(super) struct InboundHttpHandler {
    pre: HttpTriggerPre<InstanceState>,
    execution: Execution,
}

impl InboundHttpHandler {
    pub(super) fn new(
        pre: InstancePre<InstanceState>,
        execution: Execution,
    ) -> anyhow::Result<Self> {
        let pre = HttpTriggerPre::new(pre).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok(Self { pre, execution })
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

/// The guest's headers; those that are not valid HTTP are dropped with a log line.
fn header_map(headers: Vec<(String, String)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => tracing::warn!("dropping the invalid response header {name:?}: {value:?}"),
        }
    }
    map
}

impl Handle for InboundHttpHandler {
    async fn handle(&self, request: Request, deadline: Deadline) -> Result<Response, HandleError> {
        // 1. The request as one record; a method the old interface cannot express is 405.
        let (parts, body) = request.into_parts();
        let Some(method) = method(&parts.method) else {
            return Ok(response(
                StatusCode::METHOD_NOT_ALLOWED,
                HeaderMap::new(),
                Default::default(),
            ));
        };
        let body = deadline.bound(collect_body(body, MAX_BODY)).await?;
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

        // 2. A fresh instance handles it.
        let mut store = self.execution.store(&deadline)?;
        let guest_response = deadline
            .bound(async {
                let instance = self
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(HandleError::Instantiate)?;
                instance
                    .fermyon_spin_inbound_http()
                    .call_handle_request(&mut store, &guest_request)
                    .await
                    .map_err(HandleError::Trap)
            })
            .await?;

        // 3. The record becomes the response.
        let status = StatusCode::from_u16(guest_response.status).map_err(|_| {
            HandleError::InvalidResponse(format!(
                "the component answered with an invalid status code {}",
                guest_response.status
            ))
        })?;
        Ok(response(
            status,
            header_map(guest_response.headers.unwrap_or_default()),
            guest_response.body.unwrap_or_default().into(),
        ))
    }
}
