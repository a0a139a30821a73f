//! On-disk cache of compiled components.
//!
//! The key is the SHA-256 of the component's bytes plus wasmtime's
//! `precompile_compatibility_hash` (engine version, target and every setting that changes
//! generated code), so a second start with the same engine skips compilation entirely.
//! Entries are wasmtime's uncompressed serialized form, loaded with `deserialize_file`, which
//! maps the file instead of reading it.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// A directory of compiled components (`--cache-dir`), or nothing (`--disable-cache`).
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// A cache stored in `dir` (created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// No caching: every start compiles.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The default location: `$XDG_CACHE_HOME/spindle/compiled` or `~/.cache/spindle/compiled`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("spindle").join("compiled"))
    }

    /// Returns the compiled form of `wasm` (a component binary), from the cache when possible.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        let Some(path) = self.entry_path(engine, wasm) else {
            return compile(engine, wasm);
        };
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` for an engine with the same
            // compatibility hash (it is part of the file name), into a directory we own.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(
                    "ignoring unusable compiled-code cache entry {}: {e}",
                    path.display()
                ),
            }
        }
        let component = compile(engine, wasm)?;
        if let Err(e) = store(&path, &component) {
            tracing::warn!(
                "could not write compiled-code cache entry {}: {e:#}",
                path.display()
            );
        }
        Ok(component)
    }

    fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hasher);
        let engine_key = engine_hasher.finish();
        let wasm_key = hex::encode(Sha256::digest(wasm));
        Some(dir.join(format!("{wasm_key}-{engine_key:016x}.cwasm")))
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, wasm).map_err(anyhow::Error::from)
}

/// Writes the entry atomically: a temporary file in the same directory, then a rename, so a
/// crash never leaves a truncated entry behind.
fn store(path: &Path, component: &Component) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .context("cache entry has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
