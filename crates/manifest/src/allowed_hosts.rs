//! `allowed_outbound_hosts`: which network destinations a component may reach, with Spin's
//! grammar (`crates/outbound-networking-config/src/allowed_hosts.rs` in Spin).
//!
//! Each entry is `<scheme>://<host>[:<port>]`:
//!
//! * scheme: alphabetic (`http`, `https`, `redis`, ...) or `*`;
//! * host: `*`, `*.example.com` (prefix wildcard only), a literal name, an IP address or a CIDR
//!   range (`10.0.0.0/8`, `[fd00::]/8`), `self` / `self.alt` (requests to the app itself),
//!   `<component-id>.spin.internal` or `*.spin.internal` (service chaining, in memory);
//! * port: a number, `*`, or a range `8000..8010` (end excluded, as in Spin); omitted, the
//!   scheme's default port (http 80, https 443, redis 6379, mqtt 1883, postgres 5432,
//!   mysql 3306; any other scheme needs an explicit port);
//! * no path; `{{ variable }}` templates are resolved from app variables first.

use std::net::IpAddr;

use anyhow::bail;

/// Domain of service-chaining hosts: `<component-id>.spin.internal`.
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

const LEARN_MORE: &str =
    "learn more: https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components";

/// The parsed `allowed_outbound_hosts` of one component. The default allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// The entry after template resolution, as written.
    pub original: String,
    scheme: SchemeRule,
    host: HostRule,
    port: PortRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemeRule {
    Any,
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Any,
    /// `*.example.com`: stored as `.example.com`.
    AnySubdomain(String),
    /// `self` / `self.alt`.
    ToSelf,
    /// A literal host name (lower-cased) or IP address.
    Exact(String),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    Any,
    Port(u16),
    /// `start..end`, end excluded.
    Range(u16, u16),
}

/// The schemes Spin knows a default port for (a "did you mean" for a misspelled one).
const KNOWN_SCHEMES: [&str; 6] = ["http", "https", "redis", "mqtt", "postgres", "mysql"];

/// The default port of a scheme, as Spin knows them.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        _ => None,
    }
}

/// The component id of a service-chaining host (`<id>.spin.internal`, port ignored).
pub fn service_chaining_target(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (rest.eq_ignore_ascii_case(SERVICE_CHAINING_DOMAIN) && !first.is_empty()).then_some(first)
}

/// Whether `host` names the app itself (`self`, `self.alt`).
pub fn is_self_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("self") || host.eq_ignore_ascii_case("self.alt")
}

