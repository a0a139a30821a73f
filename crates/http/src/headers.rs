//! The `spin-*` request headers Spin injects, so apps that read them run unchanged.
//!
//! The values that depend only on the route ([`RouteHeaders`]) are computed once when the
//! router is built; per request only the URL, path info, client address and `:name` values are
//! new, and each is moved into its header without another copy. This is on every request's
//! path: fewer allocations here also means less allocator-lock traffic between the connection
//! thread and the thread running the instance.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::router::RoutePattern;

const FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
const PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
const MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
const RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
const COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
const BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
const CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// The `spin-*` header values fixed by one route.
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    /// `spin-matched-route`: the normalized route, wildcard included.
    matched_route: Option<HeaderValue>,
    /// `spin-raw-component-route`: the route as the manifest spells it.
    raw_route: Option<HeaderValue>,
    /// `spin-component-route`: the manifest's spelling without a trailing `/...` wildcard.
    component_route: Option<HeaderValue>,
    /// `spin-path-match-<name>` for each `:name` segment, in order (`None` if the name cannot
    /// be a header name).
    path_matches: Vec<Option<HeaderName>>,
}

impl RouteHeaders {
    /// Computes the fixed header values of the route `raw` (as the manifest spells it), whose
    /// normalized form is `pattern`. As in Spin, only `spin-matched-route` is normalized.
    pub fn new(pattern: &RoutePattern, raw: &str) -> Self {
        let value = |v: String| {
            HeaderValue::try_from(v)
                .inspect_err(|_| tracing::debug!("route {}: not a header value", pattern.raw))
                .ok()
        };
        Self {
            matched_route: value(pattern.raw.clone()),
            raw_route: value(raw.to_string()),
            component_route: value(raw.strip_suffix("/...").unwrap_or(raw).to_string()),
            path_matches: pattern
                .param_names()
                .map(|name| {
                    let name = format!(
                        "spin-path-match-{}",
                        name.to_ascii_lowercase().replace('_', "-")
                    );
                    HeaderName::try_from(name).ok()
                })
                .collect(),
        }
    }
}

/// The `spin-*` headers for one routed request.
#[derive(Debug)]
pub struct SpinHeaders<'a> {
    route: &'a RouteHeaders,
    /// `spin-full-url`: `{scheme}://{host}{path?query}`.
    full_url: Bytes,
    /// `spin-path-info`: what the trailing wildcard matched.
    path_info: String,
    /// `spin-client-addr`: `ip:port` of the client.
    client: SocketAddr,
    /// Values of the route's `:name` segments, in order.
    params: Vec<(String, String)>,
}

impl<'a> SpinHeaders<'a> {
    /// The headers for a request routed by the route of `route`.
    pub fn new(
        route: &'a RouteHeaders,
        full_url: Bytes,
        params: Vec<(String, String)>,
        path_info: String,
        client: SocketAddr,
    ) -> Self {
        Self {
            route,
            full_url,
            path_info,
            client,
            params,
        }
    }

    /// Adds the headers to `headers`, replacing any a client sent under the same names.
    pub fn apply(self, headers: &mut HeaderMap) {
        headers.reserve(7 + self.params.len());
        let mut set = |name: HeaderName, value: Option<HeaderValue>| match value {
            Some(value) => {
                headers.insert(name, value);
            }
            None => {
                // A client's header of the same name must not survive either.
                headers.remove(&name);
                tracing::debug!("skipping header {name}: not representable");
            }
        };
        set(FULL_URL, HeaderValue::from_maybe_shared(self.full_url).ok());
        set(PATH_INFO, HeaderValue::try_from(self.path_info).ok());
        set(MATCHED_ROUTE, self.route.matched_route.clone());
        set(RAW_COMPONENT_ROUTE, self.route.raw_route.clone());
        set(COMPONENT_ROUTE, self.route.component_route.clone());
        set(BASE_PATH, Some(HeaderValue::from_static("/")));
        set(
            CLIENT_ADDR,
            HeaderValue::try_from(self.client.to_string()).ok(),
        );
        for (name, (_, value)) in self.route.path_matches.iter().zip(self.params) {
            if let Some(name) = name {
                set(name.clone(), HeaderValue::try_from(value).ok());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_manifest::schema::normalize_route;

    #[test]
    fn spin_reference_example() {
        // The example from Spin's documentation of the HTTP trigger.
        let route = RouteHeaders::new(
            &RoutePattern::parse("/users/:userid/cart/..."),
            "/users/:userid/cart/...",
        );
        let headers = SpinHeaders::new(
            &route,
            Bytes::from_static(b"https://example.com:8080/users/1/cart/items/3/edit?theme=pink"),
            vec![("userid".into(), "1".into())],
            "/items/3/edit".into(),
            "10.0.0.7:54321".parse().unwrap(),
        );
        let mut map = HeaderMap::new();
        map.insert("spin-path-info", HeaderValue::from_static("forged"));
        headers.apply(&mut map);
        let get = |n: &str| map.get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(
            get("spin-full-url"),
            "https://example.com:8080/users/1/cart/items/3/edit?theme=pink"
        );
        assert_eq!(get("spin-path-info"), "/items/3/edit");
        assert_eq!(get("spin-matched-route"), "/users/:userid/cart/...");
        assert_eq!(get("spin-raw-component-route"), "/users/:userid/cart/...");
        assert_eq!(get("spin-component-route"), "/users/:userid/cart");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-client-addr"), "10.0.0.7:54321");
        assert_eq!(get("spin-path-match-userid"), "1");
        assert_eq!(map.get_all("spin-path-info").iter().count(), 1);
    }

    #[test]
    fn raw_and_component_routes_keep_the_manifest_spelling() {
        for (raw, matched, component) in [
            ("noslash", "/noslash", "noslash"),
            ("/trail/", "/trail", "/trail/"),
            ("wild/...", "/wild/...", "wild"),
            ("/", "/", "/"),
        ] {
            let route = RouteHeaders::new(&RoutePattern::parse(&normalize_route(raw)), raw);
            let headers = SpinHeaders::new(
                &route,
                Bytes::from_static(b"http://x/"),
                vec![],
                String::new(),
                "127.0.0.1:1".parse().unwrap(),
            );
            let mut map = HeaderMap::new();
            headers.apply(&mut map);
            assert_eq!(map["spin-matched-route"], matched, "{raw}");
            assert_eq!(map["spin-raw-component-route"], raw, "{raw}");
            assert_eq!(map["spin-component-route"], component, "{raw}");
        }
    }

    #[test]
    fn param_names_become_header_names() {
        let route = RouteHeaders::new(
            &RoutePattern::parse("/base/:path_segment/:path_end/..."),
            "/base/:path_segment/:path_end/...",
        );
        let headers = SpinHeaders::new(
            &route,
            Bytes::from_static(b"http://example.com/base/path/end/rest?key=value"),
            vec![
                ("path_segment".into(), "path".into()),
                ("path_end".into(), "end".into()),
            ],
            "/rest".into(),
            "127.0.0.1:1".parse().unwrap(),
        );
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert_eq!(map["spin-path-match-path-segment"], "path");
        assert_eq!(map["spin-path-match-path-end"], "end");
    }
}
