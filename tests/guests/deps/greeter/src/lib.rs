//! A library component exporting `spindle:deps/greet@0.1.0`: the dependency of `app`.
//!
//! It shows what a dependency sees: the environment variable `GREETER_SUFFIX` (WASI's
//! environment is shared with the component), and the Spin variable `greeting`, which it can
//! read only when the manifest lets it inherit the component's configuration
//! (`inherit_configuration`); otherwise the host denies the call.

wit_bindgen::generate!({
    world: "greeter",
    path: "../wit",
});

struct Greeter;

impl exports::spindle::deps::greet::Guest for Greeter {
    fn hello(name: String) -> String {
        let suffix = std::env::var("GREETER_SUFFIX").unwrap_or_default();
        let (greeting, note) = match spin_sdk::variables::get("greeting") {
            Ok(greeting) => (greeting, String::new()),
            Err(e) => ("hello".to_string(), format!(" [variables: {e}]")),
        };
        format!("{greeting}, {name}, from the greeter dependency{suffix}{note}")
    }
}

export!(Greeter);
