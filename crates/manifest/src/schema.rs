//! Serde types for `spin.toml` with `spin_manifest_version = 2`, mirroring Spin's
//! `spin_manifest::schema::v2`. Every struct rejects unknown keys (`deny_unknown_fields`)
//! except [`Trigger`], whose type-specific keys (e.g. `route`, `channel`) land in
//! [`Trigger::config`].
//!
//! Maps keep the order in which keys appear in the manifest ([`OrderedMap`]).
//! These types only describe the shape; the rules Spin applies on top (kebab-case ids,
//! variable names, ...) are checked by [`crate::parse_str`] / [`crate::load`], which report
//! them with line numbers.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string-keyed map that keeps insertion (= manifest) order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }
    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Inserts or replaces (keeping the original position when replacing).
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(v) => *v = value,
            None => self.0.push((key, value)),
        }
    }
    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    /// Entries in order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }
    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
    /// Values in order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> IntoIterator for OrderedMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V> FromIterator<(String, V)> for OrderedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut m = Self::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut m = OrderedMap::new();
                while let Some((k, v)) = access.next_entry::<String, V>()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        deserializer.deserialize_map(V2(PhantomData))
    }
}

/// The whole `spin.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppManifest {
    /// Always `2`.
    pub spin_manifest_version: u32,
    /// `[application]`
    pub application: AppDetails,
    /// `[variables]`: application variables by (lower_snake_case) name.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub variables: OrderedMap<Variable>,
    /// `[[trigger.<type>]]` entries, by trigger type.
    #[serde(rename = "trigger")]
    pub triggers: OrderedMap<Vec<Trigger>>,
    /// `[component.<id>]` entries, by (kebab-case) id.
    #[serde(
        rename = "component",
        default,
        skip_serializing_if = "OrderedMap::is_empty"
    )]
    pub components: OrderedMap<Component>,
}

/// `[application]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetails {
    /// `name = "my-app"` (required).
    pub name: String,
    /// `version = "1.0.0"`
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `description = "..."`
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `authors = ["..."]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// `targets = ["spin-up:3.3"]`: deployment environments the app must be compatible with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetEnvironmentRef>,
    /// `[application.trigger.<type>]`: app-wide trigger settings (e.g. redis `address`).
    #[serde(
        rename = "trigger",
        default,
        skip_serializing_if = "OrderedMap::is_empty"
    )]
    pub trigger_global_configs: OrderedMap<toml::Table>,
    /// `[application.tool.<name>]`: settings for external tools (ignored).
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub tool: OrderedMap<toml::Table>,
}

/// A deployment environment reference in `targets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum TargetEnvironmentRef {
    /// `"spin-up:3.3"`
    DefaultRegistry(String),
    /// `{ registry = "ghcr.io/my/envs", id = "my-env:1.0" }`
    Registry {
        /// Registry hosting the environment document.
        registry: String,
        /// Environment document id.
        id: String,
    },
    /// `{ path = "env.toml" }`
    File {
        /// Local environment document.
        path: String,
    },
}

/// An application variable in `[variables]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// `description = "..."`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `required = true`: a value must be supplied at runtime.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// `default = "..."`: value used when none is supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `secret = true`: the value is sensitive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// One `[[trigger.<type>]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// `id = "..."`; generated by normalization when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `component = "id"` or an inline component table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentSpec>,
    /// `components = { key = "id" | [..] }` (trigger-specific meaning).
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub components: OrderedMap<OneOrManyComponentSpecs>,
    /// `dependencies = { middleware = [{ component = "x" }] }` (trigger-specific meaning).
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub dependencies: OrderedMap<Vec<Dependency>>,
    /// Trigger-type-specific keys, e.g. http `route`, `executor`, `static_response`.
    #[serde(flatten)]
    pub config: toml::Table,
}

/// One component spec or a list of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrManyComponentSpecs {
    /// A single spec.
    One(ComponentSpec),
    /// A list of specs.
    Many(Vec<ComponentSpec>),
}

impl OneOrManyComponentSpecs {
    /// The specs as a slice.
    pub fn as_slice(&self) -> &[ComponentSpec] {
        match self {
            Self::One(s) => std::slice::from_ref(s),
            Self::Many(v) => v,
        }
    }
    /// The specs, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [ComponentSpec] {
        match self {
            Self::One(s) => std::slice::from_mut(s),
            Self::Many(v) => v,
        }
    }
}

/// A trigger's component: a reference to `[component.<id>]` or an inline definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComponentSpec {
    /// `component = "my-component"`
    Reference(String),
    /// `component = { source = "x.wasm", ... }`
    Inline(Box<Component>),
}

