//! Parsing and validation (no filesystem): every key, every error message and its line.

use std::path::Path;

use spindle_manifest::schema::{
    Commands, ComponentDependency, ComponentSource, ComponentSpec, HttpRouteSpec,
    InheritConfiguration, OneOrManyComponentSpecs, TargetEnvironmentRef, WasiFilesMount,
};
use spindle_manifest::{parse_str, Diagnostic, ManifestError, Severity};

const MAXIMAL: &str = r#"spin_manifest_version = 2

[application]
name = "maximal"
version = "9999.9.9"
description = "All the features, all the time"
authors = ["alice@example.com", "bob@example.com"]
targets = ["spin-up:3.3", { registry = "ghcr.io/my/envs", id = "my-env:1.0" }, { path = "env.toml" }]

[application.trigger.redis]
address = "redis://localhost:6379"

[application.tool.lint]
lint_level = "savage"

[variables]
var_one = { description = "Test me like one of your French strings!", default = "Default" }
var_two = { required = true, secret = true }

[[trigger.http]]
id = "explicit-id"
route = "/api/users/:id/..."
component = "api"
executor = { type = "wagi", argv = "${SCRIPT_NAME} ${ARGS} x" }

[[trigger.http]]
route = "static/"
component = { source = "inline.wasm", files = ["pattern/*"] }

[[trigger.http]]
route = { private = true }
component = "minimal-component"
executor = { type = "spin" }

[[trigger.http]]
route = "/old"
static_response = { status_code = 302, headers = { location = "/" }, body = "moved" }

[[trigger.http]]
route = "/mw/..."
component = "api"
components = { extra = ["minimal-component", { source = "extra.wasm" }] }
dependencies = { middleware = [{ component = "minimal-component", inherit_configuration = ["allowed_outbound_hosts"] }, { path = "mw.wasm" }] }

[[trigger.redis]]
channel = "messages"
component = "maximal-component"

[component.minimal-component]
source = "max-a.wasm"

[component.api]
source = "api.wasm"
description = "My API"
environment = { RUST_LOG = "info" }
allowed_outbound_hosts = ["https://{{ var_one }}", "http://pricing.spin.internal", "redis://cache:6379"]
allowed_http_hosts = ["example.com"]
key_value_stores = ["default", "snake_case", "kebab-case"]
sqlite_databases = ["default"]
ai_models = ["llama2-chat"]
targets = ["spin-up:3.3"]
[component.api.variables]
token = "{{ var_two }}"
endpoint = "https://{{var_one}}/v1"

[component.maximal-component]
source = { url = "http://example.test/max-b.wasm", digest = "sha256:abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234" }
description = "My fine component"
environment = { VAR = "val" }
files = ["pattern/*", { source = "placement", destination = "/" }]
exclude_files = ["**/secret"]
allowed_outbound_hosts = ["https://example.com:443"]
key_value_stores = ["default"]
sqlite_databases = ["default"]
ai_models = ["llama2-chat"]
dependencies_inherit_configuration = true

[component.maximal-component.build]
command = ["cargo build", "wasm-opt x"]
workdir = "my-component"
watch = ["src/**/*.rs"]

[component.maximal-component.tool.clean]
command = "cargo clean"

[component.maximal-component.dependencies]
"a:b/c" = { registry = "my-registry.com", version = "^1.2.3", package = "a:b", export = "foo", inherit_configuration = true }
"foo:bar/baz@0.1.0" = { path = "path/to/component.wasm", inherit_configuration = ["ai_models", "allowed_outbound_hosts"] }
"fib:fub/fob" = { path = "path/to/component.wasm", export = "my-export", inherit_configuration = false }
"fizz:buzz" = ">=0.1.0"
"abc:xyz@0.1.0" = { version = "=0.1.0" }
"web:dep" = { url = "https://example.test/dep.wasm", digest = "sha256:00" }
"app:dep" = { component = "minimal-component" }

[component.maximal-component.profile.debug]
source = "debug.wasm"
environment = { LOG = "debug" }
build = { command = "cargo build" }
"#;

