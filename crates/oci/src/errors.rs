//! Registry errors turned into messages that say what went wrong, where, and what to do.

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// What was being done, for messages.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Push,
    Pull,
}

/// Explains a registry error for `reference` (`registry/repo:tag`) on `registry`.
pub(crate) fn explain(
    e: OciDistributionError,
    op: Op,
    reference: &str,
    registry: &str,
    scheme: &str,
) -> anyhow::Error {
    let login = format!(
        "help: run `spindle registry login {registry}` (or `docker login {registry}`) with an \
         account that may {} {reference}",
        match op {
            Op::Push => "push to",
            Op::Pull => "pull",
        }
    );
    let status = status_of(&e);
    match (&e, status) {
        (OciDistributionError::UnauthorizedError { url }, _) => {
            anyhow::anyhow!("{registry} refused access (HTTP 401 Unauthorized at {url})\n{login}")
        }
        (OciDistributionError::AuthenticationFailure(reason), _) => {
            anyhow::anyhow!("{registry} rejected the stored credentials: {reason}\n{login}")
        }
        (_, Some(401)) => anyhow::anyhow!("{registry} refused access (HTTP 401): {e}\n{login}"),
        (_, Some(403)) => anyhow::anyhow!("{registry} denied access (HTTP 403): {e}\n{login}"),
        (OciDistributionError::ImageManifestNotFoundError(_), _) | (_, Some(404)) => {
            anyhow::anyhow!(
                "{reference} was not found on {registry}: {e}\nhelp: check the repository \
                 and tag (push it first with `spindle registry push {reference}`)"
            )
        }
        (OciDistributionError::RequestError(r), _) if r.is_connect() || r.is_timeout() => {
            anyhow::Error::new(Unreachable(connect_error(
                anyhow::Error::new(e),
                registry,
                scheme,
            )))
        }
        (OciDistributionError::RequestError(_), _) => {
            connect_error(anyhow::Error::new(e), registry, scheme)
        }
        _ => anyhow::Error::new(e).context(format!(
            "registry {registry} failed to {} {reference}",
            match op {
                Op::Push => "push",
                Op::Pull => "pull",
            }
        )),
    }
}

fn status_of(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().find_map(|err| match err.code {
                OciErrorCode::Unauthorized => Some(401),
                OciErrorCode::Denied => Some(403),
                OciErrorCode::ManifestUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::BlobUnknown => Some(404),
                _ => None,
            })
        }
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// A failed connection: say which URL, and suggest `-k` for plain-HTTP registries.
pub(crate) fn connect_error(e: anyhow::Error, registry: &str, scheme: &str) -> anyhow::Error {
    let hint = if scheme == "https" {
        "help: check that the registry is running and reachable; if it serves plain HTTP \
         (no TLS), pass -k/--insecure"
    } else {
        "help: check that the registry is running and reachable at this address"
    };
    anyhow::anyhow!("cannot reach the registry at {scheme}://{registry}: {e:#}\n{hint}")
}

/// The registry could not be reached at all (no connection, or it timed out): a caller with a
/// cached copy may run that instead.
#[derive(Debug)]
pub struct Unreachable(anyhow::Error);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Unreachable {}