impl AllowedHosts {
    /// Parses every entry, resolving `{{ name }}` templates with `resolve` (app variable
    /// values). The error names the entry and says how to fix it.
    pub fn parse<S: AsRef<str>>(
        entries: &[S],
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        if entries.len() == 1 && entries[0].as_ref().trim() == "insecure:allow-all" {
            bail!(
                "invalid allowed_outbound_hosts entry \"insecure:allow-all\": it is not \
                 supported\nhelp: use '*://*:*' if you really want to allow all outbound traffic"
            );
        }
        let mut parsed = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref();
            let resolved = resolve_template(entry, resolve).map_err(|e| {
                anyhow::anyhow!("invalid allowed_outbound_hosts entry \"{entry}\": {e}")
            })?;
            let host = AllowedHost::parse(&resolved).map_err(|e| {
                if resolved == entry {
                    anyhow::anyhow!("invalid allowed_outbound_hosts entry \"{entry}\": {e}")
                } else {
                    anyhow::anyhow!(
                        "invalid allowed_outbound_hosts entry \"{entry}\" (resolved to \
                         \"{resolved}\"): {e}"
                    )
                }
            })?;
            parsed.push(host);
        }
        Ok(Self { entries: parsed })
    }

    /// The parsed entries.
    pub fn entries(&self) -> &[AllowedHost] {
        &self.entries
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a request to `scheme://host[:port]` is allowed (`port` omitted: the scheme's
    /// default). `self` hosts are allowed by `self` entries (or a `*` host).
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if is_self_host(host) {
            return self.allows_relative(scheme);
        }
        self.entries.iter().any(|e| e.allows(scheme, host, port))
    }

    /// Whether a request to `url` is allowed.
    pub fn allows_url(&self, url: &url::Url) -> bool {
        match url.host_str() {
            Some(host) => self.allows(url.scheme(), host, url.port()),
            None => false,
        }
    }

    /// Whether a relative request (to the app itself) with `scheme` is allowed: an entry with
    /// host `self`, `self.alt` or `*`.
    pub fn allows_relative(&self, scheme: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.scheme.allows(scheme) && matches!(e.host, HostRule::Any | HostRule::ToSelf))
    }

    /// Whether an entry with an IP address or CIDR host allows a `wasi:sockets` connection to
    /// `addr`. `scheme` is `tcp` or `udp`, as in Spin: entries with scheme `*` or that scheme
    /// grant sockets (`*://127.0.0.1:5432`, `tcp://10.0.0.0/24:*`), others (`postgres://...`)
    /// do not. Host-name entries are checked by [`Self::socket_names`].
    pub fn allows_socket(&self, scheme: &str, addr: std::net::SocketAddr) -> bool {
        let ip = addr.ip().to_canonical().to_string();
        self.entries.iter().any(|e| {
            e.scheme.allows(scheme)
                && !matches!(e.host, HostRule::ToSelf | HostRule::AnySubdomain(_))
                && e.host.allows(&ip)
                && e.port.allows(Some(addr.port()), scheme)
        })
    }

    /// The host names of the entries that grant `scheme` (`tcp`/`udp`) sockets on `port`: a
    /// connection to an address those names resolve to is allowed.
    pub fn socket_names(&self, scheme: &str, port: u16) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.scheme.allows(scheme) && e.port.allows(Some(port), scheme))
            .filter_map(|e| match &e.host {
                HostRule::Exact(h) if h.parse::<IpAddr>().is_err() => Some(h.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether any entry could grant `scheme` (`tcp`/`udp`) sockets at all.
    pub fn grants_sockets(&self, scheme: &str) -> bool {
        self.entries.iter().any(|e| {
            e.scheme.allows(scheme)
                && !matches!(e.host, HostRule::ToSelf | HostRule::AnySubdomain(_))
        })
    }

    /// Whether some entry names a host that must be resolved to check a socket connection.
    pub fn has_socket_names(&self) -> bool {
        ["tcp", "udp"].iter().any(|s| {
            self.entries.iter().any(|e| {
                e.scheme.allows(s)
                    && matches!(&e.host, HostRule::Exact(h) if h.parse::<IpAddr>().is_err())
            })
        })
    }

    /// The entry a user should add to `allowed_outbound_hosts` to allow a request to
    /// `scheme://host[:port]`: the port is left out when it is the scheme's default.
    pub fn suggestion(scheme: &str, host: &str, port: Option<u16>) -> String {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        match port {
            Some(p) if well_known_port(scheme) != Some(p) => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        }
    }
}

impl AllowedHost {
    /// Parses one (template-free) entry.
    pub fn parse(entry: &str) -> anyhow::Result<Self> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            match url {
                "*" | ":" | "" | "?" => bail!(
                    "it is not an allowed outbound host format; hosts must be in the form \
                     <scheme>://<host>[:<port>], with '*' wildcards allowed for each\nhelp: to \
                     allow all outbound networking, use '*://*:*' (this turns off all network \
                     sandboxing); {LEARN_MORE}"
                ),
                _ => bail!(
                    "it does not contain a scheme (e.g. 'http://' or '*://')\nhelp: did you \
                     mean \"https://{url}\"? (or the scheme you need); {LEARN_MORE}"
                ),
            }
        };
        let scheme_rule = SchemeRule::parse(scheme)?;

        // Split host and port; a bracketed IPv6 host keeps its colons.
        let (host, port_and_path) = if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                bail!("the IPv6 address is missing its closing `]`\nhelp: write e.g. \"http://[::1]:8080\"");
            };
            let mut host = after[..close].to_string();
            let mut tail = &after[close + 1..];
            // `[fd00::]/8` — a CIDR prefix length after the brackets.
            if let Some(stripped) = tail.strip_prefix('/') {
                let end = stripped.find(':').unwrap_or(stripped.len());
                host = format!("{host}/{}", &stripped[..end]);
                tail = &stripped[end..];
            }
            let port = match tail.strip_prefix(':') {
                Some(p) => p,
                None if tail.is_empty() || tail.starts_with('/') => tail,
                None => bail!("unexpected `{tail}` after the IPv6 address"),
            };
            (host, port.to_string())
        } else {
            let (host, after) = match rest.find(['/', ':']) {
                // A `/` followed by digits right after an IP address is a CIDR prefix.
                Some(i)
                    if rest.as_bytes()[i] == b'/' && is_cidr_start(&rest[..i], &rest[i + 1..]) =>
                {
                    let prefix_end = rest[i + 1..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(rest.len(), |j| i + 1 + j);
                    (rest[..prefix_end].to_string(), &rest[prefix_end..])
                }
                Some(i) => (rest[..i].to_string(), &rest[i..]),
                None => (rest.to_string(), ""),
            };
            let port = after.strip_prefix(':').unwrap_or(after);
            if after.starts_with('/') {
                (host, after.to_string())
            } else {
                (host, port.to_string())
            }
        };

        // Whatever follows the port is a path, and paths are not allowed (a lone `/` is).
        let (port, path) = match port_and_path.find('/') {
            Some(i) => (&port_and_path[..i], &port_and_path[i..]),
            None => (port_and_path.as_str(), ""),
        };
        if !path.is_empty() && path != "/" {
            bail!(
                "it has a path ({path}), and entries must not\nhelp: allow the host instead: \
                 \"{scheme}://{host}{}\"",
                if port.is_empty() {
                    String::new()
                } else {
                    format!(":{port}")
                }
            );
        }

        let host_rule = HostRule::parse(&host)?;
        let port_rule = PortRule::parse(port, scheme, &host)?;
        Ok(Self {
            original: url.to_string(),
            scheme: scheme_rule,
            host: host_rule,
            port: port_rule,
        })
    }

    /// Whether this entry allows `scheme://host[:port]`.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.scheme.allows(scheme) && self.host.allows(host) && self.port.allows(port, scheme)
    }
}