fn parse_errors(text: &str) -> Vec<Diagnostic> {
    match parse_str(text, Path::new("app/spin.toml")) {
        Ok(_) => panic!("expected errors"),
        Err(ManifestError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn parse_ok(text: &str) -> (spindle_manifest::schema::AppManifest, Vec<Diagnostic>) {
    match parse_str(text, Path::new("app/spin.toml")) {
        Ok(r) => r,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

/// Asserts exactly one error with this message at this line and column; returns it.
fn single_error(text: &str, message: &str, line: usize, column: usize) -> Diagnostic {
    let errs = parse_errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got:\n{errs:#?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(e.message, message);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert_eq!(e.file, Path::new("app/spin.toml"));
    e
}

const HEAD: &str = "spin_manifest_version = 2\n\n[application]\nname = \"app\"\n\n";

fn app(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[test]
fn maximal_manifest_parses_every_key() {
    let (m, warnings) = parse_ok(MAXIMAL);
    assert_eq!(m.spin_manifest_version, 2);
    let a = &m.application;
    assert_eq!(a.name, "maximal");
    assert_eq!(a.version, "9999.9.9");
    assert_eq!(a.description, "All the features, all the time");
    assert_eq!(a.authors, vec!["alice@example.com", "bob@example.com"]);
    assert_eq!(
        a.targets,
        vec![
            TargetEnvironmentRef::DefaultRegistry("spin-up:3.3".into()),
            TargetEnvironmentRef::Registry {
                registry: "ghcr.io/my/envs".into(),
                id: "my-env:1.0".into()
            },
            TargetEnvironmentRef::File {
                path: "env.toml".into()
            },
        ]
    );
    assert_eq!(
        a.trigger_global_configs.get("redis").unwrap()["address"].as_str(),
        Some("redis://localhost:6379")
    );
    assert_eq!(
        a.tool.get("lint").unwrap()["lint_level"].as_str(),
        Some("savage")
    );

    let v1 = m.variables.get("var_one").unwrap();
    assert_eq!(v1.default.as_deref(), Some("Default"));
    assert!(v1.description.as_deref().unwrap().starts_with("Test me"));
    let v2 = m.variables.get("var_two").unwrap();
    assert!(v2.required && v2.secret && v2.default.is_none());

    // Triggers, normalized.
    let http = m.triggers.get("http").unwrap();
    assert_eq!(http.len(), 5);
    assert_eq!(http[0].id, "explicit-id");
    assert_eq!(
        http[0].http_route(),
        Some(HttpRouteSpec::Path("/api/users/:id/...".into()))
    );
    assert_eq!(
        http[0].config["executor"]["argv"].as_str(),
        Some("${SCRIPT_NAME} ${ARGS} x")
    );
    // Inline component: trigger id http-trigger1 (no component reference), component id
    // `<trigger id>-component`.
    assert_eq!(http[1].id, "http-trigger1");
    assert_eq!(
        http[1].http_route(),
        Some(HttpRouteSpec::Path("/static".into()))
    );
    assert_eq!(http[1].component_id(), Some("http-trigger1-component"));
    let inline = m.components.get("http-trigger1-component").unwrap();
    assert_eq!(inline.source, ComponentSource::Local("inline.wasm".into()));
    assert_eq!(
        inline.files,
        vec![WasiFilesMount::Pattern("pattern/*".into())]
    );
    assert_eq!(http[2].id, "minimal-component-http-trigger");
    assert_eq!(http[2].http_route(), Some(HttpRouteSpec::Private));
    assert_eq!(http[3].id, "http-trigger2");
    assert_eq!(
        http[3].config["static_response"]["status_code"].as_integer(),
        Some(302)
    );
    // Second trigger for `api`: the natural id is taken by nobody (first one had an explicit id).
    assert_eq!(http[4].id, "api-http-trigger");
    let OneOrManyComponentSpecs::Many(extra) = http[4].components.get("extra").unwrap() else {
        panic!("expected a list");
    };
    assert_eq!(
        extra[0],
        ComponentSpec::Reference("minimal-component".into())
    );
    // Several specs in one trigger: counter-based id.
    assert_eq!(
        extra[1],
        ComponentSpec::Reference("inline-component1".into())
    );
    assert!(m.components.contains_key("inline-component1"));
    let mw = http[4].dependencies.get("middleware").unwrap();
    assert_eq!(mw[0].component.as_deref(), Some("minimal-component"));
    assert_eq!(
        mw[0].inherit_configuration,
        Some(InheritConfiguration::Some(vec![
            "allowed_outbound_hosts".into()
        ]))
    );
    assert_eq!(mw[1].path.as_deref(), Some("mw.wasm"));

    let redis = m.triggers.get("redis").unwrap();
    assert_eq!(redis[0].id, "maximal-component-redis-trigger");
    assert_eq!(redis[0].config["channel"].as_str(), Some("messages"));

    // Components keep manifest order, inline ones appended.
    let ids: Vec<&str> = m.components.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        vec![
            "minimal-component",
            "api",
            "maximal-component",
            "http-trigger1-component",
            "inline-component1"
        ]
    );

    let api = m.components.get("api").unwrap();
    assert_eq!(api.description, "My API");
    assert_eq!(
        api.environment.get("RUST_LOG").map(String::as_str),
        Some("info")
    );
    assert_eq!(
        api.variables.get("token").map(String::as_str),
        Some("{{ var_two }}")
    );
    assert_eq!(
        api.key_value_stores,
        vec!["default", "snake_case", "kebab-case"]
    );
    assert_eq!(api.sqlite_databases, vec!["default"]);
    assert_eq!(api.ai_models, vec!["llama2-chat"]);
    assert_eq!(api.allowed_http_hosts, vec!["example.com"]);
    assert_eq!(
        api.targets,
        Some(vec![TargetEnvironmentRef::DefaultRegistry(
            "spin-up:3.3".into()
        )])
    );
    assert_eq!(
        api.normalized_allowed_outbound_hosts(),
        vec![
            "https://{{ var_one }}",
            "http://pricing.spin.internal",
            "redis://cache:6379",
            "http://example.com",
            "https://example.com"
        ]
    );

    let max = m.components.get("maximal-component").unwrap();
    assert_eq!(
        max.source,
        ComponentSource::Remote {
            url: "http://example.test/max-b.wasm".into(),
            digest: "sha256:abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234"
                .into()
        }
    );
    assert_eq!(
        max.files,
        vec![
            WasiFilesMount::Pattern("pattern/*".into()),
            WasiFilesMount::Placement {
                source: "placement".into(),
                destination: "/".into()
            }
        ]
    );
    assert_eq!(max.exclude_files, vec!["**/secret"]);
    assert_eq!(max.dependencies_inherit_configuration, Some(true));
    let build = max.build.as_ref().unwrap();
    assert_eq!(
        build.command,
        Commands::Multiple(vec!["cargo build".into(), "wasm-opt x".into()])
    );
    assert_eq!(build.commands(), vec!["cargo build", "wasm-opt x"]);
    assert_eq!(build.workdir.as_deref(), Some("my-component"));
    assert_eq!(build.watch, vec!["src/**/*.rs"]);
    assert_eq!(
        max.tool.get("clean").unwrap()["command"].as_str(),
        Some("cargo clean")
    );
    assert_eq!(max.dependencies.len(), 7);
    assert_eq!(
        max.dependencies.get("fizz:buzz"),
        Some(&ComponentDependency::Version(">=0.1.0".into()))
    );
    let ComponentDependency::Table(abc) = max.dependencies.get("a:b/c").unwrap() else {
        panic!()
    };
    assert_eq!(abc.registry.as_deref(), Some("my-registry.com"));
    assert_eq!(abc.export.as_deref(), Some("foo"));
    assert_eq!(
        abc.inherit_configuration,
        Some(InheritConfiguration::All(true))
    );
    let profile = max.profile.get("debug").unwrap();
    assert_eq!(
        profile.source,
        Some(ComponentSource::Local("debug.wasm".into()))
    );
    assert_eq!(
        profile.environment.get("LOG").map(String::as_str),
        Some("debug")
    );
    assert_eq!(
        profile.build.as_ref().unwrap().command,
        Commands::Single("cargo build".into())
    );

    // Only the deprecation warning: every component is used.
    let msgs: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec!["`allowed_http_hosts` in [component.api] is deprecated"]
    );
    assert_eq!(
        warnings[0].hint.as_deref(),
        Some("replace it with `allowed_outbound_hosts = [\"http://example.com\", \"https://example.com\"]`")
    );
    assert_eq!(warnings[0].line, 57);
}

#[test]
fn registry_source_parses() {
    let (m, _) = parse_ok(&app(
        "[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = { registry = \"ttl.sh\", package = \"user:pkg\", version = \"1.0.0\" }\n",
    ));
    assert_eq!(
        m.components.get("c").unwrap().source,
        ComponentSource::Registry {
            registry: Some("ttl.sh".into()),
            package: "user:pkg".into(),
            version: "1.0.0".into()
        }
    );
}

#[test]
fn unknown_field_in_component() {
    let text = app(
        "[[trigger.http]]\nroute = \"/hello\"\ncomponent = \"hello\"\n\n[component.hello]\nsource = \"hello.wasm\"\nsorce = \"x\"\n",
    );
    let e = single_error(&text, "unknown field `sorce` in [component.hello]", 12, 1);
    let hint = e.hint.clone().unwrap();
    assert!(
        hint.starts_with("did you mean `source`? expected one of `source`, `description`, "),
        "{hint}"
    );
    assert_eq!(
        e.to_string().lines().take(2).collect::<Vec<_>>(),
        vec![
            "error: unknown field `sorce` in [component.hello]",
            "  --> app/spin.toml:12:1"
        ]
    );
}

#[test]
fn unknown_fields_everywhere_are_all_reported() {
    let text = "spin_manifest_version = 2\nbogus = 1\n\n[application]\nname = \"a\"\nauthor = [\"x\"]\n\n[variables]\nx = { default = \"1\", requird = true }\n\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\nrout = \"/x\"\nstatic_response = { status = 200 }\n\n[component.c]\nsource = \"c.wasm\"\n[component.c.build]\ncommand = \"make\"\nwatchh = []\n";
    let errs = parse_errors(text);
    let got: Vec<(String, usize)> = errs.iter().map(|e| (e.message.clone(), e.line)).collect();
    assert_eq!(
        got,
        vec![
            (
                "unknown field `bogus` in the top level of the manifest".to_string(),
                2
            ),
            ("unknown field `author` in [application]".to_string(), 6),
            ("unknown field `requird` in variable `x`".to_string(), 9),
            ("unknown field `rout` in [[trigger.http]]".to_string(), 14),
            (
                "[[trigger.http]] has both `component` and `static_response`".to_string(),
                15
            ),
            (
                "unknown field `status` in `static_response` in [[trigger.http]]".to_string(),
                15
            ),
            (
                "unknown field `watchh` in [component.c.build]".to_string(),
                21
            ),
        ]
    );
    assert_eq!(
        errs[1]
            .hint
            .as_deref()
            .map(|h| h.starts_with("did you mean `authors`?")),
        Some(true)
    );
    assert_eq!(
        errs[2]
            .hint
            .as_deref()
            .map(|h| h.starts_with("did you mean `required`?")),
        Some(true)
    );
    assert_eq!(
        errs[3]
            .hint
            .as_deref()
            .map(|h| h.starts_with("did you mean `route`?")),
        Some(true)
    );
    // The whole error renders every diagnostic.
    let all = ManifestError::Invalid(errs).to_string();
    assert!(all.contains("unknown field `bogus`") && all.contains("unknown field `watchh`"));
    assert!(all.ends_with("error: the manifest has 7 errors"), "{all}");
}

#[test]
fn toml_syntax_error_has_location() {
    let text = "spin_manifest_version = 2\n\n[application]\nname = \"x\n";
    let errs = parse_errors(text);
    assert!(!errs.is_empty());
    assert!(
        errs[0].message.starts_with("TOML syntax error: "),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].line, 4);
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let text = app("[component.a]\nsource = \"a.wasm\"\nsource = \"b.wasm\"\n");
    let errs = parse_errors(&text);
    assert!(errs[0].message.starts_with("TOML syntax error: "));
    assert_eq!(errs[0].line, 8);
}

#[test]
fn manifest_version_missing() {
    let e = single_error(
        "[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\nstatic_response = {}\n",
        "missing `spin_manifest_version`",
        1,
        1,
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("add `spin_manifest_version = 2` at the top of the file (manifest version 1 is not supported)")
    );
}

#[test]
fn manifest_version_wrong() {
    let text = "spin_manifest_version = 3\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/\"\nstatic_response = {}\n";
    let e = single_error(
        text,
        "unsupported `spin_manifest_version = 3`: only version 2 is supported",
        1,
        25,
    );
    assert!(e.hint.unwrap().contains("spin_manifest_version = 2"));

    // v1 manifests: one clear error instead of a flood of unknown fields.
    let v1 = "spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = \"http\" }\n[[component]]\nid = \"a\"\n";
    let e = single_error(
        v1,
        "unsupported `spin_manifest_version = \"1\"`: only version 2 is supported",
        1,
        25,
    );
    assert!(e
        .hint
        .unwrap()
        .contains("manifest version 1 is not supported"));
    let v1b = "spin_version = \"1\"\nname = \"x\"\n";
    let e = single_error(
        v1b,
        "Spin manifest version 1 (`spin_version = \"1\"`) is not supported",
        1,
        1,
    );
    assert!(e.hint.unwrap().contains("spin_manifest_version = 2"));
}

#[test]
fn application_name_missing() {
    let text = "spin_manifest_version = 2\n\n[application]\nversion = \"1\"\n\n[[trigger.http]]\nroute = \"/\"\nstatic_response = {}\n";
    let e = single_error(text, "missing field `name` in [application]", 3, 1);
    assert_eq!(
        e.hint.as_deref(),
        Some("add `name = \"my-app\"` to [application]")
    );
    let e = single_error(
        "spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/\"\nstatic_response = {}\n",
        "missing [application] table",
        1,
        1,
    );
    assert!(e.hint.unwrap().contains("name = \"my-app\""));
}

#[test]
fn no_triggers_is_an_error() {
    single_error(HEAD, "the manifest defines no triggers", 1, 1);
}

#[test]
fn single_bracket_trigger_table() {
    let e = single_error(
        &app("[trigger.http]\nroute = \"/\"\nstatic_response = {}\n"),
        "`trigger.http` must be an array of tables",
        6,
        1,
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("write `[[trigger.http]]` (double brackets) instead of `[trigger.http]`")
    );
}

#[test]
fn component_ids_must_be_kebab_case() {
    let text = app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"Hello_World\"\n\n[component.Hello_World]\nsource = \"a.wasm\"\n");
    let errs = parse_errors(&text);
    let got: Vec<(&str, usize, usize)> = errs
        .iter()
        .map(|e| (e.message.as_str(), e.line, e.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("invalid component id `Hello_World` in [[trigger.http]]: words must be separated with '-', not '_'", 8, 13),
            ("invalid component id `Hello_World`: words must be separated with '-', not '_'", 10, 12),
        ]
    );
    assert!(errs[1]
        .hint
        .as_deref()
        .unwrap()
        .ends_with("e.g. `hello-world`"));

    for (id, why) in [
        (
            "1-2-3",
            "'-'-separated words must start with an ASCII letter; got '1'",
        ),
        ("hello-", "'-'-separated words must not be empty"),
        ("a--b", "'-'-separated words must not be empty"),
        (
            "helloWorld",
            "'-'-separated words must be all lowercase or all UPPERCASE; got \"helloWorld\"",
        ),
    ] {
        let text = app(&format!(
            "[[trigger.http]]\nroute = \"/\"\nstatic_response = {{}}\n\n[component.\"{id}\"]\nsource = \"a.wasm\"\n"
        ));
        let errs = parse_errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0].message,
            format!("invalid component id `{id}`: {why}")
        );
        assert_eq!(errs[0].line, 10);
    }
}

#[test]
fn trigger_references_unknown_component() {
    let text = app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"helo\"\n\n[component.hello]\nsource = \"a.wasm\"\n\n[component.other]\nsource = \"b.wasm\"\n");
    let errs = parse_errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert_eq!(e.message, "unknown component `helo` in [[trigger.http]]");
    assert_eq!((e.line, e.column), (8, 13));
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `hello`? defined components: `hello`, `other`")
    );
}

