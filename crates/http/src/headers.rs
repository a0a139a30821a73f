//! The `spin-*` request headers Spin injects, so apps that read them run unchanged.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::router::RoutePattern;

/// The values Spin injects for one routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpinHeaders {
    /// `spin-full-url`: `{scheme}://{host}{path?query}`.
    pub full_url: String,
    /// `spin-path-info`: what the trailing wildcard matched.
    pub path_info: String,
    /// `spin-matched-route`: the route that matched, wildcard included.
    pub matched_route: String,
    /// `spin-raw-component-route`: the route as written, wildcard included.
    pub raw_component_route: String,
    /// `spin-component-route`: the route without its trailing wildcard.
    pub component_route: String,
    /// `spin-base-path`: always `/` (kept for compatibility).
    pub base_path: String,
    /// `spin-client-addr`: `ip:port` of the client.
    pub client_addr: String,
    /// `spin-path-match-<name>`: one per `:name` segment.
    pub path_matches: Vec<(String, String)>,
}

impl SpinHeaders {
    /// Computes the headers for a request routed by `pattern`.
    pub fn new(
        full_url: String,
        pattern: &RoutePattern,
        params: &[(String, String)],
        path_info: &str,
        client: SocketAddr,
    ) -> Self {
        Self {
            full_url,
            path_info: path_info.to_string(),
            matched_route: pattern.raw.clone(),
            raw_component_route: pattern.raw.clone(),
            component_route: pattern.without_wildcard(),
            base_path: "/".to_string(),
            client_addr: client.to_string(),
            path_matches: params.to_vec(),
        }
    }

    /// Adds the headers to `headers`, replacing any a client sent under the same names.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let fixed = [
            ("spin-full-url", &self.full_url),
            ("spin-path-info", &self.path_info),
            ("spin-matched-route", &self.matched_route),
            ("spin-raw-component-route", &self.raw_component_route),
            ("spin-component-route", &self.component_route),
            ("spin-base-path", &self.base_path),
            ("spin-client-addr", &self.client_addr),
        ];
        for (name, value) in fixed {
            set(headers, name, value);
        }
        for (name, value) in &self.path_matches {
            let name = format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            );
            set(headers, &name, value);
        }
    }
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) else {
        tracing::debug!("skipping header {name}: not representable");
        return;
    };
    headers.insert(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_reference_example() {
        // The example from Spin's documentation of the HTTP trigger.
        let pattern = RoutePattern::parse("/users/:userid/cart/...");
        let headers = SpinHeaders::new(
            "https://example.com:8080/users/1/cart/items/3/edit?theme=pink".into(),
            &pattern,
            &[("userid".into(), "1".into())],
            "/items/3/edit",
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
    fn param_names_become_header_names() {
        let pattern = RoutePattern::parse("/base/:path_segment/:path_end/...");
        let headers = SpinHeaders::new(
            "http://example.com/base/path/end/rest?key=value".into(),
            &pattern,
            &[
                ("path_segment".into(), "path".into()),
                ("path_end".into(), "end".into()),
            ],
            "/rest",
            "127.0.0.1:1".parse().unwrap(),
        );
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert_eq!(map["spin-path-match-path-segment"], "path");
        assert_eq!(map["spin-path-match-path-end"], "end");
    }
}
