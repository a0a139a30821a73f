//! Spin's HTTP routing rules.
//!
//! A route is a path pattern: exact (`/cart`), with `:name` segments (`/users/:id/edit`) and an
//! optional trailing wildcard (`/users/...`, which also matches `/users`). For a request path,
//! an exact (non-wildcard) match beats any wildcard match; among wildcards the longest matching
//! prefix wins; literal segments beat `:name` segments; and between identical routes the one
//! declared last wins (the manifest loader warns about duplicates).

/// One routable pattern, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// The route as normalized from the manifest, e.g. `/users/:id/...`.
    pub raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl RoutePattern {
    /// Parses a normalized route (leading `/`, no trailing `/` except the root).
    pub fn parse(route: &str) -> Self {
        let raw = route.to_string();
        let mut body = route.trim_start_matches('/');
        let mut wildcard = false;
        for suffix in ["...", "*"] {
            if body == suffix {
                body = "";
                wildcard = true;
            } else if let Some(prefix) = body.strip_suffix(&format!("/{suffix}")) {
                body = prefix;
                wildcard = true;
            }
        }
        let segments = body
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(s.to_string()),
            })
            .collect();
        Self {
            raw,
            segments,
            wildcard,
        }
    }

    /// The names of the route's `:name` segments, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Whether the route ends in a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The route without its trailing wildcard (Spin's `spin-component-route`).
    pub fn without_wildcard(&self) -> String {
        if !self.wildcard {
            return self.raw.clone();
        }
        let trimmed = self
            .raw
            .strip_suffix("/...")
            .or_else(|| self.raw.strip_suffix("/*"))
            .unwrap_or("");
        trimmed.to_string()
    }

    fn matches(&self, path: &str) -> Option<(Vec<(String, String)>, String)> {
        let mut rest = path;
        let mut params = Vec::new();
        for segment in &self.segments {
            let after_slash = rest.strip_prefix('/')?;
            let end = after_slash.find('/').unwrap_or(after_slash.len());
            let value = &after_slash[..end];
            if value.is_empty() {
                return None;
            }
            match segment {
                Segment::Literal(literal) if literal == value => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), value.to_string())),
            }
            rest = &after_slash[end..];
        }
        if self.wildcard {
            Some((params, rest.to_string()))
        } else if rest.is_empty() || rest == "/" {
            Some((params, String::new()))
        } else {
            None
        }
    }

    /// Ordering key: larger is a better match.
    fn rank(&self) -> (bool, usize, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (!self.wildcard, self.segments.len(), literals)
    }
}

/// The result of routing a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a, T> {
    /// What the matching route leads to.
    pub target: &'a T,
    /// The matching route.
    pub pattern: &'a RoutePattern,
    /// Values of the route's `:name` segments, in order.
    pub params: Vec<(String, String)>,
    /// The part of the path matched by the trailing wildcard (`""` when none).
    pub path_info: String,
}

/// Routes request paths to targets of type `T`.
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<(RoutePattern, T)>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route; later routes win over identical earlier ones.
    pub fn add(&mut self, route: &str, target: T) {
        self.routes.push((RoutePattern::parse(route), target));
    }

    /// All routes in declaration order.
    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &T)> {
        self.routes.iter().map(|(p, t)| (p, t))
    }

    /// The best route for `path` (the path only, without the query).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        let path = if path.is_empty() { "/" } else { path };
        let mut best: Option<(RouteMatch<'_, T>, (bool, usize, usize))> = None;
        for (pattern, target) in &self.routes {
            let Some((params, path_info)) = pattern.matches(path) else {
                continue;
            };
            let rank = pattern.rank();
            // `>=` so that among equal ranks the route declared last wins.
            if best.as_ref().is_none_or(|(_, r)| rank >= *r) {
                best = Some((
                    RouteMatch {
                        target,
                        pattern,
                        params,
                        path_info,
                    },
                    rank,
                ));
            }
        }
        best.map(|(m, _)| m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[&str]) -> Router<String> {
        let mut r = Router::new();
        for route in routes {
            r.add(route, route.to_string());
        }
        r
    }

    fn target(r: &Router<String>, path: &str) -> Option<String> {
        r.route(path).map(|m| m.target.clone())
    }

    #[test]
    fn exact_route_matches_only_itself() {
        let r = router(&["/cart"]);
        assert_eq!(target(&r, "/cart").as_deref(), Some("/cart"));
        assert_eq!(target(&r, "/cart/").as_deref(), Some("/cart"));
        assert_eq!(target(&r, "/cart/x"), None);
        assert_eq!(target(&r, "/car"), None);
        assert_eq!(target(&r, "/"), None);
    }

    #[test]
    fn wildcard_matches_prefix_and_itself() {
        let r = router(&["/users/..."]);
        let m = r.route("/users").unwrap();
        assert_eq!(m.path_info, "");
        let m = r.route("/users/").unwrap();
        assert_eq!(m.path_info, "/");
        let m = r.route("/users/1/edit").unwrap();
        assert_eq!(m.path_info, "/1/edit");
        assert!(r.route("/usersx").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn root_wildcard_matches_everything() {
        let r = router(&["/..."]);
        assert_eq!(r.route("/").unwrap().path_info, "/");
        assert_eq!(r.route("/a/b").unwrap().path_info, "/a/b");
    }

    #[test]
    fn exact_beats_wildcard() {
        let r = router(&["/api/...", "/api"]);
        assert_eq!(target(&r, "/api").as_deref(), Some("/api"));
        let r = router(&["/api", "/api/..."]);
        assert_eq!(target(&r, "/api").as_deref(), Some("/api"));
        assert_eq!(target(&r, "/api/x").as_deref(), Some("/api/..."));
    }

    #[test]
    fn longest_wildcard_prefix_wins() {
        let r = router(&["/...", "/a/b/...", "/a/..."]);
        assert_eq!(target(&r, "/a/b/c").as_deref(), Some("/a/b/..."));
        assert_eq!(target(&r, "/a/c").as_deref(), Some("/a/..."));
        assert_eq!(target(&r, "/z").as_deref(), Some("/..."));
    }

    #[test]
    fn named_segments_capture_values() {
        let r = router(&["/users/:userid/cart/..."]);
        let m = r.route("/users/1/cart/items/3/edit").unwrap();
        assert_eq!(m.params, vec![("userid".to_string(), "1".to_string())]);
        assert_eq!(m.path_info, "/items/3/edit");
        assert!(r.route("/users//cart").is_none());
        assert!(r.route("/users/1/basket").is_none());
    }

    #[test]
    fn literal_beats_param_at_equal_length() {
        let r = router(&["/users/:id", "/users/me"]);
        assert_eq!(target(&r, "/users/me").as_deref(), Some("/users/me"));
        assert_eq!(target(&r, "/users/7").as_deref(), Some("/users/:id"));
    }

    #[test]
    fn duplicate_route_last_wins() {
        let mut r = Router::new();
        r.add("/dup", "first");
        r.add("/dup", "second");
        assert_eq!(r.route("/dup").map(|m| *m.target), Some("second"));
    }

    #[test]
    fn component_route_strips_wildcard() {
        assert_eq!(RoutePattern::parse("/a/...").without_wildcard(), "/a");
        assert_eq!(RoutePattern::parse("/...").without_wildcard(), "");
        assert_eq!(RoutePattern::parse("/a").without_wildcard(), "/a");
        assert_eq!(RoutePattern::parse("/a/*").without_wildcard(), "/a");
    }
}
