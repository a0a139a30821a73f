//! Turning a locked app into the layers, config and manifest of a Spin OCI artifact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde_json::Value;
use spindle_manifest::locked::{ContentPath, ContentRef, LockedApp};

use crate::{
    sha256_digest, ARCHIVE_MEDIA_TYPE, DATA_MEDIA_TYPE, IMAGE_CONFIG_MEDIA_TYPE, INLINE_MAX_SIZE,
    LOCKED_APP_DIGEST_LABEL, MAX_LAYER_COUNT, SPIN_APPLICATION_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
};

/// One blob of an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Media type, e.g. [`WASM_LAYER_MEDIA_TYPE`].
    pub media_type: String,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// The bytes.
    pub data: Bytes,
}

impl Layer {
    /// A layer of `data` with its digest computed.
    pub fn new(data: impl Into<Bytes>, media_type: &str) -> Self {
        let data = data.into();
        Self {
            media_type: media_type.to_string(),
            digest: sha256_digest(&data),
            data,
        }
    }

    fn descriptor(&self) -> OciDescriptor {
        OciDescriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.data.len() as i64,
            ..Default::default()
        }
    }
}

/// How to assemble an artifact.
#[derive(Clone, Debug, Default)]
pub struct AssembleOptions {
    /// Extra manifest annotations (`--annotation K=V`); they win over the inferred ones.
    pub annotations: BTreeMap<String, String>,
    /// Put static files in tar+gzip archive layers even when there are few of them.
    pub force_archive: bool,
    /// `org.opencontainers.image.created` (RFC 3339); now when `None`.
    pub created: Option<String>,
}

/// A Spin app ready to push.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The locked app as stored in the artifact: content by digest, no `source`, no `origin`.
    pub locked: LockedApp,
    /// Every layer, deduplicated, the locked-app layer last.
    pub layers: Vec<Layer>,
    /// The OCI image config blob.
    pub config: Layer,
    /// The image manifest.
    pub manifest: OciImageManifest,
    /// The manifest exactly as pushed.
    pub manifest_bytes: Bytes,
    /// `sha256:<hex>` of `manifest_bytes`.
    pub manifest_digest: String,
    /// Whether static files went into archive layers.
    pub archived: bool,
}

impl Artifact {
    /// The locked-app layer.
    pub fn locked_layer(&self) -> &Layer {
        self.layers
            .last()
            .expect("an artifact always has its locked-app layer")
    }
}

/// Builds the artifact for `locked`, a locked app whose components and files are `file://`
/// sources or inline bytes (as produced from `spin.toml`). Reads every source.
pub fn assemble(locked: &LockedApp, options: &AssembleOptions) -> anyhow::Result<Artifact> {
    let mut archived = options.force_archive;
    let (mut app, mut layers) = assemble_layers(locked, archived)?;
    // One more layer is added for the locked app itself.
    if !archived && layers.len() > MAX_LAYER_COUNT - 1 {
        archived = true;
        (app, layers) = assemble_layers(locked, true)?;
    }
    app.metadata.remove("origin");

    let locked_layer = Layer::new(
        serde_json::to_vec(&app).context("serializing the locked app")?,
        SPIN_APPLICATION_MEDIA_TYPE,
    );
    let config = image_config(&locked_layer.digest)?;
    layers.push(locked_layer);

    let annotations = annotations(&app, options);
    let manifest = OciImageManifest {
        schema_version: 2,
        // Spin writes no `mediaType` field (the registry learns it from the Content-Type of
        // the upload, which is IMAGE_MANIFEST_MEDIA_TYPE): write exactly what Spin writes.
        media_type: None,
        config: config.descriptor(),
        layers: layers.iter().map(Layer::descriptor).collect(),
        annotations: Some(annotations),
        ..Default::default()
    };
    let manifest_bytes = Bytes::from(serde_json::to_vec(&manifest)?);
    Ok(Artifact {
        locked: app,
        manifest_digest: sha256_digest(&manifest_bytes),
        manifest_bytes,
        manifest,
        layers,
        config,
        archived,
    })
}

