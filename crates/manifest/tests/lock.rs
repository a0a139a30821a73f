//! Loading from disk: source/file resolution, the locked JSON, and filesystem errors.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spindle_manifest::locked::{Executor, HttpRoute, HttpTarget, LockedApp};
use spindle_manifest::{load, Loaded, ManifestError, Severity};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        Self { dir }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn manifest(&self) -> PathBuf {
        self.root().join("spin.toml")
    }
    fn url(&self, rel: &str) -> String {
        url::Url::from_file_path(self.root().join(rel))
            .unwrap()
            .to_string()
    }
    fn load(&self) -> Loaded {
        match load(&self.manifest()) {
            Ok(l) => l,
            Err(e) => panic!("load failed:\n{e}"),
        }
    }
    fn load_err(&self) -> Vec<spindle_manifest::Diagnostic> {
        match load(&self.manifest()) {
            Ok(_) => panic!("expected load to fail"),
            Err(e) => e.diagnostics().to_vec(),
        }
    }
}

const SMALL: &str = r#"spin_manifest_version = 2

[application]
name = "shop"
version = "1.0.0"
description = "A shop"
authors = ["alice@example.com"]

[variables]
api_host = { default = "api.example.com" }
api_token = { required = true, secret = true, description = "token" }

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.http]]
route = { private = true }
component = "pricing"
executor = { type = "wagi" }

[[trigger.http]]
route = "old/"
static_response = { status_code = 302, headers = { location = "/" } }

[component.api]
source = "api.wasm"
description = "API"
environment = { RUST_LOG = "info" }
files = [{ source = "assets", destination = "/static" }]
allowed_outbound_hosts = ["https://{{ api_host }}", "http://pricing.spin.internal"]
key_value_stores = ["default"]
sqlite_databases = ["orders"]
ai_models = ["llama2-chat"]
[component.api.variables]
token = "{{ api_token }}"
[component.api.build]
command = "cargo build"

[component.pricing]
source = { url = "https://example.test/pricing.wasm", digest = "sha256:abc" }
"#;

fn small_fixture() -> Fixture {
    Fixture::new(&[
        ("spin.toml", SMALL),
        ("api.wasm", "\0asm"),
        ("assets/index.html", "<h1>hi</h1>"),
        ("assets/css/site.css", "body{}"),
    ])
}

#[test]
fn locked_json_for_a_small_app() {
    let f = small_fixture();
    let loaded = f.load();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.manifest_path, f.manifest());
    let v: Value = serde_json::from_str(&loaded.locked.to_json_pretty()).unwrap();

    assert_eq!(v["spin_lock_version"], json!(1));
    assert_eq!(v["must_understand"], json!(["component_host_requirements"]));
    assert!(v.get("host_requirements").is_none());
    assert_eq!(
        v["metadata"],
        json!({
            "name": "shop",
            "version": "1.0.0",
            "description": "A shop",
            "authors": ["alice@example.com"],
            "origin": f.url("spin.toml"),
            "trigger": {"type": "http"},
            "triggers": {},
        })
    );
    assert_eq!(
        v["variables"],
        json!({
            "api_host": {"default": "api.example.com"},
            "api_token": {"description": "token", "secret": true},
        })
    );
    assert_eq!(
        v["triggers"],
        json!([
            {"id": "api-http-trigger", "trigger_type": "http",
             "trigger_config": {"route": "/api/...", "component": "api"}},
            {"id": "pricing-http-trigger", "trigger_type": "http",
             "trigger_config": {"route": {"private": true}, "component": "pricing",
                                "executor": {"type": "wagi"}}},
            // Routes keep the manifest's spelling, as in Spin's locked app.
            {"id": "http-trigger1", "trigger_type": "http",
             "trigger_config": {"route": "old/",
                                "static_response": {"status_code": 302, "headers": {"location": "/"}}}},
        ])
    );
    let comps = v["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert_eq!(
        comps[0],
        json!({
            "id": "api",
            "metadata": {
                "description": "API",
                "allowed_outbound_hosts": ["https://{{ api_host }}", "http://pricing.spin.internal"],
                "key_value_stores": ["default"],
                "databases": ["orders"],
                "ai_models": ["llama2-chat"],
                "build": {"command": "cargo build"},
            },
            "source": {"content_type": "application/wasm", "source": f.url("api.wasm")},
            "env": {"RUST_LOG": "info"},
            "files": [
                {"source": f.url("assets/css/site.css"), "path": "/static/css/site.css"},
                {"source": f.url("assets/index.html"), "path": "/static/index.html"},
            ],
            "config": {"token": "{{ api_token }}"},
            "host_requirements": {"local_service_chaining": "required"},
        })
    );
    assert_eq!(
        comps[1],
        json!({
            "id": "pricing",
            // Nothing granted: no metadata at all, as Spin 4 writes it.
            "source": {"content_type": "application/wasm",
                       "source": "https://example.test/pricing.wasm", "digest": "sha256:abc"},
        })
    );

    // Typed helpers over the same data.
    let app = &loaded.locked;
    let api = app.component("api").unwrap();
    assert_eq!(
        api.allowed_outbound_hosts(),
        vec!["https://{{ api_host }}", "http://pricing.spin.internal"]
    );
    assert_eq!(api.key_value_stores(), vec!["default"]);
    assert_eq!(api.sqlite_databases(), vec!["orders"]);
    assert_eq!(api.ai_models(), vec!["llama2-chat"]);
    assert_eq!(api.description(), Some("API"));
    assert!(app.component("nope").is_none());
    assert!(app.variables["api_token"].is_required());
    assert!(!app.variables["api_host"].is_required());
    let http: Vec<_> = app.http_triggers().collect();
    assert_eq!(http.len(), 3);
    assert_eq!(http[0].route, HttpRoute::Path("/api/...".into()));
    assert_eq!(
        http[0].target,
        HttpTarget::Component {
            id: "api".into(),
            executor: Executor::Http
        }
    );
    assert_eq!(http[1].route, HttpRoute::Private);
    assert!(matches!(
        &http[1].target,
        HttpTarget::Component { executor: Executor::Wagi { argv, entrypoint }, .. }
            if argv == "${SCRIPT_NAME} ${ARGS}" && entrypoint == "_start"
    ));
    assert_eq!(
        http[2].target,
        HttpTarget::StaticResponse {
            status_code: 302,
            headers: [("location".to_string(), "/".to_string())].into(),
            body: None
        }
    );
}

