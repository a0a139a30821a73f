//! End-to-end tests of component dependencies (`[component.<id>.dependencies]`): the real
//! guests of `tests/guests/deps` — `app` imports `spindle:deps/greet@0.1.0` and `greeter`
//! exports it — composed at load for every source kind, with `inherit_configuration`.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn wasm(name: &str) -> PathBuf {
    let path = repo_root().join(format!(
        "tests/guests/deps/target/wasm32-wasip2/release/{name}.wasm"
    ));
    require_built(&path);
    path
}

/// An app in `dir` whose `app` component has the dependencies table `deps` (TOML lines), and
/// `extra` manifest text after it.
fn deps_app(dir: &Path, deps: &str, extra: &str) -> PathBuf {
    write_app(
        dir,
        "deps",
        "/...",
        "app",
        &wasm("deps_app"),
        &format!(
            r#"environment = {{ GREETER_SUFFIX = "!" }}
variables = {{ greeting = "{{{{ greeting }}}}" }}
[component.app.dependencies]
{deps}
{extra}
[variables]
greeting = {{ default = "Hi" }}
"#
        ),
    )
}

fn greeting(manifest: &Path) -> String {
    let s = Spindle::start(manifest, &[]);
    let r = s.get("/?name=spin");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.stderr());
    r.text()
}

const DENIED: &str = "hello, spin, from the greeter dependency! [variables:";
const INHERITED: &str = "Hi, spin, from the greeter dependency!";

#[test]
fn path_dependency_is_composed_and_denied_configuration_by_default() {
    // The bundled app: a path dependency, no inherit_configuration.
    let text = greeting(&repo_root().join("tests/guests/deps/spin.toml"));
    assert!(text.starts_with(DENIED), "{text}");
    assert!(
        text.contains("fermyon:spin/variables@2.0.0#get is denied to this component dependency"),
        "{text}"
    );
    // The environment is shared (GREETER_SUFFIX); the variable is denied to the dependency.
    let dir = tempfile::tempdir().unwrap();
    let greeter = wasm("deps_greeter");
    for (inherit, want) in [
        ("inherit_configuration = true", INHERITED),
        ("inherit_configuration = [\"variables\"]", INHERITED),
        ("inherit_configuration = [\"key_value_stores\"]", DENIED),
        ("inherit_configuration = false", DENIED),
    ] {
        let manifest = deps_app(
            dir.path(),
            &format!("\"spindle:deps/greet@0.1.0\" = {{ path = {greeter:?}, {inherit} }}"),
            "",
        );
        let text = greeting(&manifest);
        assert!(text.starts_with(want), "{inherit}: {text}");
    }
    // `dependencies_inherit_configuration = true` on the component is the default for all.
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps/greet@0.1.0\" = {{ path = {greeter:?} }}"),
        "",
    );
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "[component.app.dependencies]",
        "dependencies_inherit_configuration = true\n[component.app.dependencies]",
    );
    std::fs::write(&manifest, text).unwrap();
    assert!(greeting(&manifest).starts_with(INHERITED));
}

#[test]
fn dependency_from_another_component_a_package_name_and_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let greeter = wasm("deps_greeter");
    // Another component of the app.
    let manifest = deps_app(
        dir.path(),
        "\"spindle:deps/greet@0.1.0\" = { component = \"greeter\", inherit_configuration = true }",
        &format!("\n[component.greeter]\nsource = {greeter:?}\n"),
    );
    assert!(greeting(&manifest).starts_with(INHERITED));
    // A package name: every import of an interface of that package.
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps@0.1.0\" = {{ path = {greeter:?} }}"),
        "",
    );
    assert!(greeting(&manifest).starts_with(DENIED));
    // A URL with its digest, downloaded and verified.
    use sha2::Digest as _;
    let bytes = std::fs::read(&greeter).unwrap();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    let (url, served) = serve_file(bytes, 1);
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps/greet@0.1.0\" = {{ url = \"{url}\", digest = \"{digest}\" }}"),
        "",
    );
    let s = Spindle::start(
        &manifest,
        &["--cache-dir", dir.path().join("cache").to_str().unwrap()],
    );
    let r = s.get("/?name=spin");
    assert!(r.text().starts_with(DENIED), "{}\n{}", r.text(), s.stderr());
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_dependency_that_satisfies_no_import_is_an_error_naming_the_imports() {
    let dir = tempfile::tempdir().unwrap();
    let greeter = wasm("deps_greeter");
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps/nope@0.1.0\" = {{ path = {greeter:?} }}"),
        "",
    );
    let (code, _, err) = run_spindle(&["up", "-f", manifest.to_str().unwrap()], dir.path());
    assert_ne!(code, 0);
    assert!(
        err.contains("composing component `app` with its dependencies")
            && err.contains("imports nothing that dependency `spindle:deps/nope@0.1.0` names")
            && err.contains("spindle:deps/greet@0.1.0"),
        "{err}"
    );
    // The export named by `export` must exist.
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps/greet@0.1.0\" = {{ path = {greeter:?}, export = \"other:pkg/x@1.0.0\" }}"),
        "",
    );
    let (code, _, err) = run_spindle(&["up", "-f", manifest.to_str().unwrap()], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("does not export `other:pkg/x@1.0.0`"), "{err}");
}
