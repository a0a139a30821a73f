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
//! Route information comes from the `spin-*` headers the HTTP trigger put on the request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime::component::Linker as ComponentLinker;
use wasmtime::{Engine, Module, Store, StoreLimits, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi_http::WasiBody;

use crate::handler::{Request, Response};
use crate::sandbox::{new_store, InstanceState, Sandbox};

/// The most a Wagi program may write to stdout for one response.
const MAX_STDOUT: usize = 64 << 20;
/// The largest request body handed to a Wagi program.
const MAX_BODY: usize = 64 << 20;

/// The CGI version Wagi speaks.
const GATEWAY_INTERFACE: &str = "CGI/1.1";
/// `SERVER_SOFTWARE`, as Wagi and Spin set it.
const SERVER_SOFTWARE: &str = "WAGI/1";

/// Runs requests through one Wagi program.
pub struct WagiHandler {
    engine: Engine,
    program: Program,
    sandbox: Arc<Sandbox>,
    argv: String,
    entrypoint: String,
    request_timeout: Option<Duration>,
}

enum Program {
    Module(wasmtime::InstancePre<ModuleState>),
    Component(CommandPre<InstanceState>),
}

/// Store data for a core-module program.
struct ModuleState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    deadline: Option<Instant>,
}

impl WagiHandler {
    /// Prepares `bytes` (a core module or a component) to run as a Wagi program.
    pub(crate) fn new(
        engine: &Engine,
        component_linker: &ComponentLinker<InstanceState>,
        bytes: &[u8],
        sandbox: Sandbox,
        argv: &str,
        entrypoint: &str,
        request_timeout: Option<Duration>,
    ) -> anyhow::Result<Self> {
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
                    sandbox.component_id()
                );
            }
            Program::Component(pre)
        } else {
            bail!("the file is not a WebAssembly binary (it does not start with \\0asm)");
        };
        Ok(Self {
            engine: engine.clone(),
            program,
            sandbox: Arc::new(sandbox),
            argv: argv.to_string(),
            entrypoint: entrypoint.to_string(),
            request_timeout,
        })
    }

    /// The component id.
    pub fn component_id(&self) -> &str {
        self.sandbox.component_id()
    }

    /// Runs the program for one request. An error (trap, non-zero exit, timeout) means the
    /// caller answers 500.
    pub async fn handle(&self, request: Request) -> anyhow::Result<Response> {
        let (parts, body) = request.into_parts();
        let body = collect_body(body).await?;
        let cgi = CgiRequest::new(&parts, body.len());
        let args = cgi.argv(&self.argv);
        let mut env: BTreeMap<String, String> = self.sandbox.env().iter().cloned().collect();
        env.extend(cgi.vars);
        let env: Vec<(String, String)> = env.into_iter().collect();

        let stdout = MemoryOutputPipe::new(MAX_STDOUT);
        let mut wasi = self.sandbox.command_wasi()?;
        wasi.envs(&env)
            .args(&args)
            .stdin(MemoryInputPipe::new(body))
            .stdout(stdout.clone());
        let deadline = self.request_timeout.map(|t| Instant::now() + t);

        let run = self.run(wasi, deadline);
        match self.request_timeout {
            Some(timeout) => tokio::time::timeout(timeout + Duration::from_millis(500), run)
                .await
                .map_err(|_| anyhow::anyhow!("the Wagi program ran longer than {timeout:?}"))??,
            None => run.await?,
        }
        compose_response(&stdout.contents())
    }

    async fn run(
        &self,
        mut wasi: wasmtime_wasi::WasiCtxBuilder,
        deadline: Option<Instant>,
    ) -> anyhow::Result<()> {
        match &self.program {
            Program::Module(pre) => {
                let state = ModuleState {
                    wasi: wasi.build_p1(),
                    limits: self.sandbox.store_limits(),
                    deadline,
                };
                let mut store = Store::new(&self.engine, state);
                store.limiter(|s| &mut s.limits);
                store.epoch_deadline_callback(|ctx| Ok(epoch_tick(ctx.data().deadline)));
                store.set_epoch_deadline(1);
                let instance = pre.instantiate_async(&mut store).await?;
                let start = instance
                    .get_typed_func::<(), ()>(&mut store, &self.entrypoint)
                    .map_err(|e| {
                        anyhow::anyhow!("{e:#}")
                            .context(format!("the Wagi entrypoint `{}`", self.entrypoint))
                    })?;
                match start.call_async(&mut store, ()).await {
                    Ok(()) => Ok(()),
                    Err(e) => match e.downcast_ref::<I32Exit>() {
                        Some(I32Exit(0)) => Ok(()),
                        Some(I32Exit(code)) => bail!("the Wagi program exited with status {code}"),
                        None => Err(anyhow::anyhow!("{e:#}")),
                    },
                }
            }
            Program::Component(pre) => {
                let mut state = self.sandbox.instance_state()?;
                state.wasi = wasi.build();
                state.deadline = deadline;
                let mut store = new_store(&self.engine, state);
                let command = pre.instantiate_async(&mut store).await?;
                match command.wasi_cli_run().call_run(&mut store).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(())) => bail!("the Wagi program exited with a failure status"),
                    Err(e) => match e.downcast_ref::<I32Exit>() {
                        Some(I32Exit(0)) => Ok(()),
                        Some(I32Exit(code)) => bail!("the Wagi program exited with status {code}"),
                        None => Err(anyhow::anyhow!("{e:#}")),
                    },
                }
            }
        }
    }
}

