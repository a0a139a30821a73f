//! On-disk cache of compiled components.
//!
//! The key is the SHA-256 of the component's bytes plus wasmtime's
//! `precompile_compatibility_hash` (engine version, target and every setting that changes
//! generated code), so a second start with the same engine skips compilation entirely.
//! Entries are wasmtime's uncompressed serialized form, loaded with `deserialize_file`, which
//! maps the file instead of reading it.
//!
//! Local component files also get an index entry keyed by the file's identity (canonical path,
//! size, modification time in nanoseconds, inode, device) and the engine: a warm start of an
//! unchanged file then neither reads nor hashes the Wasm (36 MB for a Python component), it
//! only maps the compiled entry. Any change to the file changes its size or mtime, which misses
//! the index and falls back to hashing the content.

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
    /// A freshly compiled component is returned at once; its cache entry is written by a
    /// background thread, off the start-up path.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        self.load_with_index(engine, wasm, None)
    }

    fn load_with_index(
        &self,
        engine: &Engine,
        wasm: &[u8],
        index: Option<PathBuf>,
    ) -> anyhow::Result<Component> {
        let Some(path) = self.entry_path(engine, wasm) else {
            return compile(engine, wasm);
        };
        if let Some(component) = deserialize(engine, &path) {
            if let Some(index) = index {
                write_index(&index, &path);
            }
            return Ok(component);
        }
        let component = compile(engine, wasm)?;
        let serialized = component.clone();
        let writer = std::thread::Builder::new()
            .name("spindle-cache-write".into())
            .spawn(move || {
                if let Err(e) = store(&path, &serialized) {
                    tracing::warn!(
                        "could not write compiled-code cache entry {}: {e:#}",
                        path.display()
                    );
                } else if let Some(index) = index {
                    write_index(&index, &path);
                }
            })
            .context("starting the cache writer thread")?;
        PENDING_WRITES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(writer);
        Ok(component)
    }

    /// Waits for cache entries still being written in the background (call before exiting, so
    /// a server stopped right after its first start still leaves its compiled code behind).
    ///
    /// The list stays locked while the writes are joined, so a second caller (from another
    /// thread) waits for the same writes instead of finding the list empty and returning
    /// before they are done.
    pub fn finish_writes() {
        let mut pending = PENDING_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        for writer in pending.drain(..) {
            let _ = writer.join();
        }
    }

    /// Returns the compiled form of the component in the file at `path`. `read` produces the
    /// component bytes (reading the file and, for a core module, componentizing it); it runs
    /// only when the file is not in the index yet or changed since.
    pub fn load_file(
        &self,
        engine: &Engine,
        path: &Path,
        read: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Component> {
        let index = self.index_path(engine, path);
        if let Some(component) = index
            .as_ref()
            .and_then(|index| std::fs::read_to_string(index).ok())
            .and_then(|name| Some(self.dir.as_ref()?.join(name.trim())))
            .and_then(|entry| deserialize(engine, &entry))
        {
            return Ok(component);
        }
        self.load_with_index(engine, &read()?, index)
    }

    /// Compiles `wasm` (a component binary) the way [`CompileCache::load`] does and returns the
    /// serialized code, for a cache elsewhere (the containerd shim keeps it in containerd's
    /// content store and hands it back with [`CompileCache::insert_precompiled`]).
    pub fn precompile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
        compile(engine, wasm)?
            .serialize()
            .map_err(|e| anyhow::anyhow!("{e:#}").context("serializing the compiled component"))
    }

    /// A key that changes whenever code compiled by `engine` could not be loaded by another.
    pub fn engine_fingerprint(engine: &Engine) -> u64 {
        Self::engine_key(engine)
    }

    /// Makes `compiled` (from [`CompileCache::precompile`]) the cached code of the component
    /// whose bytes have `digest` (`sha256:<hex>`). The caller vouches for it: it is native code,
    /// loaded as it is (wasmtime still refuses code built by an incompatible engine).
    pub fn insert_precompiled(&self, digest: &str, compiled: &[u8]) -> anyhow::Result<()> {
        let path = self.digest_entry_path(digest).with_context(|| {
            format!("`{digest}` is not a sha256 digest, or the cache is disabled")
        })?;
        write_atomic(&path, compiled)
    }

    /// The cached code of the component whose bytes have `digest`, if the cache holds it (and
    /// it was built by an engine compatible with `engine`).
    pub fn load_digest(&self, engine: &Engine, digest: &str) -> Option<Component> {
        deserialize(engine, &self.digest_entry_path(digest)?)
    }

    fn digest_entry_path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join("precompiled")
                .join(format!("{hex}.cwasm")),
        )
    }

    fn engine_key(engine: &Engine) -> u64 {
        let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hasher);
        engine_hasher.finish()
    }

    fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let engine_key = Self::engine_key(engine);
        let wasm_key = hex::encode(Sha256::digest(wasm));
        Some(dir.join(format!("{wasm_key}-{engine_key:016x}.cwasm")))
    }

    /// `index/<sha256 of the file's identity and the engine key>`, or None when the cache is
    /// disabled or the file's metadata cannot be read.
    fn index_path(&self, engine: &Engine, path: &Path) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt as _;
        let dir = self.dir.as_ref()?;
        let path = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        let identity = format!(
            "{}\0{}\0{}.{}\0{}\0{}\0{:016x}",
            path.display(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ino(),
            meta.dev(),
            Self::engine_key(engine)
        );
        Some(
            dir.join("index")
                .join(hex::encode(Sha256::digest(identity.as_bytes()))),
        )
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("path has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Cache writes started by this process and not yet joined.
static PENDING_WRITES: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Maps a cache entry, or None (with a warning when it exists but is unusable).
fn deserialize(engine: &Engine, entry: &Path) -> Option<Component> {
    if !entry.is_file() {
        return None;
    }
    // SAFETY: entries are written by `Component::serialize` for an engine with the same
    // compatibility hash (it is part of the file name), into a directory we own.
    match unsafe { Component::deserialize_file(engine, entry) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(
                "ignoring unusable compiled-code cache entry {}: {e}",
                entry.display()
            );
            None
        }
    }
}

/// Points the index entry `index` at the cache entry `entry`.
fn write_index(index: &Path, entry: &Path) {
    let name = entry.file_name().unwrap_or_default().to_string_lossy();
    if let Err(e) = write_atomic(index, name.as_bytes()) {
        tracing::warn!(
            "could not write compiled-code index entry {}: {e:#}",
            index.display()
        );
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
    // WASIp3 release candidates run as 0.3.0 (renamed imports and exports, nothing else).
    let wasm = crate::wasip3_rc::rename(wasm)
        .map_err(|e| e.context("the component is not a valid WebAssembly component"))?;
    Component::new(engine, &wasm).map_err(|e| {
        anyhow::anyhow!("{e:#}").context("the component is not a valid WebAssembly component")
    })
}

/// Writes the entry atomically: a temporary file in the same directory, then a rename, so a
/// crash never leaves a truncated entry behind.
fn store(path: &Path, component: &Component) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .context("cache entry has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineOptions, SpindleEngine};

    const HELLO: &str =
        r#"(component (core module (func (export "f"))) (core instance (instantiate 0)))"#;

    /// The containerd shim precompiles with an on-demand engine and default limits; the app
    /// may run with the pooling allocator and another memory limit: the code must fit both.
    #[test]
    fn precompiled_code_fits_the_run_engine() {
        let compile = SpindleEngine::new(EngineOptions {
            pooling: false,
            ..EngineOptions::default()
        })
        .unwrap();
        let wasm = wat::parse_str(HELLO).unwrap();
        let code = CompileCache::precompile(&compile.engine, &wasm).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::at(dir.path());
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&wasm)));
        cache.insert_precompiled(&digest, &code).unwrap();
        for options in [
            EngineOptions::default(),
            EngineOptions {
                max_instance_memory: 32 << 20,
                max_instances: 10,
                keep_resident: 1 << 20,
                ..EngineOptions::default()
            },
        ] {
            let run = SpindleEngine::new(options).unwrap();
            assert_eq!(
                CompileCache::engine_fingerprint(&run.engine),
                CompileCache::engine_fingerprint(&compile.engine)
            );
            assert!(cache.load_digest(&run.engine, &digest).is_some());
        }
        // Not a digest, or not cached: nothing.
        assert!(cache
            .load_digest(&compile.engine, "sha256:nothex")
            .is_none());
        let other = format!("sha256:{}", "0".repeat(64));
        assert!(cache.load_digest(&compile.engine, &other).is_none());
        assert!(cache.insert_precompiled("md5:abc", &code).is_err());
    }
}