fn is_cidr_start(host: &str, after_slash: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
        && after_slash
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
}

impl SchemeRule {
    fn parse(scheme: &str) -> anyhow::Result<Self> {
        if scheme == "*" {
            return Ok(Self::Any);
        }
        if scheme.is_empty() {
            bail!("the scheme is empty\nhelp: write e.g. \"https://...\" or \"*://...\"");
        }
        if scheme.starts_with('{') {
            bail!(
                "scheme lists are not supported\nhelp: write one entry per scheme, or use `*` \
                 for any scheme"
            );
        }
        if !scheme.chars().all(|c| c.is_ascii_alphabetic()) {
            bail!(
                "the scheme \"{scheme}\" contains a non-alphabetic character\nhelp: schemes are \
                 letters only (e.g. \"https\", \"redis\") or `*`"
            );
        }
        Ok(Self::Exact(scheme.to_ascii_lowercase()))
    }

    fn allows(&self, scheme: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(s) => s.eq_ignore_ascii_case(scheme),
        }
    }
}

impl HostRule {
    fn parse(host: &str) -> anyhow::Result<Self> {
        let host = host.trim();
        if host.is_empty() {
            bail!("the host is empty\nhelp: write a host name, an IP address, `*` or `self`");
        }
        if host == "*" {
            return Ok(Self::Any);
        }
        if is_self_host(host) {
            return Ok(Self::ToSelf);
        }
        if host.starts_with('{') {
            bail!("host lists are not supported\nhelp: write one entry per host");
        }
        if let Some((addr, len)) = host.split_once('/') {
            let Ok(ip) = addr.parse::<IpAddr>() else {
                bail!(
                    "\"{host}\" is neither a host name nor an IP range (hosts must not contain \
                     paths)\nhelp: write a CIDR range as e.g. \"10.0.0.0/8\""
                );
            };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len: u8 = match len.parse() {
                Ok(n) if n <= max => n,
                _ => bail!(
                    "the prefix length in \"{host}\" must be a number from 0 to {max}\nhelp: \
                     write a CIDR range as e.g. \"10.0.0.0/8\""
                ),
            };
            return Ok(Self::Cidr(ip, len));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self::Exact(ip.to_string()));
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                bail!(
                    "wildcards are allowed only as a prefix (\"*.example.com\")\nhelp: allow \
                     the parent domain with \"*.{}\"",
                    domain
                        .rsplit('*')
                        .next()
                        .unwrap_or("")
                        .trim_start_matches('.')
                );
            }
            if domain.is_empty() {
                bail!(
                    "\"*.\" has no domain after the wildcard\nhelp: write e.g. \"*.example.com\""
                );
            }
            return Ok(Self::AnySubdomain(format!(
                ".{}",
                domain.to_ascii_lowercase()
            )));
        }
        if host.contains('*') {
            bail!(
                "wildcards are allowed only as a prefix (\"*.example.com\")\nhelp: use \"*\" for \
                 any host, or \"*.<domain>\" for its subdomains"
            );
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            bail!(
                "\"{host}\" is not a valid host name\nhelp: write a host name (e.g. \
                 \"api.example.com\"), an IP address, a CIDR range, `*` or `self`"
            );
        }
        Ok(Self::Exact(host.to_ascii_lowercase()))
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match self {
            Self::Any => true,
            Self::AnySubdomain(suffix) => {
                host.len() > suffix.len() && host.to_ascii_lowercase().ends_with(suffix.as_str())
            }
            Self::ToSelf => is_self_host(host),
            Self::Exact(h) => match (h.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => h.eq_ignore_ascii_case(host),
            },
            Self::Cidr(net, len) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| cidr_contains(*net, *len, ip)),
        }
    }
}