/// The standard OCI image config Spin writes: `architecture: wasm`, `os: wasip1` (lowercase, as Spin 4.0.2 writes it), and the
/// locked-app digest as a label so different apps get different image ids.
fn image_config(locked_digest: &str) -> anyhow::Result<Layer> {
    use oci_client::config::{Architecture, Config, ConfigFile, Os};
    let file = ConfigFile {
        architecture: Architecture::Wasm,
        os: Os::Other("wasip1".to_string()),
        config: Some(Config {
            labels: Some(HashMap::from([(
                LOCKED_APP_DIGEST_LABEL.to_string(),
                locked_digest.to_string(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Layer::new(
        serde_json::to_vec(&file).context("serializing the image config")?,
        IMAGE_CONFIG_MEDIA_TYPE,
    ))
}

fn annotations(app: &LockedApp, options: &AssembleOptions) -> BTreeMap<String, String> {
    use oci_client::annotations::*;
    let mut out = options.annotations.clone();
    let mut infer = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.entry(key.to_string()).or_insert(value);
        }
    };
    let meta = |k: &str| {
        app.metadata
            .get(k)
            .and_then(Value::as_str)
            .map(String::from)
    };
    let authors = app
        .metadata
        .get("authors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        });
    infer(ORG_OPENCONTAINERS_IMAGE_AUTHORS, authors);
    infer(ORG_OPENCONTAINERS_IMAGE_TITLE, meta("name"));
    infer(ORG_OPENCONTAINERS_IMAGE_DESCRIPTION, meta("description"));
    infer(ORG_OPENCONTAINERS_IMAGE_VERSION, meta("version"));
    let created = options
        .created
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
    infer(ORG_OPENCONTAINERS_IMAGE_CREATED, Some(created));
    out
}

/// Layers, deduplicated by (media type, digest) in first-seen order.
#[derive(Default)]
struct Layers {
    layers: Vec<Layer>,
    seen: HashSet<(String, String)>,
}

impl Layers {
    fn push(&mut self, layer: Layer) {
        if self
            .seen
            .insert((layer.media_type.clone(), layer.digest.clone()))
        {
            self.layers.push(layer);
        }
    }
}

fn assemble_layers(locked: &LockedApp, archive: bool) -> anyhow::Result<(LockedApp, Vec<Layer>)> {
    let mut app = locked.clone();
    let mut layers = Layers::default();
    for c in &mut app.components {
        let id = c.id.clone();
        let wasm = read_content(&c.source.content)
            .with_context(|| format!("component `{id}`: cannot read its Wasm source"))?;
        let layer = Layer::new(wasm, WASM_LAYER_MEDIA_TYPE);
        c.source.content = ContentRef {
            digest: Some(layer.digest.clone()),
            ..Default::default()
        };
        layers.push(layer);

        for (name, dep) in c.dependencies.iter_mut() {
            assemble_dependency(dep, &mut layers)
                .with_context(|| format!("component `{id}`: dependency `{name}`"))?;
        }

        let mut files = Vec::new();
        let mut archive_entries = Vec::new();
        for file in &c.files {
            for (path, bytes) in expand_files(file)
                .with_context(|| format!("component `{id}`: cannot read its files"))?
            {
                let digest = sha256_digest(&bytes);
                let small = bytes.len() <= INLINE_MAX_SIZE;
                files.push(ContentPath {
                    content: ContentRef {
                        source: None,
                        inline: small.then(|| bytes.clone()),
                        digest: Some(digest),
                    },
                    path: PathBuf::from(&path),
                });
                if small {
                    continue;
                }
                if archive {
                    archive_entries.push((path, bytes));
                } else {
                    layers.push(Layer::new(bytes, DATA_MEDIA_TYPE));
                }
            }
        }
        if !archive_entries.is_empty() {
            let archive = tar_gz(&archive_entries)
                .with_context(|| format!("component `{id}`: creating the files archive"))?;
            layers.push(Layer::new(archive, ARCHIVE_MEDIA_TYPE));
        }
        c.files = files;
    }
    Ok((app, layers.layers))
}

/// A component dependency `{"source": {"content_type", "source": "file://..."}, ...}`: its Wasm
/// becomes a layer and `source` becomes `digest`, as Spin does with `--compose=false`.
fn assemble_dependency(dep: &mut Value, layers: &mut Layers) -> anyhow::Result<()> {
    let Some(source) = dep.get_mut("source").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let content: ContentRef = serde_json::from_value(Value::Object(source.clone()))?;
    if content.source.is_none() && content.inline.is_none() {
        return Ok(()); // already by digest, or a registry package reference
    }
    let layer = Layer::new(read_content(&content)?, WASM_LAYER_MEDIA_TYPE);
    source.remove("source");
    source.remove("inline");
    source.insert("digest".into(), Value::String(layer.digest.clone()));
    layers.push(layer);
    Ok(())
}

fn read_content(content: &ContentRef) -> anyhow::Result<Vec<u8>> {
    if let Some(inline) = &content.inline {
        return Ok(inline.clone());
    }
    let Some(source) = &content.source else {
        bail!("no `source` or inline content (content by digest cannot be pushed again)");
    };
    let path = content
        .local_path()
        .with_context(|| format!("{source} is not a local file:// path"))?;
    std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {} (help: build the app first, e.g. with `spindle build`)",
            path.display()
        )
    })
}

/// The files of one `files` entry as (portable relative guest path, bytes). A source that is a
/// directory is walked (sorted, so the artifact is reproducible).
fn expand_files(file: &ContentPath) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let dest = relative_guest_path(&file.path)?;
    if file.content.inline.is_some() {
        return Ok(vec![(dest, read_content(&file.content)?)]);
    }
    let source = file
        .content
        .local_path()
        .with_context(|| format!("file {} has no local source", file.path.display()))?;
    if !source.is_dir() {
        let bytes =
            std::fs::read(&source).with_context(|| format!("cannot read {}", source.display()))?;
        return Ok(vec![(dest, bytes)]);
    }
    let mut out = Vec::new();
    walk(&source, &source, &mut |rel, abs| {
        let bytes = std::fs::read(abs).with_context(|| format!("cannot read {}", abs.display()))?;
        let path = if dest.is_empty() {
            rel.to_string()
        } else {
            format!("{dest}/{rel}")
        };
        out.push((path, bytes));
        Ok(())
    })?;
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    f: &mut dyn FnMut(&str, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, f)?;
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            f(&portable(rel), &path)?;
        }
    }
    Ok(())
}

