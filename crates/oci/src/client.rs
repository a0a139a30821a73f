//! Pushing and pulling Spin artifacts.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context as _};
use futures::{StreamExt as _, TryStreamExt as _};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use serde_json::Value;
use spindle_manifest::locked::{ContentRef, LockedApp};

use crate::assemble::{untar_gz, Artifact, Layer};
use crate::cache::VerifiedBlob;
use crate::errors::{explain, Op};
use crate::{
    is_loopback, scheme_for, sha256_digest, Cache, ARCHIVE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE,
    SPIN_APPLICATION_MEDIA_TYPE,
};

/// Layers at least this big get a progress bar.
const PROGRESS_THRESHOLD: usize = 4 << 20;
/// Chunk size of streamed (progress-reporting) uploads.
const UPLOAD_CHUNK: usize = 1 << 20;
/// Blobs transferred at the same time.
const PARALLEL_TRANSFERS: usize = 4;
/// Docker's (schema 2) manifest type, accepted on pull.
const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// How to reach registries and where to cache.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Use plain HTTP for every registry (`-k/--insecure`). Loopback registries
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) always use plain HTTP.
    pub insecure: bool,
    /// Cache root (`--cache-dir`); see [`Cache::new`].
    pub cache_dir: Option<PathBuf>,
    /// Docker `config.json` to read credentials from (default: [`crate::auth::docker_config_path`]).
    pub docker_config: Option<PathBuf>,
    /// Draw progress bars (on a terminal) for big layers.
    pub progress: bool,
}

/// Pushes and pulls Spin apps.
pub struct Client {
    pub(crate) cache: Cache,
    pub(crate) options: ClientOptions,
}

/// The result of a push.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The reference pushed to.
    pub reference: String,
    /// Digest of the pushed manifest (`reference@digest` pins this exact artifact).
    pub digest: String,
    /// Blobs (layers and config) in the artifact.
    pub blobs: usize,
    /// Blobs actually uploaded (the others were already in the registry).
    pub uploaded: usize,
}

/// A pulled app, all of its content verified and in the cache.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The full reference pulled.
    pub reference: String,
    /// Digest of the manifest.
    pub digest: String,
    /// The manifest.
    pub manifest: OciImageManifest,
    /// The locked app as stored in the artifact (content by digest).
    pub locked: LockedApp,
    /// Blobs downloaded by this pull.
    pub downloaded: usize,
    /// Blobs that were already cached.
    pub cached: usize,
    /// Where `manifest.json` and `spin.lock` were written.
    pub dir: PathBuf,
}

fn parse_reference(reference: &str) -> anyhow::Result<Reference> {
    reference.parse().map_err(|e| {
        anyhow::anyhow!(
            "`{reference}` is not a valid registry reference ({e}); expected \
             `registry/repository:tag`, e.g. `ghcr.io/me/hello:v1` or `127.0.0.1:5000/me/hello:v1`"
        )
    })
}

impl Client {
    /// A client with a cache (created on first write).
    pub fn new(options: ClientOptions) -> anyhow::Result<Self> {
        crate::ensure_crypto_provider();
        Ok(Self {
            cache: Cache::new(options.cache_dir.clone())?,
            options,
        })
    }

