//! Running one request through one component: the request-execution half of the request path
//! (the HTTP trigger in `spindle-http` accepts and routes; this instantiates, handles and
//! produces the response).
//!
//! Every component gets one [`ComponentHandler`], whatever its handler export. Its contract is
//! [`ComponentHandler::handle`]: a request in, a response or a [`HandleError`] out, within the
//! request's [`Deadline`]. Each handler kind has its request path in one file, top to bottom:
//!
//! | kind | file | instances |
//! |---|---|---|
//! | `wasi:http/incoming-handler@0.2.x`, `wasi:http/handler@0.3.x` | [`proxy`] | fresh per request (p2), reused within [`InstanceReuse`] (p3) |
//! | `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` | [`wasi_http_rc`] | fresh per request |
//! | Spin 1.x `fermyon:spin/inbound-http` | [`inbound_http`] | fresh per request |
//! | Wagi (`executor = { type = "wagi" }`) | [`wagi`] (CGI in [`cgi`]) | fresh per request |
//!
//! What they share lives here: one store set-up ([`Execution::store`]: the component's
//! [`InstanceTemplate`], memory limits, the epoch deadline), one bound on the whole request
//! ([`Deadline::bound`]), one error type, and one response builder ([`response`]).

mod cgi;
mod inbound_http;
mod proxy;
mod wagi;
mod wasi_http_rc;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt as _, Full};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

use crate::sandbox::{new_store, InstanceState, InstanceTemplate};

/// A request as the component sees it.
pub type Request = wasmtime_wasi_http::handler::Request;
/// A response as the component produced it (the body may stream from the running instance).
pub type Response = wasmtime_wasi_http::handler::Response;

/// Which handler a component has.
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

/// Why a request got no response from its component. The HTTP trigger answers 500 for it (for
/// that request only) and logs this.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The instance could not be set up (its files, its capabilities) or instantiated.
    #[error("instantiation failed: {0:?}")]
    Instantiate(wasmtime::Error),
    /// The guest trapped (including an epoch interrupt at the deadline or a memory limit).
    #[error("{0:?}")]
    Trap(wasmtime::Error),
    /// The request ran past its deadline (plus the grace period) without finishing.
    #[error("the handler ran longer than {0:?}")]
    Timeout(Duration),
    /// The guest returned without giving a response.
    #[error("the component returned without a response")]
    NoResponse,
    /// The guest answered with a `wasi:http` error code instead of a response.
    #[error("the component answered with an error: {0}")]
    ErrorCode(String),
    /// A Wagi program exited with a failure status.
    #[error("the Wagi program exited with {0}")]
    Exit(String),
    /// What the guest answered is not an HTTP response (e.g. an invalid status code).
    #[error("{0}")]
    InvalidResponse(String),
    /// The request body could not be read (or exceeds what the handler kind takes whole).
    #[error("reading the request body: {0}")]
    RequestBody(String),
}

/// When one request must be finished.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    timeout: Option<Duration>,
    at: Option<Instant>,
}

/// How long past its deadline a request may take to be torn down before it is abandoned: the
/// epoch interrupt stops the guest at the deadline, this bounds what happens outside it.
const GRACE: Duration = Duration::from_millis(500);

impl Deadline {
    /// A deadline `timeout` from now; none without a timeout.
    pub fn after(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            at: timeout.map(|t| Instant::now() + t),
        }
    }

    /// The instant the guest is interrupted at (checked on every epoch tick).
    pub fn at(&self) -> Option<Instant> {
        self.at
    }

    /// Runs `work` to the deadline plus the grace period; past it the request fails with
    /// [`HandleError::Timeout`] and `work` is dropped (with its instance).
    pub async fn bound<T>(
        &self,
        work: impl Future<Output = Result<T, HandleError>>,
    ) -> Result<T, HandleError> {
        match self.timeout {
            Some(timeout) => tokio::time::timeout(timeout + GRACE, work)
                .await
                .map_err(|_| HandleError::Timeout(timeout))?,
            None => work.await,
        }
    }
}

