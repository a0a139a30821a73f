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

/// `bytes` (a component) with a custom section appended: the same code, another digest.
fn with_custom_section(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(b"another build");
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    out
}

#[test]
fn dependencies_and_components_from_a_wasm_package_registry() {
    use support::registry::Registry;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_arg = ["--cache-dir", cache.to_str().unwrap()];
    let registry = Registry::start(None);
    let addr = registry.addr();
    let greeter = std::fs::read(wasm("deps_greeter")).unwrap();
    // `spindle:deps` in wasm-pkg's OCI layout: 0.1.0, 0.1.5 (another build) and 1.0.0, which
    // is not a component at all (picking it would fail the composition).
    registry.push_wasm_package("spindle/deps", "0.1.0", &greeter);
    let newest = registry.push_wasm_package(
        "spindle/deps",
        "0.1.5",
        &with_custom_section(&greeter, "spindle-test"),
    );
    registry.push_wasm_package("spindle/deps", "1.0.0", b"not wasm");

    // `{ version, registry }`: the package is the key's, the highest matching version wins.
    let manifest = deps_app(
        dir.path(),
        &format!("\"spindle:deps/greet@0.1.0\" = {{ version = \"0.1\", registry = \"{addr}\" }}"),
        "",
    );
    let s = Spindle::start(&manifest, &cache_arg);
    let r = s.get("/?name=spin");
    assert!(r.text().starts_with(DENIED), "{}\n{}", r.text(), s.stderr());
    assert!(
        s.stderr()
            .contains(&format!("spindle:deps@0.1.5 from {addr} ({newest})")),
        "{}",
        s.stderr()
    );
    s.stop();

    // A plain version string, the registry from wasm-pkg's configuration file.
    let config = dir.path().join("wkg.toml");
    std::fs::write(
        &config,
        format!("[namespace_registries]\nspindle = \"{addr}\"\n"),
    )
    .unwrap();
    let wkg = [("WKG_CONFIG_FILE", config.to_str().unwrap())];
    let manifest = deps_app(
        dir.path(),
        "\"spindle:deps/greet@0.1.0\" = { version = \"0.1.0\", inherit_configuration = true }",
        "",
    );
    let s = Spindle::start_with_env(&manifest, &cache_arg, &wkg);
    assert!(s.get("/?name=spin").text().starts_with(INHERITED));
    s.stop();

    // A component source from the registry (an exact version).
    let hello = example("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    require_built(&hello);
    registry.push_wasm_package("spindle/hello", "2.0.0", &std::fs::read(&hello).unwrap());
    let app_dir = dir.path().join("hello");
    std::fs::create_dir_all(&app_dir).unwrap();
    let hello_manifest = app_dir.join("spin.toml");
    std::fs::write(
        &hello_manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"pkg\"\n[[trigger.http]]\n\
             route = \"/hello/...\"\ncomponent = \"hello\"\n[component.hello]\n\
             source = {{ registry = \"{addr}\", package = \"spindle:hello\", version = \"2.0.0\" }}\n"
        ),
    )
    .unwrap();
    let s = Spindle::start(&hello_manifest, &cache_arg);
    assert_eq!(s.get("/hello").status, 200, "{}", s.stderr());
    s.stop();

    // No matching version: the error names the package, the registry and what it has.
    let bad_dir = dir.path().join("bad");
    std::fs::create_dir_all(&bad_dir).unwrap();
    let bad = deps_app(
        &bad_dir,
        &format!("\"spindle:deps/greet@0.1.0\" = {{ version = \"3\", registry = \"{addr}\" }}"),
        "",
    );
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            bad.to_str().unwrap(),
            cache_arg[0],
            cache_arg[1],
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("component `app` dependency `spindle:deps/greet@0.1.0`")
            && err.contains(&format!("no version of {addr}/spindle/deps matches `^3`"))
            && err.contains("0.1.0, 0.1.5, 1.0.0"),
        "{err}"
    );

    // `spindle registry push` carries the fetched dependency as a layer: the pushed app runs
    // from the registry.
    let out = spindle_cmd()
        .args(["registry", "push", "-f"])
        .arg(&manifest)
        .arg(format!("{addr}/me/deps:v1"))
        .args(cache_arg)
        .envs(wkg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed = registry.manifest("me/deps", "v1");
    assert!(
        pushed["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["digest"] == newest.as_str()),
        "{pushed}"
    );

    // The registry gone: the exact component version and the resolved requirement start from
    // the cache (the requirement with a warning).
    drop(registry);
    let s = Spindle::start(&hello_manifest, &cache_arg);
    assert_eq!(s.get("/hello").status, 200, "{}", s.stderr());
    s.stop();
    let s = Spindle::start_with_env(&manifest, &cache_arg, &wkg);
    assert!(s.get("/?name=spin").text().starts_with(INHERITED));
    assert!(s.stderr().contains("as last resolved"), "{}", s.stderr());
    s.stop();
}