    /// The cache pulled content goes to.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub(crate) fn oci(&self, registry: &str) -> oci_client::Client {
        let protocol = if self.options.insecure {
            ClientProtocol::Http
        } else if is_loopback(registry) {
            ClientProtocol::HttpsExcept(vec![registry.to_string()])
        } else {
            ClientProtocol::Https
        };
        oci_client::Client::new(ClientConfig {
            protocol,
            max_concurrent_upload: PARALLEL_TRANSFERS,
            max_concurrent_download: PARALLEL_TRANSFERS,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            default_token_expiration_secs: 300,
            ..Default::default()
        })
    }

    pub(crate) fn auth(&self, registry: &str) -> anyhow::Result<RegistryAuth> {
        match &self.options.docker_config {
            Some(path) => crate::auth::credentials_from(path, registry),
            None => crate::auth::credentials(registry),
        }
    }

    pub(crate) fn progress(&self) -> MultiProgress {
        if self.options.progress {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
        }
    }

    /// Pushes an assembled artifact to `reference` (`registry/repository:tag`). Blobs the
    /// registry already has are not uploaded again; others go up in chunks.
    pub async fn push(&self, artifact: &Artifact, reference: &str) -> anyhow::Result<Pushed> {
        let image = parse_reference(reference)?;
        let registry = image.resolve_registry().to_string();
        let scheme = scheme_for(&registry, self.options.insecure);
        let oci = self.oci(&registry);
        oci.store_auth_if_needed(&registry, &self.auth(&registry)?)
            .await;
        let whole = image.whole();
        let err = |e| explain(e, Op::Push, &whole, &registry, scheme);

        let progress = self.progress();
        let uploaded = AtomicUsize::new(0);
        let blobs: Vec<&Layer> = artifact
            .layers
            .iter()
            .chain(std::iter::once(&artifact.config))
            .collect();
        futures::stream::iter(blobs.iter().copied())
            .map(|layer| {
                let (oci, image, progress, uploaded) = (&oci, &image, &progress, &uploaded);
                async move {
                    if oci.blob_exists(image, &layer.digest).await.map_err(err)? {
                        return anyhow::Ok(());
                    }
                    if layer.data.len() >= PROGRESS_THRESHOLD {
                        let bar = progress.add(bar(layer.data.len() as u64, &layer.digest));
                        let data = layer.data.clone();
                        let chunks: Vec<_> = (0..data.len())
                            .step_by(UPLOAD_CHUNK)
                            .map(|start| data.slice(start..(start + UPLOAD_CHUNK).min(data.len())))
                            .collect();
                        let bar2 = bar.clone();
                        let stream = futures::stream::iter(chunks).map(move |c| {
                            bar2.inc(c.len() as u64);
                            Ok(c)
                        });
                        oci.push_blob_stream(
                            image,
                            stream,
                            &layer.digest,
                            Some(layer.data.len() as u64),
                        )
                        .await
                        .map_err(err)?;
                        bar.finish_and_clear();
                    } else {
                        oci.push_blob(image, layer.data.clone(), &layer.digest)
                            .await
                            .map_err(err)?;
                    }
                    uploaded.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            })
            .buffer_unordered(PARALLEL_TRANSFERS)
            .try_collect::<Vec<()>>()
            .await?;

        let content_type = reqwest::header::HeaderValue::from_static(IMAGE_MANIFEST_MEDIA_TYPE);
        oci.push_manifest_raw(&image, artifact.manifest_bytes.clone(), content_type)
            .await
            .map_err(err)?;
        Ok(Pushed {
            reference: whole,
            digest: artifact.manifest_digest.clone(),
            blobs: blobs.len(),
            uploaded: uploaded.into_inner(),
        })
    }

    /// Pulls the app at `reference` into the cache. Every downloaded blob is checked against
    /// its digest before it is stored; blobs already cached are not downloaded.
    pub async fn pull(&self, reference: &str) -> anyhow::Result<Pulled> {
        let image = parse_reference(reference)?;
        let registry = image.resolve_registry().to_string();
        let scheme = scheme_for(&registry, self.options.insecure);
        let oci = self.oci(&registry);
        let auth = self.auth(&registry)?;
        let whole = image.whole();
        let err = |e| explain(e, Op::Pull, &whole, &registry, scheme);

        let (manifest_bytes, digest) = oci
            .pull_manifest_raw(
                &image,
                &auth,
                &[IMAGE_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE],
            )
            .await
            .map_err(err)?;
        let actual = sha256_digest(&manifest_bytes);
        if let Some(expected) = image.digest() {
            if actual != expected {
                bail!(
                    "the manifest of {whole} has digest {actual}, not the {expected} asked for; \
                     nothing was cached"
                );
            }
        }
        let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes)
            .with_context(|| format!("the manifest of {whole} is not an OCI image manifest"))?;

        let locked_layer = manifest
            .layers
            .iter()
            .find(|l| l.media_type == SPIN_APPLICATION_MEDIA_TYPE);
        // Spin 1.x artifacts carry the locked app as the manifest's config.
        let mut wanted: Vec<(String, &OciDescriptor)> = manifest
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("layer {i}"), l))
            .collect();
        if locked_layer.is_none() {
            wanted.push(("config".to_string(), &manifest.config));
        }
        let (cached, missing): (Vec<_>, Vec<_>) = wanted
            .into_iter()
            .map(|(name, d)| (name, d.clone()))
            .partition(|(_, d)| self.cache.has_blob(&d.digest));
        let locked_layer = locked_layer.cloned();

        let progress = self.progress();
        let verified = futures::stream::iter(missing.iter())
            .map(|(name, desc)| {
                let (oci, image, progress, whole, registry) =
                    (&oci, &image, &progress, &whole, &registry);
                async move {
                    self.download(oci, image, desc, progress)
                        .await
                        .map_err(|e| match e {
                            DownloadError::Registry(e) => {
                                explain(e, Op::Pull, whole, registry, scheme).context(format!(
                                    "downloading {name} ({} {}) of {whole}",
                                    desc.media_type, desc.digest
                                ))
                            }
                            DownloadError::Other(e) => e.context(format!(
                                "{name} ({} {}) of {whole} is corrupt or incomplete; nothing \
                                 from this pull was stored in the cache (help: the registry \
                                 holds bad content: push the app again)",
                                desc.media_type, desc.digest
                            )),
                        })
                }
            })
            .buffer_unordered(PARALLEL_TRANSFERS)
            .try_collect::<Vec<VerifiedBlob>>()
            .await?;
        // Every blob verified: only now does anything enter the cache.
        for blob in verified {
            blob.persist()?;
        }

        let locked_bytes = match &locked_layer {
            Some(l) => self.cache.read_blob(&l.digest)?,
            None => {
                let config = self.cache.read_blob(&manifest.config.digest)?;
                let is_locked = serde_json::from_slice::<Value>(&config)
                    .map(|v| v.get("spin_lock_version").is_some())
                    .unwrap_or(false);
                if !is_locked {
                    bail!(
                        "{whole} is not a Spin application: it has no \
                         {SPIN_APPLICATION_MEDIA_TYPE} layer and its config is not a locked app"
                    );
                }
                config
            }
        };
        let locked = LockedApp::from_json(&locked_bytes)
            .with_context(|| format!("the locked app in {whole} is invalid"))?;

        let archives = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == ARCHIVE_MEDIA_TYPE)
            .map(|l| {
                (
                    l.digest.as_str(),
                    self.cache.read_blob(&l.digest).map(Cow::Owned),
                )
            });
        complete_from_archives(&locked, &self.cache, archives, &Default::default())
            .with_context(|| format!("{whole} is incomplete"))?;

        let dir = self.cache.manifest_dir(&image);
        self.cache
            .write_file(&dir.join("manifest.json"), &manifest_bytes)?;
        self.cache
            .write_file(&dir.join("spin.lock"), &locked_bytes)?;
        Ok(Pulled {
            reference: whole,
            digest,
            manifest,
            locked,
            downloaded: missing.len(),
            cached: cached.len(),
            dir,
        })
    }

    /// The app at `reference` as an earlier pull left it in the cache, without contacting the
    /// registry: `None` unless its manifest, locked app and every blob they name are cached (and,
    /// for a `@sha256:` reference, the cached manifest has that digest).
    pub fn cached(&self, reference: &str) -> anyhow::Result<Option<Pulled>> {
        let image = parse_reference(reference)?;
        let dir = self.cache.manifest_dir(&image);
        let (Ok(manifest_bytes), Ok(locked_bytes)) = (
            std::fs::read(dir.join("manifest.json")),
            std::fs::read(dir.join("spin.lock")),
        ) else {
            return Ok(None);
        };
        let digest = sha256_digest(&manifest_bytes);
        if image.digest().is_some_and(|wanted| wanted != digest) {
            return Ok(None);
        }
        let Ok(manifest) = serde_json::from_slice::<OciImageManifest>(&manifest_bytes) else {
            return Ok(None);
        };
        let Ok(locked) = LockedApp::from_json(&locked_bytes) else {
            return Ok(None);
        };
        let layers_cached = manifest
            .layers
            .iter()
            .all(|l| self.cache.has_blob(&l.digest));
        if !layers_cached || !missing_content(&locked, &self.cache).is_empty() {
            return Ok(None);
        }
        Ok(Some(Pulled {
            reference: image.whole(),
            digest,
            cached: manifest.layers.len(),
            manifest,
            locked,
            downloaded: 0,
            dir,
        }))
    }

    pub(crate) async fn download(
        &self,
        oci: &oci_client::Client,
        image: &Reference,
        desc: &OciDescriptor,
        progress: &MultiProgress,
    ) -> Result<VerifiedBlob, DownloadError> {
        let mut stream = oci
            .pull_blob_stream(image, desc)
            .await
            .map_err(DownloadError::Registry)?;
        let mut writer = self
            .cache
            .blob_writer(&desc.digest)
            .map_err(DownloadError::Other)?;
        let bar = (desc.size as usize >= PROGRESS_THRESHOLD)
            .then(|| progress.add(bar(desc.size as u64, &desc.digest)));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| DownloadError::Other(e.into()))?;
            writer.write(&chunk).map_err(DownloadError::Other)?;
            if let Some(bar) = &bar {
                bar.inc(chunk.len() as u64);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if desc.size >= 0 && writer.written() != desc.size as u64 {
            return Err(DownloadError::Other(anyhow::anyhow!(
                "received {} bytes, the manifest says {}",
                writer.written(),
                desc.size
            )));
        }
        writer.verify().map_err(DownloadError::Other)
    }
}