/// `/a/b.txt` → `a/b.txt`, the form Spin stores (and requires) in artifacts.
fn relative_guest_path(path: &Path) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => bail!("file destination {} is not a plain path", path.display()),
        }
    }
    Ok(parts.join("/"))
}

fn portable(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A reproducible tar+gzip archive (fixed mtime, mode and owner) of `entries`.
fn tar_gz(entries: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes.as_slice())?;
    }
    Ok(tar.into_inner()?.finish()?)
}

/// Unpacks a tar+gzip archive layer, calling `f` with each regular file's bytes.
pub(crate) fn untar_gz(
    data: &[u8],
    f: &mut dyn FnMut(Vec<u8>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        f(bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file_url(p: &Path) -> String {
        url::Url::from_file_path(p).unwrap().to_string()
    }

    fn app(dir: &Path, nfiles: usize) -> LockedApp {
        std::fs::write(dir.join("a.wasm"), b"\0asm component a").unwrap();
        std::fs::write(dir.join("b.wasm"), b"\0asm component a").unwrap(); // same bytes as a
        let mut files = Vec::new();
        for i in 0..nfiles {
            let p = dir.join(format!("f{i}.txt"));
            std::fs::write(&p, format!("{i:0>200}")).unwrap();
            files.push(json!({"source": file_url(&p), "path": format!("/static/f{i}.txt")}));
        }
        std::fs::write(dir.join("tiny.txt"), b"tiny").unwrap();
        std::fs::write(dir.join("dup.txt"), [7u8; 300]).unwrap();
        files.push(json!({"source": file_url(&dir.join("tiny.txt")), "path": "/tiny.txt"}));
        files.push(json!({"source": file_url(&dir.join("dup.txt")), "path": "/dup1.txt"}));
        files.push(json!({"source": file_url(&dir.join("dup.txt")), "path": "/x/dup2.txt"}));
        let j = json!({
            "spin_lock_version": 1,
            "metadata": {"name": "demo", "version": "1.2.3", "description": "d",
                "authors": ["A <a@x>", "B"], "origin": "file:///somewhere/spin.toml"},
            "triggers": [{"id": "t", "trigger_type": "http",
                "trigger_config": {"route": "/...", "component": "a"}}],
            "components": [
                {"id": "a", "source": {"content_type": "application/wasm",
                    "source": file_url(&dir.join("a.wasm"))}, "files": files},
                {"id": "b", "source": {"content_type": "application/wasm",
                    "source": file_url(&dir.join("b.wasm"))}}
            ]
        });
        LockedApp::from_json(j.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn layout_inlines_dedups_and_annotates() {
        let dir = tempfile::tempdir().unwrap();
        let locked = app(dir.path(), 2);
        let art = assemble(
            &locked,
            &AssembleOptions {
                created: Some("2024-01-01T00:00:00+00:00".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let types: Vec<_> = art.layers.iter().map(|l| l.media_type.as_str()).collect();
        // one wasm (a and b are identical), f0, f1, dup (once), locked app
        assert_eq!(
            types,
            [
                WASM_LAYER_MEDIA_TYPE,
                DATA_MEDIA_TYPE,
                DATA_MEDIA_TYPE,
                DATA_MEDIA_TYPE,
                SPIN_APPLICATION_MEDIA_TYPE
            ]
        );
        assert!(!art.archived);
        let a = art.locked.component("a").unwrap();
        assert_eq!(a.source.content.source, None);
        assert_eq!(
            a.source.content.digest.as_deref(),
            Some(art.layers[0].digest.as_str())
        );
        let tiny = a
            .files
            .iter()
            .find(|f| f.path == Path::new("tiny.txt"))
            .unwrap();
        assert_eq!(tiny.content.inline.as_deref(), Some(&b"tiny"[..]));
        assert_eq!(tiny.content.digest, Some(sha256_digest(b"tiny")));
        assert!(a
            .files
            .iter()
            .all(|f| f.content.source.is_none() && f.path.is_relative()));
        assert_eq!(a.files[0].path, Path::new("static/f0.txt"));
        assert!(!art.locked.metadata.contains_key("origin"));

        let m = serde_json::to_value(&art.manifest).unwrap();
        assert!(
            m.get("mediaType").is_none(),
            "Spin writes no manifest mediaType: {m}"
        );
        assert_eq!(m["config"]["mediaType"], IMAGE_CONFIG_MEDIA_TYPE);
        let ann = &m["annotations"];
        assert_eq!(ann["org.opencontainers.image.title"], "demo");
        assert_eq!(ann["org.opencontainers.image.version"], "1.2.3");
        assert_eq!(ann["org.opencontainers.image.description"], "d");
        assert_eq!(ann["org.opencontainers.image.authors"], "A <a@x>, B");
        assert_eq!(
            ann["org.opencontainers.image.created"],
            "2024-01-01T00:00:00+00:00"
        );
        let cfg: Value = serde_json::from_slice(&art.config.data).unwrap();
        assert_eq!(cfg["architecture"], "wasm");
        assert_eq!(cfg["os"], "wasip1");
        assert_eq!(
            cfg["config"]["Labels"][LOCKED_APP_DIGEST_LABEL],
            art.locked_layer().digest.as_str()
        );
        assert_eq!(art.manifest_digest, sha256_digest(&art.manifest_bytes));
    }

    #[test]
    fn many_files_go_into_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let locked = app(dir.path(), MAX_LAYER_COUNT);
        let art = assemble(&locked, &AssembleOptions::default()).unwrap();
        assert!(art.archived);
        let types: Vec<_> = art.layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(
            types,
            [
                WASM_LAYER_MEDIA_TYPE,
                ARCHIVE_MEDIA_TYPE,
                SPIN_APPLICATION_MEDIA_TYPE
            ]
        );
        // Every file is still listed by digest, and the archive holds each non-inline file.
        let a = art.locked.component("a").unwrap();
        assert_eq!(a.files.len(), MAX_LAYER_COUNT + 3);
        let mut digests = HashSet::new();
        untar_gz(&art.layers[1].data, &mut |b| {
            digests.insert(sha256_digest(&b));
            Ok(())
        })
        .unwrap();
        for f in &a.files {
            if f.content.inline.is_none() {
                assert!(digests.contains(f.content.digest.as_ref().unwrap()));
            }
        }
    }

    #[test]
    fn missing_source_names_component() {
        let dir = tempfile::tempdir().unwrap();
        let mut locked = app(dir.path(), 0);
        std::fs::remove_file(dir.path().join("b.wasm")).unwrap();
        locked.components.truncate(2);
        let e = assemble(&locked, &AssembleOptions::default()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("component `b`") && msg.contains("spindle build"),
            "{msg}"
        );
    }
}