#[test]
fn locked_app_round_trips_through_json() {
    let f = small_fixture();
    let locked = f.load().locked;
    let json = locked.to_json_pretty();
    let back = LockedApp::from_json(json.as_bytes()).unwrap();
    assert_eq!(back, locked);
    assert_eq!(back.to_json_pretty(), json);
    let v1: Value = serde_json::from_str(&json).unwrap();
    let v2: Value = serde_json::to_value(&back).unwrap();
    assert_eq!(v1, v2);
}

#[test]
fn file_expansion_globs_excludes_and_directories() {
    let f = Fixture::new(&[
        (
            "spin.toml",
            r#"spin_manifest_version = 2
[application]
name = "files"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
files = [
    "static/*.txt",
    "docs",
    { source = "public", destination = "/" },
    { source = "single/config.json", destination = "/etc/app.json" },
    "./top.md",
    "nothing/*.xyz",
]
exclude_files = ["**/*.map", "public/private/**"]
"#,
        ),
        ("web.wasm", ""),
        ("static/a.txt", "a"),
        ("static/b.txt", "b"),
        ("static/c.md", "c"),
        ("static/sub/d.txt", "d"),
        ("docs/guide/intro.md", "i"),
        ("docs/x.js.map", "m"),
        ("public/index.html", "i"),
        ("public/app.js", "j"),
        ("public/app.js.map", "m"),
        ("public/private/secret.txt", "s"),
        ("single/config.json", "{}"),
        ("top.md", "t"),
    ]);
    let loaded = f.load();
    let files: Vec<(String, String)> = loaded.locked.components[0]
        .files
        .iter()
        .map(|cp| {
            (
                cp.path.to_string_lossy().into_owned(),
                cp.content.source.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            ("/static/a.txt".to_string(), f.url("static/a.txt")),
            ("/static/b.txt".to_string(), f.url("static/b.txt")),
            (
                "/docs/guide/intro.md".to_string(),
                f.url("docs/guide/intro.md")
            ),
            ("/app.js".to_string(), f.url("public/app.js")),
            ("/index.html".to_string(), f.url("public/index.html")),
            ("/etc/app.json".to_string(), f.url("single/config.json")),
            ("/top.md".to_string(), f.url("top.md")),
        ]
    );
    // The glob that matched nothing is a warning, with its line.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(
        w.message,
        "`files` pattern `nothing/*.xyz` in [component.web] matches no files"
    );
    assert_eq!(w.line, 15);
}

#[test]
fn missing_source_file_points_at_source_line_and_suggests_build() {
    let f = Fixture::new(&[(
        "spin.toml",
        "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"target/hello.wasm\"\n[component.hello.build]\ncommand = \"cargo build --target wasm32-wasip2 --release\"\n",
    )]);
    let errs = f.load_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert_eq!(
        e.message,
        format!(
            "source `target/hello.wasm` of component `hello` does not exist (looked for `{}`)",
            f.root().join("target/hello.wasm").display()
        )
    );
    assert_eq!((e.line, e.column), (8, 10));
    assert_eq!(e.file, f.manifest());
    assert_eq!(
        e.hint.as_deref(),
        Some("run `spindle build` to build it (build command: `cargo build --target wasm32-wasip2 --release`)")
    );

    // Without a build section the hint mentions the manifest directory.
    let g = Fixture::new(&[(
        "spin.toml",
        "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = { source = \"x.wasm\" }\n",
    )]);
    let errs = g.load_err();
    assert_eq!(errs[0].line, 6);
    assert!(errs[0]
        .message
        .starts_with("source `x.wasm` of component `http-trigger1-component` does not exist"));
    assert!(errs[0]
        .hint
        .as_deref()
        .unwrap()
        .contains(&g.root().display().to_string()));
}