pub(crate) enum DownloadError {
    Registry(oci_client::errors::OciDistributionError),
    Other(anyhow::Error),
}

fn bar(len: u64, digest: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(digest.chars().take(19).collect::<String>());
    bar
}

/// Every digest-only content reference of the app, as (what, digest).
fn content_refs(locked: &LockedApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &locked.components {
        if c.source.content.inline.is_none() && c.source.content.source.is_none() {
            if let Some(d) = &c.source.content.digest {
                out.push((format!("component `{}`", c.id), d.clone()));
            }
        }
        for (name, dep) in &c.dependencies {
            if let Some(d) = dep.pointer("/source/digest").and_then(Value::as_str) {
                if dep.pointer("/source/source").is_none() {
                    out.push((
                        format!("component `{}` dependency `{name}`", c.id),
                        d.to_string(),
                    ));
                }
            }
        }
        for f in &c.files {
            if f.content.inline.is_none() && f.content.source.is_none() {
                if let Some(d) = &f.content.digest {
                    out.push((
                        format!("component `{}` file {}", c.id, f.path.display()),
                        d.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// Makes sure `cache` holds every content `locked` names (except digests in `elsewhere`):
/// when something is missing, the files of the `archives` (tar+gzip archive layers, as
/// (digest, bytes), read only then) are unpacked into it by digest; what is still missing after
/// that is the error.
pub(crate) fn complete_from_archives<'a>(
    locked: &LockedApp,
    cache: &Cache,
    archives: impl IntoIterator<Item = (&'a str, anyhow::Result<Cow<'a, [u8]>>)>,
    elsewhere: &std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    let missing = || -> Vec<(String, String)> {
        missing_content(locked, cache)
            .into_iter()
            .filter(|(_, d)| !elsewhere.contains(d))
            .collect()
    };
    if missing().is_empty() {
        return Ok(());
    }
    for (digest, data) in archives {
        untar_gz(&data?, &mut |bytes| cache.put_blob(&bytes).map(|_| ()))
            .with_context(|| format!("unpacking archive layer {digest}"))?;
    }
    if let Some((what, digest)) = missing().into_iter().next() {
        bail!("{what} refers to content {digest}, which is not among the artifact's layers");
    }
    Ok(())
}

fn missing_content(locked: &LockedApp, cache: &Cache) -> Vec<(String, String)> {
    content_refs(locked)
        .into_iter()
        .filter(|(_, d)| !cache.has_blob(d))
        .collect()
}

/// Rewrites a pulled locked app (content by digest) into the form the runtime loads: every
/// digest reference becomes a `file://` URL of the cached blob (inline content stays inline),
/// and file paths become absolute guest paths. Fails if a blob is not in the cache.
pub fn resolve_to_cache(locked: LockedApp, cache: &Cache) -> anyhow::Result<LockedApp> {
    resolve_to_cache_except(locked, cache, &Default::default())
}

/// [`resolve_to_cache`], except that components whose digest is in `elsewhere` keep their
/// digest-only reference: their code comes from somewhere else (the shim's precompiled layers,
/// which the runtime finds by digest in its compile cache).
pub fn resolve_to_cache_except(
    mut locked: LockedApp,
    cache: &Cache,
    elsewhere: &std::collections::HashSet<String>,
) -> anyhow::Result<LockedApp> {
    let file_ref = |digest: &str, what: &dyn Fn() -> String| -> anyhow::Result<ContentRef> {
        let path = cache.blob_path(digest)?;
        if !path.is_file() {
            bail!(
                "{} refers to {digest}, which is not in the cache at {} (help: pull the app \
                 again)",
                what(),
                cache.root().display()
            );
        }
        let mut content = ContentRef::file(&path)
            .with_context(|| format!("{} is not an absolute path", path.display()))?;
        content.digest = Some(digest.to_string());
        Ok(content)
    };
    for c in &mut locked.components {
        let id = c.id.clone();
        if c.source.content.inline.is_none() && c.source.content.source.is_none() {
            let digest = c
                .source
                .content
                .digest
                .clone()
                .with_context(|| format!("component `{id}` has no source, inline or digest"))?;
            if !elsewhere.contains(&digest) {
                c.source.content = file_ref(&digest, &|| format!("component `{id}`"))?;
            }
        }
        for (name, dep) in c.dependencies.iter_mut() {
            let Some(source) = dep.get_mut("source").and_then(Value::as_object_mut) else {
                continue;
            };
            if source.contains_key("source") {
                continue;
            }
            if let Some(digest) = source
                .get("digest")
                .and_then(Value::as_str)
                .map(String::from)
            {
                let content =
                    file_ref(&digest, &|| format!("component `{id}` dependency `{name}`"))?;
                source.insert("source".into(), content.source.into());
            }
        }
        for f in &mut c.files {
            if !f.path.has_root() {
                f.path = Path::new("/").join(&f.path);
            }
            if f.content.inline.is_some() || f.content.source.is_some() {
                continue;
            }
            let digest = f.content.digest.clone().with_context(|| {
                format!("component `{id}` file {} has no content", f.path.display())
            })?;
            let path = f.path.clone();
            f.content = file_ref(&digest, &|| {
                format!("component `{id}` file {}", path.display())
            })?;
        }
    }
    Ok(locked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert_eq!(scheme_for("ghcr.io", false), "https");
        assert_eq!(scheme_for("ghcr.io", true), "http");
        assert_eq!(scheme_for("127.0.0.1:5000", false), "http");
    }

    #[test]
    fn resolves_digests_to_cached_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let wasm = cache.put_blob(b"\0asm....").unwrap();
        let data = cache.put_blob(&[1u8; 500]).unwrap();
        let j = json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{"id": "a",
                "source": {"content_type": "application/wasm", "digest": wasm},
                "files": [
                    {"digest": data, "path": "static/big.bin"},
                    {"inline": "aGkh", "digest": sha256_digest(b"hi!"), "path": "t.txt"}
                ]}]
        });
        let locked = LockedApp::from_json(j.to_string().as_bytes()).unwrap();
        assert_eq!(missing_content(&locked, &cache), vec![]);
        let r = resolve_to_cache(locked.clone(), &cache).unwrap();
        let c = &r.components[0];
        assert_eq!(
            c.source.content.local_path().unwrap(),
            cache.blob_path(&wasm).unwrap()
        );
        assert_eq!(c.files[0].path, Path::new("/static/big.bin"));
        assert_eq!(
            c.files[0].content.local_path().unwrap(),
            cache.blob_path(&data).unwrap()
        );
        assert_eq!(c.files[1].content.inline.as_deref(), Some(&b"hi!"[..]));
        assert_eq!(c.files[1].content.source, None);

        std::fs::remove_file(cache.blob_path(&data).unwrap()).unwrap();
        assert_eq!(missing_content(&locked, &cache).len(), 1);
        let e = resolve_to_cache(locked, &cache).unwrap_err().to_string();
        assert!(e.contains("static/big.bin") && e.contains(&data), "{e}");
    }
}
