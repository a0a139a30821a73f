#![deny(missing_docs)]
//! Spindle's HTTP trigger: Spin's routing rules ([`router`]), the `spin-*` request headers
//! ([`headers`]), and the hyper server that runs the request path ([`server`]).

pub mod headers;
pub mod router;
pub mod server;
pub mod tls;

pub use server::{bind, serve, HttpTrigger, ServeOptions, Target};
