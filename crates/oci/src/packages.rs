//! Components and component dependencies from Wasm package registries, fetched as Spin fetches
//! them (through wasm-pkg-tools' OCI layout):
//!
//! * `source = { registry = "ghcr.io", package = "example:hello", version = "1.0.0" }` (an exact
//!   version) and dependencies `"example:greeter/greet" = "^1.0"` or
//!   `{ version = "1", package = "example:greeter", registry = "..." }` (a requirement).
//! * Package `ns:name` lives at `<registry>/<prefix>ns/name:<version>`, one tag per version: the
//!   highest tag that parses as a version and matches the requirement is taken, and its
//!   `application/wasm` layer is the component (the CNCF Wasm OCI artifact layout `wkg oci push`
//!   writes).
//! * Which registry: the dependency's own `registry`, else wasm-pkg's configuration
//!   (`$WKG_CONFIG_FILE`, or `~/.config/wasm-pkg/config.toml`: `namespace_registries`, then
//!   `default_registry`), else the wasm-pkg defaults (`wasi` → `wasi.dev`, `ba` →
//!   `bytecodealliance.org`). A registry that publishes
//!   `/.well-known/wasm-pkg/registry.json` redirects to its OCI registry and namespace prefix.
//! * What was resolved is remembered in the cache: an exact version already fetched starts
//!   offline, and a requirement resolved before is used (with a warning) when the registry
//!   cannot be reached.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use oci_client::manifest::OciImageManifest;
use oci_client::{Reference, RegistryOperation};
use serde_json::Value;
use spindle_manifest::locked::{ContentRef, LockedApp, PackageSource};

use crate::client::Client;
use crate::scheme_for;
use crate::{IMAGE_MANIFEST_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE_WKG};

/// Namespaces wasm-pkg maps to a registry when nothing is configured.
const DEFAULT_NAMESPACE_REGISTRIES: &[(&str, &str)] =
    &[("wasi", "wasi.dev"), ("ba", "bytecodealliance.org")];

/// Which registry serves which namespace: wasm-pkg's configuration file, read as `wkg` does.
#[derive(Clone, Debug, Default)]
pub struct PackageConfig {
    default_registry: Option<String>,
    namespace_registries: HashMap<String, String>,
    /// The file it came from, for error messages.
    file: Option<PathBuf>,
}

impl PackageConfig {
    /// The configuration of this machine: `$WKG_CONFIG_FILE`, else
    /// `$XDG_CONFIG_HOME/wasm-pkg/config.toml` (`~/.config/...`); none is no error.
    pub fn load() -> anyhow::Result<Self> {
        let file = match std::env::var_os("WKG_CONFIG_FILE") {
            Some(f) => Some(PathBuf::from(f)),
            None => std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                .map(|d| d.join("wasm-pkg").join("config.toml")),
        };
        match file {
            Some(f) if f.is_file() => {
                let text = std::fs::read_to_string(&f).with_context(|| {
                    format!("reading the wasm-pkg configuration {}", f.display())
                })?;
                Self::parse(&text, Some(f))
            }
            _ => Ok(Self::default()),
        }
    }

    fn parse(text: &str, file: Option<PathBuf>) -> anyhow::Result<Self> {
        let where_ = file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "the wasm-pkg configuration".into());
        let v: toml::Table =
            toml::from_str(text).with_context(|| format!("{where_} is not valid TOML"))?;
        let default_registry = v
            .get("default_registry")
            .and_then(toml::Value::as_str)
            .map(String::from);
        let mut namespace_registries = HashMap::new();
        if let Some(t) = v
            .get("namespace_registries")
            .and_then(toml::Value::as_table)
        {
            for (ns, r) in t {
                // `ns = "registry"` or `ns = { registry = "...", metadata = {...} }`.
                let registry = r
                    .as_str()
                    .or_else(|| r.get("registry").and_then(toml::Value::as_str));
                match registry {
                    Some(r) => {
                        namespace_registries.insert(ns.clone(), r.to_string());
                    }
                    None => bail!(
                        "{where_}: `namespace_registries.{ns}` must be a registry name (a string)"
                    ),
                }
            }
        }
        Ok(Self {
            default_registry,
            namespace_registries,
            file,
        })
    }

    /// The registry for `source`, or an error saying how to name one.
    fn registry_for(&self, source: &PackageSource, namespace: &str) -> anyhow::Result<String> {
        if let Some(r) = &source.registry {
            return Ok(r.clone());
        }
        if let Some(r) = self.namespace_registries.get(namespace) {
            return Ok(r.clone());
        }
        if let Some(r) = &self.default_registry {
            return Ok(r.clone());
        }
        if let Some((_, r)) = DEFAULT_NAMESPACE_REGISTRIES
            .iter()
            .find(|(ns, _)| *ns == namespace)
        {
            return Ok(r.to_string());
        }
        let config = match &self.file {
            Some(f) => format!("in {}", f.display()),
            None => "in ~/.config/wasm-pkg/config.toml".into(),
        };
        bail!(
            "no registry is known for package `{}` (help: add `registry = \"<host>\"` to it in \
             spin.toml, or set `default_registry` or `[namespace_registries] {namespace} = \
             \"<host>\"` {config})",
            source.package
        )
    }
}

