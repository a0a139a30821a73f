//! Turning a validated, normalized manifest into a [`LockedApp`]: resolves sources and
//! files against the manifest directory (which must exist on disk).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component as PathComponent, Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::diag::{Diagnostic, Sink};
use crate::locked::{
    ContentPath, ContentRef, LockedApp, LockedComponent, LockedComponentSource, LockedTrigger,
    LockedVariable, PackageSource, MUST_UNDERSTAND_COMPONENT_HOST_REQUIREMENTS,
    SERVICE_CHAINING_KEY, SPIN_LOCK_VERSION, WASM_CONTENT_TYPE,
};
use crate::schema::{
    AppManifest, Component, ComponentDependency, ComponentSource, ComponentSpec, Dependency,
    InheritConfiguration, WasiFilesMount,
};
use crate::validate::{ComponentLocs, Parsed, Span};

/// Makes `path` absolute (against the current directory) and removes `.`/`..` lexically,
/// without resolving symlinks (like Spin's `path_absolutize`).
pub(crate) fn absolutize(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            PathComponent::CurDir => {}
            PathComponent::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `rel` (a relative path) normalized lexically; `None` if it escapes upwards.
fn normalize_relative(rel: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            PathComponent::CurDir => {}
            PathComponent::ParentDir => {
                parts.pop()?;
            }
            PathComponent::Normal(p) => parts.push(p),
            _ => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Guest path: `dest` + `/` + `rel` with forward slashes.
fn guest_path(dest: &str, rel: &Path) -> PathBuf {
    let rel: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let base = dest.trim_end_matches('/');
    if rel.is_empty() {
        return PathBuf::from(if base.is_empty() { "/" } else { dest });
    }
    PathBuf::from(format!("{base}/{}", rel.join("/")))
}

/// A mapped file: the path as the manifest names it (guest paths and `exclude_files` are
/// computed from it) and the file it resolves to (what is read, hashed and staged).
struct Mapped {
    logical: PathBuf,
    resolved: PathBuf,
}

/// Why a `files` entry cannot be mapped.
enum WalkError {
    Io(std::io::Error),
    /// `link` resolves to `target`, which is outside the application directory.
    Escapes {
        link: PathBuf,
        target: PathBuf,
    },
    /// A directory symlink leads back to one of its own ancestors.
    Loop {
        link: PathBuf,
    },
}

impl From<std::io::Error> for WalkError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// Resolves `path` (following every symlink) and checks that it stays inside `root` (itself
/// resolved), so that no symlink can expose a file of the host that the app does not contain.
fn resolve_inside(path: &Path, root: &Path) -> Result<PathBuf, WalkError> {
    let target = std::fs::canonicalize(path)?;
    if target.starts_with(root) {
        Ok(target)
    } else {
        Err(WalkError::Escapes {
            link: path.to_path_buf(),
            target,
        })
    }
}

/// All regular files under `dir`, sorted, recursively. Symlinks are followed only while they
/// resolve inside `root`; a link out of it is an error, a dangling one is skipped.
fn walk_dir(dir: &Path, root: &Path, out: &mut Vec<Mapped>) -> Result<(), WalkError> {
    let resolved_dir = resolve_inside(dir, root)?;
    walk_resolved(
        dir,
        &resolved_dir,
        root,
        &mut vec![resolved_dir.clone()],
        out,
    )
}

fn walk_resolved(
    dir: &Path,
    resolved_dir: &Path,
    root: &Path,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<Mapped>,
) -> Result<(), WalkError> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(resolved_dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let logical = dir.join(&name);
        let entry = resolved_dir.join(&name);
        let resolved = if entry.is_symlink() {
            match resolve_inside(&entry, root) {
                Ok(target) => target,
                Err(WalkError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(WalkError::Escapes { target, .. }) => {
                    return Err(WalkError::Escapes {
                        link: logical,
                        target,
                    })
                }
                Err(e) => return Err(e),
            }
        } else {
            entry
        };
        let meta = std::fs::metadata(&resolved)?;
        if meta.is_dir() {
            if stack.contains(&resolved) {
                return Err(WalkError::Loop { link: logical });
            }
            stack.push(resolved.clone());
            walk_resolved(&logical, &resolved, root, stack, out)?;
            stack.pop();
        } else if meta.is_file() {
            out.push(Mapped { logical, resolved });
        }
    }
    Ok(())
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(table_to_json(t)),
    }
}

fn table_to_json(t: &toml::Table) -> Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

fn string_array(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

/// Files mapped so far: guest path -> index, so that a later mapping replaces an earlier one.
#[derive(Default)]
struct FileSet {
    files: Vec<ContentPath>,
    index: HashMap<PathBuf, usize>,
}

impl FileSet {
    fn add(&mut self, host: &Path, guest: PathBuf) {
        let Some(content) = ContentRef::file(host) else {
            return;
        };
        let cp = ContentPath {
            content,
            path: guest.clone(),
        };
        match self.index.get(&guest) {
            Some(&i) => self.files[i] = cp,
            None => {
                self.index.insert(guest, self.files.len());
                self.files.push(cp);
            }
        }
    }
}

struct Locker<'a> {
    sink: Sink<'a>,
    app_root: PathBuf,
    /// `app_root` with every symlink resolved: mapped files must resolve inside it.
    resolved_root: PathBuf,
    manifest: &'a AppManifest,
}

impl Locker<'_> {
    fn root_display(&self) -> String {
        self.app_root.display().to_string()
    }

    fn component_source(
        &mut self,
        id: &str,
        c: &Component,
        span: &Span,
    ) -> Option<LockedComponentSource> {
        let content = match &c.source {
            ComponentSource::Local(p) => {
                let path = absolutize(&self.app_root.join(p));
                if !path.is_file() {
                    let hint = match &c.build {
                        Some(b) => format!(
                            "run `spindle build` to build it (build command: `{}`)",
                            b.commands().join(" && ")
                        ),
                        None => format!(
                            "run `spindle build` to build it, or fix the path (it is relative to `{}`)",
                            self.root_display()
                        ),
                    };
                    self.sink.error_hint(
                        span,
                        format!(
                            "source `{p}` of component `{id}` does not exist (looked for `{}`)",
                            path.display()
                        ),
                        hint,
                    );
                    return None;
                }
                ContentRef::file(&path)?
            }
            ComponentSource::Remote { url, digest } => ContentRef {
                source: Some(url.clone()),
                digest: Some(digest.clone()),
                ..Default::default()
            },
            ComponentSource::Registry {
                registry,
                package,
                version,
            } => {
                // A component source names an exact version (Spin parses it as a version, not
                // a requirement).
                let source = PackageSource {
                    registry: registry.clone(),
                    package: package.clone(),
                    version: format!("={}", version.trim_start_matches('=')),
                };
                self.package_ref(source, span, &format!("component `{id}`"))?
            }
        };
        Some(LockedComponentSource {
            content_type: WASM_CONTENT_TYPE.into(),
            content,
        })
    }

    /// The locked reference to a registry package (fetched later, see [`PackageSource`]);
    /// `None` after reporting a package name that is not `namespace:name`.
    fn package_ref(
        &mut self,
        source: PackageSource,
        span: &Span,
        what: &str,
    ) -> Option<ContentRef> {
        if source.namespace_and_name().is_none() {
            self.sink.error_hint(
                span,
                format!(
                    "`{}` (the registry package of {what}) is not a package name",
                    source.package
                ),
                "a package name is `namespace:name` in lower-case kebab-case, e.g. `example:greeter`",
            );
            return None;
        }
        Some(ContentRef {
            source: Some(source.to_uri()),
            ..Default::default()
        })
    }

    /// Reports why a `files` entry (`entry`, as written) cannot be mapped.
    fn file_error(&mut self, span: &Span, ctx: &str, entry: &str, error: WalkError) {
        match error {
            WalkError::Io(e) => self.sink.error(
                span,
                format!("cannot read `{entry}` in `files` of {ctx}: {e}"),
            ),
            WalkError::Escapes { link, target } => self.sink.error_hint(
                span,
                format!(
                    "`files` entry `{entry}` in {ctx} maps `{}`, which resolves to `{}`, outside \
                     the application directory `{}`",
                    link.display(),
                    target.display(),
                    self.root_display()
                ),
                "a component only sees files inside its application directory; copy what it \
                 needs there instead of linking to it",
            ),
            WalkError::Loop { link } => self.sink.error(
                span,
                format!(
                    "`files` entry `{entry}` in {ctx}: the directory symlink `{}` leads back \
                     to one of its own parent directories",
                    link.display()
                ),
            ),
        }
    }

    /// The files of `dir` (a file or a directory, as the manifest names it), each with the file
    /// it resolves to inside the application directory.
    fn mapped_files(&self, path: &Path) -> Result<Vec<Mapped>, WalkError> {
        if path.is_dir() {
            let mut found = Vec::new();
            walk_dir(path, &self.resolved_root, &mut found)?;
            Ok(found)
        } else {
            let resolved = resolve_inside(path, &self.resolved_root)?;
            if !resolved.is_file() {
                return Err(WalkError::Io(std::io::Error::other(format!(
                    "`{}` is not a regular file",
                    path.display()
                ))));
            }
            Ok(vec![Mapped {
                logical: path.to_path_buf(),
                resolved,
            }])
        }
    }

    fn files(&mut self, id: &str, c: &Component, locs: &ComponentLocs) -> Vec<ContentPath> {
        let ctx = format!("[component.{id}]");
        let excludes: Vec<glob::Pattern> = c
            .exclude_files
            .iter()
            .filter_map(|p| glob::Pattern::new(p).ok())
            .collect();
        let excluded = |host: &Path, root: &Path| -> bool {
            host.strip_prefix(root)
                .map(|rel| excludes.iter().any(|p| p.matches_path(rel)))
                .unwrap_or(false)
        };
        let mut set = FileSet::default();
        for (i, mount) in c.files.iter().enumerate() {
            let (entry_span, src_span) = locs
                .files
                .get(i)
                .cloned()
                .unwrap_or((locs.header.clone(), locs.header.clone()));
            match mount {
                WasiFilesMount::Pattern(p) => {
                    if Path::new(p).is_absolute() {
                        self.sink.error_hint(
                            &entry_span,
                            format!("`files` entry `{p}` in {ctx} must be a relative path"),
                            "paths are relative to the manifest directory; to mount a host directory elsewhere use `{ source = \"dir\", destination = \"/dir\" }`",
                        );
                        continue;
                    }
                    let Some(rel) = normalize_relative(Path::new(p)) else {
                        self.sink.error(
                            &entry_span,
                            format!(
                                "`files` entry `{p}` in {ctx} is outside the application directory"
                            ),
                        );
                        continue;
                    };
                    let full = self.app_root.join(&rel);
                    if full.exists() {
                        let found = match self.mapped_files(&full) {
                            Ok(found) => found,
                            Err(e) => {
                                self.file_error(&entry_span, &ctx, p, e);
                                continue;
                            }
                        };
                        for f in found {
                            if excluded(&f.logical, &self.app_root) {
                                continue;
                            }
                            if let Ok(r) = f.logical.strip_prefix(&self.app_root) {
                                set.add(&f.resolved, guest_path("/", r));
                            }
                        }
                    } else if glob::Pattern::escape(p) != *p {
                        let pattern = format!(
                            "{}/{}",
                            glob::Pattern::escape(&self.app_root.to_string_lossy()),
                            p.trim_start_matches("./")
                        );
                        let paths = match glob::glob(&pattern) {
                            Ok(paths) => paths,
                            Err(e) => {
                                self.sink.error(
                                    &entry_span,
                                    format!("invalid glob `{p}` in `files` of {ctx}: {}", e.msg),
                                );
                                continue;
                            }
                        };
                        let mut matched = 0;
                        for path in paths.flatten() {
                            if !path.is_file() {
                                continue;
                            }
                            let path = absolutize(&path);
                            let Ok(r) = path.strip_prefix(&self.app_root) else {
                                self.sink.error(
                                    &entry_span,
                                    format!("`files` pattern `{p}` in {ctx} matches `{}`, which is outside the application directory", path.display()),
                                );
                                break;
                            };
                            let resolved = match resolve_inside(&path, &self.resolved_root) {
                                Ok(resolved) => resolved,
                                Err(e) => {
                                    self.file_error(&entry_span, &ctx, p, e);
                                    break;
                                }
                            };
                            matched += 1;
                            if excluded(&path, &self.app_root) {
                                continue;
                            }
                            set.add(&resolved, guest_path("/", r));
                        }
                        if matched == 0 {
                            self.sink.warn_hint(
                                &entry_span,
                                format!("`files` pattern `{p}` in {ctx} matches no files"),
                                format!(
                                    "patterns are relative to the manifest directory `{}`",
                                    self.root_display()
                                ),
                            );
                        }
                    } else {
                        self.sink.error_hint(
                            &entry_span,
                            format!("`files` entry `{p}` in {ctx} does not exist"),
                            format!(
                                "paths are relative to the manifest directory `{}`",
                                self.root_display()
                            ),
                        );
                    }
                }
                WasiFilesMount::Placement {
                    source,
                    destination,
                } => {
                    if Path::new(source).is_absolute()
                        || normalize_relative(Path::new(source)).is_none()
                    {
                        self.sink.error_hint(
                            &src_span,
                            format!(
                                "files source `{source}` in {ctx} is outside the application directory"
                            ),
                            "`source` is a path relative to the manifest directory, without \
                             `..` above it; copy the files into the application directory",
                        );
                        continue;
                    }
                    let full = absolutize(&self.app_root.join(source));
                    if full.exists() {
                        let is_dir = full.is_dir();
                        let found = match self.mapped_files(&full) {
                            Ok(found) => found,
                            Err(e) => {
                                self.file_error(&src_span, &ctx, source, e);
                                continue;
                            }
                        };
                        if !is_dir {
                            for f in found {
                                set.add(&f.resolved, PathBuf::from(destination));
                            }
                            continue;
                        }
                        let mut matched = 0;
                        for f in found {
                            matched += 1;
                            if excluded(&f.logical, &self.app_root) {
                                continue;
                            }
                            if let Ok(r) = f.logical.strip_prefix(&full) {
                                set.add(&f.resolved, guest_path(destination, r));
                            }
                        }
                        if matched == 0 {
                            self.sink.warn(
                                &src_span,
                                format!("files source directory `{source}` in {ctx} is empty"),
                            );
                        }
                    } else {
                        self.sink.error_hint(
                            &src_span,
                            format!("files source `{source}` in {ctx} does not exist"),
                            format!(
                                "`source` is a file or directory path relative to the manifest directory `{}` (globs are not expanded here)",
                                self.root_display()
                            ),
                        );
                    }
                }
            }
        }
        set.files
    }

    fn source_of_component_ref(
        &mut self,
        target: &str,
        span: &Span,
        ctx: &str,
    ) -> Option<ContentRef> {
        let Some(c) = self.manifest.components.get(target) else {
            self.sink
                .error(span, format!("unknown component `{target}` in {ctx}"));
            return None;
        };
        let c = c.clone();
        self.component_source(target, &c, span).map(|s| s.content)
    }

    /// Locks one dependency into Spin's `LockedComponentDependency` JSON shape.
    fn dependency(
        &mut self,
        name: &str,
        dep: &Dependency,
        inherit_all_default: bool,
        span: &Span,
        ctx: &str,
    ) -> Option<Value> {
        let content = if let Some(path) = &dep.path {
            let full = absolutize(&self.app_root.join(path));
            if !full.is_file() {
                self.sink.error_hint(
                    span,
                    format!("dependency file `{path}` of {ctx} does not exist"),
                    format!(
                        "the path is relative to the manifest directory `{}`",
                        self.root_display()
                    ),
                );
                return None;
            }
            ContentRef::file(&full)?
        } else if let Some(url) = &dep.url {
            ContentRef {
                source: Some(url.clone()),
                digest: dep.digest.clone(),
                ..Default::default()
            }
        } else if let Some(target) = &dep.component {
            self.source_of_component_ref(target, span, ctx)?
        } else if let Some(version) = &dep.version {
            let package = match &dep.package {
                Some(p) => p.clone(),
                // `"ns:name/iface@1.0.0" = "1.0.0"`: the package is the key's.
                None if name.contains(':') => {
                    let pkg = name.split(['/', '@']).next().unwrap_or(name);
                    pkg.to_string()
                }
                None => {
                    self.sink.error_hint(
                        span,
                        format!("{ctx} gives a registry version but no package"),
                        format!(
                            "add `package = \"namespace:name\"`: the key `{name}` is not a \
                             package name"
                        ),
                    );
                    return None;
                }
            };
            let source = PackageSource {
                registry: dep.registry.clone(),
                package,
                version: version.clone(),
            };
            self.package_ref(source, span, ctx)?
        } else {
            self.sink.error_hint(
                span,
                format!("{ctx} names no source"),
                "use `\"1.0.0\"` (a registry package), `{ path = \"dep.wasm\" }`, `{ url = \"...\", digest = \"sha256:...\" }` or `{ component = \"<id>\" }`",
            );
            return None;
        };
        let mut out = Map::new();
        out.insert(
            "source".into(),
            serde_json::to_value(LockedComponentSource {
                content_type: WASM_CONTENT_TYPE.into(),
                content,
            })
            .ok()?,
        );
        out.insert(
            "export".into(),
            dep.export.clone().map(Value::String).unwrap_or(Value::Null),
        );
        let inherit = match &dep.inherit_configuration {
            Some(InheritConfiguration::All(true)) => Some(json!("All")),
            Some(InheritConfiguration::All(false)) => None,
            Some(InheritConfiguration::Some(keys)) if keys.is_empty() => None,
            Some(InheritConfiguration::Some(keys)) => Some(json!({ "Some": keys })),
            None if inherit_all_default => Some(json!("All")),
            None => None,
        };
        if let Some(i) = inherit {
            out.insert("inherit".into(), i);
        }
        Some(Value::Object(out))
    }

    fn component(
        &mut self,
        id: &str,
        c: &Component,
        locs: &ComponentLocs,
    ) -> Option<LockedComponent> {
        let source = self.component_source(id, c, &locs.source);
        let files = self.files(id, c, locs);

        let hosts = c.normalized_allowed_outbound_hosts();
        let mut metadata = Map::new();
        if !c.description.is_empty() {
            metadata.insert("description".into(), Value::String(c.description.clone()));
        }
        // Spin 4 leaves empty lists out (tests/fixtures/spin-4.0.2-push/locked-app.json).
        for (key, list) in [
            ("allowed_outbound_hosts", &hosts),
            ("key_value_stores", &c.key_value_stores),
            ("databases", &c.sqlite_databases),
            ("ai_models", &c.ai_models),
        ] {
            if !list.is_empty() {
                metadata.insert(key.into(), string_array(list));
            }
        }
        if let Some(b) = &c.build {
            if let Ok(v) = serde_json::to_value(b) {
                metadata.insert("build".into(), v);
            }
        }

        let ctx = format!("[component.{id}]");
        let inherit_default = c.dependencies_inherit_configuration == Some(true);
        let mut dependencies = BTreeMap::new();
        for (name, dep) in c.dependencies.iter() {
            let span = locs
                .deps
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
                .unwrap_or(locs.header.clone());
            let dctx = format!("dependency `{name}` of {ctx}");
            let table = match dep {
                ComponentDependency::Version(v) => Dependency {
                    version: Some(v.clone()),
                    ..Default::default()
                },
                ComponentDependency::Table(t) => (**t).clone(),
            };
            if let Some(v) = self.dependency(name, &table, inherit_default, &span, &dctx) {
                dependencies.insert(name.clone(), v);
            }
        }

        let mut host_requirements = Map::new();
        if hosts.iter().any(|h| is_chaining_host(h)) {
            host_requirements.insert(SERVICE_CHAINING_KEY.into(), json!("required"));
        }

        Some(LockedComponent {
            id: id.to_string(),
            metadata,
            source: source?,
            env: c
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            files,
            config: c
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dependencies,
            host_requirements,
        })
    }
}

