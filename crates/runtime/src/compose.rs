//! Component dependencies (`[component.<id>.dependencies]`, Spin 3+): the imports they name are
//! satisfied by instantiating the dependency components inside one composed component, with
//! wac-graph (as Spin does), before the app's component is compiled.
//!
//! A dependency's name says which imports it satisfies, as in Spin:
//!
//! * an interface, `"a:b/c@1.0.0"`: that import, from the dependency's export of the same
//!   name (or of `export = "..."`);
//! * a package, `"a:b@1.0.0"`: every import of an interface of that package, each from the
//!   dependency's export of the same name;
//! * a plain name, `"greeter"`: the import of that name.
//!
//! Sources: a local path, a `{ url, digest }` download or another component of the app
//! (the locked app has already turned each into a local file). Registry packages are refused
//! when the manifest is locked.
//!
//! Configuration, as Spin's `inherit_configuration`: a dependency that does not inherit it gets
//! none of the component's host capabilities. Its imports of those interfaces (outbound HTTP
//! and networking, key-value, SQLite, variables, LLM, Redis, PostgreSQL, MySQL, MQTT) are
//! renamed into a `denied-...` namespace before composing, so the host links them to failing
//! stubs: a call gets the interface's error value (or fails the request). `inherit_configuration
//! = true` keeps them; a list keeps the interfaces of the keys it names. WASI's environment,
//! files, clocks and random are shared with the component in every case.

use anyhow::{bail, Context as _};
use serde_json::Value;
use spindle_manifest::locked::LockedComponent;

/// The namespace prefix of the imports a dependency is denied (`denied-fermyon:spin/...`).
pub(crate) const DENIED_PREFIX: &str = "denied-";

/// Each `inherit_configuration` key, and the interface prefixes it grants.
const CONFIGURATION: &[(&str, &[&str])] = &[
    (
        "allowed_outbound_hosts",
        &[
            "wasi:http/outgoing-handler",
            "wasi:http/client",
            "wasi:sockets/tcp",
            "wasi:sockets/udp",
            "wasi:sockets/ip-name-lookup",
            "wasi:sockets/types",
            "fermyon:spin/http",
            "fermyon:spin/redis",
            "fermyon:spin/postgres",
            "fermyon:spin/mysql",
            "fermyon:spin/mqtt",
            "spin:redis/",
            "spin:postgres/",
            "spin:mysql/",
            "spin:mqtt/",
        ],
    ),
    (
        "key_value_stores",
        &[
            "fermyon:spin/key-value",
            "spin:key-value/",
            "wasi:keyvalue/",
        ],
    ),
    ("sqlite_databases", &["fermyon:spin/sqlite", "spin:sqlite/"]),
    (
        "variables",
        &["fermyon:spin/variables", "spin:variables/", "wasi:config/"],
    ),
    ("ai_models", &["fermyon:spin/llm", "spin:llm/"]),
];

