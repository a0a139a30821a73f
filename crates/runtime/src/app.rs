//! Loading a locked app: every component's bytes are read, componentized if they are a core
//! module, compiled (through the [`CompileCache`]), checked for an HTTP handler export, linked
//! against the host interfaces, and pre-instantiated, so a request only has to instantiate.
//!
//! The runtime only ever sees the locked form (`spin.lock` JSON), whether the app came from a
//! local `spin.toml` or from a registry.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use spindle_manifest::locked::{Executor, HttpTarget, LockedApp, LockedComponent};
use wasmtime::component::Component;

use crate::cache::CompileCache;
use crate::capabilities::outbound_http::{AppLinks, ChainTarget};
use crate::capabilities::{AppCapabilities, CapabilityOptions, ComponentGrants};
use crate::content::{is_digest_only, read_content, stage_files};
use crate::engine::SpindleEngine;
use crate::handlers::{ComponentHandler, Execution, InstanceReuse, Program};
use crate::sandbox::{InstanceTemplate, LogSinks};

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

/// Why an app could not be loaded. The message names the component and says what to do; the
/// variant says which step failed, for callers (the shim, the operator) that act on it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Setting up the host for the app failed (a temporary directory, the linker).
    #[error("{0:#}")]
    Host(anyhow::Error),
    /// The app-wide capabilities could not be set up: a store or database, a required
    /// variable without a value, the runtime config.
    #[error("{0:#}")]
    Capabilities(anyhow::Error),
    /// A trigger names a component the app does not define.
    #[error(
        "trigger `{trigger}` refers to component `{component}`, which the app does not define"
    )]
    UnknownComponent {
        /// The trigger's id.
        trigger: String,
        /// The component it names.
        component: String,
    },
    /// One component failed to load; `step` says where.
    #[error("failed to load component `{component}`")]
    Component {
        /// The component id.
        component: String,
        /// The step that failed.
        step: LoadStep,
        /// What went wrong, with what to do.
        #[source]
        source: anyhow::Error,
    },
}

/// The steps of loading one component, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStep {
    /// Checking its manifest grants (stores, databases, hosts, variables).
    Grants,
    /// Preparing its sandbox: staging its `files`, opening its logs.
    Sandbox,
    /// Reading and compiling its code (or finding it in the cache).
    Code,
    /// Finding its handler export and linking it against the host.
    Handler,
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
    ) -> Result<Self, LoadError> {
        let (staging, files_dir) = match &options.files_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("spindle-files-")
                    .tempdir()
                    .context("creating a temporary directory for component files")
                    .map_err(LoadError::Host)?;
                let path = tmp.path().to_path_buf();
                (Some(tmp), path)
            }
        };

        let t0 = std::time::Instant::now();
        let capabilities = AppCapabilities::new(&locked, &options.capabilities)
            .map_err(LoadError::Capabilities)?;
        tracing::debug!("startup: capabilities ready in {:?}", t0.elapsed());
        let linker = crate::sandbox::host_linker(&engine.engine).map_err(LoadError::Host)?;
        tracing::debug!("startup: host linker built at {:?}", t0.elapsed());
        let links = capabilities.links().clone();
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
            let component =
                locked
                    .component(component_id)
                    .ok_or_else(|| LoadError::UnknownComponent {
                        trigger: trigger.id.clone(),
                        component: component_id.clone(),
                    })?;
            let failed = |step| {
                let component = component_id.clone();
                move |source| LoadError::Component {
                    component,
                    step,
                    source,
                }
            };
            let grants = capabilities
                .grants(component)
                .map_err(failed(LoadStep::Grants))?;
            let template = instance_template(engine, component, grants, options, &files_dir)
                .map_err(failed(LoadStep::Sandbox))?;
            let execution =
                Execution::new(engine.engine.clone(), template, options.request_timeout);
            let (bytes, compiled);
            let program = match executor {
                Executor::Wagi { argv, entrypoint } => {
                    bytes = read_content(&component.source.content, "source")
                        .map_err(failed(LoadStep::Code))?;
                    Program::Wagi {
                        bytes: &bytes,
                        argv,
                        entrypoint,
                    }
                }
                Executor::Http => {
                    compiled =
                        compile(engine, component, options).map_err(failed(LoadStep::Code))?;
                    Program::Component(&compiled)
                }
            };
            let handler = ComponentHandler::load(program, &linker, execution, options.reuse)
                .map_err(failed(LoadStep::Handler))?;
            tracing::debug!(
                "startup: component `{component_id}` loaded at {:?}",
                t0.elapsed()
            );
            handlers.insert(component_id.clone(), handler);
        }
        // Service chaining (`http://<id>.spin.internal`) reaches every loaded handler.
        links.set_components(
            handlers
                .iter()
                .map(|(id, h)| (id.clone(), Arc::new(h.clone()) as Arc<dyn ChainTarget>))
                .collect(),
        );
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

/// The component's compiled code, through the cache.
fn compile(
    engine: &SpindleEngine,
    component: &LockedComponent,
    options: &RuntimeOptions,
) -> anyhow::Result<Component> {
    let read = || componentize_if_needed(read_content(&component.source.content, "source")?);
    match component.source.content.local_path() {
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
    }
}

impl ChainTarget for ComponentHandler {
    fn handle_chained<'a>(
        &'a self,
        caller: &'a str,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> Pin<Box<dyn Future<Output = http::Response<wasmtime_wasi_http::WasiBody>> + Send + 'a>>
    {
        Box::pin(async move {
            let (method, path) = (request.method().clone(), request.uri().path().to_string());
            match self.handle(request).await {
                Ok(response) => response,
                Err(error) => {
                    tracing::error!(
                        "component `{}` failed handling a request chained from `{caller}` \
                         ({method} {path}): {error}",
                        self.component_id()
                    );
                    crate::handlers::response(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        Default::default(),
                        Default::default(),
                    )
                }
            }
        })
    }
}

/// The instance template of one component: its environment, staged files, logs and grants.
fn instance_template(
    engine: &SpindleEngine,
    component: &LockedComponent,
    grants: ComponentGrants,
    options: &RuntimeOptions,
    files_dir: &Path,
) -> anyhow::Result<InstanceTemplate> {
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
    let mut template = InstanceTemplate::new(
        &component.id,
        env,
        files_root,
        &options.logs,
        engine.options.max_instance_memory,
        grants,
    )?;
    template.set_files_writable(options.allow_transient_write);
    if let Some(mounts) = direct {
        template.set_direct_mounts(mounts.clone());
    }
    Ok(template)
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
