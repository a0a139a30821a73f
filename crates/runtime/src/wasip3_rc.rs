//! WASIp3 release candidates, run on the host's `0.3.0` implementation.
//!
//! Spin 4.0.x apps built with the Rust spin-sdk 6 (`#[http_service]`) or the Python spin-sdk 4
//! export `wasi:http/handler@0.3.0-rc-2026-03-15` and import the matching `@0.3.0-rc-2026-03-15`
//! interfaces of `wasi:http`, `wasi:cli`, `wasi:clocks`, `wasi:filesystem`, `wasi:random` and
//! `wasi:sockets`. That snapshot's WIT is the one WASI 0.3.0 was released with, so one
//! implementation (wasmtime-wasi's p3) serves both: before compiling, the outer component's
//! own import and export names are renamed, and nothing else in the binary changes.
//!
//! * the handler export `wasi:http/handler@0.3.0-rc-2026-03-15` becomes `...@0.3.0`, which is
//!   what the HTTP trigger looks for;
//! * each import `...@0.3.0-rc-2026-03-15` becomes `...@0.3.0+rc-2026-03-15`: build metadata
//!   keeps the name unique (a component may import the final and the rc version side by side)
//!   while wasmtime's semver matching links it to the host's `0.3.0` interface.
//!
//! wasmtime type-checks every import against the host's definition when the component is
//! linked, so a snapshot that differed would fail to load with a type error, never misbehave.
//! Older snapshots (`rc-2026-01-06`, `rc-2025-09-16`, spin-sdk 5's `wasip3-unstable`) differ
//! from 0.3.0 and are refused by [`unsupported_rc`].

use std::borrow::Cow;

/// The release candidates run as `0.3.0`.
pub(crate) const SUPPORTED: &[&str] = &["0.3.0-rc-2026-03-15"];

/// The component binary with the names of its WASIp3 release-candidate imports and exports
/// renamed (see the module docs), or `wasm` itself when it has none (or is not a component).
pub(crate) fn rename(wasm: &[u8]) -> anyhow::Result<Cow<'_, [u8]>> {
    if !wasmparser::Parser::is_component(wasm) || !SUPPORTED.iter().any(|rc| contains(wasm, rc)) {
        return Ok(Cow::Borrowed(wasm));
    }
    crate::component_names::rename_outer(wasm, &|name| renamed(name, Item::Import), &|name| {
        renamed(name, Item::Export)
    })
}

/// The WASIp3 release candidate `name` (an import or export) uses, when it is one Spindle
/// cannot run, with what to do about it.
pub(crate) fn unsupported_rc(name: &str) -> Option<String> {
    let (path, version) = name.split_once('@')?;
    let version = version.split('+').next()?;
    if !path.starts_with("wasi:") || !version.starts_with("0.3.0-") || SUPPORTED.contains(&version)
    {
        return None;
    }
    Some(format!(
        "the component uses {name}, a WASIp3 release candidate that Spindle does not run (it \
         runs wasi:http 0.3.0 and the release candidate {}; help: rebuild the component with \
         the Rust spin-sdk 6 or 7, or the Python spin-sdk 4 or later)",
        SUPPORTED.join(", ")
    ))
}

#[derive(Clone, Copy)]
enum Item {
    Import,
    Export,
}

fn renamed(name: &str, item: Item) -> Option<String> {
    let (path, version) = name.split_once('@')?;
    if !path.starts_with("wasi:") || !SUPPORTED.contains(&version) {
        return None;
    }
    let (release, rc) = version.split_once('-')?;
    Some(match item {
        Item::Export => format!("{path}@{release}"),
        Item::Import => format!("{path}@{release}+{rc}"),
    })
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let rc = "wasi:http/handler@0.3.0-rc-2026-03-15";
        assert_eq!(
            renamed(rc, Item::Export).as_deref(),
            Some("wasi:http/handler@0.3.0")
        );
        assert_eq!(
            renamed("wasi:http/types@0.3.0-rc-2026-03-15", Item::Import).as_deref(),
            Some("wasi:http/types@0.3.0+rc-2026-03-15")
        );
        assert_eq!(renamed("wasi:http/types@0.3.0", Item::Import), None);
        assert_eq!(renamed("wasi:io/streams@0.2.6", Item::Import), None);
        assert_eq!(renamed("my:pkg/x@0.3.0-rc-2026-03-15", Item::Import), None);
        assert!(unsupported_rc("wasi:http/handler@0.3.0-rc-2026-01-06").is_some());
        assert!(unsupported_rc("wasi:http/handler@0.3.0-rc-2025-09-16").is_some());
        assert!(unsupported_rc(rc).is_none());
        assert!(unsupported_rc("wasi:http/types@0.3.0+rc-2026-03-15").is_none());
        assert!(unsupported_rc("wasi:http/handler@0.3.0").is_none());
        assert!(unsupported_rc("wasi:http/types@0.2.0-rc-2023-11-10").is_none());
    }

    /// A hand-written component: the rc names are renamed, nothing else changes, and the
    /// result is still a valid component.
    #[test]
    fn renames_only_outer_names() {
        let wat = r#"(component
            (import "wasi:clocks/monotonic-clock@0.3.0-rc-2026-03-15" (instance))
            (import "wasi:io/streams@0.2.6" (instance))
            (component $inner
                (import "wasi:clocks/monotonic-clock@0.3.0-rc-2026-03-15" (instance))
            )
            (instance $i (instantiate $inner (with "wasi:clocks/monotonic-clock@0.3.0-rc-2026-03-15" (instance 0))))
            (instance $h)
            (export "wasi:http/handler@0.3.0-rc-2026-03-15" (instance $h))
        )"#;
        let wasm = wat::parse_str(wat).unwrap();
        let out = rename(&wasm).unwrap().into_owned();
        assert_ne!(out, wasm);
        wasmparser::Validator::new().validate_all(&out).unwrap();
        let text = wasmprinter::print_bytes(&out).unwrap();
        assert!(
            text.contains(r#"(import "wasi:clocks/monotonic-clock@0.3.0+rc-2026-03-15""#),
            "{text}"
        );
        assert!(
            text.contains(r#"(import "wasi:io/streams@0.2.6""#),
            "{text}"
        );
        assert!(
            text.contains(r#""wasi:http/handler@0.3.0" (instance"#),
            "{text}"
        );
        // The nested component keeps its own import name.
        assert!(
            text.contains(r#"(import "wasi:clocks/monotonic-clock@0.3.0-rc-2026-03-15""#),
            "{text}"
        );
        // Nothing to do: the same bytes.
        let plain =
            wat::parse_str("(component (import \"wasi:io/streams@0.2.6\" (instance)))").unwrap();
        assert!(matches!(rename(&plain).unwrap(), Cow::Borrowed(_)));
    }
}