/// Where a registry keeps its packages, from its `/.well-known/wasm-pkg/registry.json`.
#[derive(Debug, PartialEq)]
struct OciLocation {
    registry: String,
    namespace_prefix: String,
}

impl OciLocation {
    /// Reads a registry's metadata document (wasm-pkg's `RegistryMetadata`, both the
    /// `oci: { registry, namespacePrefix }` and the older `ociRegistry` spelling).
    fn from_metadata(registry: &str, doc: &Value) -> anyhow::Result<Self> {
        let oci = doc.get("oci");
        let field = |new: &str, old: &str| {
            oci.and_then(|o| o.get(new))
                .or_else(|| doc.get(old))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let preferred = doc.get("preferredProtocol").and_then(Value::as_str);
        let has_oci = oci.is_some() || doc.get("ociRegistry").is_some();
        if !has_oci && preferred.is_some_and(|p| p != "oci") {
            bail!(
                "the registry {registry} serves packages only over `{}`; Spindle fetches \
                 packages from OCI registries (help: publish the package to an OCI registry \
                 and name it with `registry = \"<host>\"`)",
                preferred.unwrap_or_default()
            );
        }
        Ok(Self {
            registry: field("registry", "ociRegistry").unwrap_or_else(|| registry.to_string()),
            namespace_prefix: field("namespacePrefix", "ociNamespacePrefix").unwrap_or_default(),
        })
    }
}

/// Fetches every registry-package source of `locked` (components and their dependencies) into
/// the cache and points the locked app at the cached files, with their digests.
pub async fn fetch_package_sources(
    mut locked: LockedApp,
    client: &Client,
    config: &PackageConfig,
) -> anyhow::Result<LockedApp> {
    for c in &mut locked.components {
        let id = c.id.clone();
        if let Some(source) = c
            .source
            .content
            .source
            .as_deref()
            .and_then(PackageSource::from_uri)
        {
            let what = format!("component `{id}`");
            c.source.content = client.fetch_package(&source, config, &what).await?;
        }
        for (name, dep) in c.dependencies.iter_mut() {
            let Some(source) = dep.get_mut("source").and_then(Value::as_object_mut) else {
                continue;
            };
            let Some(package) = source
                .get("source")
                .and_then(Value::as_str)
                .and_then(PackageSource::from_uri)
            else {
                continue;
            };
            let what = format!("component `{id}` dependency `{name}`");
            let fetched = client.fetch_package(&package, config, &what).await?;
            source.insert("source".into(), fetched.source.into());
            source.insert("digest".into(), fetched.digest.into());
        }
    }
    Ok(locked)
}

/// Whether `locked` names any registry package.
pub fn has_package_sources(locked: &LockedApp) -> bool {
    any_source(locked, |s| PackageSource::from_uri(s).is_some())
}

/// Whether the `source` URI of any component of `locked`, or of any of their dependencies,
/// satisfies `pred`.
pub fn any_source(locked: &LockedApp, pred: impl Fn(&str) -> bool) -> bool {
    let matches = |s: Option<&str>| s.is_some_and(&pred);
    locked.components.iter().any(|c| {
        matches(c.source.content.source.as_deref())
            || c.dependencies
                .values()
                .any(|d| matches(d.pointer("/source/source").and_then(Value::as_str)))
    })
}

impl Client {
    /// The cached file of `source` (fetched now unless an exact version is already cached).
    async fn fetch_package(
        &self,
        source: &PackageSource,
        config: &PackageConfig,
        what: &str,
    ) -> anyhow::Result<ContentRef> {
        let pkg = &source.package;
        let (namespace, name) = source
            .namespace_and_name()
            .with_context(|| format!("{what}: `{pkg}` is not a `namespace:name` package name"))?;
        let requirement = semver::VersionReq::parse(&source.version).with_context(|| {
            format!(
                "{what}: `{}` is not a version requirement for `{pkg}` (help: write a version \
                 such as `1.0.0`, or a requirement such as `^1.2` or `>=1, <2`)",
                source.version
            )
        })?;
        let registry = config
            .registry_for(source, namespace)
            .with_context(|| what.to_string())?;
        let memo = self.resolution_memo(&registry, pkg, &source.version);
        let remembered = std::fs::read_to_string(&memo).ok().and_then(|d| {
            let d = d.trim().to_string();
            self.cache.has_blob(&d).then_some(d)
        });
        let exact = source.version.starts_with('=');
        let digest = match remembered {
            Some(d) if exact => d,
            remembered => match self
                .resolve_package(&registry, namespace, name, &requirement)
                .await
            {
                Ok((version, digest)) => {
                    tracing::info!("{what}: {pkg}@{version} from {registry} ({digest})");
                    self.cache.write_file(&memo, digest.as_bytes())?;
                    digest
                }
                Err(e) => match remembered {
                    Some(d) if e.downcast_ref::<Unreached>().is_some() => {
                        tracing::warn!(
                            "{what}: {e:#}; using {pkg} {} as last resolved ({d})",
                            source.version
                        );
                        d
                    }
                    _ => {
                        return Err(e.context(format!(
                            "{what}: fetching package `{pkg}` {} from {registry}",
                            source.version
                        )))
                    }
                },
            },
        };
        let path = self.cache.blob_path(&digest)?;
        let mut local = ContentRef::file(&path)
            .with_context(|| format!("{} is not an absolute path", path.display()))?;
        local.digest = Some(digest);
        Ok(local)
    }

