//! Imports the host does not implement.
//!
//! Spin SDK apps import the whole Spin platform whether or not they use it (the Python SDK
//! imports every `fermyon:spin/*` and `spin:*` interface). So that such apps load, every import
//! outside the WASI and wasi:http versions Spindle provides is linked to functions that fail the
//! call with an error naming the interface; the request then gets a 500.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};
use wasmtime::Engine;

use crate::sandbox::InstanceState;

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
    PROVIDED_PACKAGES.iter().any(|p| path.starts_with(p))
        && ((version.starts_with("0.2.") && !version.contains('-'))
            || (version.starts_with("0.3.") && !version.contains('-')))
}

/// Links every import of `component` that the host does not provide to failing stubs and
/// returns their names.
pub fn link_unsupported(
    linker: &mut Linker<InstanceState>,
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
                    linker_instance.func_new_concurrent(export, move |_, _, _, _| {
                        let message = unsupported_message(&qualified);
                        Box::pin(async move { Err(wasmtime::format_err!("{message}")) })
                    })?;
                }
                ComponentItem::ComponentFunc(_) => {
                    linker_instance.func_new(export, move |_, _, _, _| {
                        Err(wasmtime::format_err!("{}", unsupported_message(&qualified)))
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
    format!("the guest called {function}, which this version of Spindle does not support")
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
        assert!(!is_provided("wasi:http/types@0.2.0-rc-2023-11-10"));
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
