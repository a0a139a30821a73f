//! Outbound HTTP to the network over Spindle's own connector (TCP, then TLS with the
//! component's `[[client_tls]]` settings or wasmtime-wasi-http's defaults):
//!
//! * pooled (`[outbound_http] connection_pooling`, on by default as in Spin): each component
//!   has its own hyper client whose idle connections (HTTP/1.1 keep-alive, 90 s) are reused by
//!   its next requests to the same scheme and authority. A pool is never shared between
//!   components, so a connection opened with one component's client certificate never carries
//!   another component's request;
//! * unpooled, with a `[[client_tls]]` entry: one connection per request ([`send_unpooled`]).
//!   Unpooled requests without one go through wasmtime-wasi-http's `default_send_request`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::client_tls::ClientTls;

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One component's connection pool.
#[derive(Clone)]
pub(crate) struct Pool {
    client: hyper_util::client::legacy::Client<Connector, WasiBody>,
}

impl Pool {
    /// A pool for `component_id`'s requests, with its `[[client_tls]]` settings.
    pub(crate) fn new(component_id: Arc<str>, tls: Arc<ClientTls>) -> Self {
        let connector = Connector::new(component_id, tls);
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        Self { client }
    }

    /// Sends `request` (absolute URI) on a pooled connection, honouring the request's connect
    /// and first-byte timeouts (default 600 s, as wasmtime-wasi-http's) for getting the head.
    pub(crate) async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let limit = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(Duration::from_secs(600))
            + options
                .and_then(|o| o.first_byte_timeout)
                .unwrap_or(Duration::from_secs(600));
        let response = tokio::time::timeout(limit, self.client.request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(client_error)?;
        Ok(response.map(|body| body.map_err(HttpError::from).boxed_unsync()))
    }
}

/// wasmtime-wasi-http's own TLS defaults: the public webpki roots, no client certificate.
fn default_tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

/// A TLS failure while connecting (to tell it from a TCP failure).
#[derive(Debug)]
struct TlsFailure(std::io::Error);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS: {}", self.0)
    }
}

impl std::error::Error for TlsFailure {}

fn client_error(e: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<TlsFailure>()) {
                return HttpError::Tls(std::io::Error::new(tls.0.kind(), tls.0.to_string()));
            }
            return connect_error(std::io::Error::new(io.kind(), io.to_string()));
        }
        if s.downcast_ref::<hyper::Error>().is_some() {
            break;
        }
        source = s.source();
    }
    match e.source().and_then(|s| s.downcast_ref::<hyper::Error>()) {
        Some(h) if h.is_timeout() => HttpError::HttpResponseTimeout,
        Some(_) | None if e.is_connect() => HttpError::ConnectionRefused,
        _ => HttpError::HttpProtocolError,
    }
}

/// Opens TCP (and TLS for `https`) connections for a component's pool.
#[derive(Clone)]
struct Connector {
    component_id: Arc<str>,
    tls: Arc<ClientTls>,
    default_tls: Arc<rustls::ClientConfig>,
}

type ConnectFuture = Pin<Box<dyn Future<Output = std::io::Result<Stream>> + Send>>;

impl Connector {
    fn new(component_id: Arc<str>, tls: Arc<ClientTls>) -> Self {
        Self {
            component_id,
            tls,
            default_tls: default_tls(),
        }
    }

    /// Opens a connection to `uri`'s authority: TCP, and TLS for `https`.
    async fn connect(self, uri: http::Uri) -> std::io::Result<Stream> {
        let host = bare_host(&uri);
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        let _ = tcp.set_nodelay(true);
        if !https {
            return Ok(Stream::Plain(TokioIo::new(tcp)));
        }
        let config = self
            .tls
            .for_host(&self.component_id, &host)
            .unwrap_or(self.default_tls);
        let name = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| std::io::Error::other(TlsFailure(e)))?;
        Ok(Stream::Tls(Box::new(TokioIo::new(tls))))
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// Sends `request` on a connection of its own (pooling off), opened with `component_id`'s
/// `[[client_tls]]` settings, HTTP/1.1, honouring the request's connect and first-byte
/// timeouts (default 600 s, as wasmtime-wasi-http's).
pub(crate) async fn send_unpooled(
    component_id: Arc<str>,
    tls: Arc<ClientTls>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let uri = request.uri().clone();
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(600));
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let stream = tokio::time::timeout(
        connect_timeout,
        Connector::new(component_id, tls).connect(uri.clone()),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(connect_error)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await?;
    // The connection is driven by its own task, which ends when the response body is done.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = done_tx.send(conn.await.map_err(HttpError::from));
    });
    // Origin-form on the wire: the authority goes in Host, not in the request line.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    let io: IoFuture = Box::new(async move { done_rx.await.unwrap_or(Ok(())) });
    Ok((response, io))
}

/// `uri`'s host without IPv6 brackets (`""` when it has none).
pub(crate) fn bare_host(uri: &http::Uri) -> String {
    uri.host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// A connector failure as wasi:http sees it: a TLS error or a connection error.
fn connect_error(io: std::io::Error) -> HttpError {
    match io.get_ref().and_then(|i| i.downcast_ref::<TlsFailure>()) {
        Some(tls) => HttpError::Tls(std::io::Error::new(tls.0.kind(), tls.0.to_string())),
        None => HttpError::Connect(io),
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = std::io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// A pooled connection: plain TCP or TLS over TCP.
enum Stream {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