/// Every epoch tick: trap past the deadline, otherwise yield so a busy guest doesn't hold a
/// runtime thread.
fn epoch_tick(deadline: Option<Instant>) -> UpdateDeadline {
    match deadline {
        Some(deadline) if Instant::now() >= deadline => UpdateDeadline::Interrupt,
        _ => UpdateDeadline::Yield(1),
    }
}

async fn collect_body(body: WasiBody) -> anyhow::Result<Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let collected = limited
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the request body: {e}"))?;
    Ok(collected.to_bytes())
}

/// The CGI view of one request.
struct CgiRequest {
    vars: BTreeMap<String, String>,
    script_name: String,
    query: String,
}

impl CgiRequest {
    fn new(parts: &http::request::Parts, content_length: usize) -> Self {
        let headers = &parts.headers;
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (host, port) = host_and_port(parts);
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let query = parts.uri.query().unwrap_or("").to_string();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let raw_path_info = get("spin-path-info");
        let path_info = percent_decode(&raw_path_info);
        let script_name = get("spin-component-route");
        let client = get("spin-client-addr");
        let client_ip = client
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or(client);

        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            vars.insert(k.to_string(), v);
        };
        set("AUTH_TYPE", String::new());
        set("CONTENT_LENGTH", content_length.to_string());
        set("CONTENT_TYPE", get("content-type"));
        set(
            "X_FULL_URL",
            format!("{scheme}://{host}:{port}{path_and_query}"),
        );
        set("GATEWAY_INTERFACE", GATEWAY_INTERFACE.to_string());
        set("X_MATCHED_ROUTE", get("spin-matched-route"));
        set("QUERY_STRING", query.clone());
        set("REMOTE_ADDR", client_ip.clone());
        set("REMOTE_HOST", client_ip);
        set("REMOTE_USER", String::new());
        set("REQUEST_METHOD", parts.method.to_string());
        set("SCRIPT_NAME", script_name.clone());
        set("X_RAW_PATH_INFO", raw_path_info);
        set("PATH_INFO", path_info.clone());
        set("PATH_TRANSLATED", path_info);
        set("SERVER_NAME", host);
        set("SERVER_PORT", port);
        set("SERVER_PROTOCOL", format!("{:?}", parts.version));
        set("SERVER_SOFTWARE", SERVER_SOFTWARE.to_string());
        for (name, value) in headers {
            let key = format!(
                "HTTP_{}",
                name.as_str().to_ascii_uppercase().replace('-', "_")
            );
            // RFC 3875 4.1.18: credentials and hop-by-hop headers are not passed on.
            if key == "HTTP_AUTHORIZATION" || key == "HTTP_CONNECTION" {
                continue;
            }
            vars.insert(key, value.to_str().unwrap_or("CORRUPT VALUE").to_string());
        }
        Self {
            vars,
            script_name,
            query,
        }
    }

    /// argv from the template: `${SCRIPT_NAME}` is the route without its wildcard, `${ARGS}`
    /// the query string's `&`-separated parts, percent-decoded, one argument each.
    fn argv(&self, template: &str) -> Vec<String> {
        let mut argv = Vec::new();
        for token in template.split_whitespace() {
            if token == "${ARGS}" {
                argv.extend(
                    self.query
                        .split('&')
                        .filter(|a| !a.is_empty())
                        .map(|a| percent_decode(&a.replace('+', " "))),
                );
            } else {
                argv.push(token.replace("${SCRIPT_NAME}", &self.script_name));
            }
        }
        argv
    }
}

