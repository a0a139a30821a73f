//! Registry credentials in Docker's `config.json` (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`): `spindle registry login` writes `auths.<server>.auth`
//! (base64 `user:password`, file mode 0600) and every push/pull reads it, so credentials from
//! `docker login` work too (including `credHelpers` / `credsStore` helper programs).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde_json::{Map, Value};

/// Docker Hub's key in `config.json`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Path of Docker's client config: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn docker_config_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME")
        .context("cannot find Docker's config.json: neither DOCKER_CONFIG nor HOME is set")?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

/// The `config.json` key for a server given as `host[:port]`, `https://host/...` or
/// `docker.io`.
pub fn server_key(server: &str) -> String {
    let trimmed = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = trimmed.split('/').next().unwrap_or(trimmed);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_string(),
        _ => host.to_string(),
    }
}

fn read_config(path: &Path) -> anyhow::Result<Map<String, Value>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => bail!("{} is not a JSON object", path.display()),
            Err(e) => bail!("{} is not valid JSON: {e}", path.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Stores `username:password` for `server` in `config_path` (other entries are kept), with
/// mode 0600. Returns the key used.
pub fn store_credentials(
    config_path: &Path,
    server: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let mut config = read_config(config_path)?;
    let key = server_key(server);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    auths
        .as_object_mut()
        .expect("just made an object")
        .insert(key.clone(), serde_json::json!({ "auth": auth }));
    write_config(config_path, config)?;
    Ok(key)
}

/// Removes the credentials stored for `server` from `config_path` (other entries are kept).
/// Returns the key removed, or `None` when there were none.
pub fn remove_credentials(config_path: &Path, server: &str) -> anyhow::Result<Option<String>> {
    let mut config = read_config(config_path)?;
    let key = server_key(server);
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .and_then(|auths| auths.remove(&key));
    if removed.is_none() {
        return Ok(None);
    }
    write_config(config_path, config)?;
    Ok(Some(key))
}

/// Writes `config` to `config_path` atomically, with mode 0600 (its directory 0700 if new).
fn write_config(config_path: &Path, config: Map<String, Value>) -> anyhow::Result<()> {
    let dir = config_path
        .parent()
        .context("the Docker config path has no directory")?;
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok();
        }
    }
    // NamedTempFile is created with mode 0600; rename keeps it.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    serde_json::to_writer_pretty(&mut tmp, &Value::Object(config))?;
    tmp.persist(config_path)
        .with_context(|| format!("writing {}", config_path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(config_path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting the mode of {}", config_path.display()))?;
    }
    Ok(())
}

/// The credentials for `registry` (as in a reference, `host[:port]`) from `config_path`,
/// or anonymous access when there are none.
pub fn credentials_from(config_path: &Path, registry: &str) -> anyhow::Result<RegistryAuth> {
    let config = read_config(config_path)?;
    let key = server_key(registry);
    let candidates = [
        key.clone(),
        format!("https://{key}"),
        format!("http://{key}"),
        format!("https://{key}/v1/"),
        format!("https://{key}/v2/"),
    ];

    if let Some(helper) = config
        .get("credHelpers")
        .and_then(|h| h.get(&key))
        .and_then(Value::as_str)
    {
        return credential_helper(helper, &key);
    }
    if let Some(auths) = config.get("auths").and_then(Value::as_object) {
        for candidate in &candidates {
            if let Some(entry) = auths.get(candidate) {
                if let Some(auth) = decode_entry(entry).with_context(|| {
                    format!(
                        "{}: invalid credentials for `{candidate}`",
                        config_path.display()
                    )
                })? {
                    return Ok(auth);
                }
            }
        }
    }
    if let Some(store) = config.get("credsStore").and_then(Value::as_str) {
        if let Ok(auth) = credential_helper(store, &key) {
            return Ok(auth);
        }
    }
    Ok(RegistryAuth::Anonymous)
}

/// The credentials for `registry` from Docker's default config file.
pub fn credentials(registry: &str) -> anyhow::Result<RegistryAuth> {
    credentials_from(&docker_config_path()?, registry)
}

fn decode_entry(entry: &Value) -> anyhow::Result<Option<RegistryAuth>> {
    if let Some(token) = entry.get("registrytoken").and_then(Value::as_str) {
        return Ok(Some(RegistryAuth::Bearer(token.to_string())));
    }
    if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
        if !auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .context("`auth` is not base64")?;
            let decoded = String::from_utf8(decoded).context("`auth` is not UTF-8")?;
            let (user, pass) = decoded
                .split_once(':')
                .context("`auth` is not base64 of `user:password`")?;
            return Ok(Some(RegistryAuth::Basic(user.into(), pass.into())));
        }
    }
    match (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        (Some(u), Some(p)) => Ok(Some(RegistryAuth::Basic(u.into(), p.into()))),
        _ => Ok(None),
    }
}

