//! Spin's locked application format (`spin.lock` / the OCI config layer), field for field as
//! Spin's `spin_locked_app::locked` serializes it.
//!
//! Deserialization is lenient: unknown fields are ignored (an app pulled from a registry may
//! have been locked by a newer Spin), and `spin_lock_version` 0 and 1 are both accepted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The locked schema version this crate writes.
pub const SPIN_LOCK_VERSION: u32 = 1;
/// `host_requirements` key: the host must support `*.spin.internal` service chaining.
pub const SERVICE_CHAINING_KEY: &str = "local_service_chaining";
/// `must_understand` entry: the host must honour the app's `host_requirements`.
pub const MUST_UNDERSTAND_HOST_REQUIREMENTS: &str = "host_requirements";
/// `must_understand` entry: the host must honour components' `host_requirements`.
pub const MUST_UNDERSTAND_COMPONENT_HOST_REQUIREMENTS: &str = "component_host_requirements";
/// Content type of component sources.
pub const WASM_CONTENT_TYPE: &str = "application/wasm";

/// A fully resolved Spin application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockedApp {
    /// Locked schema version (this crate writes 1; 0 and 1 are read).
    #[serde(deserialize_with = "de_lock_version")]
    pub spin_lock_version: u32,
    /// Fields the host must understand to run the app
    /// (`"host_requirements"`, `"component_host_requirements"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_understand: Vec<String>,
    /// App metadata: `name`, `version`, `description`, `authors`, `origin`
    /// (`file:///abs/spin.toml`), `trigger` (`{"type": "http", ...}` when there is exactly one
    /// trigger type), `triggers` (app-level trigger settings).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Features the host must provide, e.g. `{"local_service_chaining": "required"}`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
    /// Application variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, LockedVariable>,
    /// Triggers, in manifest order.
    pub triggers: Vec<LockedTrigger>,
    /// Components, in manifest order (inline components last).
    pub components: Vec<LockedComponent>,
}

fn de_lock_version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v > SPIN_LOCK_VERSION {
        return Err(serde::de::Error::custom(format!(
            "unsupported spin_lock_version {v} (this runtime understands up to {SPIN_LOCK_VERSION})"
        )));
    }
    Ok(v)
}

/// An application variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LockedVariable {
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default value; `None` means the variable is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Sensitive value (not to be logged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl LockedVariable {
    /// A variable without a default must be supplied at runtime.
    pub fn is_required(&self) -> bool {
        self.default.is_none()
    }
}

/// A trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockedTrigger {
    /// App-unique trigger id.
    pub id: String,
    /// Trigger type, e.g. `"http"`.
    pub trigger_type: String,
    /// Type-specific configuration. http: `{"component": "<id>", "route": "/x/..."}` or
    /// `{"route": {"private": true}, ...}`, optional `"executor"`, or
    /// `{"route": "/old", "static_response": {...}}`.
    pub trigger_config: Value,
    /// Trigger dependencies (e.g. HTTP middleware), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trigger_dependencies: BTreeMap<String, Value>,
}

/// A component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockedComponent {
    /// App-unique component id.
    pub id: String,
    /// `description`, `allowed_outbound_hosts`, `key_value_stores`, `databases`
    /// (= `sqlite_databases`), `ai_models`, `build`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The Wasm.
    pub source: LockedComponentSource,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Files mounted into the guest, one entry per file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContentPath>,
    /// Component variables (templates like `"{{ api_host }}"`, unresolved).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Component-model dependencies, by dependency name:
    /// `{"source": {content_type, source?, digest?}, "export": null|"..", "inherit"?: ...}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, Value>,
    /// Features the host must provide for this component.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub host_requirements: Map<String, Value>,
}

/// A component's Wasm source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockedComponentSource {
    /// `"application/wasm"`
    pub content_type: String,
    /// Where the bytes are.
    #[serde(flatten)]
    pub content: ContentRef,
}

/// Content mapped to an absolute guest path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentPath {
    /// Where the bytes are.
    #[serde(flatten)]
    pub content: ContentRef,
    /// Absolute guest path, e.g. `/index.html`.
    pub path: PathBuf,
}

/// Some content: a URI (`file:///abs/path`, `https://...`), inline bytes and/or a digest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentRef {
    /// URI of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The content itself (base64 in JSON).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_base64",
        deserialize_with = "de_base64"
    )]
    pub inline: Option<Vec<u8>>,
    /// `sha256:<hex>` digest the content must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ContentRef {
    /// A `file://` reference to a local absolute path.
    pub fn file(path: &std::path::Path) -> Option<Self> {
        Some(Self {
            source: Some(url::Url::from_file_path(path).ok()?.to_string()),
            ..Default::default()
        })
    }

    /// The local path of a `file://` source.
    pub fn local_path(&self) -> Option<PathBuf> {
        let url = url::Url::parse(self.source.as_deref()?).ok()?;
        if url.scheme() != "file" {
            return None;
        }
        url.to_file_path().ok()
    }
}

