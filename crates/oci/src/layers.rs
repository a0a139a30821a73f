//! An artifact whose layers someone else fetched: containerd's content store hands them to the
//! shim. The same checks as a pull (every blob verified against its digest, archive layers
//! unpacked, nothing the locked app names may be missing), into the same cache layout.

use std::borrow::Cow;
use std::collections::HashSet;

use anyhow::{bail, Context as _};
use serde_json::Value;
use spindle_manifest::locked::LockedApp;

use crate::client::complete_from_archives;
use crate::{Cache, ARCHIVE_MEDIA_TYPE, SPIN_APPLICATION_MEDIA_TYPE};

/// One layer of an artifact, as its manifest describes it, with its bytes.
#[derive(Clone, Copy, Debug)]
pub struct LayerBlob<'a> {
    /// The layer's media type.
    pub media_type: &'a str,
    /// The digest the manifest gives it (`sha256:<hex>`).
    pub digest: &'a str,
    /// Its content.
    pub bytes: &'a [u8],
}

/// Stores `layers` in `cache` (each checked against its digest), unpacks archive layers, and
/// returns the locked app they carry, its content still named by digest (see
/// [`crate::resolve_to_cache_except`]). Content whose digest is in `elsewhere` need not be among
/// the layers (the caller provides it some other way).
pub fn import_layers(
    cache: &Cache,
    layers: &[LayerBlob<'_>],
    elsewhere: &HashSet<String>,
) -> anyhow::Result<LockedApp> {
    let mut locked = None;
    for layer in layers {
        let digest = cache.put_blob(layer.bytes)?;
        if digest != layer.digest {
            bail!(
                "layer {} ({}) has digest {digest}: the content is corrupt (help: pull the \
                 image again)",
                layer.digest,
                layer.media_type
            );
        }
        if layer.media_type == SPIN_APPLICATION_MEDIA_TYPE {
            if locked.is_some() {
                bail!("the image has two {SPIN_APPLICATION_MEDIA_TYPE} layers");
            }
            locked =
                Some(LockedApp::from_json(layer.bytes).with_context(|| {
                    format!("the locked app (layer {}) is invalid", layer.digest)
                })?);
        }
    }
    let Some(locked) = locked else {
        bail!(
            "the image has no {SPIN_APPLICATION_MEDIA_TYPE} layer, so it is not a Spin \
             application (help: push it with `spindle registry push` or `spin registry push`)"
        );
    };
    let archives = layers
        .iter()
        .filter(|l| l.media_type == ARCHIVE_MEDIA_TYPE)
        .map(|l| (l.digest, Ok(Cow::Borrowed(l.bytes))));
    complete_from_archives(&locked, cache, archives, elsewhere)
        .context("the image is incomplete")?;
    Ok(locked)
}

/// The digests of every component that has dependencies, and of every dependency: their code is
/// composed when the app loads, so their layers must stay Wasm (not be precompiled alone).
pub fn composed_digests(locked: &LockedApp) -> HashSet<String> {
    let mut out = HashSet::new();
    for c in &locked.components {
        if c.dependencies.is_empty() {
            continue;
        }
        if let Some(d) = &c.source.content.digest {
            out.insert(d.clone());
        }
        for dep in c.dependencies.values() {
            if let Some(d) = dep.pointer("/source/digest").and_then(Value::as_str) {
                out.insert(d.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        crate::sha256_digest(bytes)
    }

    #[test]
    fn imports_verified_layers_and_refuses_corrupt_or_incomplete_ones() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let wasm = b"\0asm\x0d\0\x01\0".to_vec();
        let locked = serde_json::json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{
                "id": "c",
                "source": { "content_type": "application/wasm", "digest": sha(&wasm) }
            }]
        })
        .to_string();
        let (wd, ld) = (sha(&wasm), sha(locked.as_bytes()));
        let wasm_layer = LayerBlob {
            media_type: crate::WASM_LAYER_MEDIA_TYPE,
            digest: &wd,
            bytes: &wasm,
        };
        let locked_layer = LayerBlob {
            media_type: SPIN_APPLICATION_MEDIA_TYPE,
            digest: &ld,
            bytes: locked.as_bytes(),
        };
        let app = import_layers(&cache, &[wasm_layer, locked_layer], &HashSet::new()).unwrap();
        assert_eq!(app.components[0].id, "c");
        assert!(cache.has_blob(&wd));

        let err = import_layers(&cache, &[locked_layer], &HashSet::new());
        // The Wasm is cached from before: still complete.
        assert!(err.is_ok());
        let fresh = Cache::new(Some(dir.path().join("fresh"))).unwrap();
        let err = format!(
            "{:#}",
            import_layers(&fresh, &[locked_layer], &HashSet::new()).unwrap_err()
        );
        assert!(
            err.starts_with("the image is incomplete: component `c` refers to content"),
            "{err}"
        );
        // Provided elsewhere (precompiled): fine.
        import_layers(&fresh, &[locked_layer], &HashSet::from([wd.clone()])).unwrap();

        let bad = LayerBlob {
            bytes: b"other",
            ..wasm_layer
        };
        let err = import_layers(&fresh, &[bad, locked_layer], &HashSet::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("the content is corrupt"), "{err}");
        let err = import_layers(&fresh, &[wasm_layer], &HashSet::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Spin application"), "{err}");
    }
}