/// The component's Wasm with its dependencies composed in, or `main` when it has none.
pub(crate) fn compose_dependencies(
    component: &LockedComponent,
    main: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    if component.dependencies.is_empty() {
        return Ok(main);
    }
    let mut deps = Vec::new();
    for (name, dep) in &component.dependencies {
        let what = format!("dependency `{name}` of component `{}`", component.id);
        let source: spindle_manifest::locked::LockedComponentSource =
            serde_json::from_value(dep.get("source").cloned().unwrap_or(Value::Null))
                .with_context(|| format!("{what}: the locked app has no valid `source`"))?;
        let bytes = crate::content::read_content(&source.content, &what)?;
        let export = dep
            .get("export")
            .and_then(Value::as_str)
            .map(str::to_string);
        let inherited = inherited_prefixes(dep.get("inherit"));
        let bytes = deny_configuration(&bytes, &inherited)
            .with_context(|| format!("{what} is not a valid WebAssembly component"))?;
        deps.push(Dep {
            name: name.clone(),
            bytes,
            export,
        });
    }
    compose(&main, &deps).with_context(|| {
        format!(
            "composing component `{}` with its dependencies ({})",
            component.id,
            component
                .dependencies
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

struct Dep {
    name: String,
    bytes: Vec<u8>,
    export: Option<String>,
}

/// The interface prefixes a dependency keeps, from its locked `inherit`: `"All"`,
/// `{"Some": [keys]}` or nothing.
fn inherited_prefixes(inherit: Option<&Value>) -> Vec<&'static str> {
    let keys: Vec<&str> = match inherit {
        Some(Value::String(s)) if s == "All" => CONFIGURATION.iter().map(|(k, _)| *k).collect(),
        Some(Value::Object(o)) => o
            .get("Some")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    CONFIGURATION
        .iter()
        .filter(|(k, _)| keys.contains(k))
        .flat_map(|(_, prefixes)| prefixes.iter().copied())
        .collect()
}

/// Renames the dependency's imports of configuration interfaces it does not inherit into the
/// `denied-<namespace>` namespace (outer import names only).
fn deny_configuration(wasm: &[u8], inherited: &[&str]) -> anyhow::Result<Vec<u8>> {
    let deny = |name: &str| -> Option<String> {
        let configured = CONFIGURATION
            .iter()
            .flat_map(|(_, p)| p.iter())
            .any(|p| name.starts_with(p));
        if !configured || inherited.iter().any(|p| name.starts_with(p)) {
            return None;
        }
        Some(format!("{DENIED_PREFIX}{name}"))
    };
    Ok(crate::component_names::rename_outer(wasm, &deny, &|_| None)?.into_owned())
}

/// Which of `main`'s imports the dependency `name` satisfies, each with the export of the
/// dependency that satisfies it.
fn satisfied_imports<'a>(
    name: &str,
    export: Option<&str>,
    main_imports: impl Iterator<Item = &'a str>,
) -> Vec<(String, String)> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    main_imports
        .filter(|import| {
            if import == &name {
                return true;
            }
            // A package name (`a:b@1.0.0`): its interfaces (`a:b/x@1.0.0`).
            if path.contains(':') && !path.contains('/') {
                let (ipath, iversion) = match import.split_once('@') {
                    Some((p, v)) => (p, Some(v)),
                    None => (*import, None),
                };
                return ipath.split_once('/').is_some_and(|(pkg, _)| pkg == path)
                    && iversion == version;
            }
            false
        })
        .map(|import| {
            let from = match export {
                Some(e) if import == name => e.to_string(),
                _ => import.to_string(),
            };
            (import.to_string(), from)
        })
        .collect()
}

fn compose(main: &[u8], deps: &[Dep]) -> anyhow::Result<Vec<u8>> {
    use wac_graph::{types::Package, CompositionGraph, EncodeOptions};
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes("root:component", None, main.to_vec(), graph.types_mut())
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let world = package.ty();
    let main_id = graph
        .register_package(package)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let main_instance = graph.instantiate(main_id);
    let (imports, exports): (Vec<String>, Vec<String>) = {
        let w = &graph.types()[world];
        (
            w.imports.keys().cloned().collect(),
            w.exports.keys().cloned().collect(),
        )
    };
    for (i, dep) in deps.iter().enumerate() {
        let wanted = satisfied_imports(
            &dep.name,
            dep.export.as_deref(),
            imports.iter().map(String::as_str),
        );
        if wanted.is_empty() {
            bail!(
                "the component imports nothing that dependency `{}` names (help: the dependency \
                 key must be one of its imports: {})",
                dep.name,
                imports.join(", ")
            );
        }
        let package = Package::from_bytes(
            &format!("spindle:dependency{i}"),
            None,
            dep.bytes.clone(),
            graph.types_mut(),
        )
        .map_err(|e| anyhow::anyhow!("dependency `{}`: {e:#}", dep.name))?;
        let dep_id = graph
            .register_package(package)
            .map_err(|e| anyhow::anyhow!("dependency `{}`: {e}", dep.name))?;
        let instance = graph.instantiate(dep_id);
        for (import, from) in wanted {
            let alias = graph.alias_instance_export(instance, &from).map_err(|e| {
                anyhow::anyhow!(
                    "dependency `{}` does not export `{from}`, which the component imports ({e})",
                    dep.name
                )
            })?;
            graph
                .set_instantiation_argument(main_instance, &import, alias)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "dependency `{}`'s `{from}` does not fit the component's import \
                         `{import}`: {e}",
                        dep.name
                    )
                })?;
        }
    }
    for name in exports {
        let alias = graph
            .alias_instance_export(main_instance, &name)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        graph
            .export(alias, &name)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| anyhow::anyhow!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names_select_imports() {
        let imports = [
            "a:b/c@1.0.0",
            "a:b/d@1.0.0",
            "a:b/e@2.0.0",
            "wasi:http/types@0.2.6",
            "greeter",
        ];
        let got = |name, export| {
            satisfied_imports(name, export, imports.iter().copied())
                .into_iter()
                .map(|(i, f)| format!("{i}<-{f}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(got("a:b/c@1.0.0", None), vec!["a:b/c@1.0.0<-a:b/c@1.0.0"]);
        assert_eq!(
            got("a:b/c@1.0.0", Some("x:y/z")),
            vec!["a:b/c@1.0.0<-x:y/z"]
        );
        assert_eq!(
            got("a:b@1.0.0", None),
            vec!["a:b/c@1.0.0<-a:b/c@1.0.0", "a:b/d@1.0.0<-a:b/d@1.0.0"]
        );
        assert_eq!(got("greeter", None), vec!["greeter<-greeter"]);
        assert!(got("x:y/z@1.0.0", None).is_empty());
    }

    #[test]
    fn inherit_configuration_keeps_the_named_keys_only() {
        assert!(inherited_prefixes(None).is_empty());
        assert!(inherited_prefixes(Some(&serde_json::json!("All"))).contains(&"wasi:keyvalue/"));
        let some = inherited_prefixes(Some(&serde_json::json!({"Some": ["key_value_stores"]})));
        assert!(some.contains(&"spin:key-value/") && !some.contains(&"wasi:http/outgoing-handler"));
    }
}
