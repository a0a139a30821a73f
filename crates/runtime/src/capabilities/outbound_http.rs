//! Outbound HTTP (`wasi:http/outgoing-handler` for WASIp2, `wasi:http/client` for WASIp3: both
//! end in [`WasiHttpHooks::send_request`]).
//!
//! Deny by default: a request is sent only when the component's `allowed_outbound_hosts`
//! ([`AllowedHosts`]) grants it. Then:
//!
//! * `http://<component-id>.spin.internal/...` (service chaining) runs that component's handler
//!   in memory, without the network, even when its only route is private;
//! * `http://self/...` (or `self.alt`) goes through the app's own router, via the
//!   [`SelfRequestHandler`] the HTTP trigger registers;
//! * anything else is sent over the network with wasmtime-wasi-http's `default_send_request`.
//!
//! A denied request fails with `HttpRequestDenied`, and the console says which entry to add.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttp, WasiHttpCtxView, WasiHttpHooks,
};

use super::runtime_config::OutboundHttpConfig;

use super::{Capability, Grantee};
use crate::allowed_hosts::{is_self_host, service_chaining_target, AllowedHosts};
use crate::client_tls::ClientTls;
use wasmtime::component::Linker;

/// Serves requests a component makes to its own app (`http://self/...`): the HTTP trigger
/// implements this with its router, so the runtime needs no dependency on it.
pub trait SelfRequestHandler: Send + Sync + 'static {
    /// Routes and runs `request` as if it had come from outside. Never fails: errors are
    /// responses.
    fn handle(
        &self,
        request: http::Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = http::Response<WasiBody>> + Send>>;
}

/// A component that service-chaining requests (`http://<id>.spin.internal`) reach: the app
/// implements it with the component's handler, so this module needs no dependency on it.
pub trait ChainTarget: Send + Sync + 'static {
    /// Runs a request chained from component `caller`. Never fails: errors are responses.
    fn handle_chained<'a>(
        &'a self,
        caller: &'a str,
        request: http::Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = http::Response<WasiBody>> + Send + 'a>>;
}

/// What every instance of an app can reach through outbound HTTP: the app's component handlers
/// (service chaining) and its router (`self` requests). Filled in once the app is loaded.
#[derive(Default)]
pub struct AppLinks {
    components: OnceLock<HashMap<String, Arc<dyn ChainTarget>>>,
    self_handler: OnceLock<Arc<dyn SelfRequestHandler>>,
}

impl AppLinks {
    /// Sets the component handlers (once, after every component is loaded).
    pub(crate) fn set_components(&self, handlers: HashMap<String, Arc<dyn ChainTarget>>) {
        let _ = self.components.set(handlers);
    }

    /// Registers the handler for `self` requests. Only the first registration counts.
    pub fn set_self_handler(&self, handler: Arc<dyn SelfRequestHandler>) {
        let _ = self.self_handler.set(handler);
    }

    fn component(&self, id: &str) -> Option<Arc<dyn ChainTarget>> {
        self.components.get()?.get(id).cloned()
    }
}

/// The app-wide settings of outbound HTTP to the network, from the runtime config:
/// `[outbound_http] max_concurrent_requests` and `[[client_tls]]`.
#[derive(Clone, Default, Debug)]
pub struct OutboundHttpSettings {
    tls: Arc<ClientTls>,
    /// Permits for requests in flight (held until the response body is dropped).
    limit: Option<Arc<tokio::sync::Semaphore>>,
    /// Reuse connections (one pool per component): Spin's `connection_pooling`, on when the
    /// runtime config has no `[outbound_http]`.
    pooling: bool,
}

impl OutboundHttpSettings {
    /// Builds the settings, reading `[[client_tls]]` files relative to `config_dir`.
    pub fn new(
        http: Option<&OutboundHttpConfig>,
        client_tls: &[crate::client_tls::ClientTlsConfig],
        config_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            tls: Arc::new(ClientTls::new(client_tls, config_dir)?),
            limit: http
                .and_then(|h| h.max_concurrent_requests)
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
            pooling: http.is_none_or(|h| h.connection_pooling),
        })
    }
}

/// The outbound policy of one component, shared by all its instances.
#[derive(Clone, Default)]
pub struct OutboundConfig {
    component_id: Arc<str>,
    allowed: Arc<AllowedHosts>,
    links: Weak<AppLinks>,
    http: OutboundHttpSettings,
    /// The component's connection pool, when pooling is on.
    pool: Option<crate::http_pool::Pool>,
}

