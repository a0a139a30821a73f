//! Runs HTTP requests through one component.
//!
//! Each component gets a [`ComponentHandler`]: wasmtime-wasi-http's `ProxyHandler` driven by
//! Spindle's instance policy. WASIp2 handlers (`wasi:http/incoming-handler@0.2.x`) get a fresh
//! instance for every request; WASIp3 handlers (`wasi:http/handler@0.3.x`) may reuse an
//! instance for several requests, as Spin 4 does, within the [`InstanceReuse`] limits. Wagi
//! programs and Spin 1.x `fermyon:spin/inbound-http` components have their own runners.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, InstantiationError, ProxyHandler, ProxyPre, ShouldAccept,
    WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::WasiHttpView;

use crate::legacy_http::LegacyHttpHandler;
use crate::sandbox::{new_store, InstanceState, Sandbox};
use crate::wagi::WagiHandler;
use crate::wasi_rc_2023_11_10::RcProxyPre;

/// Which `wasi:http` world a component's handler export belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// `wasi:http/incoming-handler@0.2.x`.
    WasiHttpP2,
    /// `wasi:http/handler@0.3.x`.
    WasiHttpP3,
    /// A WASI command run CGI-style (`executor = { type = "wagi" }`).
    Wagi,
    /// Spin 1.x's `fermyon:spin/inbound-http` export.
    LegacyHttp,
    /// `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` (the WASI 0.2 release candidate).
    WasiHttpRc,
}

/// Instance reuse limits for WASIp3 handlers (Spin's `--max-instance-reuse-count`,
/// `--max-instance-concurrent-reuse-count`, `--idle-instance-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct InstanceReuse {
    /// Requests one instance may serve in total before it is dropped.
    pub max_count: usize,
    /// Requests one instance may serve at the same time.
    pub max_concurrent: usize,
    /// How long an idle instance is kept for the next request.
    pub idle_timeout: Duration,
}

impl Default for InstanceReuse {
    fn default() -> Self {
        Self {
            max_count: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// A request as the component sees it.
pub type Request = wasmtime_wasi_http::handler::Request;
/// A response as the component produced it (the body streams from the running instance).
pub type Response = wasmtime_wasi_http::handler::Response;

/// Serves requests for one component: a `wasi:http` handler or a Wagi program.
#[derive(Clone)]
pub struct ComponentHandler {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Http(ProxyHandler<ComponentServer>),
    Wagi(Arc<WagiHandler>),
    Legacy(Arc<LegacyHttpHandler>),
    Rc(Arc<RcHandler>),
}

impl ComponentHandler {
    pub(crate) fn new(
        engine: Engine,
        pre: ProxyPre<InstanceState>,
        kind: HandlerKind,
        sandbox: Sandbox,
        reuse: InstanceReuse,
        request_timeout: Option<Duration>,
    ) -> Self {
        let reuse = match kind {
            HandlerKind::WasiHttpP2 => InstanceReuse {
                max_count: 1,
                max_concurrent: 1,
                idle_timeout: Duration::ZERO,
            },
            HandlerKind::WasiHttpP3
            | HandlerKind::Wagi
            | HandlerKind::LegacyHttp
            | HandlerKind::WasiHttpRc => reuse,
        };
        Self {
            inner: Inner::Http(ProxyHandler::new(ComponentServer {
                engine,
                pre: Arc::new(pre),
                kind,
                sandbox: Arc::new(sandbox),
                reuse,
                request_timeout,
            })),
        }
    }

    /// A handler running a Wagi program.
    pub(crate) fn wagi(handler: WagiHandler) -> Self {
        Self {
            inner: Inner::Wagi(Arc::new(handler)),
        }
    }

    /// A handler for a `fermyon:spin/inbound-http` component.
    pub(crate) fn legacy(handler: LegacyHttpHandler) -> Self {
        Self {
            inner: Inner::Legacy(Arc::new(handler)),
        }
    }

    /// A handler for a `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` component.
    pub(crate) fn rc(
        engine: Engine,
        pre: RcProxyPre,
        sandbox: Sandbox,
        request_timeout: Option<Duration>,
    ) -> Self {
        Self {
            inner: Inner::Rc(Arc::new(RcHandler {
                engine,
                pre,
                sandbox: Arc::new(sandbox),
                request_timeout,
            })),
        }
    }

    /// The handler world of this component.
    pub fn kind(&self) -> HandlerKind {
        match &self.inner {
            Inner::Http(h) => h.state().kind,
            Inner::Wagi(_) => HandlerKind::Wagi,
            Inner::Legacy(_) => HandlerKind::LegacyHttp,
            Inner::Rc(_) => HandlerKind::WasiHttpRc,
        }
    }

    /// The component id.
    pub fn component_id(&self) -> &str {
        match &self.inner {
            Inner::Http(h) => h.state().sandbox.component_id(),
            Inner::Wagi(w) => w.component_id(),
            Inner::Legacy(l) => l.component_id(),
            Inner::Rc(r) => r.sandbox.component_id(),
        }
    }

    /// Runs one request. An error means the guest trapped, timed out or never responded; the
    /// caller turns it into a 500 for this request only.
    pub async fn handle(&self, request: Request) -> anyhow::Result<Response> {
        let inner = match &self.inner {
            Inner::Http(h) => h,
            Inner::Wagi(w) => return w.handle(request).await,
            Inner::Legacy(l) => return l.handle(request).await,
            Inner::Rc(r) => return r.clone().handle(request).await,
        };
        inner.handle((), request).await.map_err(|e| {
            match e.downcast_ref::<InstantiationError<()>>() {
                Some(instantiation) => {
                    anyhow::anyhow!("instantiation failed: {:?}", instantiation.error)
                }
                None => anyhow::Error::from(e),
            }
        })
    }
}

struct ComponentServer {
    engine: Engine,
    pre: Arc<ProxyPre<InstanceState>>,
    kind: HandlerKind,
    sandbox: Arc<Sandbox>,
    reuse: InstanceReuse,
    request_timeout: Option<Duration>,
}

impl HandlerState for ComponentServer {
    type StoreData = InstanceState;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    fn instantiate(
        &self,
    ) -> impl Future<Output = wasmtime::Result<Instance<InstanceState, Expiration, Worker>>> + Send
    {
        let state = self.sandbox.instance_state();
        let engine = self.engine.clone();
        let pre = self.pre.clone();
        let reuse = self.reuse;
        let request_timeout = self.request_timeout;
        let component_id: Arc<str> = self.sandbox.component_id().into();
        async move {
            let state = state.map_err(|e| wasmtime::format_err!("{e:#}"))?;
            let mut store = new_store(&engine, state);
            let proxy = pre.instantiate_async(&mut store).await?;
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
                    request_timeout,
                    component_id,
                },
            })
        }
    }
}

