//! What a locked app's content references point at: component sources (`file://` URLs,
//! inline bytes, digests) and a component's `files`, staged for mounting.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use spindle_manifest::locked::{ContentRef, LockedComponent};

pub(crate) fn is_digest_only(content: &ContentRef) -> bool {
    content.source.is_none() && content.inline.is_none() && content.digest.is_some()
}

/// Reads content named by a locked-app reference: a `file://` URL or inline bytes.
pub fn read_content(content: &ContentRef, what: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(inline) = &content.inline {
        return Ok(inline.clone());
    }
    match &content.source {
        Some(source) => {
            let path = local_source(content, source)?;
            std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {what} {}: file not found (help: build the component first, \
                     e.g. with `spindle build`)",
                    path.display()
                )
            })
        }
        None => match &content.digest {
            Some(digest) => bail!(
                "{what} refers to content {digest} by digest only; content-addressed sources \
                 are available for apps pulled from a registry"
            ),
            None => bail!("{what} has no source, inline content or digest"),
        },
    }
}

/// The local path of `content`'s `source`: a `file://` URL (percent-decoded by
/// [`ContentRef::local_path`], as the manifest crate encodes it) or a plain path.
fn local_source(content: &ContentRef, source: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = content.local_path() {
        return Ok(path);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        bail!(
            "downloading component sources from URLs ({source}) is not supported yet; download \
             the file, check its digest, and use `source = \"path.wasm\"`"
        );
    }
    Ok(PathBuf::from(source))
}

/// Copies (hard-links where possible) the component's `files` into `root`, mounted read-only
/// at `/` in the guest. Returns `None` when the component has no files.
pub(crate) fn stage_files(
    component: &LockedComponent,
    root: &Path,
    copy: bool,
) -> anyhow::Result<Option<PathBuf>> {
    if component.files.is_empty() {
        return Ok(None);
    }
    if root.exists() {
        std::fs::remove_dir_all(root)
            .with_context(|| format!("clearing staging directory {}", root.display()))?;
    }
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating staging directory {}", root.display()))?;
    for file in &component.files {
        let relative = file.path.strip_prefix("/").unwrap_or(&file.path);
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            bail!(
                "file destination {} escapes the component's root",
                file.path.display()
            );
        }
        let dest = root.join(relative);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if let Some(inline) = &file.content.inline {
            std::fs::write(&dest, inline).with_context(|| format!("writing {}", dest.display()))?;
            continue;
        }
        let source = match &file.content.source {
            Some(source) => local_source(&file.content, source)?,
            None => bail!(
                "file {} has no local source (content by digest needs a registry pull)",
                file.path.display()
            ),
        };
        // The lock stage resolved every symlink inside the app directory; a symlink here means
        // the file was replaced since, and following it could expose any file of the host.
        match std::fs::symlink_metadata(&source) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => bail!(
                "file {} of component `{}` ({}) is no longer a regular file (a symlink or a \
                 directory replaced it after the app was loaded); refusing to map it",
                file.path.display(),
                component.id,
                source.display()
            ),
            Err(e) => bail!(
                "file {} of component `{}` ({}): {e}",
                file.path.display(),
                component.id,
                source.display()
            ),
        }
        if copy || std::fs::hard_link(&source, &dest).is_err() {
            std::fs::copy(&source, &dest).with_context(|| {
                format!(
                    "copying file {} for component `{}`",
                    source.display(),
                    component.id
                )
            })?;
        }
    }
    Ok(Some(root.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_file_sources_whose_paths_need_percent_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a dir with spaces").join("ünï.wasm");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"bytes").unwrap();
        let content = ContentRef::file(&path).unwrap();
        assert!(content.source.as_deref().unwrap().contains("%20"));
        assert_eq!(read_content(&content, "source").unwrap(), b"bytes");
    }
}
