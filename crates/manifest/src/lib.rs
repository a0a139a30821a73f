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
pub mod template;
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
    load_with(manifest_path, &LoadOptions::default())
}

/// [`load`] for a host that runs only the `runnable` trigger types (e.g. `["http"]`): any other
/// trigger type is an error at its line, with a "did you mean" for a misspelt one.
pub fn load_runnable(manifest_path: &Path, runnable: &[&str]) -> Result<Loaded, ManifestError> {
    load_with(
        manifest_path,
        &LoadOptions {
            runnable: Some(runnable),
            profile: None,
        },
    )
}

/// How [`load_with`] loads an app.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions<'a> {
    /// The trigger types the host runs (`None`: any); see [`load_runnable`].
    pub runnable: Option<&'a [&'a str]>,
    /// The build profile to apply ([`schema::AppManifest::apply_profile`]); a profile no
    /// component defines gives a warning.
    pub profile: Option<&'a str>,
}

/// [`load`] with options: the trigger types the host runs and the build profile.
pub fn load_with(manifest_path: &Path, options: &LoadOptions<'_>) -> Result<Loaded, ManifestError> {
    let runnable = options.runnable;
    let path = if manifest_path.is_dir() {
        manifest_path.join("spin.toml")
    } else {
        manifest_path.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
        path: path.clone(),
        source,
    })?;
    let mut parsed = validate::parse(&text, &path).map_err(ManifestError::Invalid)?;
    if let Some(profile) = options.profile {
        if parsed.manifest.apply_profile(profile).is_empty() {
            let mut known: Vec<&str> = parsed
                .manifest
                .components
                .iter()
                .flat_map(|(_, c)| c.profile.keys().map(String::as_str))
                .collect();
            known.sort_unstable();
            known.dedup();
            let hint = match diag::closest(profile, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if known.is_empty() => "the app defines no build profiles".to_string(),
                None => format!(
                    "the app's profiles: {}",
                    diag::backticked(known.iter().copied())
                ),
            };
            let warning = Diagnostic::warning(
                format!(
                    "no component defines the build profile `{profile}`; every component uses \
                     its default settings"
                ),
                &path,
                1,
                1,
            )
            .with_hint(hint);
            parsed.warnings.push(warning);
        }
    }
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