    fn resolution_memo(&self, registry: &str, package: &str, requirement: &str) -> PathBuf {
        let safe = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        let req = hex::encode(requirement.as_bytes());
        self.cache
            .root()
            .join("packages")
            .join(safe(registry))
            .join(safe(package))
            .join(req)
    }

    /// Picks the highest version of `ns:name` in `registry` that matches `requirement`, and
    /// downloads (or finds cached) its Wasm layer: (version, digest).
    async fn resolve_package(
        &self,
        registry: &str,
        namespace: &str,
        name: &str,
        requirement: &semver::VersionReq,
    ) -> anyhow::Result<(semver::Version, String)> {
        let location = self.oci_location(registry).await?;
        let repository = format!("{}{namespace}/{name}", location.namespace_prefix);
        let oci = self.oci(&location.registry);
        let auth = self.auth(&location.registry)?;
        let scheme = scheme_for(&location.registry, self.options.insecure);
        let base: Reference = format!("{}/{repository}:latest", location.registry)
            .parse()
            .with_context(|| {
                format!(
                    "`{}/{repository}` is not a valid repository",
                    location.registry
                )
            })?;
        let unreached = |e: oci_client::errors::OciDistributionError| -> anyhow::Error {
            match e {
                oci_client::errors::OciDistributionError::RequestError(e)
                    if e.is_connect() || e.is_timeout() =>
                {
                    anyhow::Error::new(Unreached(format!(
                        "cannot reach {scheme}://{}: {e}",
                        location.registry
                    )))
                }
                e => crate::errors::explain(
                    e,
                    crate::errors::Op::Pull,
                    &base.whole(),
                    &location.registry,
                    scheme,
                ),
            }
        };
        // Anonymous registries answer without a token; others need one before listing tags.
        let _ = oci.auth(&base, &auth, RegistryOperation::Pull).await;
        let tags = oci
            .list_tags(&base, &auth, None, None)
            .await
            .map_err(unreached)?
            .tags;
        let version = tags
            .iter()
            .filter_map(|t| semver::Version::parse(t).ok())
            .filter(|v| requirement.matches(v))
            .max()
            .with_context(|| {
                let mut versions: Vec<_> = tags
                    .iter()
                    .filter(|t| semver::Version::parse(t).is_ok())
                    .cloned()
                    .collect();
                versions.sort();
                if versions.is_empty() {
                    format!(
                        "{}/{repository} has no versions (no tag is a version like `1.0.0`)",
                        location.registry
                    )
                } else {
                    format!(
                        "no version of {}/{repository} matches `{requirement}` (help: it has {})",
                        location.registry,
                        versions.join(", ")
                    )
                }
            })?;
        let image: Reference = format!("{}/{repository}:{version}", location.registry).parse()?;
        let (bytes, _) = oci
            .pull_manifest_raw(&image, &auth, &[IMAGE_MANIFEST_MEDIA_TYPE])
            .await
            .map_err(unreached)?;
        let manifest: OciImageManifest = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the manifest of {} is not an OCI image manifest",
                image.whole()
            )
        })?;
        let wasm: Vec<_> = manifest
            .layers
            .iter()
            .filter(|l| crate::is_wasm_layer(&l.media_type))
            .collect();
        let [layer] = wasm.as_slice() else {
            bail!(
                "{} is not a Wasm package: it has {} layers of type `{WASM_LAYER_MEDIA_TYPE_WKG}`, \
                 not one (help: publish the component with `wkg oci push`)",
                image.whole(),
                wasm.len()
            );
        };
        if !self.cache.has_blob(&layer.digest) {
            let progress = self.progress();
            self.download(&oci, &image, layer, &progress)
                .await
                .map_err(|e| match e {
                    crate::client::DownloadError::Registry(e) => unreached(e),
                    crate::client::DownloadError::Other(e) => e.context(format!(
                        "the Wasm layer {} of {} is corrupt or incomplete; nothing was cached",
                        layer.digest,
                        image.whole()
                    )),
                })?
                .persist()?;
        }
        Ok((version, layer.digest.clone()))
    }

    /// Where `registry` keeps its packages: loopback registries are used as they are; others
    /// may redirect through their well-known metadata (absent metadata means "right here").
    async fn oci_location(&self, registry: &str) -> anyhow::Result<OciLocation> {
        let here = OciLocation {
            registry: registry.to_string(),
            namespace_prefix: String::new(),
        };
        let scheme = scheme_for(registry, self.options.insecure);
        if scheme == "http" {
            return Ok(here);
        }
        let url = format!("{scheme}://{registry}/.well-known/wasm-pkg/registry.json");
        let client = crate::http_client_builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let response = match client.get(&url).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() || e.is_timeout() => {
                return Err(anyhow::Error::new(Unreached(format!(
                    "cannot reach {registry}: {e}"
                ))))
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("fetching {url}"))),
        };
        if !response.status().is_success() {
            return Ok(here);
        }
        match response.json::<Value>().await {
            Ok(doc) => OciLocation::from_metadata(registry, &doc),
            Err(_) => Ok(here),
        }
    }
}