/// `scheme://*.spin.internal[:port]` or `scheme://name.spin.internal`.
fn is_chaining_host(h: &str) -> bool {
    let Some((_, rest)) = h.split_once("://") else {
        return false;
    };
    let host = rest.trim_end_matches('/');
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host.ends_with(".spin.internal")
}

/// Locks a parsed manifest. `manifest_path` is the path as the user gave it (for diagnostics).
pub(crate) fn lock(
    parsed: &Parsed,
    manifest_path: &Path,
    text: &str,
) -> Result<(LockedApp, Vec<Diagnostic>), Vec<Diagnostic>> {
    let abs_manifest = absolutize(manifest_path);
    let app_root = abs_manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let m = &parsed.manifest;
    let resolved_root = std::fs::canonicalize(&app_root).unwrap_or_else(|_| app_root.clone());
    let mut locker = Locker {
        sink: Sink::new(manifest_path, text),
        app_root,
        resolved_root,
        manifest: m,
    };

    // App metadata.
    let app = &m.application;
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(app.name.clone()));
    if !app.version.is_empty() {
        metadata.insert("version".into(), Value::String(app.version.clone()));
    }
    if !app.description.is_empty() {
        metadata.insert("description".into(), Value::String(app.description.clone()));
    }
    if !app.authors.is_empty() {
        metadata.insert("authors".into(), string_array(&app.authors));
    }
    if let Ok(origin) = url::Url::from_file_path(&abs_manifest) {
        metadata.insert("origin".into(), Value::String(origin.to_string()));
    }
    // Spin 4 always writes `triggers`, `{}` when there are no global trigger settings.
    let triggers: Map<String, Value> = app
        .trigger_global_configs
        .iter()
        .map(|(k, t)| (k.clone(), Value::Object(table_to_json(t))))
        .collect();
    metadata.insert("triggers".into(), Value::Object(triggers));
    if m.triggers.len() == 1 {
        let ty = m.triggers.keys().next().cloned().unwrap_or_default();
        let mut single = app
            .trigger_global_configs
            .get(&ty)
            .map(table_to_json)
            .unwrap_or_default();
        single.insert("type".into(), Value::String(ty));
        metadata.insert("trigger".into(), Value::Object(single));
    }

    let variables = m
        .variables
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                LockedVariable {
                    description: v.description.clone(),
                    default: v.default.clone(),
                    secret: v.secret,
                },
            )
        })
        .collect();

    // Triggers.
    let mut triggers = Vec::new();
    for (ty, t) in m.all_triggers() {
        let mut config = table_to_json(&t.config);
        let id_of = |s: &ComponentSpec| match s {
            ComponentSpec::Reference(id) => Value::String(id.clone()),
            ComponentSpec::Inline(_) => Value::Null, // normalization removed these
        };
        if let Some(c) = &t.component {
            config.insert("component".into(), id_of(c));
        }
        if !t.components.is_empty() {
            let comps: Map<String, Value> = t
                .components
                .iter()
                .map(|(k, specs)| {
                    (
                        k.clone(),
                        Value::Array(specs.as_slice().iter().map(id_of).collect()),
                    )
                })
                .collect();
            config.insert("components".into(), Value::Object(comps));
        }
        let span = parsed.trigger_spans.get(&t.id).cloned().unwrap_or(0..0);
        let mut trigger_dependencies = BTreeMap::new();
        for (key, deps) in t.dependencies.iter() {
            let ctx = format!("`dependencies.{key}` of trigger `{}`", t.id);
            let locked: Vec<Value> = deps
                .iter()
                .filter_map(|d| locker.dependency(key, d, false, &span, &ctx))
                .collect();
            trigger_dependencies.insert(key.clone(), Value::Array(locked));
        }
        triggers.push(LockedTrigger {
            id: t.id.clone(),
            trigger_type: ty.clone(),
            trigger_config: Value::Object(config),
            trigger_dependencies,
        });
    }

    // Components.
    let mut components = Vec::new();
    for (id, c) in m.components.iter() {
        let locs = parsed.locs.get(id).cloned().unwrap_or_default();
        if let Some(lc) = locker.component(id, c, &locs) {
            components.push(lc);
        }
    }

    if locker.sink.has_errors() {
        return Err(locker.sink.split().0);
    }
    let mut must_understand = Vec::new();
    if components.iter().any(|c| !c.host_requirements.is_empty()) {
        must_understand.push(MUST_UNDERSTAND_COMPONENT_HOST_REQUIREMENTS.to_string());
    }
    let (_, warnings) = locker.sink.split();
    Ok((
        LockedApp {
            // Version 1 only when the app needs what it added (`must_understand`), as Spin
            // writes 0 otherwise.
            spin_lock_version: if must_understand.is_empty() {
                0
            } else {
                SPIN_LOCK_VERSION
            },
            must_understand,
            metadata,
            host_requirements: Map::new(),
            variables,
            triggers,
            components,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths() {
        assert_eq!(
            guest_path("/", Path::new("a/b.txt")),
            PathBuf::from("/a/b.txt")
        );
        assert_eq!(
            guest_path("/static/", Path::new("x")),
            PathBuf::from("/static/x")
        );
        assert_eq!(
            guest_path("/static", Path::new("x")),
            PathBuf::from("/static/x")
        );
        assert_eq!(guest_path("/", Path::new("")), PathBuf::from("/"));
    }

    #[test]
    fn relative_normalization() {
        assert_eq!(
            normalize_relative(Path::new("./a/../b/c")),
            Some(PathBuf::from("b/c"))
        );
        assert_eq!(normalize_relative(Path::new("../x")), None);
        assert_eq!(absolutize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn chaining_hosts() {
        assert!(is_chaining_host("http://pricing.spin.internal"));
        assert!(is_chaining_host("http://*.spin.internal:80"));
        assert!(!is_chaining_host("https://example.com"));
        assert!(!is_chaining_host("spin.internal"));
    }
}
