//! Loading a locked app: every component's bytes are read, componentized if they are a core
//! module, compiled (through the [`CompileCache`]), checked for an HTTP handler export, linked
//! against the host interfaces, and pre-instantiated, so a request only has to instantiate.
//!
//! The runtime only ever sees the locked form (`spin.lock` JSON), whether the app came from a
//! local `spin.toml` or from a registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use spindle_manifest::locked::{ContentRef, Executor, HttpTarget, LockedApp, LockedComponent};
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::handler::ProxyPre;

use crate::allowed_hosts::AllowedHosts;
use crate::cache::CompileCache;
use crate::capabilities::{AppCapabilities, CapabilityOptions, ComponentGrants};
use crate::engine::SpindleEngine;
use crate::handler::{ComponentHandler, HandlerKind, InstanceReuse};
use crate::outbound::{AppLinks, OutboundConfig};
use crate::sandbox::{InstanceState, LogSinks, Sandbox};

/// How to load and run an app.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Compiled-code cache.
    pub cache: CompileCache,
    /// Where guest stdout/stderr go.
    pub logs: LogSinks,
    /// Deadline for one request; a guest still running then is stopped and the request gets 500.
    pub request_timeout: Option<Duration>,
    /// Instance reuse for WASIp3 handlers.
    pub reuse: InstanceReuse,
    /// Directory under which each component's `files` are staged for read-only mounting.
    /// A temporary directory (removed on exit) when `None`.
    pub files_dir: Option<PathBuf>,
    /// Key-value stores, databases, variables.
    pub capabilities: CapabilityOptions,
    /// `--allow-transient-write`: mount `files` writable. They are staged as copies, so writes
    /// never reach the app's own files (and are gone when Spindle exits) — except with direct
    /// mounts, where they go to the host directory.
    pub allow_transient_write: bool,
    /// `--direct-mounts`: per component id, host directories mounted as they are instead of
    /// staging the component's `files`.
    pub direct_mounts: std::collections::HashMap<String, Vec<crate::sandbox::DirectMount>>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            cache: CompileCache::default_dir()
                .map(CompileCache::at)
                .unwrap_or_else(CompileCache::disabled),
            logs: LogSinks::default(),
            request_timeout: None,
            reuse: InstanceReuse::default(),
            files_dir: None,
            capabilities: CapabilityOptions::default(),
            allow_transient_write: false,
            direct_mounts: Default::default(),
        }
    }
}

/// A loaded app: the locked form plus a ready handler for every component an HTTP trigger uses.
pub struct App {
    /// The locked app this was loaded from.
    pub locked: LockedApp,
    handlers: HashMap<String, ComponentHandler>,
    links: Arc<AppLinks>,
    _staging: Option<tempfile::TempDir>,
}

impl App {
    /// Loads every component referenced by an HTTP trigger. Errors name the component and say
    /// what to do.
    pub fn load(
        engine: &SpindleEngine,
        locked: LockedApp,
        options: &RuntimeOptions,
    ) -> anyhow::Result<Self> {
        let (staging, files_dir) = match &options.files_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("spindle-files-")
                    .tempdir()
                    .context("creating a temporary directory for component files")?;
                let path = tmp.path().to_path_buf();
                (Some(tmp), path)
            }
        };

        let t0 = std::time::Instant::now();
        let capabilities = AppCapabilities::new(&locked, &options.capabilities)?;
        tracing::debug!("startup: capabilities ready in {:?}", t0.elapsed());
        let linker = host_linker(&engine.engine)?;
        tracing::debug!("startup: host linker built at {:?}", t0.elapsed());
        let links = Arc::new(AppLinks::default());
        let mut handlers = HashMap::new();
        for trigger in locked.http_triggers() {
            let HttpTarget::Component {
                id: component_id,
                executor,
            } = &trigger.target
            else {
                continue;
            };
            if handlers.contains_key(component_id) {
                continue;
            }
            let component = locked.component(component_id).with_context(|| {
                format!(
                    "trigger `{}` refers to component `{component_id}`, which the app does not define",
                    trigger.id
                )
            })?;
            let variables = capabilities.variables();
            let allowed = AllowedHosts::parse(&component.allowed_outbound_hosts(), &|name| {
                variables.get(name).map(str::to_string)
            })
            .map_err(|e| anyhow::anyhow!("component `{component_id}`: {e}"))?;
            let allowed = Arc::new(allowed);
            let grants = capabilities.grants(component, allowed.clone())?;
            let outbound =
                OutboundConfig::new(component_id, allowed, &links, capabilities.outbound_http());
            let handler = load_component(
                engine, &linker, component, executor, grants, outbound, options, &files_dir,
            )
            .with_context(|| format!("failed to load component `{component_id}`"))?;
            tracing::debug!(
                "startup: component `{component_id}` loaded at {:?}",
                t0.elapsed()
            );
            handlers.insert(component_id.clone(), handler);
        }
        // Service chaining (`http://<id>.spin.internal`) reaches every loaded handler.
        links.set_components(handlers.clone());
        Ok(Self {
            locked,
            handlers,
            links,
            _staging: staging,
        })
    }

    /// What outbound requests of this app's components can reach; the HTTP trigger registers
    /// its router here for `http://self` requests.
    pub fn links(&self) -> &Arc<AppLinks> {
        &self.links
    }

    /// The handler for a component, if an HTTP trigger uses it.
    pub fn handler(&self, component_id: &str) -> Option<&ComponentHandler> {
        self.handlers.get(component_id)
    }
}

