//! Imports the host does not implement.
//!
//! Spin SDK apps import the whole Spin platform whether or not they use it (the Python SDK
//! imports every `fermyon:spin/*` and `spin:*` interface). So that such apps load, every import
//! outside the interfaces Spindle provides is linked to functions built from the import's own
//! type: a function that returns `result<_, E>` returns `E`'s "other"-like case (or a string
//! case) with a message saying the host does not support it, so the guest gets an error value it
//! can handle. Only functions with no error channel (resource constructors, plain getters on
//! resources that can never be created) fail the call, and the request gets a 500.

use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, Linker, ResourceType, Val};
use wasmtime::Engine;

/// WASI packages: the host links them itself, so an import of theirs that the linker cannot
/// satisfy is a version the host does not run, and fails to link with the linker's own error
/// rather than being stubbed.
const WASI_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Links every import of `component` that `linker` cannot satisfy to failing stubs and returns
/// their names.
///
/// What the host provides is whatever the linker holds: each round type-checks the component
/// against the linker (as instantiation will) and stubs the first import it finds
/// unsatisfied. An interface the linker holds in part (a function or a version the host lacks)
/// is not stubbed: instantiation then reports exactly what is missing.
pub fn link_unsupported<T: Send + 'static>(
    linker: &mut Linker<T>,
    engine: &Engine,
    component: &Component,
) -> anyhow::Result<Vec<String>> {
    let mut stubbed = Vec::new();
    // Interfaces share resources through `use` (wasi:keyvalue/atomics uses store's `bucket`),
    // so one component-side resource must map to one host resource type everywhere.
    let mut resources: Vec<(ResourceType, ResourceType)> = Vec::new();
    let ty = component.component_type();
    let imports: Vec<_> = ty.imports(engine).collect();
    for _ in 0..=imports.len() {
        let Err(error) = linker.substituted_component_type(component) else {
            break;
        };
        let Some(name) = unsatisfied_import(&error) else {
            break;
        };
        let Some(&(name, ref item)) = imports.iter().find(|(n, _)| *n == name) else {
            break;
        };
        let ComponentItem::ComponentInstance(instance) = &item.ty else {
            break;
        };
        if WASI_PACKAGES.iter().any(|p| name.starts_with(p)) || stubbed.iter().any(|s| s == name) {
            break;
        }
        // Held by the linker under this very name, but not in the shape imported: leave the
        // error to instantiation.
        if linker
            .clone()
            .root()
            .func_new(name, |_, _, _, _| Ok(()))
            .is_err()
        {
            break;
        }
        let mut scratch = linker.clone();
        if stub_instance(&mut scratch, engine, name, instance, &mut resources).is_err() {
            break;
        }
        *linker = scratch;
        stubbed.push(name.to_string());
    }
    Ok(stubbed)
}

/// The import named by the linker's type-check error: "component imports instance `NAME`, but
/// a matching implementation was not found in the linker".
fn unsatisfied_import(error: &wasmtime::Error) -> Option<String> {
    let message = error.to_string();
    let rest = &message[message.find("component imports ")?..];
    let open = rest.find('`')? + 1;
    let close = rest[open..].find('`')? + open;
    Some(rest[open..close].to_string())
}

