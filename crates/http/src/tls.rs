//! The HTTPS listener (`--tls-cert` / `--tls-key`, as `spin up`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_rustls::rustls;

/// A TLS acceptor for the PEM certificate chain at `cert` and the PEM private key (PKCS#8,
/// PKCS#1 or SEC1) at `key`, offering HTTP/2 and HTTP/1.1 by ALPN.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let certs = spindle_runtime::pem::certificates(cert, "--tls-cert")?;
    let key = spindle_runtime::pem::private_key(key, "--tls-key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow::anyhow!(
                "the TLS key does not fit the certificate {}: {e} (help: pass the key the \
                 certificate was issued for)",
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
