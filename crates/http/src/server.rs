//! The HTTP server and the whole request path, top to bottom:
//!
//! ```text
//! accept (hyper) → well-known endpoints → Router::route(path)
//!   → static response (no instance)              or
//!   → add spin-* headers, absolute URI → ComponentHandler::handle (fresh instance)
//!   → stream the response back; trap / timeout → 500 for this request only
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use anyhow::Context as _;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use spindle_manifest::locked::{HttpRoute, HttpTarget};
use spindle_runtime::{App, SelfRequestHandler};
use tokio::net::TcpListener;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use crate::headers::{RouteHeaders, SpinHeaders};
use crate::router::{RoutePattern, Router};

/// How long a client may take to complete the TLS handshake before its connection is closed,
/// so that idle or slow clients cannot hold connections open without ever sending a request.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Spin's reserved path prefix.
const WELL_KNOWN: &str = "/.well-known/spin/";

/// What a route leads to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A component, by id.
    Component(String),
    /// A fixed response; no component runs.
    Static {
        /// Status code.
        status: u16,
        /// Response headers.
        headers: BTreeMap<String, String>,
        /// Response body.
        body: Option<String>,
    },
}

/// The HTTP trigger of one app: its routes and the loaded app they lead into.
pub struct HttpTrigger {
    app: Arc<App>,
    router: Router<Routed>,
}

/// A route's target and the `spin-*` header values that only depend on the route.
struct Routed {
    target: Target,
    headers: RouteHeaders,
}

impl HttpTrigger {
    /// Builds the router from the app's `[[trigger.http]]` entries. Private routes are left
    /// out: they are not reachable from outside.
    pub fn new(app: Arc<App>) -> Self {
        let mut router = Router::new();
        for trigger in app.locked.http_triggers() {
            let HttpRoute::Path(route) = &trigger.route else {
                continue;
            };
            let target = match &trigger.target {
                HttpTarget::Component { id, .. } => Target::Component(id.clone()),
                HttpTarget::StaticResponse {
                    status_code,
                    headers,
                    body,
                } => Target::Static {
                    status: *status_code,
                    headers: headers.clone(),
                    body: body.clone(),
                },
            };
            let headers = RouteHeaders::new(&RoutePattern::parse(route), &trigger.raw_route);
            router.add(route, Routed { target, headers });
        }
        Self { app, router }
    }

    /// [`HttpTrigger::new`], also registered with the app so its components' `http://self`
    /// requests go through this router.
    pub fn shared(app: Arc<App>) -> Arc<Self> {
        let trigger = Arc::new(Self::new(app));
        trigger
            .app
            .links()
            .set_self_handler(Arc::new(SelfRequests(Arc::downgrade(&trigger))));
        trigger
    }