/// Runs `docker-credential-<helper> get` with the server on stdin.
fn credential_helper(helper: &str, server: &str) -> anyhow::Result<RegistryAuth> {
    use std::io::Write as _;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("running the Docker credential helper `{program}`"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(server.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("`{program} get` found no credentials for {server}");
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("`{program} get` printed invalid JSON"))?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
    if user == "<token>" {
        return Ok(RegistryAuth::Bearer(secret.to_string()));
    }
    Ok(RegistryAuth::Basic(user.to_string(), secret.to_string()))
}

/// Checks `username`/`password` against the registry at `server` (`host[:port]`) by asking for
/// its API root (`/v2/`), following a Bearer token challenge if the registry uses one.
pub async fn validate_credentials(
    server: &str,
    username: &str,
    password: &str,
    insecure: bool,
) -> anyhow::Result<()> {
    let host = server_key(server);
    let host = if host == DOCKER_HUB_KEY {
        "registry-1.docker.io".to_string()
    } else {
        host
    };
    let scheme = crate::scheme_for(&host, insecure);
    let client = crate::http_client_builder()
        .danger_accept_invalid_certs(insecure)
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let url = format!("{scheme}://{host}/v2/");
    let unauthenticated = client
        .get(&url)
        .send()
        .await
        .map_err(|e| crate::errors::connect_error(e.into(), &host, scheme))?;
    if unauthenticated.status().is_success() {
        return Ok(()); // the registry needs no credentials; they are stored anyway
    }
    let challenge = unauthenticated
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let response = if let Some(params) = challenge
        .strip_prefix("Bearer ")
        .or_else(|| challenge.strip_prefix("bearer "))
    {
        let param = |name: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm").context("the registry's Bearer challenge has no realm")?;
        let mut query = Vec::new();
        if let Some(service) = param("service") {
            query.push(("service", service));
        }
        client
            .get(&realm)
            .query(&query)
            .basic_auth(username, Some(password))
            .send()
            .await?
    } else {
        client
            .get(&url)
            .basic_auth(username, Some(password))
            .send()
            .await?
    };
    match response.status().as_u16() {
        200..=299 => Ok(()),
        401 | 403 => bail!(
            "{host} rejected the username or password for `{username}` (HTTP {}); nothing was \
             stored",
            response.status().as_u16()
        ),
        code => bail!("{host} answered HTTP {code} to a login check at {url}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_then_read_keeps_other_entries_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker").join("config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"auths": {"ghcr.io": {"auth": "Z2g6dG9r"}}, "psFormat": "x"}"#,
        )
        .unwrap();
        let key = store_credentials(&path, "https://127.0.0.1:5000", "me", "p:ss").unwrap();
        assert_eq!(key, "127.0.0.1:5000");
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], "bWU6cDpzcw==");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        match credentials_from(&path, "127.0.0.1:5000").unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("me", "p:ss")),
            other => panic!("{other:?}"),
        }
        match credentials_from(&path, "ghcr.io").unwrap() {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("gh", "tok")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            credentials_from(&path, "example.com").unwrap(),
            RegistryAuth::Anonymous
        ));
        assert!(matches!(
            credentials_from(&dir.path().join("missing.json"), "x").unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn docker_hub_and_url_keys() {
        assert_eq!(server_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(server_key("https://ghcr.io/v2/"), "ghcr.io");
        assert_eq!(server_key("localhost:5000"), "localhost:5000");
    }
}
