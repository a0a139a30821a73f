//! `spindle-oci`: Spin applications as OCI artifacts, in exactly the layout Spin uses, so
//! artifacts pushed by Spindle run on Spin (and SpinKube's containerd shim) and the other way
//! round.
//!
//! * [`assemble`] turns a locked app (from `spin.toml`, with `file://` sources) into an
//!   [`Artifact`]: one `application/vnd.wasm.content.layer.v1+wasm` layer per component, one
//!   `application/vnd.wasm.content.layer.v1+data` layer per static file (files of at most
//!   [`INLINE_MAX_SIZE`] bytes are inlined into the locked app instead), identical layers
//!   deduplicated, tar+gzip archive layers when there would be more than [`MAX_LAYER_COUNT`]
//!   layers, the locked app itself as an `application/vnd.fermyon.spin.application.v1+config`
//!   layer, a standard OCI image config (`architecture: wasm`, label
//!   `com.fermyon.spin.lockedAppDigest`) and the `org.opencontainers.image.*` annotations.
//! * [`Client`] pushes and pulls artifacts with [`oci_client`], reading credentials from
//!   Docker's `config.json` (see [`auth`]), and keeps pulled content in a content-addressed
//!   [`Cache`]: every blob is verified against its digest before it is moved into place, and a
//!   blob already in the cache is never downloaded again.
//! * [`resolve_to_cache`] rewrites a pulled locked app's digest references into `file://`
//!   paths of cached blobs, which is the form the Spindle runtime loads.
//! * [`fetch_url_sources`] downloads `source = { url, digest }` components into the same
//!   cache (verified, once) and points the locked app at them.
//! * [`import_layers`] takes an artifact's layers from someone else (containerd, for the shim)
//!   with the same checks as a pull.
//! * [`fetch_package_sources`] does the same for components and dependencies from Wasm package
//!   registries (`package = "ns:name"`, wasm-pkg's OCI layout).
//!
//! This crate does not depend on the runtime (no wasmtime): it only moves bytes.

#![deny(missing_docs)]

mod assemble;
pub mod auth;
mod cache;
mod client;
mod errors;
mod layers;
mod packages;
mod remote;

pub use assemble::{assemble, Artifact, AssembleOptions, Layer};
pub use cache::{BlobWriter, Cache, VerifiedBlob};
pub use client::{
    resolve_to_cache, resolve_to_cache_except, Client, ClientOptions, Pulled, Pushed,
};
pub use errors::Unreachable;
pub use layers::{composed_digests, import_layers, LayerBlob};
pub use oci_client::manifest::OciImageManifest;
pub use oci_client::Reference;
pub use packages::{any_source, fetch_package_sources, has_package_sources, PackageConfig};
pub use remote::fetch_url_sources;

/// Media type of the layer holding the locked app JSON (Spin 2+; Spin 1 put it in the config).
pub const SPIN_APPLICATION_MEDIA_TYPE: &str = "application/vnd.fermyon.spin.application.v1+config";
/// Media type of a component's Wasm layer.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// Media type of a Wasm layer pushed by `wkg` (accepted on pull).
pub const WASM_LAYER_MEDIA_TYPE_WKG: &str = "application/wasm";
/// Whether a layer of this media type is a component's Wasm (Spin's or `wkg`'s layer type).
pub fn is_wasm_layer(media_type: &str) -> bool {
    media_type == WASM_LAYER_MEDIA_TYPE || media_type == WASM_LAYER_MEDIA_TYPE_WKG
}
/// Media type of a static-file layer.
pub const DATA_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+data";
/// Media type of a tar+gzip archive of static files.
pub const ARCHIVE_MEDIA_TYPE: &str = "application/vnd.wasm.content.bundle.v1.tar+gzip";
/// Media type of the OCI image config.
pub const IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the OCI image manifest.
pub const IMAGE_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Image config label holding the digest of the locked-app layer.
pub const LOCKED_APP_DIGEST_LABEL: &str = "com.fermyon.spin.lockedAppDigest";
/// Files of at most this many bytes are inlined into the locked app instead of pushed as layers.
pub const INLINE_MAX_SIZE: usize = 128;
/// Most layers an artifact may have (the lowest limit among well-known registries, ECR's);
/// above it static files are pushed as archive layers.
pub const MAX_LAYER_COUNT: usize = 500;
/// Environment variable that forces archive layers (as in Spin).
pub const ARCHIVE_LAYERS_ENV: &str = "SPIN_OCI_ARCHIVE_LAYERS";