#[test]
fn variable_rules() {
    let text = app("[variables]\napiToken = { default = \"x\" }\nboth = { required = true, default = \"d\" }\nneither = { secret = true }\n\n[[trigger.http]]\nroute = \"/\"\nstatic_response = {}\n");
    let errs = parse_errors(&text);
    let got: Vec<(&str, usize)> = errs.iter().map(|e| (e.message.as_str(), e.line)).collect();
    assert_eq!(
        got,
        vec![
            ("invalid variable name `apiToken`: '_'-separated words must be all lowercase or all UPPERCASE; got \"apiToken\"", 7),
            ("variable `both` has both `required = true` and a `default`", 8),
            ("variable `neither` must either be `required = true` or have a `default`", 9),
        ]
    );
    assert_eq!(
        errs[0].hint.as_deref(),
        Some("variable names are lower snake_case, e.g. `api_token`")
    );
    assert_eq!(errs[1].column, 27);
}

#[test]
fn component_variable_templates_must_reference_declared_variables() {
    let text = app("[variables]\napi_token = { required = true }\n\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"api\"\n\n[component.api]\nsource = \"api.wasm\"\nallowed_outbound_hosts = [\"https://{{ host }}\"]\n[component.api.variables]\ntoken = \"{{ api_tokn }}\"\nok = \"{{api_token}}-{{ api_token }}\"\nbroken = \"{{ api_token\"\n");
    let errs = parse_errors(&text);
    let got: Vec<(&str, usize, usize)> = errs
        .iter()
        .map(|e| (e.message.as_str(), e.line, e.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("undeclared application variable `host` used in `allowed_outbound_hosts` of [component.api]", 15, 27),
            ("undeclared application variable `api_tokn` used in variable `token` of [component.api]", 17, 9),
            ("invalid template in variable `broken` of [component.api]: unterminated `{{` (expected `}}`)", 19, 10),
        ]
    );
    assert_eq!(
        errs[1].hint.as_deref(),
        Some("did you mean `api_token`? or declare it in [variables], e.g. `api_tokn = { default = \"...\" }`")
    );
}

