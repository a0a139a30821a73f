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

use wasm_encoder::Encode as _;
use wasmparser::{BinaryReader, Parser, Payload};

/// The release candidates run as `0.3.0`.
pub(crate) const SUPPORTED: &[&str] = &["0.3.0-rc-2026-03-15"];

/// The component binary with the names of its WASIp3 release-candidate imports and exports
/// renamed (see the module docs), or `wasm` itself when it has none (or is not a component).
pub(crate) fn rename(wasm: &[u8]) -> anyhow::Result<Cow<'_, [u8]>> {
    if !wasmparser::Parser::is_component(wasm) || !SUPPORTED.iter().any(|rc| contains(wasm, rc)) {
        return Ok(Cow::Borrowed(wasm));
    }
    let mut out = wasm_encoder::Component::new();
    let mut depth = 0usize;
    let mut changed = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &payload {
            Payload::Version { .. } => continue,
            Payload::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            _ => {}
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        // Nested modules and components are copied whole (their payloads follow, skipped).
        let nested = matches!(
            payload,
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. }
        );
        if depth > 0 {
            if nested {
                depth += 1;
            }
            continue;
        }
        if nested {
            depth += 1;
        }
        let data = &wasm[range];
        let renamed = match payload {
            Payload::ComponentImportSection(_) => rename_items(data, Item::Import)?,
            Payload::ComponentExportSection(_) => rename_items(data, Item::Export)?,
            _ => None,
        };
        changed |= renamed.is_some();
        out.section(&wasm_encoder::RawSection {
            id,
            data: renamed.as_deref().unwrap_or(data),
        });
    }
    Ok(if changed {
        Cow::Owned(out.finish())
    } else {
        Cow::Borrowed(wasm)
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

/// Re-encodes an import or export section with renamed names; `None` when no name changed.
fn rename_items(data: &[u8], item: Item) -> anyhow::Result<Option<Vec<u8>>> {
    let mut reader = BinaryReader::new(data, 0);
    let count = reader.read_var_u32()?;
    let mut pos = reader.current_position();
    let mut out = Vec::with_capacity(data.len() + 16);
    count.encode(&mut out);
    let mut changed = false;
    for _ in 0..count {
        let start = pos;
        // Where the item ends.
        let mut whole = BinaryReader::new(&data[start..], start);
        match item {
            Item::Import => {
                whole.read::<wasmparser::ComponentImport>()?;
            }
            Item::Export => {
                whole.read::<wasmparser::ComponentExport>()?;
            }
        }
        let end = start + whole.current_position();
        pos = end;
        // 0x00/0x01: a plain name. Anything else (names with options) is copied as it is.
        let mut head = BinaryReader::new(&data[start..end], start);
        let tag = head.read_u8()?;
        let name = if tag <= 0x01 {
            Some(head.read_string()?)
        } else {
            None
        };
        let name_end = start + head.current_position();
        match name.and_then(|n| renamed(n, item)) {
            Some(new) => {
                changed = true;
                out.push(tag);
                new.as_str().encode(&mut out);
                out.extend_from_slice(&data[name_end..end]);
            }
            None => out.extend_from_slice(&data[start..end]),
        }
    }
    Ok(changed.then_some(out))
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
