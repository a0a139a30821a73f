//! Component sources given by URL (`source = { url = "https://...", digest = "sha256:..." }`).
//!
//! As in Spin, such a source is downloaded once into the content-addressed cache (the same
//! `blobs/sha256/` store registry pulls use), checked against its digest before it is kept,
//! and the locked app then points at the cached file. A source whose digest is already cached
//! is never downloaded again, so an app starts offline once it has run.

use anyhow::{bail, Context as _};
use futures::StreamExt as _;
use serde_json::Value;
use spindle_manifest::locked::{ContentRef, LockedApp};

use crate::Cache;

/// Longest pause between two reads of a download.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Largest component a URL source may have (1 GiB): a server that never ends its body must
/// not fill the disk. The digest check refuses anything else that is wrong.
const MAX_DOWNLOAD: u64 = 1 << 30;

/// Downloads every `http(s)://` component (and component dependency) source of `locked` that
/// is not in `cache` yet, verifies it against its digest, and rewrites the source to the
/// cached `file://` path (keeping the digest).
pub async fn fetch_url_sources(mut locked: LockedApp, cache: &Cache) -> anyhow::Result<LockedApp> {
    let client = crate::http_client_builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        // A server that stops sending mid-body fails the start instead of hanging it.
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("spindle/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("creating the HTTP client for component downloads")?;
    for c in &mut locked.components {
        let id = c.id.clone();
        if is_remote(&c.source.content) {
            let what = format!("component `{id}`");
            c.source.content = fetch(&client, cache, &c.source.content, &what).await?;
        }
        for (name, dep) in c.dependencies.iter_mut() {
            let Some(source) = dep.get_mut("source").and_then(Value::as_object_mut) else {
                continue;
            };
            let content = ContentRef {
                source: source
                    .get("source")
                    .and_then(Value::as_str)
                    .map(String::from),
                digest: source
                    .get("digest")
                    .and_then(Value::as_str)
                    .map(String::from),
                ..Default::default()
            };
            if is_remote(&content) {
                let what = format!("component `{id}` dependency `{name}`");
                let fetched = fetch(&client, cache, &content, &what).await?;
                source.insert("source".into(), fetched.source.into());
            }
        }
    }
    Ok(locked)
}

fn is_remote(content: &ContentRef) -> bool {
    content.inline.is_none()
        && content
            .source
            .as_deref()
            .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://"))
}

async fn fetch(
    client: &reqwest::Client,
    cache: &Cache,
    content: &ContentRef,
    what: &str,
) -> anyhow::Result<ContentRef> {
    let url = content.source.as_deref().unwrap_or_default();
    let Some(digest) = content.digest.as_deref() else {
        bail!(
            "{what}: the source {url} has no digest (help: add `digest = \"sha256:<hex>\"`; \
             `sha256sum` of the file gives the hex)"
        );
    };
    let path = cache
        .blob_path(digest)
        .with_context(|| format!("{what}: {url}"))?;
    if !path.is_file() {
        tracing::info!("downloading {url} for {what}");
        download(client, cache, url, digest, MAX_DOWNLOAD)
            .await
            .with_context(|| format!("{what}: downloading {url}"))?;
    }
    let mut local = ContentRef::file(&path)
        .with_context(|| format!("{} is not an absolute path", path.display()))?;
    local.digest = Some(digest.to_string());
    Ok(local)
}

async fn download(
    client: &reqwest::Client,
    cache: &Cache,
    url: &str,
    digest: &str,
    max: u64,
) -> anyhow::Result<()> {
    let response = client.get(url).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("the server answered {status} (help: check the URL in the manifest)");
    }
    if response.content_length().is_some_and(|len| len > max) {
        bail!("the file is larger than {max} bytes, the limit for a component source");
    }
    let mut writer = cache.blob_writer(digest)?;
    let mut body = response.bytes_stream();
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("reading the response body")?;
        received += chunk.len() as u64;
        if received > max {
            bail!(
                "the download passed {max} bytes, the limit for a component source; nothing \
                 was cached"
            );
        }
        writer.write(&chunk)?;
    }
    writer.commit().map(drop).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nhelp: the file at the URL changed or the manifest's digest is wrong; nothing \
             was cached"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    /// Serves `body` for every request on a loopback port, `requests` times.
    fn serve(body: Vec<u8>, requests: usize) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            for _ in 0..requests {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                s.write_all(head.as_bytes()).unwrap();
                s.write_all(&body).unwrap();
            }
        });
        (format!("http://{addr}/app.wasm"), handle)
    }

    fn locked_with(url: &str, digest: &str) -> LockedApp {
        serde_json::from_value(serde_json::json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{
                "id": "c",
                "source": {
                    "content_type": "application/wasm",
                    "source": url,
                    "digest": digest,
                }
            }]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn downloads_once_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let body = b"\0asm\x01\0\0\0".to_vec();
        let digest = crate::sha256_digest(&body);
        let (url, server) = serve(body.clone(), 1);
        let locked = fetch_url_sources(locked_with(&url, &digest), &cache)
            .await
            .unwrap();
        server.join().unwrap();
        let content = &locked.components[0].source.content;
        assert_eq!(content.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(std::fs::read(content.local_path().unwrap()).unwrap(), body);
        // Second time: served from the cache (the server is gone).
        let again = fetch_url_sources(locked_with(&url, &digest), &cache)
            .await
            .unwrap();
        assert_eq!(again.components[0].source.content, *content);
    }

    #[tokio::test]
    async fn wrong_digest_caches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let wrong = crate::sha256_digest(b"something else");
        let (url, server) = serve(b"\0asm\x01\0\0\0".to_vec(), 1);
        let err = fetch_url_sources(locked_with(&url, &wrong), &cache)
            .await
            .unwrap_err();
        server.join().unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("component `c`"), "{msg}");
        assert!(msg.contains(&url), "{msg}");
        assert!(msg.contains("digest"), "{msg}");
        assert!(!cache.has_blob(&wrong));
    }

    #[tokio::test]
    async fn oversized_download_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf())).unwrap();
        let body = b"\0asm\x01\0\0\0".to_vec();
        let digest = crate::sha256_digest(&body);
        let (url, server) = serve(body, 1);
        let client = crate::http_client_builder().build().unwrap();
        let err = download(&client, &cache, &url, &digest, 4)
            .await
            .unwrap_err();
        server.join().unwrap();
        assert!(
            format!("{err:#}").contains("larger than 4 bytes"),
            "{err:#}"
        );
        assert!(!cache.has_blob(&digest));
    }
}