/// What every handler kind runs a request with: the engine and the component's instance
/// template.
pub(crate) struct Execution {
    engine: Engine,
    template: Arc<InstanceTemplate>,
    request_timeout: Option<Duration>,
}

impl Execution {
    /// The engine, the component's template and the per-request timeout.
    pub(crate) fn new(
        engine: Engine,
        template: InstanceTemplate,
        request_timeout: Option<Duration>,
    ) -> Self {
        Self {
            engine,
            template: Arc::new(template),
            request_timeout,
        }
    }

    /// A fresh store for one instance: the template's state, limits and the deadline.
    fn store(&self, deadline: &Deadline) -> Result<Store<InstanceState>, HandleError> {
        Ok(self.store_with(self.state()?, deadline))
    }

    /// Fresh state for one instance, from the component's template.
    fn state(&self) -> Result<InstanceState, HandleError> {
        self.template.instance_state().map_err(setup_failed)
    }

    /// [`Execution::store`] for state the handler made itself (Wagi's command context).
    fn store_with(&self, mut state: InstanceState, deadline: &Deadline) -> Store<InstanceState> {
        state.deadline = deadline.at();
        new_store(&self.engine, state)
    }

    fn component_id(&self) -> &str {
        self.template.component_id()
    }
}

/// An instance's set-up (its files, its capabilities) failed: it cannot be instantiated.
fn setup_failed(e: anyhow::Error) -> HandleError {
    HandleError::Instantiate(wasmtime::format_err!("{e:#}"))
}

/// One handler kind's request path: the contract every file in this module implements.
trait Handle: Send + Sync + 'static {
    /// Runs `request` to its response, within `deadline`.
    fn handle(
        &self,
        request: Request,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Response, HandleError>> + Send;
}

/// [`Handle`] as an object, so that one [`ComponentHandler`] holds any kind.
trait RunRequest: Send + Sync + 'static {
    fn run(
        &self,
        request: Request,
        deadline: Deadline,
    ) -> Pin<Box<dyn Future<Output = Result<Response, HandleError>> + Send + '_>>;
}

impl<H: Handle> RunRequest for H {
    fn run(
        &self,
        request: Request,
        deadline: Deadline,
    ) -> Pin<Box<dyn Future<Output = Result<Response, HandleError>> + Send + '_>> {
        Box::pin(self.handle(request, deadline))
    }
}

/// Serves requests for one component.
#[derive(Clone)]
pub struct ComponentHandler {
    kind: HandlerKind,
    component_id: Arc<str>,
    request_timeout: Option<Duration>,
    run: Arc<dyn RunRequest>,
}

/// What [`ComponentHandler::load`] runs: a compiled component with an HTTP handler export, or
/// a Wagi program (a core module or a `wasi:cli/run` component).
pub(crate) enum Program<'a> {
    /// A component, compiled.
    Component(&'a Component),
    /// The bytes of a Wagi program, and its executor settings.
    Wagi {
        /// The program.
        bytes: &'a [u8],
        /// The executor's `argv` template.
        argv: &'a str,
        /// The executor's `entrypoint`.
        entrypoint: &'a str,
    },
}