/// The linker every component is checked against: WASI p2 and p3 (clocks, random, cli,
/// filesystem, sockets gated by the sandbox) and wasi:http p2 and p3.
pub(crate) fn host_linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    AppCapabilities::link(&mut linker)?;
    Ok(linker)
}

#[allow(clippy::too_many_arguments)]
fn load_component(
    engine: &SpindleEngine,
    linker: &Linker<InstanceState>,
    component: &LockedComponent,
    executor: &Executor,
    grants: ComponentGrants,
    outbound: OutboundConfig,
    options: &RuntimeOptions,
    files_dir: &Path,
) -> anyhow::Result<ComponentHandler> {
    if let Executor::Wagi { argv, entrypoint } = executor {
        let bytes = read_content(&component.source.content, "source")?;
        let mut sandbox = component_sandbox(engine, component, grants, options, files_dir)?;
        sandbox.set_outbound(outbound);
        let wagi = crate::wagi::WagiHandler::new(
            &engine.engine,
            linker,
            &bytes,
            sandbox,
            argv,
            entrypoint,
            options.request_timeout,
        )?;
        return Ok(ComponentHandler::wagi(wagi));
    }
    let read = || componentize_if_needed(read_content(&component.source.content, "source")?);
    let compiled = match component.source.content.local_path() {
        // With dependencies, the compiled code is the composition's: keyed by its bytes.
        _ if !component.dependencies.is_empty() => {
            let composed = crate::compose::compose_dependencies(component, read()?)?;
            options.cache.load(&engine.engine, &composed)
        }
        // A local file: the cache's index can skip reading and hashing it.
        Some(path) if component.source.content.inline.is_none() => {
            options.cache.load_file(&engine.engine, &path, read)
        }
        // Named by digest only, with no bytes: code precompiled by the containerd shim.
        _ if is_digest_only(&component.source.content) => {
            let digest = component
                .source
                .content
                .digest
                .as_deref()
                .unwrap_or_default();
            options
                .cache
                .load_digest(&engine.engine, digest)
                .with_context(|| {
                    format!(
                        "component `{}`: no code for {digest}: the component's layer is \
                         missing and no compiled code for it is cached (help: pull the image \
                         again)",
                        component.id
                    )
                })
        }
        _ => options.cache.load(&engine.engine, &read()?),
    }?;

    let kind = handler_kind(&engine.engine, &compiled)?;

    let mut linker = linker.clone();
    if kind == HandlerKind::WasiHttpRc {
        crate::wasi_rc_2023_11_10::add_to_linker(&mut linker)?;
    }
    let stubbed = crate::unsupported::link_unsupported(&mut linker, &engine.engine, &compiled)?;
    let (denied, stubbed): (Vec<String>, Vec<String>) = stubbed
        .into_iter()
        .partition(|name| name.starts_with(crate::compose::DENIED_PREFIX));
    if !stubbed.is_empty() {
        tracing::warn!(
            "component `{}` imports interfaces Spindle does not provide yet; calling them fails \
             the request: {}",
            component.id,
            stubbed.join(", ")
        );
    }
    if !denied.is_empty() {
        tracing::info!(
            "component `{}`: its dependencies do not inherit its configuration, so their calls \
             to these interfaces are denied: {}",
            component.id,
            denied
                .iter()
                .map(|d| d.trim_start_matches(crate::compose::DENIED_PREFIX))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let instance_pre = linker
        .instantiate_pre(&compiled)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("linking the component against the host")?;
    let mut sandbox = component_sandbox(engine, component, grants, options, files_dir)?;
    sandbox.set_outbound(outbound);
    if kind == HandlerKind::WasiHttpRc {
        let pre = crate::wasi_rc_2023_11_10::RcProxyPre::new(instance_pre)?;
        return Ok(ComponentHandler::rc(
            engine.engine.clone(),
            pre,
            sandbox,
            options.request_timeout,
        ));
    }
    if kind == HandlerKind::LegacyHttp {
        let pre = crate::legacy_http::HttpTriggerPre::new(instance_pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        return Ok(ComponentHandler::legacy(
            crate::legacy_http::LegacyHttpHandler::new(
                engine.engine.clone(),
                pre,
                sandbox,
                options.request_timeout,
            ),
        ));
    }
    let pre = match kind {
        HandlerKind::WasiHttpP2 => ProxyPre::P2(
            wasmtime_wasi_http::p2::bindings::ProxyPre::new(instance_pre)
                .map_err(|e| anyhow::anyhow!("{e:#}"))?,
        ),
        HandlerKind::WasiHttpP3 => ProxyPre::P3(
            wasmtime_wasi_http::p3::bindings::ServicePre::new(instance_pre)
                .map_err(|e| anyhow::anyhow!("{e:#}"))?,
        ),
        HandlerKind::Wagi | HandlerKind::LegacyHttp | HandlerKind::WasiHttpRc => {
            unreachable!("handled above / handler_kind never returns Wagi")
        }
    };
    Ok(ComponentHandler::new(
        engine.engine.clone(),
        pre,
        kind,
        sandbox,
        options.reuse,
        options.request_timeout,
    ))
}

/// The sandbox of one component: its environment, staged files, logs and grants.
fn component_sandbox(
    engine: &SpindleEngine,
    component: &LockedComponent,
    grants: ComponentGrants,
    options: &RuntimeOptions,
    files_dir: &Path,
) -> anyhow::Result<Sandbox> {
    let direct = options.direct_mounts.get(&component.id);
    let files_root = match direct {
        Some(_) => None,
        None => stage_files(
            component,
            &files_dir.join(&component.id),
            options.allow_transient_write,
        )?,
    };
    let env = component
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut sandbox = Sandbox::new(
        &component.id,
        env,
        files_root,
        &options.logs,
        engine.options.max_instance_memory,
        grants,
    )?;
    sandbox.set_files_writable(options.allow_transient_write);
    if let Some(mounts) = direct {
        sandbox.set_direct_mounts(mounts.clone());
    }
    Ok(sandbox)
}

fn is_digest_only(content: &ContentRef) -> bool {
    content.source.is_none() && content.inline.is_none() && content.digest.is_some()
}

/// Reads content named by a locked-app reference: a `file://` URL or inline bytes.
pub fn read_content(content: &ContentRef, what: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(inline) = &content.inline {
        return Ok(inline.clone());
    }
    match &content.source {
        Some(source) => {
            let path = local_source(content, source)?;
            std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {what} {}: file not found (help: build the component first, \
                     e.g. with `spindle build`)",
                    path.display()
                )
            })
        }
        None => match &content.digest {
            Some(digest) => bail!(
                "{what} refers to content {digest} by digest only; content-addressed sources \
                 are available for apps pulled from a registry"
            ),
            None => bail!("{what} has no source, inline content or digest"),
        },
    }
}