impl OutboundConfig {
    /// `allowed` for this component; chaining and `self` requests go through `links`;
    /// requests to the network follow `http`.
    pub fn new(
        component_id: &str,
        allowed: Arc<AllowedHosts>,
        links: &Arc<AppLinks>,
        http: &OutboundHttpSettings,
    ) -> Self {
        Self {
            component_id: component_id.into(),
            allowed,
            links: Arc::downgrade(links),
            pool: http
                .pooling
                .then(|| crate::http_pool::Pool::new(component_id.into(), http.tls.clone())),
            http: http.clone(),
        }
    }

    /// The component's parsed `allowed_outbound_hosts`.
    pub(crate) fn allowed(&self) -> &Arc<AllowedHosts> {
        &self.allowed
    }
}

/// The outbound HTTP hooks of one instance.
pub struct OutboundHttp {
    component_id: Arc<str>,
    config: OutboundConfig,
}

impl OutboundHttp {
    /// The policy for `component_id`: `config` (the default config denies everything).
    pub fn new(component_id: Arc<str>, config: OutboundConfig) -> Self {
        Self {
            component_id,
            config,
        }
    }
}

/// Outbound HTTP as a [`Capability`]: the grant is the component's [`OutboundConfig`], the
/// state the [`OutboundHttp`] hooks wasi:http calls for every request a guest sends, the view
/// wasi:http's own.
pub struct OutboundHttpCapability {
    settings: OutboundHttpSettings,
    links: Arc<AppLinks>,
}

impl OutboundHttpCapability {
    /// The app-wide `settings`; chaining and `self` requests reach the app through `links`.
    pub fn new(settings: OutboundHttpSettings, links: Arc<AppLinks>) -> Self {
        Self { settings, links }
    }
}

impl Capability for OutboundHttpCapability {
    type Grant = OutboundConfig;
    type State = OutboundHttp;
    type View = WasiHttp;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> WasiHttpCtxView<'_>,
    ) -> anyhow::Result<()> {
        use wasmtime_wasi_http::{p2, p3};
        let options = p2::bindings::LinkOptions::default();
        p2::bindings::http::outgoing_handler::add_to_linker::<_, WasiHttp>(linker, view)?;
        p2::bindings::http::types::add_to_linker::<_, WasiHttp>(linker, &options.into(), view)?;
        p3::bindings::http::client::add_to_linker::<_, WasiHttp>(linker, view)?;
        p3::bindings::http::types::add_to_linker::<_, WasiHttp>(linker, view)?;
        Ok(())
    }

    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<OutboundConfig> {
        Ok(OutboundConfig::new(
            &grantee.component.id,
            grantee.allowed_hosts.clone(),
            &self.links,
            &self.settings,
        ))
    }

    fn state(self: &Arc<Self>, grant: &OutboundConfig) -> OutboundHttp {
        OutboundHttp::new(grant.component_id.clone(), grant.clone())
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), HttpError>;

/// Where an allowed request goes.
enum Destination {
    Network,
    Component(String),
    OwnApp,
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = crate::http_pool::bare_host(&uri);
        let port = uri.port_u16();
        let allowed = &self.config.allowed;

        let (destination, permitted) = if host.is_empty() || is_self_host(&host) {
            // A relative URL reaches the host with a placeholder authority (the Rust SDK sends
            // `:80`/`:443`, the JS SDK `self.alt`) and wasmtime's default scheme, https. As in
            // Spin, an `http://self` or `https://self` entry allows it whatever that scheme.
            (
                Destination::OwnApp,
                allowed.allows_relative("http") || allowed.allows_relative("https"),
            )
        } else if let Some(target) = service_chaining_target(&host) {
            (
                Destination::Component(target.to_string()),
                allowed.allows(&scheme, &host, port),
            )
        } else {
            (Destination::Network, allowed.allows(&scheme, &host, port))
        };

