//! `--cache FILE` (`WASMTIME_CACHE_FILE`): a wasmtime cache config file, as `spin up` takes.
//!
//! ```toml
//! [cache]
//! directory = "/var/cache/app/compiled"   # where compiled code is kept
//! # enabled = false                       # turns the cache off (older wasmtime files)
//! ```
//!
//! Spindle's compiled-code cache keeps one uncompressed entry per component and engine, so
//! wasmtime's tuning keys (compression levels, cleanup intervals, size limits) have nothing to
//! act on: they are accepted, and a warning names each one.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The settings Spindle takes from a wasmtime cache config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFile {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `directory`, relative to the file's directory when relative.
    pub directory: Option<PathBuf>,
}

/// wasmtime's cache tuning keys (docs.wasmtime.dev/cli-cache.html).
const TUNING_KEYS: &[&str] = &[
    "worker-event-queue-size",
    "baseline-compression-level",
    "optimized-compression-level",
    "optimized-compression-usage-counter-threshold",
    "cleanup-interval",
    "optimizing-compression-task-timeout",
    "allowed-clock-drift-for-files-from-future",
    "file-count-soft-limit",
    "files-total-size-soft-limit",
    "file-count-limit-percent-if-deleting",
    "files-total-size-limit-percent-if-deleting",
];

impl CacheFile {
    /// Reads `path`. Errors name the file and what is wrong in it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the cache config file {} (--cache)",
                path.display()
            )
        })?;
        let parsed = Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("invalid cache config file {} (--cache)", path.display()))?;
        for key in parsed.1 {
            tracing::warn!(
                "--cache {}: `{key}` tunes wasmtime's own cache and has no effect on Spindle's \
                 compiled-code cache",
                path.display()
            );
        }
        Ok(parsed.0)
    }

    /// Parses the file's text; also returns the tuning keys it sets.
    fn parse(text: &str, dir: &Path) -> anyhow::Result<(Self, Vec<String>)> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        for key in doc.keys() {
            if key != "cache" {
                anyhow::bail!("unknown section `{key}` (help: the settings go under `[cache]`)");
            }
        }
        let Some(cache) = doc.get("cache") else {
            anyhow::bail!(
                "no `[cache]` section (help: write `[cache]` then `directory = \"...\"`)"
            );
        };
        let cache = cache
            .as_table()
            .context("`cache` must be a table (`[cache]`)")?;
        let mut out = Self {
            enabled: true,
            directory: None,
        };
        let mut tuning = Vec::new();
        for (key, value) in cache {
            match key.as_str() {
                "enabled" => {
                    out.enabled = value.as_bool().context("`enabled` must be true or false")?
                }
                "directory" => {
                    let d = value.as_str().context("`directory` must be a string")?;
                    out.directory = Some(dir.join(d));
                }
                k if TUNING_KEYS.contains(&k) => tuning.push(k.to_string()),
                other => anyhow::bail!(
                    "unknown key `{other}` in [cache] (help: Spindle reads `directory` and \
                     `enabled`; wasmtime's tuning keys are {})",
                    TUNING_KEYS.join(", ")
                ),
            }
        }
        Ok((out, tuning))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wasmtime_cache_files() {
        let dir = Path::new("/etc/app");
        let (c, tuning) = CacheFile::parse(
            "[cache]\ndirectory = \"compiled\"\ncleanup-interval = \"1h\"\n",
            dir,
        )
        .unwrap();
        assert_eq!(c.directory.as_deref(), Some(Path::new("/etc/app/compiled")));
        assert!(c.enabled);
        assert_eq!(tuning, vec!["cleanup-interval".to_string()]);
        let (c, _) = CacheFile::parse("[cache]\nenabled = false\n", dir).unwrap();
        assert!(!c.enabled);
        let (c, _) = CacheFile::parse("[cache]\ndirectory = \"/abs\"\n", dir).unwrap();
        assert_eq!(c.directory.as_deref(), Some(Path::new("/abs")));
        for (text, want) in [
            ("[cache]\ndirectroy = \"x\"\n", "unknown key `directroy`"),
            ("directory = \"x\"\n", "unknown section `directory`"),
            ("", "no `[cache]` section"),
            (
                "[cache]\nenabled = \"yes\"\n",
                "`enabled` must be true or false",
            ),
        ] {
            let e = CacheFile::parse(text, dir).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