/// A component or dependency that comes from a Wasm package registry, as locked before it is
/// fetched: `source = "wasm-pkg:package=ns%3Aname&version=%5E1.0.0&registry=host"`. The
/// registry fetch (spindle-oci) replaces it with the cached file and its digest before the app
/// runs or is pushed, so this form never leaves the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageSource {
    /// Registry host; `None` means the configured default for the package's namespace.
    pub registry: Option<String>,
    /// `namespace:name`.
    pub package: String,
    /// A semver requirement (`1.0.0` means `^1.0.0`, as Cargo reads it; `=1.0.0` is exact).
    pub version: String,
}

impl PackageSource {
    const SCHEME: &'static str = "wasm-pkg:";

    /// The `source` URI this package is locked as.
    pub fn to_uri(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("package", &self.package);
        q.append_pair("version", &self.version);
        if let Some(r) = &self.registry {
            q.append_pair("registry", r);
        }
        format!("{}{}", Self::SCHEME, q.finish())
    }

    /// The package a locked `source` names, if it is a `wasm-pkg:` URI.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let query = uri.strip_prefix(Self::SCHEME)?;
        let (mut package, mut version, mut registry) = (None, None, None);
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "package" => package = Some(v.into_owned()),
                "version" => version = Some(v.into_owned()),
                "registry" => registry = Some(v.into_owned()),
                _ => {}
            }
        }
        Some(Self {
            registry,
            package: package?,
            version: version?,
        })
    }

    /// The package's namespace and name, if `package` is spelled `namespace:name`.
    pub fn namespace_and_name(&self) -> Option<(&str, &str)> {
        let (ns, name) = self.package.split_once(':')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.split('-').all(|w| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                })
        };
        (ok(ns) && ok(name)).then_some((ns, name))
    }
}

/// Spin (spin-serde) writes inline content as standard base64 without padding, and reads it
/// strictly that way: write exactly that, so Spin and SpinKube load what Spindle pushes.
const INLINE_BASE64_WRITE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_encode_padding(false),
);

/// Reading accepts both, padded (older Spindle) and unpadded (Spin).
const INLINE_BASE64_READ: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn ser_base64<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    match v {
        Some(bytes) => s.serialize_str(&INLINE_BASE64_WRITE.encode(bytes)),
        None => s.serialize_none(),
    }
}

fn de_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::Engine;
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| {
        INLINE_BASE64_READ
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("inline content is not base64: {e}")))
    })
    .transpose()
}

/// An http trigger, decoded from a [`LockedTrigger`] with `trigger_type == "http"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTriggerConfig {
    /// Trigger id.
    pub id: String,
    /// Route (normalized).
    pub route: HttpRoute,
    /// The route as the manifest spells it (`noslash`, `/trail/`), for Spin's
    /// `spin-raw-component-route` and `spin-component-route` headers; empty for a private route.
    pub raw_route: String,
    /// What serves the route.
    pub target: HttpTarget,
}

/// An http route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpRoute {
    /// A routable path pattern, e.g. `/api/...`, `/users/:id`.
    Path(String),
    /// `{ private = true }`: reachable only through service chaining.
    Private,
}

/// What serves an http route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpTarget {
    /// A component.
    Component {
        /// Component id.
        id: String,
        /// How the component is invoked.
        executor: Executor,
    },
    /// A fixed response served without any component.
    StaticResponse {
        /// Status code (default 200).
        status_code: u16,
        /// Response headers.
        headers: BTreeMap<String, String>,
        /// Response body.
        body: Option<String>,
    },
}

/// How an http component is invoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Executor {
    /// `wasi:http` or Spin's inbound-http (the default; `type = "http"` or `"spin"`).
    Http,
    /// Wagi (CGI) command module.
    Wagi {
        /// argv template, default `"${SCRIPT_NAME} ${ARGS}"`.
        argv: String,
        /// Entrypoint export (deprecated), default `"_start"`.
        entrypoint: String,
    },
}

/// Default Wagi argv template.
pub const WAGI_DEFAULT_ARGV: &str = "${SCRIPT_NAME} ${ARGS}";
/// Default Wagi entrypoint.
pub const WAGI_DEFAULT_ENTRYPOINT: &str = "_start";