#[test]
fn http_trigger_component_xor_static_response() {
    let e = single_error(
        &app("[[trigger.http]]\nroute = \"/\"\n"),
        "[[trigger.http]] needs a `component` or a `static_response`",
        6,
        1,
    );
    assert!(e.hint.unwrap().contains("static_response"));
    single_error(
        &app("[[trigger.http]]\nroute = \"/\"\nstatic_response = { status_code = 404 }\ncomponent = \"c\"\n\n[component.c]\nsource = \"c.wasm\"\n"),
        "[[trigger.http]] has both `component` and `static_response`",
        9,
        1,
    );
    single_error(
        &app("[[trigger.http]]\nroute = \"/\"\nstatic_response = { status_code = 42 }\n"),
        "invalid `status_code` 42 in `static_response` in [[trigger.http]]: expected 100-999",
        8,
        35,
    );
}

#[test]
fn http_route_rules() {
    single_error(
        &app("[[trigger.http]]\nstatic_response = {}\n"),
        "missing field `route` in [[trigger.http]]",
        6,
        1,
    );
    let e = single_error(
        &app("[[trigger.http]]\nroute = { private = false }\nstatic_response = {}\n"),
        "`route = { private = false }` in [[trigger.http]] is not valid",
        7,
        21,
    );
    assert!(e.hint.unwrap().contains("{ private = true }"));
    single_error(
        &app("[[trigger.http]]\nroute = 42\nstatic_response = {}\n"),
        "invalid type for `route` in [[trigger.http]]: expected a string or `{ private = true }`, found an integer",
        7,
        9,
    );
}