fn cidr_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

impl PortRule {
    fn parse(port: &str, scheme: &str, host: &str) -> anyhow::Result<Self> {
        if port.is_empty() {
            return match well_known_port(scheme) {
                Some(p) => Ok(Self::Port(p)),
                None => match crate::diag::closest(scheme, KNOWN_SCHEMES) {
                    Some(known) => bail!(
                        "no port was given and the scheme \"{scheme}\" has no known default \
                         port\nhelp: did you mean \"{known}://{host}\"? Otherwise add a port, \
                         e.g. \"{scheme}://{host}:<port>\", or `:*` for any port"
                    ),
                    None => bail!(
                        "no port was given and the scheme \"{scheme}\" has no known default \
                         port\nhelp: add a port, e.g. \"{scheme}://<host>:<port>\", or `:*` for \
                         any port"
                    ),
                },
            };
        }
        if port == "*" {
            return Ok(Self::Any);
        }
        if port.starts_with('{') {
            bail!("port lists are not supported\nhelp: use a range such as 8000..8010");
        }
        if let Some((start, end)) = port.split_once("..") {
            let (Ok(start), Ok(end)) = (start.parse::<u16>(), end.parse::<u16>()) else {
                bail!(
                    "the port range \"{port}\" contains a non-number\nhelp: write a range as \
                     e.g. 8000..8010"
                );
            };
            if start >= end {
                bail!(
                    "the port range \"{port}\" is empty (the end is excluded)\nhelp: write a \
                     range as start..end with start < end, e.g. 8000..8010"
                );
            }
            return Ok(Self::Range(start, end));
        }
        match port.parse::<u16>() {
            Ok(p) => Ok(Self::Port(p)),
            Err(_) => bail!(
                "the port \"{port}\" is not a number\nhelp: write a number (e.g. 8080), a range \
                 (8000..8010) or `*`"
            ),
        }
    }

    fn allows(&self, port: Option<u16>, scheme: &str) -> bool {
        let port = match self {
            Self::Any => return true,
            _ => match port.or_else(|| well_known_port(scheme)) {
                Some(p) => p,
                None => return false,
            },
        };
        match self {
            Self::Any => true,
            Self::Port(p) => *p == port,
            Self::Range(start, end) => (*start..*end).contains(&port),
        }
    }
}

