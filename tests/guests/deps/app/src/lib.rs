//! An HTTP component that imports `spindle:deps/greet@0.1.0`, which the manifest satisfies with
//! a dependency component: `GET /?name=x` answers with what the dependency's `hello` returned.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

spin_sdk::wit_bindgen::generate!({
    world: "app",
    path: "../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
});

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let name = req
        .query()
        .split('&')
        .find_map(|p| p.strip_prefix("name="))
        .unwrap_or("world")
        .to_string();
    let greeting = spindle::deps::greet::hello(&name);
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(greeting)
        .build())
}