    /// The routes in declaration order, e.g. to print them at start.
    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &Target)> {
        self.router
            .routes()
            .map(|(pattern, routed)| (pattern, &routed.target))
    }

    /// Handles one request from `client`. Never fails: every error becomes a response.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        scheme: &str,
        client: SocketAddr,
    ) -> Response<WasiBody> {
        if let Err(problem) = check_host(&request) {
            tracing::debug!(
                "{client}: {} {}: {problem}; answered 400",
                request.method(),
                request.uri().path()
            );
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Bad Request: {problem}\n"),
            );
        }
        let request = request.map(|body| body.map_err(HttpError::from).boxed_unsync());
        self.handle_request(request, scheme, client).await
    }

    /// [`HttpTrigger::handle`] for a request whose body is already a [`WasiBody`] (e.g. a
    /// component's request to its own app).
    pub async fn handle_request(
        &self,
        request: Request<WasiBody>,
        scheme: &str,
        client: SocketAddr,
    ) -> Response<WasiBody> {
        // 1. Spin's own endpoints.
        let path = request.uri().path();
        if let Some(endpoint) = path.strip_prefix(WELL_KNOWN) {
            return self.well_known(endpoint);
        }

        // 2. Route.
        let Some(routed) = self.router.route(path) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let component_id = match &routed.target.target {
            Target::Static {
                status,
                headers,
                body,
            } => return static_response(*status, headers, body.as_deref()),
            Target::Component(id) => id,
        };
        let Some(handler) = self.app.handler(component_id) else {
            tracing::error!("route {} has no loaded component", routed.pattern.raw);
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        };

        // 3. Shape the request as Spin does: absolute URI, spin-* headers, no hop-by-hop headers.
        // The URI and `spin-full-url` share one buffer.
        let (mut parts, body) = request.into_parts();
        let original_uri = parts.uri.clone();
        let full_url = Bytes::from(absolute_url(
            scheme,
            &parts.uri,
            parts.headers.get(header::HOST),
        ));
        if let Ok(uri) = Uri::from_maybe_shared(full_url.clone()) {
            parts.uri = uri;
        }
        parts.headers.remove(header::CONNECTION);
        SpinHeaders::new(
            &routed.target.headers,
            full_url,
            routed.params,
            routed.path_info,
            client,
        )
        .apply(&mut parts.headers);
        let method = parts.method.clone();

        // 4. Instantiate and run the component.
        match handler.handle(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(
                    "component `{component_id}` failed handling {method} {} (route {}): {error:#}",
                    original_uri.path(),
                    routed.pattern.raw
                );
                empty(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn well_known(&self, endpoint: &str) -> Response<WasiBody> {
        match endpoint {
            "health" => text(StatusCode::OK, "OK"),
            "info" => {
                let meta = &self.app.locked.metadata;
                let mut info = serde_json::Map::new();
                for key in ["name", "version"] {
                    if let Some(value) = meta.get(key) {
                        info.insert(key.to_string(), value.clone());
                    }
                }
                if let Some(digest) = meta.get("oci_image_digest") {
                    info.insert("oci_image_digest".into(), digest.clone());
                }
                let mut response =
                    text(StatusCode::OK, &serde_json::Value::Object(info).to_string());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            _ => empty(StatusCode::NOT_FOUND),
        }
    }
}

/// Runs a component's `http://self/...` request through the app's router.
struct SelfRequests(Weak<HttpTrigger>);

impl SelfRequestHandler for SelfRequests {
    fn handle(
        &self,
        request: Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = Response<WasiBody>> + Send>> {
        let trigger = self.0.upgrade();
        Box::pin(async move {
            let Some(trigger) = trigger else {
                return empty(StatusCode::SERVICE_UNAVAILABLE);
            };
            let scheme = request.uri().scheme_str().unwrap_or("http").to_string();
            let client = SocketAddr::from(([127, 0, 0, 1], 0));
            trigger.handle_request(request, &scheme, client).await
        })
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host header, and any request's Host
/// must be a valid `host[:port]`. Anything else is answered 400 before it is routed, so the
/// guest's URI can never be built from a Host that smuggles in a path, query or user info.
fn check_host<B>(request: &Request<B>) -> Result<(), &'static str> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err("more than one Host header"),
        (None, _) if request.version() == http::Version::HTTP_11 => {
            Err("an HTTP/1.1 request needs a Host header")
        }
        (None, _) => Ok(()),
        (Some(host), None) => match valid_authority(host.as_bytes()) {
            true => Ok(()),
            false => Err("the Host header is not a valid host[:port]"),
        },
    }
}

/// `uri-host [ ":" port ]` (RFC 3986 §3.2.2): an IP literal in brackets, or a name of
/// unreserved, percent-encoded and sub-delimiter characters; the port is digits.
fn valid_authority(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = std::str::from_utf8(&value[1..end]).unwrap_or("");
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match &value[end + 1..] {
            [] => (&value[..=end], None),
            [b':', port @ ..] => (&value[..=end], Some(port)),
            _ => return false,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
            None => (value, None),
        }
    };
    let name_ok = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
    !host.is_empty()
        && (host[0] == b'[' || host.iter().all(|&b| name_ok(b)))
        && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// `{scheme}://{authority}{path?query}`, as Spin builds `spin-full-url`. The authority is the
/// request target's own (absolute-form, HTTP/2 `:authority`, a component's self-request), else
/// the Host header when it is a valid `host[:port]`; the path is the one the router matched.
fn absolute_url(scheme: &str, uri: &Uri, host: Option<&HeaderValue>) -> String {
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .filter(|a| valid_authority(a.as_bytes()))
        .or_else(|| {
            host.filter(|h| valid_authority(h.as_bytes()))
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("localhost");
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{scheme}://{authority}{path}")
}

fn full(status: StatusCode, body: Bytes) -> Response<WasiBody> {
    spindle_runtime::handlers::response(status, http::HeaderMap::new(), body)
}

fn empty(status: StatusCode) -> Response<WasiBody> {
    full(status, Bytes::new())
}

fn text(status: StatusCode, body: &str) -> Response<WasiBody> {
    full(status, Bytes::from(body.to_string()))
}

fn static_response(
    status: u16,
    headers: &BTreeMap<String, String>,
    body: Option<&str>,
) -> Response<WasiBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = full(status, Bytes::from(body.unwrap_or_default().to_string()));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Binds `addr` (non-blocking, ready for [`TcpListener::from_std`]), with an error that says
/// what to do when it fails. A plain function so that a server can bind before it has a
/// runtime or an app: connections that arrive while the app loads wait in the backlog.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                " (help: another process is using this port; pick another with --listen)"
            }
            std::io::ErrorKind::PermissionDenied => {
                " (help: ports below 1024 need privileges; pick another with --listen)"
            }
            _ => "",
        };
        anyhow::anyhow!("cannot listen on {addr}: {e}{hint}")
    })?;
    listener
        .set_nonblocking(true)
        .with_context(|| format!("cannot listen on {addr}: setting the socket non-blocking"))?;
    Ok(listener)
}

/// How connections are served.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Serve HTTPS with this acceptor (`--tls-cert` / `--tls-key`); plain HTTP otherwise.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Largest HTTP/1 read buffer (`--http1-max-buf-size`); hyper's default otherwise.
    pub http1_max_buf_size: Option<usize>,
}

