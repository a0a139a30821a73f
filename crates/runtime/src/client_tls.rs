//! Outbound HTTPS with per-host TLS settings: the runtime config's `[[client_tls]]` (custom CA
//! roots and client certificates for some components' requests to some hosts), as in Spin.
//!
//! ```toml
//! [[client_tls]]
//! component_ids = ["api"]
//! hosts = ["internal.example.com"]
//! ca_roots_file = "certs/ca.pem"          # trusted in place of the public roots...
//! ca_use_webpki_roots = true              # ...or beside them
//! client_cert_file = "certs/client.pem"   # mutual TLS (with the key)
//! client_private_key_file = "certs/client.key"
//! ```
//!
//! Hosts match the request's host exactly (no port, no wildcard); the first entry naming the
//! component and host wins; every other request uses wasmtime-wasi-http's defaults (public
//! webpki roots, no client certificate). Relative paths are relative to the runtime config
//! file's directory. The connections themselves are opened by [`crate::http_pool`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;
use tokio_rustls::rustls;

/// One `[[client_tls]]` entry, as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// The components whose requests use these settings.
    pub component_ids: Vec<String>,
    /// Host names (no port).
    pub hosts: Vec<String>,
    /// Trust the public webpki roots too (default: only when `ca_roots_file` is not set).
    pub ca_use_webpki_roots: Option<bool>,
    /// PEM file of CA certificates to trust.
    pub ca_roots_file: Option<PathBuf>,
    /// PEM certificate chain presented to the server (with `client_private_key_file`).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_private_key_file: Option<PathBuf>,
}

/// The TLS client settings of an app: (component, host) → rustls config.
#[derive(Default)]
pub struct ClientTls {
    configs: HashMap<(String, String), Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("entries", &self.configs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ClientTls {
    /// Builds every entry, reading its files (relative to `config_dir`). Errors name the entry
    /// (`[[client_tls]]` number, counted from 1), the key and the file.
    pub fn new(entries: &[ClientTlsConfig], config_dir: &Path) -> anyhow::Result<Self> {
        let mut configs = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let what = format!("[[client_tls]] entry {}", i + 1);
            let config = Arc::new(client_config(entry, config_dir).context(what.clone())?);
            if entry.component_ids.is_empty() || entry.hosts.is_empty() {
                anyhow::bail!(
                    "{what}: `component_ids` and `hosts` must each name at least one (help: \
                     e.g. component_ids = [\"api\"], hosts = [\"internal.example.com\"])"
                );
            }
            for host in &entry.hosts {
                check_host(host).with_context(|| format!("{what}: host `{host}`"))?;
                for id in &entry.component_ids {
                    configs
                        .entry((id.clone(), host.to_ascii_lowercase()))
                        .or_insert_with(|| config.clone());
                }
            }
        }
        Ok(Self { configs })
    }

    /// The settings for `component_id`'s requests to `host`, when an entry names them.
    pub fn for_host(&self, component_id: &str, host: &str) -> Option<Arc<rustls::ClientConfig>> {
        if self.configs.is_empty() {
            return None;
        }
        self.configs
            .get(&(component_id.to_string(), host.to_ascii_lowercase()))
            .cloned()
    }
}

fn check_host(host: &str) -> anyhow::Result<()> {
    if host.contains(':') && !host.starts_with('[') {
        anyhow::bail!(
            "ports are not supported in `hosts` (help: write the host name alone; the entry \
             applies to every port)"
        );
    }
    if host.is_empty() || host.contains(['/', '*', ' ']) {
        anyhow::bail!("not a host name (help: write e.g. \"internal.example.com\")");
    }
    Ok(())
}

fn client_config(entry: &ClientTlsConfig, dir: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if entry
        .ca_use_webpki_roots
        .unwrap_or(entry.ca_roots_file.is_none())
    {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(file) = &entry.ca_roots_file {
        for cert in crate::pem::certificates(&dir.join(file), "ca_roots_file")? {
            roots.add(cert).map_err(|e| {
                anyhow::anyhow!(
                    "a certificate in {} (ca_roots_file) is not a usable CA: {e}",
                    dir.join(file).display()
                )
            })?;
        }
    }
    if roots.is_empty() {
        anyhow::bail!(
            "no CA is trusted (help: set `ca_roots_file`, or leave `ca_use_webpki_roots` at true)"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?
        .with_root_certificates(roots);
    let mut config = match (&entry.client_cert_file, &entry.client_private_key_file) {
        (Some(cert), Some(key)) => {
            let chain = crate::pem::certificates(&dir.join(cert), "client_cert_file")?;
            let key = crate::pem::private_key(&dir.join(key), "client_private_key_file")?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                anyhow::anyhow!(
                    "client_private_key_file does not fit client_cert_file {}: {e}",
                    dir.join(cert).display()
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => anyhow::bail!(
            "`client_cert_file` and `client_private_key_file` go together (help: set both, or \
             neither)"
        ),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