impl ComponentHandler {
    /// Links `program` against `linker` and prepares it to serve requests with `execution`.
    pub(crate) fn load(
        program: Program<'_>,
        linker: &Linker<InstanceState>,
        execution: Execution,
        reuse: InstanceReuse,
    ) -> anyhow::Result<Self> {
        let component_id: Arc<str> = execution.component_id().into();
        let request_timeout = execution.request_timeout;
        let (kind, run): (HandlerKind, Arc<dyn RunRequest>) = match program {
            Program::Wagi {
                bytes,
                argv,
                entrypoint,
            } => (
                HandlerKind::Wagi,
                Arc::new(wagi::WagiHandler::new(
                    linker, bytes, execution, argv, entrypoint,
                )?),
            ),
            Program::Component(component) => {
                let export = HandlerExport::of(&execution.engine, component)?;
                let mut linker = linker.clone();
                if export == HandlerExport::WasiHttpRc {
                    crate::wasi_rc_2023_11_10::add_to_linker(&mut linker)?;
                }
                let pre = link(&mut linker, component, execution.component_id())?;
                match export {
                    HandlerExport::WasiHttpP2 => (
                        HandlerKind::WasiHttpP2,
                        Arc::new(proxy::ProxyRunner::p2(pre, execution)?),
                    ),
                    HandlerExport::WasiHttpP3 => (
                        HandlerKind::WasiHttpP3,
                        Arc::new(proxy::ProxyRunner::p3(pre, execution, reuse)?),
                    ),
                    HandlerExport::WasiHttpRc => (
                        HandlerKind::WasiHttpRc,
                        Arc::new(wasi_http_rc::RcHandler::new(pre, execution)?),
                    ),
                    HandlerExport::LegacyHttp => (
                        HandlerKind::LegacyHttp,
                        Arc::new(inbound_http::InboundHttpHandler::new(pre, execution)?),
                    ),
                }
            }
        };
        Ok(Self {
            kind,
            component_id,
            request_timeout,
            run,
        })
    }

    /// The handler world of this component.
    pub fn kind(&self) -> HandlerKind {
        self.kind
    }

    /// The component id.
    pub fn component_id(&self) -> &str {
        &self.component_id
    }

    /// Runs one request within the request timeout. An error means the guest trapped, timed
    /// out or never responded; the caller answers 500 for this request only.
    pub async fn handle(&self, request: Request) -> Result<Response, HandleError> {
        let deadline = Deadline::after(self.request_timeout);
        self.run.run(request, deadline).await
    }
}