/// Defines every export of the import `name` (of type `instance`) as a failing stub.
fn stub_instance<T: Send + 'static>(
    linker: &mut Linker<T>,
    engine: &Engine,
    name: &str,
    instance: &wasmtime::component::types::ComponentInstance,
    resources: &mut Vec<(ResourceType, ResourceType)>,
) -> anyhow::Result<()> {
    let mut linker_instance = linker.instance(name)?;
    for (export, item) in instance.exports(engine) {
        let qualified = format!("{name}#{export}");
        match item.ty {
            ComponentItem::ComponentFunc(func) if func.async_() => {
                linker_instance.func_new_concurrent(export, move |_, ty, _, results| {
                    let outcome = unsupported_result(&qualified, &ty, results);
                    Box::pin(async move { outcome })
                })?;
            }
            ComponentItem::ComponentFunc(_) => {
                linker_instance.func_new(export, move |_, ty, _, results| {
                    unsupported_result(&qualified, &ty, results)
                })?;
            }
            ComponentItem::Resource(guest) => {
                let host = match resources.iter().find(|(g, _)| *g == guest) {
                    Some((_, host)) => *host,
                    None => {
                        let host = ResourceType::host_dynamic(resources.len() as u32 + 1);
                        resources.push((guest, host));
                        host
                    }
                };
                linker_instance.resource(export, host, |_, _| Ok(()))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn unsupported_message(function: &str) -> String {
    match function.strip_prefix(crate::compose::DENIED_PREFIX) {
        Some(denied) => format!(
            "{denied} is denied to this component dependency: it does not inherit the \
             component's configuration (help: set `inherit_configuration` on the dependency in \
             spin.toml)"
        ),
        None => format!("{function} is not supported by this host (Spindle)"),
    }
}

/// Fills `results` with the function's own error value, or fails the call when its type has no
/// way to express an error.
fn unsupported_result(
    function: &str,
    ty: &ComponentFunc,
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let message = unsupported_message(function);
    let mut types = ty.results();
    if let (Some(Type::Result(result)), None, [slot]) = (types.next(), types.next(), results) {
        let err = match result.err() {
            None => None,
            Some(err) => match error_payload(&err, &message) {
                Some(v) => Some(Box::new(v)),
                None => return Err(wasmtime::format_err!("{message}")),
            },
        };
        *slot = Val::Result(Err(err));
        return Ok(());
    }
    Err(wasmtime::format_err!("{message}"))
}

/// An error value of type `ty` carrying `message` where the type allows.
fn error_payload(ty: &Type, message: &str) -> Option<Val> {
    const PREFERRED: &[&str] = &[
        "other",
        "unsupported",
        "connection-failed",
        "runtime-error",
        "io",
        "provider",
        "unexpected",
    ];
    match ty {
        Type::String => Some(Val::String(message.to_string())),
        Type::Variant(variant) => {
            let cases: Vec<_> = variant.cases().collect();
            let with_text = |name: &str| {
                cases
                    .iter()
                    .find(|c| c.name == name && matches!(c.ty, Some(Type::String)))
            };
            let case = PREFERRED
                .iter()
                .find_map(|n| with_text(n))
                .or_else(|| cases.iter().find(|c| matches!(c.ty, Some(Type::String))));
            if let Some(case) = case {
                return Some(Val::Variant(
                    case.name.to_string(),
                    Some(Box::new(Val::String(message.to_string()))),
                ));
            }
            let unit = PREFERRED
                .iter()
                .find_map(|n| cases.iter().find(|c| c.name == *n && c.ty.is_none()))
                .or_else(|| cases.iter().find(|c| c.ty.is_none()))?;
            Some(Val::Variant(unit.name.to_string(), None))
        }
        Type::Enum(e) => {
            let names: Vec<&str> = e.names().collect();
            let name = PREFERRED
                .iter()
                .find(|n| names.contains(n))
                .copied()
                .or_else(|| names.first().copied())?;
            Some(Val::Enum(name.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component importing `imports` (each an instance with one function `f: func() ->
    /// result<_, string>`, or WASI's real `wasi:clocks/monotonic-clock@0.2.0` `now`).
    fn component(engine: &Engine, imports: &[&str]) -> Component {
        let mut wat = String::from("(component\n");
        for name in imports {
            if name.starts_with("wasi:clocks/monotonic-clock") {
                wat.push_str(&format!(
                    "(import \"{name}\" (instance (export \"now\" (func (result u64)))))\n"
                ));
            } else {
                wat.push_str(&format!(
                    "(import \"{name}\" (instance (export \"f\" (func (result (result (error string)))))))\n"
                ));
            }
        }
        wat.push(')');
        Component::new(engine, wat::parse_str(&wat).unwrap()).unwrap()
    }

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model_async(true);
        Engine::new(&config).unwrap()
    }

    #[test]
    fn what_the_linker_lacks_is_stubbed_and_nothing_else() {
        let engine = engine();
        let mut linker = Linker::<()>::new(&engine);
        linker
            .instance("my:pkg/there@1.0.0")
            .unwrap()
            .func_wrap("f", |_, ()| Ok((Ok::<(), String>(()),)))
            .unwrap();
        let c = component(
            &engine,
            &["my:pkg/there@1.0.0", "my:pkg/absent@1.0.0", "x:y/z"],
        );
        let stubbed = link_unsupported(&mut linker, &engine, &c).unwrap();
        assert_eq!(stubbed, vec!["my:pkg/absent@1.0.0", "x:y/z"]);
        linker.instantiate_pre(&c).unwrap();
    }

    #[test]
    fn semver_compatible_versions_are_provided_not_stubbed() {
        let engine = engine();
        let mut linker = Linker::<()>::new(&engine);
        linker
            .instance("my:pkg/there@1.2.0")
            .unwrap()
            .func_wrap("f", |_, ()| Ok((Ok::<(), String>(()),)))
            .unwrap();
        let c = component(&engine, &["my:pkg/there@1.0.3"]);
        assert!(link_unsupported(&mut linker, &engine, &c)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wasi_and_partly_provided_interfaces_are_left_to_fail_linking() {
        let engine = engine();
        let mut linker = Linker::<()>::new(&engine);
        // Held, but with another function than the component imports.
        linker
            .instance("my:pkg/partly@1.0.0")
            .unwrap()
            .func_wrap("g", |_, ()| Ok(()))
            .unwrap();
        let c = component(&engine, &["my:pkg/partly@1.0.0"]);
        assert!(link_unsupported(&mut linker, &engine, &c)
            .unwrap()
            .is_empty());
        assert!(linker.instantiate_pre(&c).is_err());

        let c = component(&engine, &["wasi:clocks/monotonic-clock@0.2.0"]);
        assert!(link_unsupported(&mut linker, &engine, &c)
            .unwrap()
            .is_empty());
        let error = format!("{:#}", linker.instantiate_pre(&c).err().unwrap());
        assert!(
            error.contains("wasi:clocks/monotonic-clock@0.2.0"),
            "{error}"
        );
    }

    #[test]
    fn the_host_linker_holds_the_spin_interfaces_it_backs() {
        let engine = crate::engine::SpindleEngine::new(Default::default()).unwrap();
        let engine = &engine.engine;
        let mut linker = crate::sandbox::host_linker(engine).unwrap();
        // Not linked by the host: stubbed.
        let c = component(engine, &["spin:mqtt/mqtt@3.0.0"]);
        let stubbed = link_unsupported(&mut linker, engine, &c).unwrap();
        assert_eq!(stubbed, vec!["spin:mqtt/mqtt@3.0.0"]);
        // Linked by the host under these names: these imports have the wrong shape, so they are
        // left to fail linking instead of being stubbed. (A right-shaped import of a
        // semver-compatible version, e.g. spin:sqlite@3.0.0 against the host's 3.1.0, links:
        // `semver_compatible_versions_are_provided_not_stubbed`.)
        for name in [
            "fermyon:spin/key-value@2.0.0",
            "wasi:keyvalue/store@0.2.0-draft2",
            "wasi:config/store@0.2.0-draft-2024-09-27",
            "spin:sqlite/sqlite@3.1.0",
            "spin:key-value/key-value@3.0.0",
            "fermyon:spin/mqtt@2.0.0",
        ] {
            let c = component(engine, &[name]);
            let stubbed = link_unsupported(&mut linker.clone(), engine, &c).unwrap();
            assert!(stubbed.is_empty(), "{name} was stubbed");
        }
    }
}
