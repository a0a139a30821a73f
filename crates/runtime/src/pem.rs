//! PEM files: certificate chains and private keys, with errors that name the file and the
//! setting it came from.

use std::path::Path;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate in the PEM file `path`; `what` names the setting (`--tls-cert`, ...).
pub fn certificates(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the certificates {} ({what}): {e} (help: {what} takes a PEM file \
                 with one or more certificates)",
                path.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "the file {} ({what}) holds no PEM certificate (help: {what} takes a PEM file \
             starting with `-----BEGIN CERTIFICATE-----`)",
            path.display()
        );
    }
    Ok(certs)
}

/// The private key in the PEM file `path` (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path, what: &str) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the private key {} ({what}): {e} (help: {what} takes a PEM private \
             key, PKCS#8, PKCS#1 or SEC1)",
            path.display()
        )
    })
}