impl HttpTriggerConfig {
    /// Decodes an http trigger's `trigger_config`.
    pub fn from_locked(trigger: &LockedTrigger) -> Result<Self, String> {
        let id = &trigger.id;
        let cfg = trigger
            .trigger_config
            .as_object()
            .ok_or_else(|| format!("trigger `{id}`: trigger_config is not an object"))?;
        let raw_route = cfg
            .get("route")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let route = match cfg.get("route") {
            Some(Value::String(s)) => HttpRoute::Path(crate::schema::normalize_route(s)),
            Some(Value::Object(o)) if o.get("private") == Some(&Value::Bool(true)) => {
                HttpRoute::Private
            }
            Some(other) => return Err(format!("trigger `{id}`: invalid route {other}")),
            None => return Err(format!("trigger `{id}`: missing route")),
        };
        let target = match (cfg.get("component"), cfg.get("static_response")) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "trigger `{id}`: has both `component` and `static_response`"
                ))
            }
            (None, None) => {
                return Err(format!(
                    "trigger `{id}`: needs a `component` or a `static_response`"
                ))
            }
            (Some(c), None) => {
                let comp = c
                    .as_str()
                    .ok_or_else(|| format!("trigger `{id}`: component must be a string"))?;
                HttpTarget::Component {
                    id: comp.to_string(),
                    executor: parse_executor(id, cfg.get("executor"))?,
                }
            }
            (None, Some(sr)) => {
                let sr = sr
                    .as_object()
                    .ok_or_else(|| format!("trigger `{id}`: static_response must be an object"))?;
                let status_code = match sr.get("status_code") {
                    None | Some(Value::Null) => 200,
                    Some(v) => v
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| format!("trigger `{id}`: invalid status_code {v}"))?,
                };
                let mut headers = BTreeMap::new();
                if let Some(h) = sr.get("headers") {
                    let h = h
                        .as_object()
                        .ok_or_else(|| format!("trigger `{id}`: headers must be an object"))?;
                    for (k, v) in h {
                        let v = v.as_str().ok_or_else(|| {
                            format!("trigger `{id}`: header `{k}` must be a string")
                        })?;
                        headers.insert(k.clone(), v.to_string());
                    }
                }
                let body = match sr.get("body") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => return Err(format!("trigger `{id}`: invalid body {other}")),
                };
                HttpTarget::StaticResponse {
                    status_code,
                    headers,
                    body,
                }
            }
        };
        Ok(Self {
            id: id.clone(),
            route,
            raw_route,
            target,
        })
    }
}

fn parse_executor(id: &str, v: Option<&Value>) -> Result<Executor, String> {
    let Some(v) = v else {
        return Ok(Executor::Http);
    };
    if v.is_null() {
        return Ok(Executor::Http);
    }
    let o = v
        .as_object()
        .ok_or_else(|| format!("trigger `{id}`: executor must be an object"))?;
    match o.get("type").and_then(Value::as_str) {
        Some("http") | Some("spin") => Ok(Executor::Http),
        Some("wagi") => {
            let s = |k: &str, d: &str| o.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
            Ok(Executor::Wagi {
                argv: s("argv", WAGI_DEFAULT_ARGV),
                entrypoint: s("entrypoint", WAGI_DEFAULT_ENTRYPOINT),
            })
        }
        other => Err(format!("trigger `{id}`: unknown executor type {other:?}")),
    }
}

impl LockedApp {
    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&LockedComponent> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The app name from metadata.
    pub fn name(&self) -> Option<&str> {
        self.metadata.get("name").and_then(Value::as_str)
    }