/// Per-instance policy: how many requests to take and when each must finish.
struct Worker {
    reuse: InstanceReuse,
    request_timeout: Option<Duration>,
    component_id: Arc<str>,
}

impl WorkerState for Worker {
    type StoreData = InstanceState;
    type RequestData = ();

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
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        match self.request_timeout {
            Some(timeout) => {
                store.data_mut().deadline = Some(Instant::now() + timeout);
                Box::pin(tokio::time::sleep(timeout))
            }
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
                self.request_timeout.map(|t| t + Duration::from_millis(500))
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

/// Runs `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` components: a fresh instance per
/// request, like WASIp2, driven here because wasmtime-wasi-http's `ProxyHandler` only knows the
/// released versions. The rc interfaces forward to the same host implementation.
struct RcHandler {
    engine: Engine,
    pre: RcProxyPre,
    sandbox: Arc<Sandbox>,
    request_timeout: Option<Duration>,
}

impl RcHandler {
    async fn handle(self: Arc<Self>, request: Request) -> anyhow::Result<Response> {
        use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

        let mut state = self.sandbox.instance_state()?;
        state.deadline = self.request_timeout.map(|t| Instant::now() + t);
        let mut store = new_store(&self.engine, state);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut http = store.data_mut().http();
        // The server gives every request an absolute URI with the listener's scheme.
        let scheme = match request.uri().scheme_str() {
            Some("https") => Scheme::Https,
            _ => Scheme::Http,
        };
        let request = http.new_incoming_request(scheme, request)?;
        let response_out = http.new_response_outparam(tx)?;

        // The guest may keep writing the body after it hands over the response, so it runs in
        // its own task while the response streams out.
        let this = self.clone();
        let guest = tokio::spawn(async move {
            let result = this
                .pre
                .call_handle(&mut store, request, response_out)
                .await;
            if let Err(e) = &result {
                tracing::debug!("instance of `{}` ended: {e:?}", this.sandbox.component_id());
            }
            result
        });
        let response = async {
            match rx.await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(anyhow::anyhow!(
                    "the component answered with an error: {code:?}"
                )),
                // The guest returned or trapped without setting a response.
                Err(_) => match guest.await {
                    Ok(Err(e)) => Err(anyhow::anyhow!("{e:?}")),
                    Ok(Ok(())) => Err(anyhow::anyhow!("the component returned without a response")),
                    Err(e) => Err(anyhow::anyhow!("the handler task failed: {e}")),
                },
            }
        };
        let response = match self.request_timeout {
            Some(timeout) => tokio::time::timeout(timeout + Duration::from_millis(500), response)
                .await
                .map_err(|_| anyhow::anyhow!("the handler ran longer than {timeout:?}"))??,
            None => response.await?,
        };
        Ok(response)
    }
}