/// `SERVER_NAME` / `SERVER_PORT`: from the `Host` header, else the URI, else `localhost:80`.
fn host_and_port(parts: &http::request::Parts) -> (String, String) {
    let mut host = parts.uri.host().unwrap_or("localhost").to_string();
    let mut port = parts.uri.port_u16().unwrap_or(80).to_string();
    if let Some(value) = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    {
        let mut split = value.splitn(2, ':');
        if let Some(h) = split.next().filter(|h| !h.is_empty()) {
            host = h.to_string();
        }
        if let Some(p) = split.next().filter(|p| !p.is_empty()) {
            port = p.to_string();
        }
    }
    (host, port)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Turns a CGI program's stdout into a response, with Wagi's rules: headers up to the first
/// blank line (`\r` ignored); `Status: NNN [reason]` sets the status; `Location` without
/// `Status` means 302; at least one of `Content-Type`, `Status`, `Location` is required.
fn compose_response(stdout: &[u8]) -> anyhow::Result<Response> {
    let (head, body) = split_head(stdout);
    let mut status = StatusCode::OK;
    let mut explicit_status = false;
    let mut sufficient = false;
    let mut headers = http::HeaderMap::new();
    for line in String::from_utf8_lossy(&head).trim().split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            tracing::warn!("Wagi program wrote a corrupt header line: {line:?}");
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        match name.to_ascii_lowercase().as_str() {
            "status" => {
                sufficient = true;
                explicit_status = true;
                let code = value.split_once(' ').map_or(value, |(code, _)| code);
                status = code.parse().unwrap_or_else(|_| {
                    tracing::warn!("Wagi program wrote an invalid Status: {value:?}");
                    StatusCode::BAD_GATEWAY
                });
            }
            lower => {
                if lower == "content-type" {
                    sufficient = true;
                }
                if lower == "location" {
                    sufficient = true;
                    if !explicit_status {
                        status = StatusCode::FOUND;
                    }
                }
                match (
                    HeaderName::from_bytes(lower.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    (Ok(n), Ok(v)) => {
                        headers.insert(n, v);
                    }
                    _ => tracing::warn!("Wagi program wrote an invalid header: {line:?}"),
                }
            }
        }
    }
    if !sufficient {
        let message = "Exactly one of 'location' or 'content-type' must be specified";
        tracing::error!("Wagi program's output is not a CGI response: {message}");
        return Ok(response(
            StatusCode::INTERNAL_SERVER_ERROR,
            http::HeaderMap::new(),
            Bytes::from_static(message.as_bytes()),
        ));
    }
    Ok(response(status, headers, body))
}

/// Splits at the first blank line (`\n\n`, ignoring `\r`s in the header part). Without one,
/// everything is header and the body is empty.
fn split_head(stdout: &[u8]) -> (Vec<u8>, Bytes) {
    let mut head = Vec::new();
    let mut last = 0u8;
    for (i, &b) in stdout.iter().enumerate() {
        if b == b'\r' {
            continue;
        }
        if b == b'\n' && last == b'\n' {
            return (head, Bytes::copy_from_slice(&stdout[i + 1..]));
        }
        last = b;
        head.push(b);
    }
    (head, Bytes::new())
}

fn response(status: StatusCode, headers: http::HeaderMap, body: Bytes) -> Response {
    let mut response = http::Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cgi_variables() {
        let p = parts(
            "http://127.0.0.1:3000/wagi/a%20b/c?x=1&y=two+words",
            &[
                ("host", "127.0.0.1:3000"),
                ("content-type", "text/plain"),
                ("x-custom", "v"),
                ("authorization", "secret"),
                ("spin-path-info", "/a%20b/c"),
                ("spin-matched-route", "/wagi/..."),
                ("spin-component-route", "/wagi"),
                ("spin-client-addr", "10.0.0.7:5555"),
            ],
        );
        let cgi = CgiRequest::new(&p, 5);
        let v = |k: &str| cgi.vars.get(k).cloned().unwrap_or_else(|| panic!("{k}"));
        assert_eq!(v("REQUEST_METHOD"), "POST");
        assert_eq!(v("CONTENT_LENGTH"), "5");
        assert_eq!(v("CONTENT_TYPE"), "text/plain");
        assert_eq!(v("PATH_INFO"), "/a b/c");
        assert_eq!(v("X_RAW_PATH_INFO"), "/a%20b/c");
        assert_eq!(v("QUERY_STRING"), "x=1&y=two+words");
        assert_eq!(v("SCRIPT_NAME"), "/wagi");
        assert_eq!(v("X_MATCHED_ROUTE"), "/wagi/...");
        assert_eq!(
            v("X_FULL_URL"),
            "http://127.0.0.1:3000/wagi/a%20b/c?x=1&y=two+words"
        );
        assert_eq!(v("SERVER_NAME"), "127.0.0.1");
        assert_eq!(v("SERVER_PORT"), "3000");
        assert_eq!(v("SERVER_PROTOCOL"), "HTTP/1.1");
        assert_eq!(v("REMOTE_ADDR"), "10.0.0.7");
        assert_eq!(v("HTTP_X_CUSTOM"), "v");
        assert_eq!(v("GATEWAY_INTERFACE"), "CGI/1.1");
        assert!(!cgi.vars.contains_key("HTTP_AUTHORIZATION"));
        assert_eq!(
            cgi.argv("${SCRIPT_NAME} ${ARGS}"),
            vec!["/wagi", "x=1", "y=two words"]
        );
        assert_eq!(cgi.argv("${SCRIPT_NAME} --flag"), vec!["/wagi", "--flag"]);
    }

    async fn compose(out: &str) -> (u16, Vec<(String, String)>, String) {
        let r = compose_response(out.as_bytes()).unwrap();
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn cgi_responses() {
        let (s, h, b) = compose("Content-Type: text/plain\n\nhello\n\nworld").await;
        assert_eq!((s, b.as_str()), (200, "hello\n\nworld"));
        assert_eq!(h, vec![("content-type".into(), "text/plain".into())]);

        let (s, _, b) =
            compose("Content-Type: text/plain\r\nStatus: 201 Created\r\n\r\nmade").await;
        assert_eq!((s, b.as_str()), (201, "made"));

        let (s, h, _) = compose("Location: /elsewhere\n\n").await;
        assert_eq!(s, 302);
        assert_eq!(h, vec![("location".into(), "/elsewhere".into())]);

        let (s, _, _) = compose("Status: 301\nLocation: /moved\n\n").await;
        assert_eq!(s, 301);

        let (s, _, _) = compose("Status: nope\nContent-Type: text/plain\n\n").await;
        assert_eq!(s, 502);

        let (s, _, b) = compose("just some text without headers").await;
        assert_eq!(s, 500);
        assert_eq!(
            b,
            "Exactly one of 'location' or 'content-type' must be specified"
        );
    }
}