/// `[component.<id>]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// `source = "x.wasm" | { url, digest } | { registry?, package, version }`
    pub source: ComponentSource,
    /// `description = "..."`
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `variables = { name = "template {{ app_var }}" }`: component config, templates unresolved.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub variables: OrderedMap<String>,
    /// `environment = { KEY = "value" }`
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub environment: OrderedMap<String>,
    /// `files = ["glob/**", { source = "dir", destination = "/abs" }]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<WasiFilesMount>,
    /// `exclude_files = ["**/*.map"]` (globs relative to the manifest directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_files: Vec<String>,
    /// Deprecated `allowed_http_hosts = ["example.com"]`; see
    /// [`Component::normalized_allowed_outbound_hosts`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_http_hosts: Vec<String>,
    /// `allowed_outbound_hosts = ["https://example.com:443"]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_outbound_hosts: Vec<String>,
    /// `key_value_stores = ["default"]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_value_stores: Vec<String>,
    /// `sqlite_databases = ["default"]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqlite_databases: Vec<String>,
    /// `ai_models = ["llama2-chat"]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ai_models: Vec<String>,
    /// `targets = [...]`: overrides the application's targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetEnvironmentRef>>,
    /// `[component.<id>.build]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<ComponentBuildConfig>,
    /// `[component.<id>.tool.<name>]`: settings for external tools (ignored).
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub tool: OrderedMap<toml::Table>,
    /// `dependencies_inherit_configuration = true`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies_inherit_configuration: Option<bool>,
    /// `[component.<id>.dependencies]`: how to satisfy component-model imports.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub dependencies: OrderedMap<ComponentDependency>,
    /// `[component.<id>.profile.<name>]`: overrides for a named build profile.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub profile: OrderedMap<ComponentProfileOverride>,
}

impl Component {
    /// `allowed_outbound_hosts` plus the deprecated `allowed_http_hosts` converted to the
    /// `scheme://host[:port]` syntax: `"insecure:allow-all"` becomes `"*://*:*"`, a bare
    /// `host[:port]` becomes `http://` and `https://` entries, URLs are kept as they are.
    pub fn normalized_allowed_outbound_hosts(&self) -> Vec<String> {
        let mut out = self.allowed_outbound_hosts.clone();
        out.extend(convert_allowed_http_hosts(&self.allowed_http_hosts));
        out
    }
}

/// Converts deprecated `allowed_http_hosts` entries to `allowed_outbound_hosts` syntax
/// (see [`Component::normalized_allowed_outbound_hosts`]).
pub fn convert_allowed_http_hosts(hosts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        let h = h.trim().trim_end_matches('/');
        if h == "insecure:allow-all" {
            out.push("*://*:*".to_string());
        } else if h.contains("://") {
            out.push(h.to_string());
        } else {
            out.push(format!("http://{h}"));
            out.push(format!("https://{h}"));
        }
    }
    out
}

/// Where a component's Wasm comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ComponentSource {
    /// `source = "path/to/component.wasm"` (relative to the manifest directory).
    Local(String),
    /// `source = { url = "https://...", digest = "sha256:..." }`
    Remote {
        /// Download URL.
        url: String,
        /// `sha256:<hex>` digest of the file.
        digest: String,
    },
    /// `source = { registry = "ttl.sh", package = "ns:name", version = "1.0.0" }`
    Registry {
        /// Registry host (default registry when omitted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        registry: Option<String>,
        /// `namespace:name`
        package: String,
        /// Exact version.
        version: String,
    },
}

/// One `files` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum WasiFilesMount {
    /// `"static/**/*"`: a glob, file or directory path relative to the manifest directory,
    /// mounted at the same relative path under `/`.
    Pattern(String),
    /// `{ source = "dir", destination = "/abs" }`
    Placement {
        /// Host directory or file (relative to the manifest directory).
        source: String,
        /// Absolute guest path.
        destination: String,
    },
}

/// `[component.<id>.build]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentBuildConfig {
    /// `command = "cargo build"` or a list of commands run in order.
    pub command: Commands,
    /// Working directory for the command (relative to the manifest directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Globs watched by `watch` tooling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
}

impl ComponentBuildConfig {
    /// The build commands, in order.
    pub fn commands(&self) -> Vec<&str> {
        match &self.command {
            Commands::Single(c) => vec![c.as_str()],
            Commands::Multiple(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// One build command or several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Commands {
    /// `command = "cargo build"`
    Single(String),
    /// `command = ["npm install", "npm run build"]`
    Multiple(Vec<String>),
}

/// `[component.<id>.profile.<name>]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentProfileOverride {
    /// Source used in this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ComponentSource>,
    /// Environment overrides.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub environment: OrderedMap<String>,
    /// Dependency overrides.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub dependencies: OrderedMap<ComponentDependency>,
    /// Build command override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<ComponentProfileBuildOverride>,
}

/// `[component.<id>.profile.<name>.build]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentProfileBuildOverride {
    /// Build command(s) for the profile.
    pub command: Commands,
}

/// A component dependency: `"pkg:name/iface" = ">=0.1.0"` or a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComponentDependency {
    /// A semver requirement for the package named by the key, from the default registry.
    Version(String),
    /// A table (registry package, local path, URL or app component).
    Table(Box<Dependency>),
}

/// A dependency table. Exactly one of `version`, `path`, `url` or `component` is set
/// (checked when parsing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// Registry package version requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Registry host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Package name (defaults to the key's package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Local Wasm file (relative to the manifest directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Download URL (with `digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `sha256:` digest for `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Id of an application component implementing the dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Export to use from the dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// `true`, `false` or a list of configuration keys inherited from the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_configuration: Option<InheritConfiguration>,
    /// Environment variables for the dependency.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub environment: OrderedMap<String>,
}

