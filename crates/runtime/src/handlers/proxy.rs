//! The request path of `wasi:http` handlers, `wasi:http/incoming-handler@0.2.x` (WASIp2) and
//! `wasi:http/handler@0.3.x` (WASIp3), driven by wasmtime-wasi-http's `ProxyHandler`:
//!
//! 1. `ProxyHandler` takes the request and finds an instance that accepts it
//!    ([`Worker::should_accept_request`]) or asks for a new one ([`ProxyState::instantiate`]:
//!    a fresh store from the component's template);
//! 2. the request starts ([`Worker::on_request_start`]: the store's deadline is set);
//! 3. the guest handles it and the response streams out while the instance keeps running;
//! 4. the instance is dropped when it may take no more requests, has been idle too long, or
//!    overran the deadline ([`Expiration`]).
//!
//! WASIp2 instances take exactly one request; WASIp3 instances may serve several, as Spin 4
//! does, within the [`InstanceReuse`] limits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::component::{GuestTaskId, InstancePre};
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, InstantiationError, ProxyHandler, ProxyPre, ShouldAccept,
    WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::WasiHttpView;

use super::{Deadline, Execution, Handle, HandleError, InstanceReuse, Request, Response};
use crate::sandbox::InstanceState;

/// Runs requests through a `wasi:http` 0.2.x or 0.3.x component.
pub(super) struct ProxyRunner {
    handler: ProxyHandler<ProxyState>,
}

impl ProxyRunner {
    /// A WASIp2 handler: one fresh instance per request.
    pub(super) fn p2(
        pre: InstancePre<InstanceState>,
        execution: Execution,
    ) -> anyhow::Result<Self> {
        let pre = wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let once = InstanceReuse {
            max_count: 1,
            max_concurrent: 1,
            idle_timeout: Duration::ZERO,
        };
        Ok(Self::new(ProxyPre::P2(pre), execution, once))
    }

    /// A WASIp3 handler: instances reused within `reuse`.
    pub(super) fn p3(
        pre: InstancePre<InstanceState>,
        execution: Execution,
        reuse: InstanceReuse,
    ) -> anyhow::Result<Self> {
        let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok(Self::new(ProxyPre::P3(pre), execution, reuse))
    }

    fn new(pre: ProxyPre<InstanceState>, execution: Execution, reuse: InstanceReuse) -> Self {
        Self {
            handler: ProxyHandler::new(ProxyState {
                pre,
                execution,
                reuse,
            }),
        }
    }
}

impl Handle for ProxyRunner {
    async fn handle(&self, request: Request, deadline: Deadline) -> Result<Response, HandleError> {
        self.handler.handle(deadline, request).await.map_err(|e| {
            match e.downcast::<InstantiationError<Deadline>>() {
                Ok(instantiation) => {
                    HandleError::Instantiate(wasmtime::format_err!("{:?}", instantiation.error))
                }
                Err(e) => HandleError::Trap(e),
            }
        })
    }
}

/// What `ProxyHandler` makes instances from.
struct ProxyState {
    pre: ProxyPre<InstanceState>,
    execution: Execution,
    reuse: InstanceReuse,
}

impl HandlerState for ProxyState {
    type StoreData = InstanceState;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    fn instantiate(
        &self,
    ) -> impl Future<Output = wasmtime::Result<Instance<InstanceState, Expiration, Worker>>> + Send
    {
        // Each request sets its own deadline when it starts (`on_request_start`).
        let store = self.execution.store(&Deadline::after(None));
        let reuse = self.reuse;
        let request_timeout = self.execution.request_timeout;
        let component_id = self.execution.component_id().into();
        async move {
            let mut store = store.map_err(|e| wasmtime::format_err!("{e}"))?;
            let proxy = self.pre.instantiate_async(&mut store).await?;
            Ok(Instance {
                store,
                proxy,
                view: |s: &mut InstanceState| s.http(),
                expiration: Expiration {
                    idle_timeout: reuse.idle_timeout,
                    request_timeout,
                    timer: None,
                },
                state: Worker {
                    reuse,
                    component_id,
                },
            })
        }
    }
}

/// Per-instance policy: how many requests to take and when each must finish.
struct Worker {
    reuse: InstanceReuse,
    component_id: std::sync::Arc<str>,
}

impl WorkerState for Worker {
    type StoreData = InstanceState;
    type RequestData = Deadline;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.reuse.max_count {
            ShouldAccept::Never
        } else if concurrent >= self.reuse.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, InstanceState>,
        deadline: Deadline,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        store.data_mut().deadline = deadline.at();
        match deadline.at() {
            Some(at) => Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at))),
            None => Box::pin(std::future::pending()),
        }
    }

    fn drop(&self, _store: Store<InstanceState>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            tracing::debug!("instance of `{}` ended: {e:?}", self.component_id);
        }
    }
}

/// Decides when an instance is dropped: after `idle_timeout` without requests, or when a request
/// overran the request timeout (a second line of defence behind the epoch deadline).
///
/// The deadline moves with every request (it is measured from the latest status change), but
/// the timer is not re-registered each time: re-registering a tokio timer wakes the runtime's
/// I/O driver, which profiling showed as half of the eventfd writes per request with a reused
/// WASIp3 instance. The one timer stays armed at an earlier deadline and, when it fires early,
/// is moved to the current one; it is only moved earlier when the deadline moved earlier.
struct Expiration {
    idle_timeout: Duration,
    request_timeout: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => Some(self.idle_timeout),
            WorkerStatus::Requests | WorkerStatus::PostReturn => {
                self.request_timeout.map(|t| t + super::GRACE)
            }
        };
        let Some(limit) = limit else {
            // No deadline now. An armed timer may still wake the worker once; it then finds
            // nothing to do.
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(start + limit);
        if tokio::time::Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // Fired at an earlier deadline than the current one: move it.
                Poll::Ready(()) if tokio::time::Instant::now() < deadline => {
                    timer.as_mut().reset(deadline)
                }
                Poll::Ready(()) => return Poll::Ready(()),
            }
        }
    }
}