/// The local path of `content`'s `source`: a `file://` URL (percent-decoded by
/// [`ContentRef::local_path`], as the manifest crate encodes it) or a plain path.
fn local_source(content: &ContentRef, source: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = content.local_path() {
        return Ok(path);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        bail!(
            "downloading component sources from URLs ({source}) is not supported yet; download \
             the file, check its digest, and use `source = \"path.wasm\"`"
        );
    }
    Ok(PathBuf::from(source))
}

/// Core modules carrying component-type metadata (wit-bindgen on wasm32-unknown-unknown) are
/// turned into components, as Spin does on load.
fn componentize_if_needed(bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    if wasmparser::Parser::is_component(&bytes) {
        return Ok(bytes);
    }
    if !wasmparser::Parser::is_core_wasm(&bytes) {
        bail!("the file is not a WebAssembly binary (it does not start with \\0asm)");
    }
    wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| {
            anyhow::anyhow!(
                "{e:#}\nhelp: this is a core WebAssembly module; Spindle runs components. Build \
                 for wasm32-wasip2, or use wit-bindgen so the module carries component-type \
                 metadata"
            )
        })
}

/// Finds the component's HTTP handler export. Extra exports are fine; two handlers are not.
fn handler_kind(engine: &wasmtime::Engine, component: &Component) -> anyhow::Result<HandlerKind> {
    let mut found = Vec::new();
    let mut names = Vec::new();
    for (name, _) in component.component_type().exports(engine) {
        names.push(name.to_string());
        if name == crate::wasi_rc_2023_11_10::EXPORT {
            found.push((HandlerKind::WasiHttpRc, name.to_string()));
        } else if let Some(version) = name.strip_prefix("wasi:http/incoming-handler@") {
            if version.starts_with("0.2.") && !version.contains("-rc-") {
                found.push((HandlerKind::WasiHttpP2, name.to_string()));
            } else {
                bail!(
                    "the component exports {name}; this pre-release wasi:http version is not \
                     supported (help: rebuild with a current SDK that targets wasi:http 0.2.x)"
                );
            }
        } else if let Some(version) = name.strip_prefix("wasi:http/handler@") {
            if let Some(refusal) = crate::wasip3_rc::unsupported_rc(name) {
                bail!("{refusal}");
            }
            if version.starts_with("0.3.") {
                found.push((HandlerKind::WasiHttpP3, name.to_string()));
            }
        } else if name == crate::legacy_http::EXPORT {
            found.push((HandlerKind::LegacyHttp, name.to_string()));
        }
    }
    match found.as_slice() {
        [(kind, _)] => Ok(*kind),
        [] => bail!(
            "the component exports no HTTP handler (expected wasi:http/incoming-handler@0.2.x or \
             @0.2.0-rc-2023-11-10, wasi:http/handler@0.3.x or fermyon:spin/inbound-http); it \
             exports: {}",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(", ")
            }
        ),
        many => bail!(
            "the component exports more than one HTTP handler: {}",
            many.iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Copies (hard-links where possible) the component's `files` into `root`, mounted read-only
/// at `/` in the guest. Returns `None` when the component has no files.
fn stage_files(
    component: &LockedComponent,
    root: &Path,
    copy: bool,
) -> anyhow::Result<Option<PathBuf>> {
    if component.files.is_empty() {
        return Ok(None);
    }
    if root.exists() {
        std::fs::remove_dir_all(root)
            .with_context(|| format!("clearing staging directory {}", root.display()))?;
    }
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating staging directory {}", root.display()))?;
    for file in &component.files {
        let relative = file.path.strip_prefix("/").unwrap_or(&file.path);
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            bail!(
                "file destination {} escapes the component's root",
                file.path.display()
            );
        }
        let dest = root.join(relative);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if let Some(inline) = &file.content.inline {
            std::fs::write(&dest, inline).with_context(|| format!("writing {}", dest.display()))?;
            continue;
        }
        let source = match &file.content.source {
            Some(source) => local_source(&file.content, source)?,
            None => bail!(
                "file {} has no local source (content by digest needs a registry pull)",
                file.path.display()
            ),
        };
        // The lock stage resolved every symlink inside the app directory; a symlink here means
        // the file was replaced since, and following it could expose any file of the host.
        match std::fs::symlink_metadata(&source) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => bail!(
                "file {} of component `{}` ({}) is no longer a regular file (a symlink or a \
                 directory replaced it after the app was loaded); refusing to map it",
                file.path.display(),
                component.id,
                source.display()
            ),
            Err(e) => bail!(
                "file {} of component `{}` ({}): {e}",
                file.path.display(),
                component.id,
                source.display()
            ),
        }
        if copy || std::fs::hard_link(&source, &dest).is_err() {
            std::fs::copy(&source, &dest).with_context(|| {
                format!(
                    "copying file {} for component `{}`",
                    source.display(),
                    component.id
                )
            })?;
        }
    }
    Ok(Some(root.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of_export(name: &str) -> anyhow::Result<HandlerKind> {
        let engine = wasmtime::Engine::default();
        let wasm = wat::parse_str(format!(
            r#"(component (instance $h) (export "{name}" (instance $h)))"#
        ))
        .unwrap();
        let wasm = crate::wasip3_rc::rename(&wasm).unwrap();
        handler_kind(&engine, &Component::new(&engine, &wasm).unwrap())
    }

    #[test]
    fn wasip3_release_candidates_run_as_0_3_0_or_are_refused_with_help() {
        let rc = kind_of_export("wasi:http/handler@0.3.0-rc-2026-03-15").unwrap();
        assert_eq!(rc, HandlerKind::WasiHttpP3);
        for old in [
            "0.3.0-rc-2026-01-06",
            "0.3.0-rc-2025-09-16",
            "0.3.0-rc-2025-08-15",
        ] {
            let err = kind_of_export(&format!("wasi:http/handler@{old}")).unwrap_err();
            let err = format!("{err:#}");
            assert!(
                err.contains("a WASIp3 release candidate that Spindle does not run")
                    && err.contains("0.3.0-rc-2026-03-15")
                    && err.contains("help: rebuild"),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_file_sources_whose_paths_need_percent_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a dir with spaces").join("ünï.wasm");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"bytes").unwrap();
        let content = ContentRef::file(&path).unwrap();
        assert!(content.source.as_deref().unwrap().contains("%20"));
        assert_eq!(read_content(&content, "source").unwrap(), b"bytes");
    }
}
