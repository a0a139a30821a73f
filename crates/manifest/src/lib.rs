//! `spindle-manifest`: reads a Fermyon Spin application manifest (`spin.toml`,
//! `spin_manifest_version = 2`), validates it the way Spin does, and converts it into Spin's
//! locked-app form ([`locked::LockedApp`], the JSON written to `spin.lock` and pushed to OCI
//! registries), which is what the Spindle runtime executes.
//!
//! Problems are reported as [`Diagnostic`]s with file, line and column, rendered like cargo's
//! messages; as many errors as possible are collected in one pass.
//!
//! ```no_run
//! let loaded = spindle_manifest::load(std::path::Path::new("spin.toml"))?;
//! for w in &loaded.warnings {
//!     eprintln!("{w}");
//! }
//! println!("{}", loaded.locked.to_json_pretty());
//! # Ok::<(), spindle_manifest::ManifestError>(())
//! ```

#![deny(missing_docs)]

pub mod allowed_hosts;
pub mod diag;
mod lock;
pub mod locked;
pub mod schema;
mod validate;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, ManifestError, Severity};
pub use validate::normalize;

/// A loaded application: the manifest, its locked form and any warnings.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The manifest, normalized: every trigger has an id, inline components were moved into
    /// `components` under generated ids; http routes keep their spelling (as in Spin).
    pub manifest: schema::AppManifest,
    /// The locked application (sources and files resolved to absolute `file://` URLs).
    pub locked: locked::LockedApp,
    /// Warnings (unused components, duplicate routes, deprecated keys, ...).
    pub warnings: Vec<Diagnostic>,
    /// Absolute path of the manifest file.
    pub manifest_path: PathBuf,
}

/// Reads, validates and locks a `spin.toml`. Relative paths in the manifest resolve against
/// the manifest's directory. If `manifest_path` is a directory, `spin.toml` inside it is used.
pub fn load(manifest_path: &Path) -> Result<Loaded, ManifestError> {
    load_inner(manifest_path, None)
}

/// [`load`] for a host that runs only the `runnable` trigger types (e.g. `["http"]`): any other
/// trigger type is an error at its line, with a "did you mean" for a misspelt one.
pub fn load_runnable(manifest_path: &Path, runnable: &[&str]) -> Result<Loaded, ManifestError> {
    load_inner(manifest_path, Some(runnable))
}

fn load_inner(manifest_path: &Path, runnable: Option<&[&str]>) -> Result<Loaded, ManifestError> {
    let path = if manifest_path.is_dir() {
        manifest_path.join("spin.toml")
    } else {
        manifest_path.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
        path: path.clone(),
        source,
    })?;
    let parsed = validate::parse(&text, &path).map_err(ManifestError::Invalid)?;
    if let Some(runnable) = runnable {
        let errors = validate::check_trigger_types(&parsed, &path, &text, runnable);
        if !errors.is_empty() {
            return Err(ManifestError::Invalid(errors));
        }
    }
    let (locked, lock_warnings) =
        lock::lock(&parsed, &path, &text).map_err(ManifestError::Invalid)?;
    let mut warnings = parsed.warnings;
    warnings.extend(lock_warnings);
    Ok(Loaded {
        manifest: parsed.manifest,
        locked,
        warnings,
        manifest_path: lock::absolutize(&path),
    })
}

/// Parses and validates manifest text without touching the filesystem (source and `files`
/// paths are not checked). `path` is only used in diagnostics. Returns the normalized
/// manifest (see [`Loaded::manifest`]) and the warnings.
pub fn parse_str(
    text: &str,
    path: &Path,
) -> Result<(schema::AppManifest, Vec<Diagnostic>), ManifestError> {
    let parsed = validate::parse(text, path).map_err(ManifestError::Invalid)?;
    Ok((parsed.manifest, parsed.warnings))
}
