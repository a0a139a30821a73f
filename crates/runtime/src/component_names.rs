//! Renaming the outer imports and exports of a component binary, leaving every other byte as
//! it is: nested modules and components, types and instances keep their own names. Used to run
//! WASIp3 release candidates as 0.3.0 ([`crate::wasip3_rc`]) and to deny a component
//! dependency the configuration it does not inherit ([`crate::compose`]).

use std::borrow::Cow;

use wasm_encoder::Encode as _;
use wasmparser::{BinaryReader, Parser, Payload};

/// Maps a name to its new name (`None`: keep it).
pub(crate) type Renamer<'r> = &'r dyn Fn(&str) -> Option<String>;

/// `wasm` with the outer component's import names mapped by `import` and export names by
/// `export` (`None`: unchanged); `wasm` itself when nothing changes.
pub(crate) fn rename_outer<'a>(
    wasm: &'a [u8],
    import: Renamer<'_>,
    export: Renamer<'_>,
) -> anyhow::Result<Cow<'a, [u8]>> {
    if !Parser::is_component(wasm) {
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
            Payload::ComponentImportSection(_) => rename_items(data, Item::Import, import)?,
            Payload::ComponentExportSection(_) => rename_items(data, Item::Export, export)?,
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

#[derive(Clone, Copy)]
enum Item {
    Import,
    Export,
}

/// Re-encodes an import or export section with renamed names; `None` when no name changed.
fn rename_items(data: &[u8], item: Item, rename: Renamer<'_>) -> anyhow::Result<Option<Vec<u8>>> {
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
        match name.and_then(rename) {
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
