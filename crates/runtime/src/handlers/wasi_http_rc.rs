//! The request path of `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` components (the WASI 0.2
//! release candidate): a fresh instance per request, as for WASIp2, run here because
//! wasmtime-wasi-http's `ProxyHandler` only knows the released versions. The rc interfaces
//! forward to the same host implementation (`crate::wasi_rc_2023_11_10`).
//!
//! 1. a fresh store; the request and the response slot become `wasi:http` resources;
//! 2. the guest's `handle` runs in its own task (it may keep writing the body after it handed
//!    over the response);
//! 3. the response is whatever the guest put in the slot, within the deadline.

use std::sync::Arc;

use wasmtime::component::InstancePre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::WasiHttpView;

use super::{Deadline, Execution, Handle, HandleError, Request, Response};
use crate::sandbox::InstanceState;
use crate::wasi_rc_2023_11_10::RcProxyPre;

/// Runs requests through a component exporting the rc-2023-11-10 incoming handler.
pub(super) struct RcHandler {
    pre: RcProxyPre,
    execution: Arc<Execution>,
}

impl RcHandler {
    pub(super) fn new(
        pre: InstancePre<InstanceState>,
        execution: Execution,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pre: RcProxyPre::new(pre)?,
            execution: Arc::new(execution),
        })
    }
}

impl Handle for RcHandler {
    async fn handle(&self, request: Request, deadline: Deadline) -> Result<Response, HandleError> {
        let mut store = self.execution.store(&deadline)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut http = store.data_mut().http();
        // The server gives every request an absolute URI with the listener's scheme.
        let scheme = match request.uri().scheme_str() {
            Some("https") => Scheme::Https,
            _ => Scheme::Http,
        };
        let request = http
            .new_incoming_request(scheme, request)
            .map_err(HandleError::Instantiate)?;
        let response_out = http
            .new_response_outparam(tx)
            .map_err(HandleError::Instantiate)?;

        let pre = self.pre.clone();
        let execution = self.execution.clone();
        let guest = tokio::spawn(async move {
            let result = pre.call_handle(&mut store, request, response_out).await;
            if let Err(e) = &result {
                tracing::debug!("instance of `{}` ended: {e:?}", execution.component_id());
            }
            result
        });
        deadline
            .bound(async {
                match rx.await {
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(code)) => Err(HandleError::ErrorCode(format!("{code:?}"))),
                    // The guest returned or trapped without setting a response.
                    Err(_) => match guest.await {
                        Ok(Err(e)) => Err(HandleError::Trap(e)),
                        Ok(Ok(())) => Err(HandleError::NoResponse),
                        Err(e) => Err(HandleError::Trap(wasmtime::format_err!(
                            "the handler task failed: {e}"
                        ))),
                    },
                }
            })
            .await
    }
}
