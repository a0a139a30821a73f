//! The Wagi executor (`executor = { type = "wagi" }`): a WASI command run CGI-style, once per
//! request.
//!
//! The program is a wasip1 core module (its `entrypoint`, default `_start`) or a `wasi:cli/run`
//! component. It gets the CGI variables Spin/Wagi set (`REQUEST_METHOD`, `PATH_INFO`,
//! `QUERY_STRING`, `HTTP_*`, `X_FULL_URL`, `X_MATCHED_ROUTE`, ...) on top of the component's own
//! `environment`, the request body on stdin, argv from the `argv` template
//! (`${SCRIPT_NAME} ${ARGS}`), and its `files` read-only. Its stdout is a CGI response: headers
//! (`Content-Type`, `Status`, `Location`, others passed through), a blank line, the body.
//!
//! Route information comes from the `spin-*` headers the HTTP trigger put on the request; the
//! CGI translation itself is in [`super::cgi`].

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use wasmtime::component::Linker as ComponentLinker;
use wasmtime::{Module, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::I32Exit;

use super::cgi::{compose_response, CgiRequest};
use super::{collect_body, Deadline, Execution, Handle, HandleError, Request, Response};
use crate::sandbox::{new_store, InstanceState, StoreBounds};

/// The most a Wagi program may write to stdout for one response.
const MAX_STDOUT: usize = 64 << 20;
/// The largest request body handed to a Wagi program.
const MAX_BODY: usize = 64 << 20;

/// Runs requests through one Wagi program.
pub(super) struct WagiHandler {
    program: Program,
    execution: Execution,
    argv: String,
    entrypoint: String,
}

enum Program {
    Module(wasmtime::InstancePre<ModuleState>),
    Component(CommandPre<InstanceState>),
}

/// Store data for a core-module program.
struct ModuleState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    deadline: Option<std::time::Instant>,
}

impl StoreBounds for ModuleState {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }
}

impl WagiHandler {
    /// Prepares `bytes` (a core module or a component) to run as a Wagi program.
    pub(super) fn new(
        component_linker: &ComponentLinker<InstanceState>,
        bytes: &[u8],
        execution: Execution,
        argv: &str,
        entrypoint: &str,
    ) -> anyhow::Result<Self> {
        let engine = &execution.engine;
        let program = if wasmparser::Parser::is_core_wasm(bytes) {
            let module = Module::new(engine, bytes)
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .context("the Wagi program is not a valid WebAssembly module")?;
            if module.get_export(entrypoint).is_none() {
                bail!(
                    "the Wagi module has no `{entrypoint}` export (help: build it as a WASI \
                     command, e.g. a Rust `fn main` for wasm32-wasip1, or set `entrypoint` in \
                     the executor)"
                );
            }
            let mut linker = wasmtime::Linker::<ModuleState>::new(engine);
            wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s| &mut s.wasi)?;
            let pre = linker
                .instantiate_pre(&module)
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .context("linking the Wagi module (it may import only wasi_snapshot_preview1)")?;
            Program::Module(pre)
        } else if wasmparser::Parser::is_component(bytes) {
            let component = wasmtime::component::Component::new(engine, bytes)
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .context("the Wagi program is not a valid WebAssembly component")?;
            let mut linker = component_linker.clone();
            crate::unsupported::link_unsupported(&mut linker, engine, &component)?;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .context("linking the Wagi component against the host")?;
            let pre = CommandPre::new(pre).map_err(|e| {
                anyhow::anyhow!(
                    "{e:#}\nhelp: a Wagi component must export wasi:cli/run@0.2.x (a WASI \
                     command, e.g. a Rust `fn main` built for wasm32-wasip2)"
                )
            })?;
            if entrypoint != spindle_manifest::locked::WAGI_DEFAULT_ENTRYPOINT {
                tracing::warn!(
                    "component `{}`: the Wagi `entrypoint` ({entrypoint}) is ignored for \
                     components; wasi:cli/run is called",
                    execution.component_id()
                );
            }
            Program::Component(pre)
        } else {
            bail!("the file is not a WebAssembly binary (it does not start with \\0asm)");
        };
        Ok(Self {
            program,
            execution,
            argv: argv.to_string(),
            entrypoint: entrypoint.to_string(),
        })
    }

    async fn run(
        &self,
        mut wasi: wasmtime_wasi::WasiCtxBuilder,
        deadline: &Deadline,
    ) -> Result<(), HandleError> {
        let template = &self.execution.template;
        let exited = match &self.program {
            Program::Module(pre) => {
                let state = ModuleState {
                    wasi: wasi.build_p1(),
                    limits: template.store_limits(),
                    deadline: deadline.at(),
                };
                let mut store = new_store(&self.execution.engine, state);
                let instance = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(HandleError::Instantiate)?;
                let start = instance
                    .get_typed_func::<(), ()>(&mut store, &self.entrypoint)
                    .map_err(|e| {
                        HandleError::Instantiate(wasmtime::format_err!(
                            "the Wagi entrypoint `{}`: {e:#}",
                            self.entrypoint
                        ))
                    })?;
                start.call_async(&mut store, ()).await
            }
            Program::Component(pre) => {
                let mut state = self.execution.state()?;
                state.wasi = wasi.build();
                let mut store = self.execution.store_with(state, deadline);
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(HandleError::Instantiate)?;
                match command.wasi_cli_run().call_run(&mut store).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(())) => return Err(HandleError::Exit("a failure status".into())),
                    Err(e) => Err(e),
                }
            }
        };
        match exited {
            Ok(()) => Ok(()),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Ok(()),
                Some(I32Exit(code)) => Err(HandleError::Exit(format!("status {code}"))),
                None => Err(HandleError::Trap(e)),
            },
        }
    }
}

impl Handle for WagiHandler {
    async fn handle(&self, request: Request, deadline: Deadline) -> Result<Response, HandleError> {
        // 1. The request becomes CGI: variables on top of the component's environment, argv,
        //    the body on stdin.
        let (parts, body) = request.into_parts();
        let body = deadline.bound(collect_body(body, MAX_BODY)).await?;
        let cgi = CgiRequest::new(&parts, body.len());
        let args = cgi.argv(&self.argv);
        let mut env: BTreeMap<String, String> =
            self.execution.template.env().iter().cloned().collect();
        env.extend(cgi.vars);
        let env: Vec<(String, String)> = env.into_iter().collect();

        let stdout = MemoryOutputPipe::new(MAX_STDOUT);
        let mut wasi = self
            .execution
            .template
            .command_wasi()
            .map_err(super::setup_failed)?;
        wasi.envs(&env)
            .args(&args)
            .stdin(MemoryInputPipe::new(body))
            .stdout(stdout.clone());

        // 2. The program runs to its exit; 3. its stdout is the response.
        deadline.bound(self.run(wasi, &deadline)).await?;
        Ok(compose_response(&stdout.contents()))
    }
}