/// Serves `trigger` on `listener` (HTTP/1.1 and HTTP/2, over TLS if configured) until
/// `shutdown` resolves.
pub async fn serve(
    trigger: Arc<HttpTrigger>,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Some(size) = options.http1_max_buf_size {
        builder.http1().max_buf_size(size);
    }
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => accepted.context("accepting a connection")?,
            () = &mut shutdown => break,
        };
        let watcher = graceful.watcher();
        let _ = stream.set_nodelay(true);
        let trigger = trigger.clone();
        let builder = builder.clone();
        let tls = options.tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let trigger = trigger.clone();
                async move { Ok::<_, Infallible>(trigger.handle(request, scheme, client).await) }
            });
            let served = match tls {
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(stream), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("TLS handshake with {client} failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(
                                "TLS handshake with {client} took longer than \
                                 {TLS_HANDSHAKE_TIMEOUT:?}; connection closed"
                            );
                            return;
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!("connection from {client} ended: {e}");
            }
        });
    }
    // Stop accepting; let the requests in flight finish (idle connections close at once).
    let in_flight = graceful.count();
    if in_flight > 0 {
        tracing::info!("waiting for {in_flight} open connection(s) to finish");
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running after {DRAIN_TIMEOUT:?} of shutdown; they are cut off"
        );
    }
    Ok(())
}

/// How long a shutdown (SIGTERM, Ctrl-C) waits for requests in flight: Kubernetes' default
/// termination grace period, after which the kubelet kills the container anyway.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: http::Version, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get("/echo/public").version(version);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn host_header_is_checked_as_rfc_9112_requires() {
        use http::Version;
        assert!(check_host(&request(Version::HTTP_11, &["example.com"])).is_ok());
        assert!(check_host(&request(Version::HTTP_11, &["127.0.0.1:3000"])).is_ok());
        assert!(check_host(&request(Version::HTTP_11, &["[::1]:3000"])).is_ok());
        assert!(check_host(&request(Version::HTTP_10, &[])).is_ok());
        assert!(check_host(&request(Version::HTTP_2, &[])).is_ok());
        assert!(check_host(&request(Version::HTTP_11, &[])).is_err());
        assert!(check_host(&request(Version::HTTP_11, &["a", "b"])).is_err());
        for bad in [
            "a/admin?x=1#",
            "a?x",
            "a#frag",
            "user@host",
            "host:80x",
            "",
            ":80",
            "[::1",
            "[nope]:1",
            "a b",
        ] {
            assert!(
                check_host(&request(Version::HTTP_11, &[bad])).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn guest_url_takes_only_a_valid_authority_and_the_routed_path() {
        let uri: Uri = "/echo/public?q=1".parse().unwrap();
        let host = HeaderValue::from_static("a/admin?x=1#");
        assert_eq!(
            absolute_url("http", &uri, Some(&host)),
            "http://localhost/echo/public?q=1"
        );
        let host = HeaderValue::from_static("example.com:8080");
        assert_eq!(
            absolute_url("http", &uri, Some(&host)),
            "http://example.com:8080/echo/public?q=1"
        );
        let absolute: Uri = "http://user@evil/admin".parse().unwrap();
        assert_eq!(
            absolute_url("http", &absolute, Some(&host)),
            "http://example.com:8080/admin"
        );
    }
}