/// `inherit_configuration = true | false | ["allowed_outbound_hosts", ...]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InheritConfiguration {
    /// All or nothing.
    All(bool),
    /// Only these configuration keys.
    Some(Vec<String>),
}

/// HTTP route as written in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpRouteSpec {
    /// `route = "/path/..."`, normalized (leading `/`, no single trailing `/`).
    Path(String),
    /// `route = { private = true }`
    Private,
}

/// Normalizes a route like Spin: adds a leading `/` and strips a single trailing `/`
/// (`""` and `"/"` both become `"/"`).
pub fn normalize_route(route: &str) -> String {
    let mut r = route.trim().to_string();
    if !r.starts_with('/') {
        r.insert(0, '/');
    }
    if r.len() > 1 && r.ends_with('/') {
        r.pop();
    }
    r
}

impl Trigger {
    /// For an http trigger: its route (`None` if absent or malformed).
    pub fn http_route(&self) -> Option<HttpRouteSpec> {
        match self.config.get("route")? {
            toml::Value::String(s) => Some(HttpRouteSpec::Path(normalize_route(s))),
            toml::Value::Table(t) if t.get("private") == Some(&toml::Value::Boolean(true)) => {
                Some(HttpRouteSpec::Private)
            }
            _ => None,
        }
    }

    /// The component id this trigger runs, if it references one (inline components are
    /// turned into references by normalization).
    pub fn component_id(&self) -> Option<&str> {
        match &self.component {
            Some(ComponentSpec::Reference(id)) => Some(id),
            _ => None,
        }
    }
}

impl AppManifest {
    /// Applies the build profile `name` (Spin 4's `--profile`): for each component with a
    /// `[component.<id>.profile.<name>]`, its `source` replaces the component's, its
    /// `build.command` replaces the build command (keeping `workdir` and `watch`), and its
    /// `environment` and `dependencies` are merged over the component's. Components without
    /// that profile keep their own settings, as in Spin. Returns the ids of the components
    /// that have it.
    pub fn apply_profile(&mut self, name: &str) -> Vec<String> {
        let mut applied = Vec::new();
        for (id, component) in self.components.iter_mut() {
            let Some(profile) = component.profile.get(name).cloned() else {
                continue;
            };
            applied.push(id.clone());
            if let Some(source) = profile.source {
                component.source = source;
            }
            if let Some(build) = profile.build {
                match &mut component.build {
                    Some(base) => base.command = build.command,
                    None => {
                        component.build = Some(ComponentBuildConfig {
                            command: build.command,
                            workdir: None,
                            watch: Vec::new(),
                        })
                    }
                }
            }
            for (k, v) in profile.environment {
                component.environment.insert(k, v);
            }
            for (k, v) in profile.dependencies {
                component.dependencies.insert(k, v);
            }
        }
        applied
    }

    /// Ids of all components, in manifest order.
    pub fn component_ids(&self) -> impl Iterator<Item = &String> {
        self.components.keys()
    }

    /// All triggers as `(trigger type, trigger)`, in manifest order.
    pub fn all_triggers(&self) -> impl Iterator<Item = (&String, &Trigger)> {
        self.triggers
            .iter()
            .flat_map(|(ty, ts)| ts.iter().map(move |t| (ty, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_normalization() {
        assert_eq!(normalize_route("hello"), "/hello");
        assert_eq!(normalize_route("/hello/"), "/hello");
        assert_eq!(normalize_route("/hello//"), "/hello/");
        assert_eq!(normalize_route("/"), "/");
        assert_eq!(normalize_route(""), "/");
        assert_eq!(normalize_route("/api/..."), "/api/...");
        assert_eq!(normalize_route("..."), "/...");
    }

    #[test]
    fn ordered_map_keeps_order_and_replaces() {
        let mut m = OrderedMap::new();
        m.insert("b", 1);
        m.insert("a", 2);
        m.insert("b", 3);
        assert_eq!(m.keys().cloned().collect::<Vec<_>>(), vec!["b", "a"]);
        assert_eq!(m.get("b"), Some(&3));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"b":3,"a":2}"#);
        let back: OrderedMap<i32> = serde_json::from_str(r#"{"z":1,"y":2}"#).unwrap();
        assert_eq!(back.keys().cloned().collect::<Vec<_>>(), vec!["z", "y"]);
    }

    #[test]
    fn allowed_http_hosts_conversion() {
        let mut c: Component = toml::from_str("source = \"a.wasm\"").unwrap();
        c.allowed_outbound_hosts = vec!["redis://r:6379".into()];
        c.allowed_http_hosts = vec![
            "example.com".into(),
            "https://x.test".into(),
            "insecure:allow-all".into(),
        ];
        assert_eq!(
            c.normalized_allowed_outbound_hosts(),
            vec![
                "redis://r:6379",
                "http://example.com",
                "https://example.com",
                "https://x.test",
                "*://*:*"
            ]
        );
    }
}
