#![deny(missing_docs)]
//! The embeddable Spindle engine.
//!
//! Everything that runs a Spin app without caring how requests arrive: the wasmtime
//! [`engine`] (pooling allocator, epoch deadlines), the compiled-code [`cache`], loading a locked
//! app into ready-to-instantiate components ([`app`]), what one instance may see ([`sandbox`]),
//! host capabilities with outbound policy ([`capabilities`]), and running a request through a component ([`handlers`]).
//!
//! The `spindle` CLI and (later) the containerd shim embed this crate; the HTTP trigger in
//! `spindle-http` calls [`App::handler`] for each routed request.

pub use spindle_manifest::allowed_hosts;
pub mod app;
pub mod cache;
pub mod capabilities;
pub mod client_tls;
mod component_names;
mod compose;
mod content;
pub mod engine;
pub mod handlers;
mod http_pool;
pub mod pem;
pub mod sandbox;
mod sockets;
pub mod unsupported;
mod wasi_rc_2023_11_10;
mod wasip3_rc;

pub use app::{App, LoadError, LoadStep, RuntimeOptions};
pub use cache::CompileCache;
pub use capabilities::outbound_http::{AppLinks, SelfRequestHandler};
pub use capabilities::{runtime_config::RuntimeConfig, CapabilityOptions};
pub use engine::{EngineOptions, SpindleEngine};
pub use handlers::{
    ComponentHandler, Deadline, HandleError, HandlerKind, InstanceReuse, Request, Response,
};
pub use sandbox::{DirectMount, LogSinks};