#[test]
fn executor_rules() {
    let e = single_error(
        &app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\nexecutor = { type = \"wagy\" }\n\n[component.c]\nsource = \"c.wasm\"\n"),
        "unknown executor type `wagy` in [[trigger.http]]",
        9,
        21,
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `wagi`? expected `http`, `spin` or `wagi`")
    );
    single_error(
        &app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\nexecutor = { type = \"http\", argv = \"x\" }\n\n[component.c]\nsource = \"c.wasm\"\n"),
        "unknown field `argv` in `executor` in [[trigger.http]]",
        9,
        29,
    );
}

#[test]
fn wrong_types_are_reported() {
    let text = app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = 5\nenvironment = { A = 1 }\nfiles = [3]\nkey_value_stores = [\"b@d\"]\n");
    let errs = parse_errors(&text);
    let got: Vec<(&str, usize)> = errs.iter().map(|e| (e.message.as_str(), e.line)).collect();
    assert_eq!(
        got,
        vec![
            ("invalid type for `source` in [component.c]: expected a string or a table, found an integer", 11),
            ("invalid type for `A` in `environment` in [component.c]: expected a string, found an integer", 12),
            ("invalid type for an entry of `files` of [component.c]: expected a string or a `{ source, destination }` table, found an integer", 13),
            ("invalid label `b@d` in `key_value_stores` of [component.c]: expected kebab-case or snake_case", 14),
        ]
    );
}