#[test]
fn missing_files_and_bad_registry_packages_are_errors_with_lines() {
    let f = Fixture::new(&[
        (
            "spin.toml",
            "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[[trigger.http]]\nroute = \"/r\"\ncomponent = \"r\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [\"missing.txt\", { source = \"nodir\", destination = \"/\" }]\n[component.r]\nsource = { package = \"Ns/Pkg\", version = \"1.0.0\" }\n",
        ),
        ("a.wasm", ""),
    ]);
    let errs = f.load_err();
    let got: Vec<(&str, usize, usize)> = errs
        .iter()
        .map(|e| (e.message.as_str(), e.line, e.column))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "`files` entry `missing.txt` in [component.a] does not exist",
                12,
                10
            ),
            (
                "files source `nodir` in [component.a] does not exist",
                12,
                36
            ),
            (
                "`Ns/Pkg` (the registry package of component `r`) is not a package name",
                14,
                10
            ),
        ]
    );
    assert!(errs[2]
        .hint
        .as_deref()
        .unwrap()
        .contains("`namespace:name` in lower-case kebab-case"));
}

#[test]
fn dependencies_are_locked() {
    let f = Fixture::new(&[
        (
            "spin.toml",
            r#"spin_manifest_version = 2
[application]
name = "deps"
[[trigger.http]]
route = "/"
component = "main"
dependencies = { middleware = [{ component = "mw" }] }
[component.main]
source = "main.wasm"
dependencies_inherit_configuration = true
[component.main.dependencies]
"a:b/c" = { path = "dep.wasm", export = "x:y/z" }
"d:e" = { url = "https://example.test/d.wasm", digest = "sha256:1", inherit_configuration = ["ai_models"] }
"f:g" = { component = "lib", inherit_configuration = false }
[component.lib]
source = "lib.wasm"
[component.mw]
source = "mw.wasm"
"#,
        ),
        ("main.wasm", ""),
        ("dep.wasm", ""),
        ("lib.wasm", ""),
        ("mw.wasm", ""),
    ]);
    let loaded = f.load();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let v = serde_json::to_value(&loaded.locked).unwrap();
    assert_eq!(
        v["components"][0]["dependencies"],
        json!({
            "a:b/c": {"source": {"content_type": "application/wasm", "source": f.url("dep.wasm")},
                      "export": "x:y/z", "inherit": "All"},
            "d:e": {"source": {"content_type": "application/wasm",
                               "source": "https://example.test/d.wasm", "digest": "sha256:1"},
                    "export": null, "inherit": {"Some": ["ai_models"]}},
            "f:g": {"source": {"content_type": "application/wasm", "source": f.url("lib.wasm")},
                    "export": null},
        })
    );
    assert_eq!(
        v["triggers"][0]["trigger_dependencies"],
        json!({"middleware": [{"source": {"content_type": "application/wasm", "source": f.url("mw.wasm")},
                               "export": null}]})
    );
}

#[test]
fn load_accepts_a_directory_and_reports_missing_files() {
    let f = small_fixture();
    let loaded = load(f.root()).unwrap();
    assert_eq!(loaded.manifest_path, f.manifest());
    assert_eq!(loaded.manifest.application.name, "shop");

    let missing = f.root().join("nope/spin.toml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }));
    let s = err.to_string();
    assert!(
        s.contains(&format!("manifest file `{}` not found", missing.display())),
        "{s}"
    );
    assert!(s.contains("spindle up -f <path>"), "{s}");
}

#[test]
fn parse_errors_come_before_filesystem_checks_and_use_the_given_path() {
    let f = Fixture::new(&[(
        "spin.toml",
        "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"x\"\n",
    )]);
    let err = load(&f.manifest()).unwrap_err();
    let d = err.diagnostics();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "unknown component `x` in [[trigger.http]]");
    assert_eq!(
        d[0].hint.as_deref(),
        Some("no components are defined: add a [component.x] table")
    );
    let rendered = err.to_string();
    assert!(
        rendered.contains(&format!("--> {}:6:13", f.manifest().display())),
        "{rendered}"
    );
}

#[test]
fn app_trigger_settings_go_to_metadata() {
    let f = Fixture::new(&[
        (
            "spin.toml",
            "spin_manifest_version = 2\n[application]\nname = \"r\"\n[application.trigger.redis]\naddress = \"redis://localhost:6379\"\n[[trigger.redis]]\nchannel = \"msgs\"\ncomponent = \"c\"\n[component.c]\nsource = \"c.wasm\"\n",
        ),
        ("c.wasm", ""),
    ]);
    let v = serde_json::to_value(&f.load().locked).unwrap();
    assert_eq!(
        v["metadata"]["trigger"],
        json!({"type": "redis", "address": "redis://localhost:6379"})
    );
    assert_eq!(
        v["metadata"]["triggers"],
        json!({"redis": {"address": "redis://localhost:6379"}})
    );
    assert_eq!(
        v["triggers"][0],
        json!({"id": "c-redis-trigger", "trigger_type": "redis",
               "trigger_config": {"channel": "msgs", "component": "c"}})
    );
    assert!(v.get("must_understand").is_none());
}