    /// Every http trigger decoded, or why it could not be decoded, in trigger order.
    pub fn http_trigger_configs(
        &self,
    ) -> impl Iterator<Item = Result<HttpTriggerConfig, String>> + '_ {
        self.triggers
            .iter()
            .filter(|t| t.trigger_type == "http")
            .map(HttpTriggerConfig::from_locked)
    }

    /// The http triggers, in trigger order (so for duplicate routes the last one wins).
    /// Triggers whose config is malformed are skipped; use
    /// [`LockedApp::http_trigger_configs`] to see those errors.
    pub fn http_triggers(&self) -> impl Iterator<Item = HttpTriggerConfig> + '_ {
        self.http_trigger_configs().filter_map(Result::ok)
    }

    /// `must_understand` entries this crate does not know (a host should refuse the app).
    pub fn unsupported_must_understand(&self) -> Vec<&str> {
        self.must_understand
            .iter()
            .map(String::as_str)
            .filter(|m| {
                *m != MUST_UNDERSTAND_HOST_REQUIREMENTS
                    && *m != MUST_UNDERSTAND_COMPONENT_HOST_REQUIREMENTS
            })
            .collect()
    }

    /// Pretty JSON, as written to `spin.lock`.
    pub fn to_json_pretty(&self) -> String {
        // All maps are string-keyed and all values are JSON-representable: cannot fail.
        serde_json::to_string_pretty(self).expect("LockedApp serializes to JSON")
    }

    /// Parses a locked app (from `spin.lock` or a registry artifact).
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl LockedComponent {
    fn string_list(&self, key: &str) -> Vec<String> {
        self.metadata
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `allowed_outbound_hosts` (templates unresolved).
    pub fn allowed_outbound_hosts(&self) -> Vec<String> {
        self.string_list("allowed_outbound_hosts")
    }

    /// `key_value_stores` labels.
    pub fn key_value_stores(&self) -> Vec<String> {
        self.string_list("key_value_stores")
    }

    /// `sqlite_databases` labels (metadata key `databases`).
    pub fn sqlite_databases(&self) -> Vec<String> {
        self.string_list("databases")
    }

    /// `ai_models`.
    pub fn ai_models(&self) -> Vec<String> {
        self.string_list("ai_models")
    }

    /// `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.metadata.get("description").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerates_unknown_fields_and_v0() {
        let j = json!({
            "spin_lock_version": 0,
            "metadata": {"name": "x"},
            "triggers": [{"id": "t", "trigger_type": "http",
                "trigger_config": {"route": "/a/", "component": "c"}, "future": 1}],
            "components": [{"id": "c", "source": {"content_type": "application/wasm",
                "source": "file:///x.wasm", "whatever": true}, "trigger_dependencies": {}}],
            "never_seen": 123
        });
        let app = LockedApp::from_json(j.to_string().as_bytes()).unwrap();
        assert_eq!(app.spin_lock_version, 0);
        let t: Vec<_> = app.http_triggers().collect();
        assert_eq!(t[0].route, HttpRoute::Path("/a".into()));
        assert_eq!(
            t[0].target,
            HttpTarget::Component {
                id: "c".into(),
                executor: Executor::Http
            }
        );
        assert_eq!(
            app.component("c").unwrap().source.content.local_path(),
            Some(PathBuf::from("/x.wasm"))
        );
    }

    #[test]
    fn rejects_future_lock_version() {
        let j = json!({"spin_lock_version": 2, "triggers": [], "components": []});
        let e = LockedApp::from_json(j.to_string().as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("unsupported spin_lock_version 2"),
            "{e}"
        );
    }

    #[test]
    fn inline_content_is_base64() {
        let c = ContentPath {
            content: ContentRef {
                inline: Some(b"hi!".to_vec()),
                ..Default::default()
            },
            path: "/a.txt".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v, json!({"inline": "aGkh", "path": "/a.txt"}));
        let back: ContentPath = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn inline_content_is_written_unpadded_as_spin_does_and_read_either_way() {
        // Spin 4.0.2 wrote "tiny\n" as "dGlueQo" (../fixtures: locked-app.json).
        let c = ContentPath {
            content: ContentRef {
                inline: Some(b"tiny\n".to_vec()),
                ..Default::default()
            },
            path: "/t.txt".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["inline"], "dGlueQo");
        for text in ["dGlueQo", "dGlueQo="] {
            let back: ContentPath =
                serde_json::from_value(json!({"inline": text, "path": "/t.txt"})).unwrap();
            assert_eq!(
                back.content.inline.as_deref(),
                Some(&b"tiny\n"[..]),
                "{text}"
            );
        }
        let bad = serde_json::from_value::<ContentPath>(json!({"inline": "*", "path": "/x"}));
        assert!(bad.unwrap_err().to_string().contains("not base64"));
    }

    #[test]
    fn decodes_static_private_and_wagi() {
        let t = |cfg: Value| LockedTrigger {
            id: "t".into(),
            trigger_type: "http".into(),
            trigger_config: cfg,
            trigger_dependencies: Default::default(),
        };
        let s = HttpTriggerConfig::from_locked(&t(json!({"route": "/old",
            "static_response": {"status_code": 302, "headers": {"location": "/"}}})))
        .unwrap();
        assert_eq!(
            s.target,
            HttpTarget::StaticResponse {
                status_code: 302,
                headers: [("location".to_string(), "/".to_string())].into(),
                body: None
            }
        );
        let d = HttpTriggerConfig::from_locked(&t(json!({"route": "/x", "static_response": {}})))
            .unwrap();
        assert!(matches!(
            d.target,
            HttpTarget::StaticResponse {
                status_code: 200,
                ..
            }
        ));
        let p = HttpTriggerConfig::from_locked(&t(json!({"route": {"private": true},
            "component": "c", "executor": {"type": "wagi"}})))
        .unwrap();
        assert_eq!(p.route, HttpRoute::Private);
        assert_eq!(
            p.target,
            HttpTarget::Component {
                id: "c".into(),
                executor: Executor::Wagi {
                    argv: WAGI_DEFAULT_ARGV.into(),
                    entrypoint: "_start".into()
                }
            }
        );
        let both = HttpTriggerConfig::from_locked(&t(
            json!({"route": "/", "component": "c", "static_response": {}}),
        ));
        assert!(both.unwrap_err().contains("both"));
    }
}