#[test]
fn source_and_files_shapes() {
    let text = app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = { url = \"https://x\", digest = \"md5:1\" }\nfiles = [{ source = \"a\", destination = \"rel\" }, { source = \"b\" }, \"..\"]\n");
    let errs = parse_errors(&text);
    let got: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "invalid digest `md5:1` in `source` in [component.c]",
            "files destination `rel` in [component.c] must be an absolute path",
            "missing field `destination` in an entry of `files` of [component.c]",
            "file pattern `..` in `files` of [component.c] can't end in `.` or `..`",
        ]
    );
    assert!(errs.iter().all(|e| e.line == 11 || e.line == 12));
}

#[test]
fn outbound_hosts_need_a_scheme() {
    let e = single_error(
        &app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = \"c.wasm\"\nallowed_outbound_hosts = [\"example.com\"]\n"),
        "invalid `allowed_outbound_hosts` entry `example.com` in [component.c]: it does not contain a scheme (e.g. 'http://' or '*://')",
        12,
        27,
    );
    assert_eq!(
        e.hint.as_deref(),
        Some(
            "did you mean \"https://example.com\"? (or the scheme you need); learn more: \
             https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components"
        )
    );
}

/// Every entry the runtime would refuse is refused at the manifest stage, with its line and
/// the runtime parser's reason; CIDR ranges, templates and `*://` entries are accepted.
#[test]
fn outbound_hosts_are_checked_with_the_runtime_grammar() {
    let entries = [
        ("\"htps://x\"", Some("did you mean \"https://x\"?")),
        ("\"http://10.0.0.0/8\"", None),
        ("\"*://10.0.0.0/24:8080\"", None),
        ("\"*://127.0.0.1:5432\"", None),
        ("\"tcp://[fd00::]/8:*\"", None),
        ("\"http://{{ host }}:8080\"", None),
        ("\"http://10.0.0.0/33\"", Some("write a CIDR range")),
        (
            "\"https://example.com/api\"",
            Some("allow the host instead"),
        ),
        ("\"http://host:90..80\"", Some("start < end")),
        ("\"insecure:allow-all\"", Some("'*://*:*'")),
    ];
    for (entry, hint) in entries {
        let text = app(&format!("[variables]\nhost = {{ default = \"h\" }}\n\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = \"c.wasm\"\nallowed_outbound_hosts = [{entry}]\n"));
        let line = 1 + text
            .lines()
            .position(|l| l.starts_with("allowed_outbound_hosts"))
            .unwrap();
        let errs = match parse_str(&text, Path::new("app/spin.toml")) {
            Ok(_) => Vec::new(),
            Err(ManifestError::Invalid(d)) => d,
            Err(e) => panic!("{entry}: {e}"),
        };
        match hint {
            None => assert!(errs.is_empty(), "{entry}: {errs:?}"),
            Some(hint) => {
                assert_eq!(errs.len(), 1, "{entry}: {errs:?}");
                assert_eq!(errs[0].line, line, "{entry}");
                assert!(errs[0]
                    .message
                    .starts_with("invalid `allowed_outbound_hosts` entry"));
                let got = errs[0].hint.as_deref().unwrap_or("");
                assert!(got.contains(hint), "{entry}: {got}");
            }
        }
    }
}

