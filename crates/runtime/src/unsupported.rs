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

/// WASI packages the host links (any 0.2.x patch, and 0.3.0 for WASIp3).
const PROVIDED_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Whether `import` (e.g. `wasi:http/types@0.2.6`) is one the host links itself (WASI, wasi:http,
/// or one of the Spin interfaces in [`crate::capabilities`]).
pub fn is_provided(import: &str) -> bool {
    if crate::capabilities::LINKED_INTERFACES.contains(&import) {
        return true;
    }
    let Some((path, version)) = import.split_once('@') else {
        return false;
    };
    // `0.3.0+rc-2026-03-15`: a WASIp3 release candidate renamed to run as 0.3.0
    // (`crate::wasip3_rc`); build metadata does not change what is linked.
    let version = version.split_once('+').map_or(version, |(v, _)| v);
    // The rc-2023-11-10 snapshot is linked for components exporting its HTTP handler
    // (`crate::wasi_rc_2023_11_10`); anywhere else its imports fail to link by name.
    PROVIDED_PACKAGES.iter().any(|p| path.starts_with(p))
        && ((version.starts_with("0.2.") && !version.contains('-'))
            || (version.starts_with("0.3.") && !version.contains('-'))
            || version == crate::wasi_rc_2023_11_10::VERSION)
}

/// Links every import of `component` that the host does not provide to failing stubs and
/// returns their names.
pub fn link_unsupported<T: Send + 'static>(
    linker: &mut Linker<T>,
    engine: &Engine,
    component: &Component,
) -> anyhow::Result<Vec<String>> {
    let mut stubbed = Vec::new();
    // Interfaces share resources through `use` (wasi:keyvalue/atomics uses store's `bucket`),
    // so one component-side resource must map to one host resource type everywhere.
    let mut resources: Vec<(ResourceType, ResourceType)> = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        if is_provided(name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
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
        stubbed.push(name.to_string());
    }
    Ok(stubbed)
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
    use super::is_provided;

    #[test]
    fn provided_versions() {
        assert!(is_provided("wasi:http/types@0.2.0"));
        assert!(is_provided("wasi:cli/environment@0.2.12"));
        assert!(is_provided("wasi:http/handler@0.3.0"));
        assert!(!is_provided("wasi:http/types@0.3.0-rc-2026-03-15"));
        assert!(is_provided("wasi:http/types@0.3.0+rc-2026-03-15"));
        // Linked for components exporting the rc handler (wasi_rc_2023_11_10).
        assert!(is_provided("wasi:http/types@0.2.0-rc-2023-11-10"));
        assert!(!is_provided("wasi:http/types@0.2.0-rc-2023-12-05"));
        // Spin interfaces backed by crate::capabilities.
        assert!(is_provided("wasi:config/store@0.2.0-draft-2024-09-27"));
        assert!(is_provided("wasi:keyvalue/store@0.2.0-draft2"));
        assert!(is_provided("fermyon:spin/key-value@2.0.0"));
        assert!(is_provided("spin:sqlite/sqlite@3.0.0"));
        // Not backed yet: stubbed.
        assert!(is_provided("spin:key-value/key-value@3.0.0"));
        assert!(!is_provided("spin:mqtt/mqtt@3.0.0"));
        assert!(!is_provided("spin:postgres/postgres@4.0.0"));
        assert!(!is_provided("wasi:keyvalue/store@0.2.0-draft"));
    }
}