        if !permitted {
            let entry = if host.is_empty() || is_self_host(&host) {
                "http://self".to_string()
            } else {
                AllowedHosts::suggestion(&scheme, &host, port)
            };
            tracing::warn!(
                "component `{id}` was denied an outbound request to {url}: not allowed by its \
                 allowed_outbound_hosts (help: add \"{entry}\" to allowed_outbound_hosts of \
                 component `{id}`)",
                id = self.component_id,
                url = display_url(&uri),
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }

        match destination {
            Destination::Network => {
                // Unpooled, only a `[[client_tls]]` entry needs Spindle's own connector.
                let custom_tls = scheme == "https"
                    && self
                        .config
                        .http
                        .tls
                        .for_host(&self.component_id, &host)
                        .is_some();
                let tls = self.config.http.tls.clone();
                let component_id = self.component_id.clone();
                let limit = self.config.http.limit.clone();
                let pool = self.config.pool.clone();
                Box::new(async move {
                    // `max_concurrent_requests`: wait for a slot, held until the body is done.
                    let permit = match limit {
                        Some(limit) => Some(
                            limit
                                .acquire_owned()
                                .await
                                .map_err(|_| HttpError::ConnectionRefused)?,
                        ),
                        None => None,
                    };
                    let (response, io) = match pool {
                        Some(pool) => (pool.send(request, options).await?, done()),
                        None if custom_tls => {
                            crate::http_pool::send_unpooled(component_id, tls, request, options)
                                .await?
                        }
                        None => {
                            let (response, io) =
                                wasmtime_wasi_http::default_send_request(request, options).await?;
                            (
                                response.map(BodyExt::boxed_unsync),
                                Box::new(io) as IoFuture,
                            )
                        }
                    };
                    let response = match permit {
                        Some(permit) => response.map(|body| {
                            body.map_frame(move |frame| {
                                let _held = &permit;
                                frame
                            })
                            .boxed_unsync()
                        }),
                        None => response,
                    };
                    Ok((response, io))
                })
            }
            Destination::Component(target) => {
                let links = self.config.links.upgrade();
                let caller = self.component_id.clone();
                Box::new(async move {
                    let Some(handler) = links.as_ref().and_then(|l| l.component(&target)) else {
                        tracing::warn!(
                            "component `{caller}` sent a request to {}: the app has no HTTP \
                             component `{target}` (help: check the component id in the URL)",
                            display_url(&uri)
                        );
                        return Err(HttpError::DestinationNotFound);
                    };
                    let response = handler
                        .handle_chained(&caller, chained_request(request))
                        .await;
                    Ok((response, done()))
                })
            }
            Destination::OwnApp => {
                let handler = self
                    .config
                    .links
                    .upgrade()
                    .and_then(|l| l.self_handler.get().cloned());
                let caller = self.component_id.clone();
                Box::new(async move {
                    let Some(handler) = handler else {
                        tracing::warn!(
                            "component `{caller}` sent a request to its own app ({}), but no \
                             HTTP trigger serves this app",
                            display_url(&uri)
                        );
                        return Err(HttpError::ConnectionRefused);
                    };
                    Ok((handler.handle(request).await, done()))
                })
            }
        }
    }
}

fn done() -> IoFuture {
    Box::new(async { Ok(()) })
}

/// `scheme://authority/path` of a request, without the query (which may carry secrets).
fn display_url(uri: &http::Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or(""),
        uri.path()
    )
}

/// Shapes a service-chaining request as Spin does for a private route: no `Host` header, and
/// the `spin-*` headers of a route matching everything (`/...`).
fn chained_request(request: http::Request<WasiBody>) -> http::Request<WasiBody> {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(http::header::HOST);
    parts.headers.remove(http::header::CONNECTION);
    let full_url = parts.uri.to_string();
    let path = parts.uri.path().to_string();
    set_chaining_headers(&mut parts.headers, &full_url, &path);
    http::Request::from_parts(parts, body)
}

fn set_chaining_headers(headers: &mut HeaderMap, full_url: &str, path: &str) {
    let values = [
        ("spin-full-url", full_url),
        ("spin-path-info", path),
        ("spin-matched-route", "/..."),
        ("spin-raw-component-route", "/..."),
        ("spin-component-route", ""),
        ("spin-base-path", "/"),
        ("spin-client-addr", "127.0.0.1:0"),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;

    #[test]
    fn chained_requests_look_like_a_private_route() {
        let body = Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::builder()
            .uri("http://api.spin.internal/items/3?x=1")
            .header("host", "api.spin.internal")
            .header("spin-path-info", "forged")
            .header("x-kept", "yes")
            .body(body)
            .unwrap();
        let request = chained_request(request);
        let h = request.headers();
        assert!(h.get("host").is_none());
        assert_eq!(h["x-kept"], "yes");
        assert_eq!(h["spin-full-url"], "http://api.spin.internal/items/3?x=1");
        assert_eq!(h["spin-path-info"], "/items/3");
        assert_eq!(h["spin-matched-route"], "/...");
        assert_eq!(h["spin-component-route"], "");
        assert_eq!(h.get_all("spin-path-info").iter().count(), 1);
    }

    #[test]
    fn urls_are_shown_without_queries() {
        let uri: http::Uri = "http://127.0.0.1:8081/a/b?token=secret".parse().unwrap();
        assert_eq!(display_url(&uri), "http://127.0.0.1:8081/a/b");
    }
}