#[test]
fn dependency_component_refs_are_checked() {
    let text = app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[component.c]\nsource = \"c.wasm\"\n[component.c.dependencies]\n\"a:b\" = { component = \"nope\" }\n\"x:y\" = { path = \"a.wasm\", url = \"https://u\" }\n");
    let errs = parse_errors(&text);
    let got: Vec<(&str, usize)> = errs.iter().map(|e| (e.message.as_str(), e.line)).collect();
    assert_eq!(
        got,
        vec![
            ("unknown component `nope` in dependency `a:b` of [component.c]", 13),
            ("dependency `x:y` of [component.c] must have exactly one of `version`, `path`, `url` or `component`", 14),
        ]
    );
}

#[test]
fn duplicate_trigger_ids() {
    let e = single_error(
        &app("[[trigger.http]]\nid = \"t\"\nroute = \"/a\"\nstatic_response = {}\n\n[[trigger.http]]\nid = \"t\"\nroute = \"/b\"\nstatic_response = {}\n"),
        "duplicate trigger id `t` (first used at line 7)",
        12,
        6,
    );
    assert!(e.hint.is_some());
}

#[test]
fn warnings_unused_component_duplicate_and_reserved_routes() {
    let text = app("[[trigger.http]]\nroute = \"/hello\"\ncomponent = \"a\"\n\n[[trigger.http]]\nroute = \"hello/\"\ncomponent = \"a\"\n\n[[trigger.http]]\nroute = \"/.well-known/spin/health\"\nstatic_response = {}\n\n[component.a]\nsource = \"a.wasm\"\n\n[component.unused]\nsource = \"u.wasm\"\n");
    let (m, warnings) = parse_ok(&text);
    let got: Vec<(&str, usize)> = warnings
        .iter()
        .map(|w| (w.message.as_str(), w.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("duplicate route `/hello` (lines 7 and 11): the trigger at line 11 wins", 11),
            ("route `/.well-known/spin/health` is under the reserved prefix `/.well-known/spin/`", 15),
            ("component `unused` is not used by any trigger", 21),
        ]
    );
    assert!(warnings.iter().all(|w| w.severity == Severity::Warning));
    assert_eq!(
        warnings[0].hint.as_deref(),
        Some(
            "the trigger at line 7 will never receive requests; give one of them a different route"
        )
    );
    assert_eq!(
        warnings[2].hint.as_deref(),
        Some("reference it from a trigger (`component = \"unused\"`) or remove [component.unused]")
    );
    // Both triggers for `a`: natural id then counter id.
    let http = m.triggers.get("http").unwrap();
    assert_eq!(http[0].id, "a-http-trigger");
    assert_eq!(http[1].id, "http-trigger1");
    // The route keeps its spelling (Spin normalizes it only for routing).
    assert_eq!(http[1].config["route"].as_str(), Some("hello/"));
    assert_eq!(
        http[1].http_route(),
        Some(spindle_manifest::schema::HttpRouteSpec::Path(
            "/hello".into()
        ))
    );
    assert_eq!(
        warnings[1].to_string(),
        "warning: route `/.well-known/spin/health` is under the reserved prefix `/.well-known/spin/`\n  --> app/spin.toml:15:9\n  = help: the runtime answers `/.well-known/spin/health` and `/.well-known/spin/info` itself; this component may never see these requests"
    );
}