/// Replaces every `{{ name }}` in `text` with `resolve(name)`.
fn resolve_template(
    text: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    crate::template::render(text, |name| {
        resolve(name).ok_or_else(|| {
            format!(
                "the variable `{name}` has no value\nhelp: declare it in [variables] with a \
                 default, or set SPIN_VARIABLE_{}",
                name.to_ascii_uppercase()
            )
        })
    })
    .map_err(|e| match e {
        crate::template::RenderError::Unterminated => crate::template::Unterminated.to_string(),
        crate::template::RenderError::Variable(message) => message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_vars(_: &str) -> Option<String> {
        None
    }

    fn parse(entries: &[&str]) -> anyhow::Result<AllowedHosts> {
        AllowedHosts::parse(entries, &no_vars)
    }

    fn one(entry: &str) -> AllowedHosts {
        parse(&[entry]).unwrap_or_else(|e| panic!("{entry}: {e:#}"))
    }

    #[test]
    fn allows_table() {
        // (entry, scheme, host, port, allowed)
        let cases: &[(&str, &str, &str, Option<u16>, bool)] = &[
            // literal hosts, default ports
            ("https://example.com", "https", "example.com", None, true),
            (
                "https://example.com",
                "https",
                "example.com",
                Some(443),
                true,
            ),
            (
                "https://example.com",
                "https",
                "example.com",
                Some(8443),
                false,
            ),
            ("https://example.com", "http", "example.com", None, false),
            ("https://example.com", "https", "EXAMPLE.com", None, true),
            (
                "https://example.com",
                "https",
                "api.example.com",
                None,
                false,
            ),
            ("https://example.com/", "https", "example.com", None, true),
            ("http://example.com", "http", "example.com", Some(80), true),
            ("redis://cache", "redis", "cache", Some(6379), true),
            ("redis://cache", "redis", "cache", None, true),
            ("mqtt://broker", "mqtt", "broker", Some(1883), true),
            ("postgres://db", "postgres", "db", Some(5432), true),
            ("mysql://db", "mysql", "db", Some(3306), true),
            ("mysql://db", "mysql", "db", Some(3307), false),
            // explicit ports, ranges (end excluded), any port
            (
                "http://localhost:8080",
                "http",
                "localhost",
                Some(8080),
                true,
            ),
            ("http://localhost:8080", "http", "localhost", None, false),
            (
                "http://localhost:8000..8010",
                "http",
                "localhost",
                Some(8000),
                true,
            ),
            (
                "http://localhost:8000..8010",
                "http",
                "localhost",
                Some(8009),
                true,
            ),
            (
                "http://localhost:8000..8010",
                "http",
                "localhost",
                Some(8010),
                false,
            ),
            ("http://localhost:*", "http", "localhost", Some(1), true),
            ("http://localhost:*", "http", "localhost", None, true),
            ("custom://host:9000", "custom", "host", Some(9000), true),
            ("custom://host:9000", "custom", "host", None, false),
            // wildcards
            ("*://example.com:443", "https", "example.com", None, true),
            ("*://example.com:443", "wss", "example.com", Some(443), true),
            ("https://*", "https", "anything.test", None, true),
            ("*://*:*", "ftp", "x", Some(21), true),
            (
                "https://*.example.com",
                "https",
                "api.example.com",
                None,
                true,
            ),
            (
                "https://*.example.com",
                "https",
                "a.b.example.com",
                None,
                true,
            ),
            ("https://*.example.com", "https", "example.com", None, false),
            (
                "https://*.example.com",
                "https",
                "badexample.com",
                None,
                false,
            ),
            // IPs and CIDR ranges
            (
                "http://127.0.0.1:8081",
                "http",
                "127.0.0.1",
                Some(8081),
                true,
            ),
            (
                "http://127.0.0.1:8081",
                "http",
                "127.0.0.2",
                Some(8081),
                false,
            ),
            ("http://10.0.0.0/8", "http", "10.1.2.3", None, true),
            ("http://10.0.0.0/8", "http", "11.1.2.3", None, false),
            (
                "http://10.0.0.0/8:8080",
                "http",
                "10.1.2.3",
                Some(8080),
                true,
            ),
            ("http://10.0.0.0/8", "http", "ten.example", None, false),
            ("http://0.0.0.0/0:*", "http", "192.168.1.1", Some(3), true),
            ("http://[::1]:8080", "http", "::1", Some(8080), true),
            ("http://[::1]:8080", "http", "[::1]", Some(8080), true),
            ("http://[fd00::]/8", "http", "fd12::1", None, true),
            ("http://[fd00::]/8", "http", "fe80::1", None, false),
            ("http://[fd00::]/8", "http", "10.0.0.1", None, false),
            // self and service chaining
            ("http://self", "http", "self", None, true),
            ("http://self.alt", "http", "self", None, true),
            ("https://self", "http", "self", None, false),
            ("http://self", "http", "example.com", None, false),
            ("http://*", "http", "self", None, true),
            (
                "http://api.spin.internal",
                "http",
                "api.spin.internal",
                None,
                true,
            ),
            (
                "http://api.spin.internal",
                "http",
                "other.spin.internal",
                None,
                false,
            ),
            (
                "http://*.spin.internal",
                "http",
                "other.spin.internal",
                None,
                true,
            ),
            (
                "http://*.spin.internal",
                "https",
                "other.spin.internal",
                None,
                false,
            ),
        ];
        for (entry, scheme, host, port, want) in cases {
            let hosts = one(entry);
            assert_eq!(
                hosts.allows(scheme, host, *port),
                *want,
                "{entry} vs {scheme}://{host}:{port:?}"
            );
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let hosts = parse(&[]).unwrap();
        assert!(hosts.is_empty());
        assert!(!hosts.allows("https", "example.com", None));
        assert!(!hosts.allows_relative("http"));
    }

    #[test]
    fn any_entry_of_several() {
        let hosts = parse(&["https://a.test", "redis://b.test:7000"]).unwrap();
        assert!(hosts.allows("https", "a.test", None));
        assert!(hosts.allows("redis", "b.test", Some(7000)));
        assert!(!hosts.allows("redis", "a.test", Some(7000)));
    }

    #[test]
    fn relative_requests_need_self_or_any_host() {
        assert!(one("http://self").allows_relative("http"));
        assert!(one("*://self.alt:*").allows_relative("https"));
        assert!(one("http://*").allows_relative("http"));
        assert!(!one("http://example.com").allows_relative("http"));
        assert!(!one("https://self").allows_relative("http"));
    }

    #[test]
    fn urls() {
        let hosts = parse(&["http://127.0.0.1:1024..65535", "https://*.example.com"]).unwrap();
        let allows = |u: &str| hosts.allows_url(&url::Url::parse(u).unwrap());
        assert!(allows("http://127.0.0.1:8081/x?y"));
        assert!(!allows("http://127.0.0.1/x"));
        assert!(allows("https://api.example.com/v1"));
        assert!(!allows("http://api.example.com/v1"));
        assert!(!allows("data:text/plain,hi"));
    }

    #[test]
    fn templates_are_resolved() {
        let vars = |name: &str| match name {
            "api_host" => Some("api.example.com".to_string()),
            "port" => Some("8443".to_string()),
            _ => None,
        };
        let hosts = AllowedHosts::parse(
            &["https://{{ api_host }}:{{port}}", "http://{{api_host}}"],
            &vars,
        )
        .unwrap();
        assert!(hosts.allows("https", "api.example.com", Some(8443)));
        assert!(hosts.allows("http", "api.example.com", None));
        assert_eq!(hosts.entries()[0].original, "https://api.example.com:8443");

        let err = AllowedHosts::parse(&["https://{{ missing }}"], &vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid allowed_outbound_hosts entry \"https://{{ missing }}\": the variable \
             `missing` has no value\nhelp: declare it in [variables] with a default, or set \
             SPIN_VARIABLE_MISSING"
        );
        let bad = |name: &str| (name == "h").then(|| "a.test/path".to_string());
        let err = AllowedHosts::parse(&["https://{{ h }}"], &bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid allowed_outbound_hosts entry \"https://{{ h }}\" (resolved to \
             \"https://a.test/path\"): it has a path (/path), and entries must not\nhelp: allow \
             the host instead: \"https://a.test\""
        );
        let err = AllowedHosts::parse(&["https://{{ h"], &bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid allowed_outbound_hosts entry \"https://{{ h\": unterminated `{{` (expected \
             `}}`)"
        );
    }

    #[test]
    fn errors_table() {
        // (entry, exact error message)
        let cases: &[(&str, &str)] = &[
            (
                "*",
                "invalid allowed_outbound_hosts entry \"*\": it is not an allowed outbound host \
                 format; hosts must be in the form <scheme>://<host>[:<port>], with '*' \
                 wildcards allowed for each\nhelp: to allow all outbound networking, use \
                 '*://*:*' (this turns off all network sandboxing); learn more: \
                 https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components",
            ),
            (
                "example.com",
                "invalid allowed_outbound_hosts entry \"example.com\": it does not contain a \
                 scheme (e.g. 'http://' or '*://')\nhelp: did you mean \"https://example.com\"? (or \
                 the scheme you need); learn more: \
                 https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components",
            ),
            (
                "ht1p://example.com",
                "invalid allowed_outbound_hosts entry \"ht1p://example.com\": the scheme \
                 \"ht1p\" contains a non-alphabetic character\nhelp: schemes are letters only \
                 (e.g. \"https\", \"redis\") or `*`",
            ),
            (
                "://example.com",
                "invalid allowed_outbound_hosts entry \"://example.com\": the scheme is \
                 empty\nhelp: write e.g. \"https://...\" or \"*://...\"",
            ),
            (
                "{http,https}://example.com",
                "invalid allowed_outbound_hosts entry \"{http,https}://example.com\": scheme \
                 lists are not supported\nhelp: write one entry per scheme, or use `*` for any \
                 scheme",
            ),
            (
                "https://example.com/api",
                "invalid allowed_outbound_hosts entry \"https://example.com/api\": it has a path \
                 (/api), and entries must not\nhelp: allow the host instead: \
                 \"https://example.com\"",
            ),
            (
                "https://example.com:8443/api/v1",
                "invalid allowed_outbound_hosts entry \"https://example.com:8443/api/v1\": it \
                 has a path (/api/v1), and entries must not\nhelp: allow the host instead: \
                 \"https://example.com:8443\"",
            ),
            (
                "https://api.*.example.com",
                "invalid allowed_outbound_hosts entry \"https://api.*.example.com\": wildcards \
                 are allowed only as a prefix (\"*.example.com\")\nhelp: use \"*\" for any host, \
                 or \"*.<domain>\" for its subdomains",
            ),
            (
                "https://*.*.example.com",
                "invalid allowed_outbound_hosts entry \"https://*.*.example.com\": wildcards are \
                 allowed only as a prefix (\"*.example.com\")\nhelp: allow the parent domain \
                 with \"*.example.com\"",
            ),
            (
                "https://",
                "invalid allowed_outbound_hosts entry \"https://\": the host is empty\nhelp: \
                 write a host name, an IP address, `*` or `self`",
            ),
            (
                "https://exa mple.com",
                "invalid allowed_outbound_hosts entry \"https://exa mple.com\": \"exa mple.com\" \
                 is not a valid host name\nhelp: write a host name (e.g. \"api.example.com\"), \
                 an IP address, a CIDR range, `*` or `self`",
            ),
            (
                "http://10.0.0.0/33",
                "invalid allowed_outbound_hosts entry \"http://10.0.0.0/33\": the prefix length \
                 in \"10.0.0.0/33\" must be a number from 0 to 32\nhelp: write a CIDR range as \
                 e.g. \"10.0.0.0/8\"",
            ),
            (
                "http://[::1",
                "invalid allowed_outbound_hosts entry \"http://[::1\": the IPv6 address is \
                 missing its closing `]`\nhelp: write e.g. \"http://[::1]:8080\"",
            ),
            (
                "custom://host",
                "invalid allowed_outbound_hosts entry \"custom://host\": no port was given and \
                 the scheme \"custom\" has no known default port\nhelp: add a port, e.g. \
                 \"custom://<host>:<port>\", or `:*` for any port",
            ),
            (
                "http://host:http",
                "invalid allowed_outbound_hosts entry \"http://host:http\": the port \"http\" is \
                 not a number\nhelp: write a number (e.g. 8080), a range (8000..8010) or `*`",
            ),
            (
                "http://host:70000",
                "invalid allowed_outbound_hosts entry \"http://host:70000\": the port \"70000\" \
                 is not a number\nhelp: write a number (e.g. 8080), a range (8000..8010) or `*`",
            ),
            (
                "http://host:80..x",
                "invalid allowed_outbound_hosts entry \"http://host:80..x\": the port range \
                 \"80..x\" contains a non-number\nhelp: write a range as e.g. 8000..8010",
            ),
            (
                "http://host:90..80",
                "invalid allowed_outbound_hosts entry \"http://host:90..80\": the port range \
                 \"90..80\" is empty (the end is excluded)\nhelp: write a range as start..end \
                 with start < end, e.g. 8000..8010",
            ),
            (
                "http://host:{80,81}",
                "invalid allowed_outbound_hosts entry \"http://host:{80,81}\": port lists are \
                 not supported\nhelp: use a range such as 8000..8010",
            ),
            (
                "insecure:allow-all",
                "invalid allowed_outbound_hosts entry \"insecure:allow-all\": it is not \
                 supported\nhelp: use '*://*:*' if you really want to allow all outbound traffic",
            ),
        ];
        for (entry, want) in cases {
            match parse(&[entry]) {
                Ok(h) => panic!("{entry} parsed: {h:?}"),
                Err(e) => assert_eq!(e.to_string(), *want, "{entry}"),
            }
        }
    }

    #[test]
    fn sockets() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        let hosts = parse(&[
            "*://127.0.0.1:5432",
            "tcp://10.0.0.0/24:8000..8010",
            "udp://[fd00::]/8:53",
            "postgres://192.168.1.1",
            "*://db.internal:6000",
            "http://self",
            "https://*.example.com",
        ])
        .unwrap();
        assert!(hosts.allows_socket("tcp", addr("127.0.0.1:5432")));
        assert!(hosts.allows_socket("udp", addr("127.0.0.1:5432")));
        assert!(hosts.allows_socket("tcp", addr("[::ffff:127.0.0.1]:5432")));
        assert!(!hosts.allows_socket("tcp", addr("127.0.0.1:5433")));
        assert!(!hosts.allows_socket("tcp", addr("127.0.0.2:5432")));
        assert!(hosts.allows_socket("tcp", addr("10.0.0.200:8009")));
        assert!(!hosts.allows_socket("tcp", addr("10.0.0.200:8010")));
        assert!(!hosts.allows_socket("tcp", addr("10.0.1.1:8000")));
        assert!(!hosts.allows_socket("udp", addr("10.0.0.1:8000")));
        assert!(hosts.allows_socket("udp", addr("[fd12::1]:53")));
        assert!(!hosts.allows_socket("tcp", addr("[fd12::1]:53")));
        // A scheme other than `*`, tcp or udp grants no sockets (as in Spin).
        assert!(!hosts.allows_socket("tcp", addr("192.168.1.1:5432")));
        assert_eq!(hosts.socket_names("tcp", 6000), vec!["db.internal"]);
        assert!(hosts.socket_names("tcp", 6001).is_empty());
        assert!(hosts.grants_sockets("tcp") && hosts.has_socket_names());
        let http_only = parse(&["http://self", "https://*.example.com", "redis://r"]).unwrap();
        assert!(!http_only.grants_sockets("tcp") && !http_only.grants_sockets("udp"));
        assert!(!http_only.has_socket_names());
        assert!(!AllowedHosts::default().grants_sockets("tcp"));
    }

    #[test]
    fn suggestions() {
        let cases: &[(&str, &str, Option<u16>, &str)] = &[
            ("http", "127.0.0.1", Some(8081), "http://127.0.0.1:8081"),
            ("https", "example.com", Some(443), "https://example.com"),
            ("https", "example.com", None, "https://example.com"),
            ("http", "example.com", Some(443), "http://example.com:443"),
            ("http", "::1", Some(8080), "http://[::1]:8080"),
            (
                "http",
                "api.spin.internal",
                None,
                "http://api.spin.internal",
            ),
        ];
        for (scheme, host, port, want) in cases {
            let s = AllowedHosts::suggestion(scheme, host, *port);
            assert_eq!(s, *want);
            // The suggestion parses and allows the request it was made for.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            assert!(one(&s).allows(scheme, host, *port), "{s}");
        }
    }

    #[test]
    fn service_chaining_hosts() {
        assert_eq!(service_chaining_target("api.spin.internal"), Some("api"));
        assert_eq!(service_chaining_target("api.spin.internal:80"), Some("api"));
        assert_eq!(service_chaining_target("a.b.spin.internal"), None);
        assert_eq!(service_chaining_target("spin.internal"), None);
        assert_eq!(service_chaining_target("example.com"), None);
        assert!(is_self_host("self") && is_self_host("self.alt") && !is_self_host("me"));
    }
}
