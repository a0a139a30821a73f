//! The local content-addressed cache of pulled artifacts.
//!
//! ```text
//! <cache-dir>/registry/blobs/sha256/<hex>          every verified blob (wasm, data, unpacked
//!                                                  archive members, configs)
//! <cache-dir>/registry/manifests/<registry>/<repository>/<tag or digest>/
//!     manifest.json                                the image manifest as pulled
//!     spin.lock                                    the locked app (content by digest)
//! <cache-dir>/registry/tmp/                        downloads in progress
//! ```
//!
//! A blob is written to `tmp/`, hashed while written, and renamed into `blobs/` only when its
//! digest matches, so `blobs/` never holds partial or corrupt content. A pull moves its blobs
//! into `blobs/` only once every one of them has been verified.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::sha256_digest;

/// The registry cache rooted at `<cache-dir>/registry`.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache under `cache_dir` (Spin's `--cache-dir`), or the default
    /// `$XDG_CACHE_HOME/spindle` / `~/.cache/spindle`.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let base = match cache_dir {
            Some(dir) => dir,
            None => Self::default_dir().context(
                "cannot find a cache directory: HOME is not set (help: pass --cache-dir)",
            )?,
        };
        Ok(Self {
            root: base.join("registry"),
        })
    }

    /// `$XDG_CACHE_HOME/spindle` or `~/.cache/spindle`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("spindle"))
    }

    /// `<cache-dir>/registry`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = digest_hex(digest)?;
        Ok(self.root.join("blobs").join("sha256").join(hex))
    }

    /// Whether the blob is in the cache.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Directory for downloads in progress.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Directory holding the manifest and locked app pulled for `reference`.
    pub fn manifest_dir(&self, reference: &oci_client::Reference) -> PathBuf {
        let tag = match (reference.tag(), reference.digest()) {
            (Some(tag), _) => tag.to_string(),
            (None, Some(digest)) => digest.replace(':', "_"),
            (None, None) => "latest".to_string(),
        };
        let mut dir = self.root.join("manifests").join(reference.registry());
        for part in reference.repository().split('/') {
            dir.push(part);
        }
        dir.join(tag)
    }

    /// Starts writing a blob: a temporary file in `tmp/` that [`BlobWriter::commit`] moves into
    /// place after checking the digest; dropped uncommitted, it is deleted.
    pub fn blob_writer(&self, digest: &str) -> anyhow::Result<BlobWriter> {
        let dest = self.blob_path(digest)?;
        let tmp = self.tmp_dir();
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let file = tempfile::NamedTempFile::new_in(&tmp)
            .with_context(|| format!("creating a temporary file in {}", tmp.display()))?;
        Ok(BlobWriter {
            file,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            expected: digest.to_string(),
            dest,
            written: 0,
        })
    }

    /// Stores `bytes` under their own digest (for content that was verified another way,
    /// e.g. unpacked from a verified archive). Returns the digest.
    pub fn put_blob(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = sha256_digest(bytes);
        if !self.has_blob(&digest) {
            let mut w = self.blob_writer(&digest)?;
            w.write(bytes)?;
            w.commit()?;
        }
        Ok(digest)
    }

    /// Reads a cached blob, checking its digest.
    pub fn read_blob(&self, digest: &str) -> anyhow::Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading cached blob {}", path.display()))?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            bail!(
                "cached blob {} is corrupt (its digest is {actual}); delete it and pull again",
                path.display()
            );
        }
        Ok(bytes)
    }

    /// Writes `bytes` to `path` atomically (temp file + rename).
    pub(crate) fn write_file(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let dir = path.parent().context("path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// A blob being written to the cache; see [`Cache::blob_writer`].
pub struct BlobWriter {
    file: tempfile::NamedTempFile,
    hasher: sha2::Sha256,
    expected: String,
    dest: PathBuf,
    written: u64,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        sha2::Digest::update(&mut self.hasher, bytes);
        self.file
            .write_all(bytes)
            .context("writing to the registry cache")?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks the digest and moves the blob into place. On a mismatch the temporary file is
    /// deleted and the error gives both digests.
    pub fn commit(self) -> anyhow::Result<PathBuf> {
        self.verify()?.persist()
    }

    /// Checks the digest; the blob stays in `tmp/` until [`VerifiedBlob::persist`] (so a pull
    /// can store all of an artifact's blobs or none). On a mismatch the temporary file is
    /// deleted and the error gives both digests.
    pub fn verify(self) -> anyhow::Result<VerifiedBlob> {
        let actual = format!(
            "sha256:{}",
            hex::encode(sha2::Digest::finalize(self.hasher))
        );
        if actual != self.expected {
            // `self.file` is dropped (and deleted) on return.
            bail!(
                "digest mismatch: expected {}, got {actual} ({} bytes)",
                self.expected,
                self.written
            );
        }
        self.file.as_file().sync_all().ok();
        Ok(VerifiedBlob {
            // Closes the file; the path is still deleted if dropped unpersisted.
            tmp: self.file.into_temp_path(),
            dest: self.dest,
        })
    }
}

/// A downloaded blob whose digest matched, waiting in `tmp/`; deleted if dropped.
pub struct VerifiedBlob {
    tmp: tempfile::TempPath,
    dest: PathBuf,
}

impl VerifiedBlob {
    /// Moves the blob to its place under `blobs/`.
    pub fn persist(self) -> anyhow::Result<PathBuf> {
        let dir = self.dest.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        self.tmp
            .persist(&self.dest)
            .with_context(|| format!("moving a blob into {}", self.dest.display()))?;
        Ok(self.dest)
    }
}

/// The hex part of a `sha256:<64 hex>` digest; anything else is refused (it becomes a path).
fn digest_hex(digest: &str) -> anyhow::Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => bail!("unsupported digest `{digest}` (expected sha256:<64 lowercase hex digits>)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_write_and_mismatch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let good = sha256_digest(b"hello");
        let mut w = cache.blob_writer(&good).unwrap();
        w.write(b"hel").unwrap();
        w.write(b"lo").unwrap();
        let path = w.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(cache.has_blob(&good));
        assert_eq!(cache.read_blob(&good).unwrap(), b"hello");

        let other = sha256_digest(b"other");
        let mut w = cache.blob_writer(&other).unwrap();
        w.write(b"not other").unwrap();
        let e = w.commit().unwrap_err().to_string();
        assert!(e.contains("digest mismatch") && e.contains(&other), "{e}");
        assert!(!cache.has_blob(&other));
        assert_eq!(std::fs::read_dir(cache.tmp_dir()).unwrap().count(), 0);

        // Verified but never persisted (another blob of the same pull failed): nothing stays.
        let third = sha256_digest(b"third");
        let mut w = cache.blob_writer(&third).unwrap();
        w.write(b"third").unwrap();
        let verified = w.verify().unwrap();
        assert_eq!(std::fs::read_dir(cache.tmp_dir()).unwrap().count(), 1);
        drop(verified);
        assert!(!cache.has_blob(&third));
        assert_eq!(std::fs::read_dir(cache.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_odd_digests() {
        let cache = Cache::new(Some("/nonexistent".into())).unwrap();
        assert!(cache.blob_path("sha256:../../etc").is_err());
        assert!(cache.blob_path("md5:abc").is_err());
    }

    #[test]
    fn manifest_dirs() {
        let cache = Cache::new(Some("/c".into())).unwrap();
        let r: oci_client::Reference = "127.0.0.1:5000/me/hello:v1".parse().unwrap();
        assert_eq!(
            cache.manifest_dir(&r),
            Path::new("/c/registry/manifests/127.0.0.1:5000/me/hello/v1")
        );
    }
}