/// Links the imports the host does not provide to failing stubs (logged), then pre-instantiates.
fn link(
    linker: &mut Linker<InstanceState>,
    component: &Component,
    component_id: &str,
) -> anyhow::Result<InstancePre<InstanceState>> {
    let engine = linker.engine().clone();
    let stubbed = crate::unsupported::link_unsupported(linker, &engine, component)?;
    let (denied, stubbed): (Vec<String>, Vec<String>) = stubbed
        .into_iter()
        .partition(|name| name.starts_with(crate::compose::DENIED_PREFIX));
    if !stubbed.is_empty() {
        tracing::warn!(
            "component `{component_id}` imports interfaces Spindle does not provide yet; \
             calling them fails the request: {}",
            stubbed.join(", ")
        );
    }
    if !denied.is_empty() {
        tracing::info!(
            "component `{component_id}`: its dependencies do not inherit its configuration, so \
             their calls to these interfaces are denied: {}",
            denied
                .iter()
                .map(|d| d.trim_start_matches(crate::compose::DENIED_PREFIX))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    linker
        .instantiate_pre(component)
        .map_err(|e| anyhow::anyhow!("{e:#}").context("linking the component against the host"))
}

/// The HTTP handler a component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandlerExport {
    WasiHttpP2,
    WasiHttpP3,
    WasiHttpRc,
    LegacyHttp,
}

impl HandlerExport {
    /// Finds the component's HTTP handler export. Extra exports are fine; two handlers are not.
    fn of(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        let mut found = Vec::new();
        let mut names = Vec::new();
        for (name, _) in component.component_type().exports(engine) {
            names.push(name.to_string());
            if name == crate::wasi_rc_2023_11_10::EXPORT {
                found.push((Self::WasiHttpRc, name.to_string()));
            } else if let Some(version) = name.strip_prefix("wasi:http/incoming-handler@") {
                if version.starts_with("0.2.") && !version.contains("-rc-") {
                    found.push((Self::WasiHttpP2, name.to_string()));
                } else {
                    bail!(
                        "the component exports {name}; this pre-release wasi:http version is \
                         not supported (help: rebuild with a current SDK that targets wasi:http \
                         0.2.x)"
                    );
                }
            } else if let Some(version) = name.strip_prefix("wasi:http/handler@") {
                if let Some(refusal) = crate::wasip3_rc::unsupported_rc(name) {
                    bail!("{refusal}");
                }
                if version.starts_with("0.3.") {
                    found.push((Self::WasiHttpP3, name.to_string()));
                }
            } else if name == inbound_http::EXPORT {
                found.push((Self::LegacyHttp, name.to_string()));
            }
        }
        match found.as_slice() {
            [(kind, _)] => Ok(*kind),
            [] => bail!(
                "the component exports no HTTP handler (expected wasi:http/incoming-handler@0.2.x \
                 or @0.2.0-rc-2023-11-10, wasi:http/handler@0.3.x or fermyon:spin/inbound-http); \
                 it exports: {}",
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                }
            ),
            many => bail!(
                "the component exports more than one HTTP handler: {}",
                many.iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A whole response: `status`, `headers`, `body`. Every response the host itself makes (the
/// trigger's own answers, Wagi and Spin 1.x responses, a failed chained request) is built here.
pub fn response(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
    let mut response = http::Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Reads a request body whole, up to `limit` bytes (for handler kinds that take it whole).
async fn collect_body(
    body: wasmtime_wasi_http::WasiBody,
    limit: usize,
) -> Result<Bytes, HandleError> {
    http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| HandleError::RequestBody(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_of(name: &str) -> anyhow::Result<HandlerExport> {
        let engine = Engine::default();
        let wasm = wat::parse_str(format!(
            r#"(component (instance $h) (export "{name}" (instance $h)))"#
        ))
        .unwrap();
        let wasm = crate::wasip3_rc::rename(&wasm).unwrap();
        HandlerExport::of(&engine, &Component::new(&engine, &wasm).unwrap())
    }

    #[test]
    fn wasip3_release_candidates_run_as_0_3_0_or_are_refused_with_help() {
        let rc = export_of("wasi:http/handler@0.3.0-rc-2026-03-15").unwrap();
        assert_eq!(rc, HandlerExport::WasiHttpP3);
        for old in [
            "0.3.0-rc-2026-01-06",
            "0.3.0-rc-2025-09-16",
            "0.3.0-rc-2025-08-15",
        ] {
            let err = export_of(&format!("wasi:http/handler@{old}")).unwrap_err();
            let err = format!("{err:#}");
            assert!(
                err.contains("a WASIp3 release candidate that Spindle does not run")
                    && err.contains("0.3.0-rc-2026-03-15")
                    && err.contains("help: rebuild"),
                "{err}"
            );
        }
    }

    #[test]
    fn handler_exports_are_told_apart_and_two_are_refused() {
        assert_eq!(
            export_of("wasi:http/incoming-handler@0.2.6").unwrap(),
            HandlerExport::WasiHttpP2
        );
        assert_eq!(
            export_of("wasi:http/incoming-handler@0.2.0-rc-2023-11-10").unwrap(),
            HandlerExport::WasiHttpRc
        );
        assert_eq!(
            export_of("fermyon:spin/inbound-http").unwrap(),
            HandlerExport::LegacyHttp
        );
        let none = export_of("my:pkg/other").unwrap_err().to_string();
        assert!(none.contains("exports no HTTP handler") && none.contains("my:pkg/other"));
    }

    #[tokio::test]
    async fn the_deadline_bounds_the_whole_request() {
        let deadline = Deadline::after(Some(Duration::from_millis(10)));
        assert!(deadline.at().is_some());
        let never = deadline.bound(std::future::pending::<Result<(), HandleError>>());
        assert!(matches!(never.await, Err(HandleError::Timeout(_))));
        let none = Deadline::after(None);
        assert!(none.at().is_none());
        assert_eq!(none.bound(async { Ok(7) }).await.unwrap(), 7);
    }
}