#[test]
fn generic_triggers_accept_any_keys() {
    let (m, w) = parse_ok(&app("[[trigger.cron]]\ncron_expression = \"1/2 * * * * *\"\ncomponent = \"c\"\nnested = { a = [1, 2] }\n\n[component.c]\nsource = \"c.wasm\"\n"));
    assert!(w.is_empty());
    let t = &m.triggers.get("cron").unwrap()[0];
    assert_eq!(t.id, "c-cron-trigger");
    assert_eq!(t.config["nested"]["a"][1].as_integer(), Some(2));
}

#[test]
fn many_errors_in_one_pass() {
    let text = "spin_manifest_version = 2\n[application]\nnme = \"x\"\n[variables]\nBad = { default = \"1\" }\n[[trigger.http]]\nroute = { private = false }\ncomponent = \"missing\"\n[component.c_1]\nsorce = \"x\"\n";
    let errs = parse_errors(text);
    let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
    // nme (3), missing name (2), Bad (5), c_1 id (9), sorce (10), missing source (9),
    // private=false (7), unknown component (8)
    assert_eq!(errs.len(), 8, "{errs:#?}");
    for l in [2, 3, 5, 7, 8, 9, 10] {
        assert!(lines.contains(&l), "no error on line {l}: {errs:#?}");
    }
}

#[test]
fn build_profiles_override_source_build_environment_and_dependencies() {
    let (mut m, _) = parse_ok(&app("[[trigger.http]]\nroute = \"/\"\ncomponent = \"c\"\n\n[[trigger.http]]\nroute = \"/d\"\ncomponent = \"d\"\n\n[component.c]\nsource = \"rel.wasm\"\nenvironment = { A = \"1\", B = \"2\" }\n[component.c.build]\ncommand = \"make\"\nworkdir = \"w\"\nwatch = [\"src/**\"]\n[component.c.dependencies]\n\"a:b/c\" = \"1.0\"\n[component.c.profile.debug]\nsource = \"dbg.wasm\"\nenvironment = { B = \"dbg\" }\n[component.c.profile.debug.dependencies]\n\"x:y/z\" = \"2.0\"\n[component.c.profile.debug.build]\ncommand = [\"make debug\"]\n\n[component.d]\nsource = \"d.wasm\"\n[component.d.profile.other]\nsource = \"o.wasm\"\n[component.d.profile.debug.build]\ncommand = \"cc\"\n"));
    let applied = m.apply_profile("debug");
    assert_eq!(applied, vec!["c".to_string(), "d".to_string()]);
    let c = &m.components.get("c").unwrap();
    assert_eq!(
        c.source,
        spindle_manifest::schema::ComponentSource::Local("dbg.wasm".into())
    );
    let env: Vec<(&str, &str)> = c
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, vec![("A", "1"), ("B", "dbg")]);
    let build = c.build.as_ref().unwrap();
    assert_eq!(build.commands(), vec!["make debug"]);
    assert_eq!(build.workdir.as_deref(), Some("w"));
    assert_eq!(build.watch, vec!["src/**".to_string()]);
    assert!(c.dependencies.contains_key("a:b/c") && c.dependencies.contains_key("x:y/z"));
    // `d` has no build section of its own: the profile's command creates one; its source stays.
    let d = &m.components.get("d").unwrap();
    assert_eq!(d.build.as_ref().unwrap().commands(), vec!["cc"]);
    assert_eq!(
        d.source,
        spindle_manifest::schema::ComponentSource::Local("d.wasm".into())
    );
    assert!(m.apply_profile("nope").is_empty());
}