/// The registry could not be reached (as opposed to answering with an error).
#[derive(Debug)]
struct Unreached(String);

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreached {}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(package: &str, registry: Option<&str>) -> PackageSource {
        PackageSource {
            registry: registry.map(String::from),
            package: package.into(),
            version: "1".into(),
        }
    }

    #[test]
    fn registry_comes_from_the_manifest_then_the_config_then_wasm_pkg_defaults() {
        let config = PackageConfig::parse(
            "default_registry = \"ghcr.example\"\n[namespace_registries]\nacme = \"acme.example\"\nother = { registry = \"o.example\" }\n",
            None,
        )
        .unwrap();
        let r = |p: &str, reg: Option<&str>| {
            let s = source(p, reg);
            let ns = s.namespace_and_name().unwrap().0.to_string();
            config.registry_for(&s, &ns).unwrap()
        };
        assert_eq!(r("acme:x", Some("127.0.0.1:5000")), "127.0.0.1:5000");
        assert_eq!(r("acme:x", None), "acme.example");
        assert_eq!(r("other:x", None), "o.example");
        assert_eq!(r("zzz:x", None), "ghcr.example");

        let empty = PackageConfig::default();
        assert_eq!(
            empty
                .registry_for(&source("wasi:http", None), "wasi")
                .unwrap(),
            "wasi.dev"
        );
        let err = empty
            .registry_for(&source("acme:x", None), "acme")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no registry is known for package `acme:x`"),
            "{err}"
        );
        assert!(
            err.contains("registry = \\\"<host>\\\"") || err.contains("registry = \"<host>\""),
            "{err}"
        );
    }

    #[test]
    fn well_known_metadata_redirects_or_refuses_warg_only_registries() {
        let doc = serde_json::json!({
            "preferredProtocol": "oci",
            "oci": { "registry": "ghcr.io", "namespacePrefix": "bytecodealliance/" }
        });
        assert_eq!(
            OciLocation::from_metadata("bytecodealliance.org", &doc).unwrap(),
            OciLocation {
                registry: "ghcr.io".into(),
                namespace_prefix: "bytecodealliance/".into()
            }
        );
        let old = serde_json::json!({ "ociRegistry": "r.example", "ociNamespacePrefix": "p/" });
        assert_eq!(
            OciLocation::from_metadata("x", &old)
                .unwrap()
                .namespace_prefix,
            "p/"
        );
        let warg =
            serde_json::json!({ "preferredProtocol": "warg", "warg": { "url": "https://w" } });
        let err = OciLocation::from_metadata("wa.dev", &warg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only over `warg`"), "{err}");
    }

    #[test]
    fn package_uris_round_trip() {
        let s = PackageSource {
            registry: Some("127.0.0.1:5000".into()),
            package: "example:greeter".into(),
            version: ">=1.0, <2".into(),
        };
        assert_eq!(PackageSource::from_uri(&s.to_uri()), Some(s));
        assert!(source("Bad:Name", None).namespace_and_name().is_none());
        assert!(source("nocolon", None).namespace_and_name().is_none());
    }
}