/// Whether `s` should be treated as a registry reference rather than a local path: it parses
/// as an OCI reference and names its registry host explicitly (`ghcr.io/...`,
/// `127.0.0.1:5000/...`, `localhost/...`), as Docker decides whether a name has a registry.
/// Callers check first whether `s` exists locally (Spin's rule: a local path wins).
pub fn looks_like_reference(s: &str) -> bool {
    if s.ends_with(".toml") || s.ends_with(".wasm") || s.starts_with('.') || s.starts_with('/') {
        return false;
    }
    let Some((first, _)) = s.split_once('/') else {
        return false;
    };
    let explicit_host = first.contains('.') || first.contains(':') || first == "localhost";
    explicit_host && s.parse::<Reference>().is_ok()
}

/// For a string that is not a local path but does not pass [`looks_like_reference`]: why it
/// is not a usable registry reference, when it looks like an attempt at one (`MyOrg/Hello`,
/// `me/hello:v1`). `None` for strings that look like file paths.
pub fn reference_problem(s: &str) -> Option<String> {
    let path_like = s.ends_with(".toml")
        || s.ends_with(".wasm")
        || s.starts_with('.')
        || s.starts_with('/')
        || s.starts_with('~');
    if path_like || looks_like_reference(s) || !(s.contains('/') || s.contains(':')) {
        return None;
    }
    let example = "e.g. `ghcr.io/myorg/hello:v1` or `127.0.0.1:5000/myorg/hello:v1`";
    if let Err(e) = s.parse::<Reference>() {
        return Some(format!(
            "`{s}` is neither a local file nor a valid registry reference ({e}); a reference is \
             `registry-host/repository[:tag]` with a lowercase repository, {example}"
        ));
    }
    Some(format!(
        "`{s}` is neither a local file nor a registry reference with a registry host; Spindle \
         does not guess a default registry: name it, {example}"
    ))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `http` for `-k` and loopback registries, else `https`.
pub(crate) fn scheme_for(registry: &str, insecure: bool) -> &'static str {
    if insecure || is_loopback(registry) {
        "http"
    } else {
        "https"
    }
}

pub(crate) fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A reqwest client builder with rustls' ring crypto provider installed: reqwest is built
/// without a default provider, so every plain HTTP client of this crate starts here.
pub(crate) fn http_client_builder() -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
}

/// Installs rustls' ring crypto provider once (reqwest is built without a default provider).
fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_problems_are_explained() {
        use super::reference_problem;
        let upper = reference_problem("MyOrg/Hello").unwrap();
        assert!(upper.contains("nor a valid registry reference"), "{upper}");
        let hostless = reference_problem("myorg/hello:v1").unwrap();
        assert!(hostless.contains("registry host"), "{hostless}");
        for path in ["spin.toml", "./app", "/abs/app", "app/spin.toml", "hello"] {
            assert_eq!(reference_problem(path), None, "{path}");
        }
        assert_eq!(reference_problem("ghcr.io/me/hello:v1"), None);
    }

    use super::*;

    #[test]
    fn reference_detection() {
        assert!(looks_like_reference("127.0.0.1:5000/me/hello:v1"));
        assert!(looks_like_reference("ghcr.io/me/hello:v1"));
        assert!(looks_like_reference("localhost/me/hello"));
        assert!(looks_like_reference(
            "ghcr.io/me/hello@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        ));
        assert!(!looks_like_reference("spin.toml"));
        assert!(!looks_like_reference("examples/multi"));
        assert!(!looks_like_reference("examples/multi/spin.toml"));
        assert!(!looks_like_reference("./app"));
        assert!(!looks_like_reference("hello"));
    }

    #[test]
    fn digest_format() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
