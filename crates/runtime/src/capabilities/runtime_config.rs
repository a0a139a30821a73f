//! Spin's runtime configuration file (`--runtime-config-file`, `RUNTIME_CONFIG_FILE`): where
//! key-value stores and SQLite databases live, and which variable providers are on.
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"
//! url = "redis://localhost"
//!
//! [key_value_store.user_data]
//! type = "spin"
//! path = ".spin/user_data.db"
//!
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/app.db"
//!
//! [[variables_provider]]
//! type = "env"
//! prefix = "MYAPP"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// The parsed runtime configuration. Relative paths are relative to the file's directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// `[key_value_store.<label>]`.
    #[serde(default)]
    pub key_value_store: BTreeMap<String, StoreConfig>,
    /// `[sqlite_database.<label>]`.
    #[serde(default)]
    pub sqlite_database: BTreeMap<String, DatabaseConfig>,
    /// `[[variables_provider]]` (also accepted under Spin's older name `[[config_provider]]`).
    #[serde(default, alias = "config_provider")]
    pub variables_provider: Vec<ProviderConfig>,
    /// `state_dir`: overrides the default `.spin` directory.
    pub state_dir: Option<PathBuf>,
    /// `log_dir`: overrides the default log directory.
    pub log_dir: Option<PathBuf>,
    /// `max_instance_memory`: the most linear memory one instance may use, in bytes
    /// (`--max-instance-memory` wins over it).
    pub max_instance_memory: Option<u64>,
    /// `[outbound_http]`: limits on outbound HTTP.
    pub outbound_http: Option<OutboundHttpConfig>,
    /// `[[client_tls]]`: custom CA roots and client certificates per component and host.
    #[serde(default)]
    pub client_tls: Vec<crate::client_tls::ClientTlsConfig>,
    /// Sections Spin accepts that Spindle does not implement: parsed only to be refused by
    /// name in [`RuntimeConfig::parse`], never silently ignored.
    #[serde(default)]
    pub outbound_redis: Option<toml::Value>,
    /// See `outbound_redis`.
    #[serde(default)]
    pub outbound_networking: Option<toml::Value>,
    /// See `outbound_redis`.
    #[serde(default)]
    pub llm_compute: Option<toml::Value>,
}

/// `[outbound_http]`, as Spin defines it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutboundHttpConfig {
    /// Reuse connections between requests (one pool per component). Without an
    /// `[outbound_http]` section pooling is on; as in Spin, a section without the key means
    /// `false`.
    #[serde(default)]
    pub connection_pooling: bool,
    /// The most outbound HTTP requests (to the network) the whole app may have in flight at
    /// once; more wait. Unset: no limit.
    pub max_concurrent_requests: Option<usize>,
}

/// The runtime-config keys Spindle acts on.
pub const SUPPORTED_KEYS: &[&str] = &[
    "key_value_store",
    "sqlite_database",
    "variables_provider",
    "state_dir",
    "log_dir",
    "max_instance_memory",
    "outbound_http",
    "client_tls",
];

/// A key-value store backend.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// A SQLite file (`path`, default `<state_dir>/sqlite_key_value.db`).
    Spin {
        /// Database file.
        path: Option<PathBuf>,
    },
    /// A Redis server.
    Redis {
        /// `redis://host[:port][/db]`.
        url: String,
    },
}

/// A SQLite database.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatabaseConfig {
    /// A local file (`path`, default `<state_dir>/sqlite_db.db` for `default`).
    Spin {
        /// Database file.
        path: Option<PathBuf>,
    },
}

/// A variables provider.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderConfig {
    /// Environment variables `<prefix>_<NAME>` (default prefix `SPIN_VARIABLE`).
    Env {
        /// Prefix.
        prefix: Option<String>,
        /// A dotenv file to read as well.
        dotenv_path: Option<PathBuf>,
    },
    /// Fixed values.
    Static {
        /// name → value.
        values: BTreeMap<String, String>,
    },
}

impl RuntimeConfig {
    /// Reads and parses `path`. Errors name the file and, for TOML errors, the line.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read runtime config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid runtime config {}", path.display()))
    }

    /// Parses runtime config text. A Spin section Spindle does not implement is an error that
    /// names it and its line.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let line_of = |key: &str| {
            text.lines()
                .position(|l| {
                    let l = l.trim_start().trim_start_matches('[').trim_start();
                    l.starts_with(key)
                })
                .map(|i| format!(" (line {})", i + 1))
                .unwrap_or_default()
        };
        if let Some(http) = &config.outbound_http {
            if http.max_concurrent_requests == Some(0) {
                anyhow::bail!(
                    "`max_concurrent_requests = 0`{} in [outbound_http] would block every \
                     outbound request (help: set a limit of 1 or more, or remove the key)",
                    line_of("max_concurrent_requests")
                );
            }
        }
        let present = [
            ("outbound_redis", config.outbound_redis.is_some()),
            ("outbound_networking", config.outbound_networking.is_some()),
            ("llm_compute", config.llm_compute.is_some()),
        ];
        if let Some((key, _)) = present.iter().find(|(_, set)| *set) {
            let line = line_of(key);
            anyhow::bail!(
                "`{key}`{line} is a Spin runtime-config section that Spindle does not implement \
                 yet (help: remove it; Spindle supports {})",
                SUPPORTED_KEYS.join(", ")
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_example() {
        let c = RuntimeConfig::parse(
            r#"
[key_value_store.default]
type = "redis"
url = "redis://localhost"

[key_value_store.user_data]
type = "spin"
path = ".spin/user_data.db"

[sqlite_database.default]
type = "spin"
path = "db.sqlite"

[[config_provider]]
type = "env"
prefix = "MYAPP"
"#,
        )
        .unwrap();
        assert_eq!(
            c.key_value_store["default"],
            StoreConfig::Redis {
                url: "redis://localhost".into()
            }
        );
        assert_eq!(
            c.key_value_store["user_data"],
            StoreConfig::Spin {
                path: Some(".spin/user_data.db".into())
            }
        );
        assert_eq!(
            c.variables_provider,
            vec![ProviderConfig::Env {
                prefix: Some("MYAPP".into()),
                dotenv_path: None
            }]
        );
    }

    #[test]
    fn unknown_keys_and_types_are_errors() {
        let e = RuntimeConfig::parse("[key_value_store.x]\ntype = \"azure_cosmos\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("azure_cosmos"), "{e}");
        let e = RuntimeConfig::parse("bogus = 1\n").unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn spin_sections_spindle_does_not_implement_are_refused_by_name() {
        for (text, key, line) in [
            (
                "log_dir = \"x\"\n\n[outbound_networking]\nmax_total_connections = 2\n",
                "outbound_networking",
                3,
            ),
            ("[llm_compute]\ntype = \"spin\"\n", "llm_compute", 1),
        ] {
            let e = RuntimeConfig::parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}` (line {line})")), "{e}");
            assert!(e.contains("does not implement"), "{e}");
        }
        let c = RuntimeConfig::parse("[outbound_http]\n\nconnection_pooling = true\n").unwrap();
        assert!(c.outbound_http.unwrap().connection_pooling);
        let c = RuntimeConfig::parse("[outbound_http]\nmax_concurrent_requests = 2\n").unwrap();
        assert!(!c.outbound_http.unwrap().connection_pooling);
        let e = RuntimeConfig::parse("[outbound_http]\nmax_connections = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_connections"), "{e}");
        let c = RuntimeConfig::parse(
            "[outbound_http]\nconnection_pooling = false\nmax_concurrent_requests = 4\n\n\
             [[client_tls]]\ncomponent_ids = [\"a\"]\nhosts = [\"h\"]\nca_roots_file = \"ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(c.outbound_http.unwrap().max_concurrent_requests, Some(4));
        assert_eq!(
            c.client_tls[0].ca_roots_file.as_deref(),
            Some(Path::new("ca.pem"))
        );
        let e = RuntimeConfig::parse(
            "[[client_tls]]\ncomponent_ids = []\nhosts = []\ncert_chain_file = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cert_chain_file"), "{e}");
        let c = RuntimeConfig::parse("max_instance_memory = 1048576\nlog_dir = \"l\"\n").unwrap();
        assert_eq!(c.max_instance_memory, Some(1 << 20));
        assert_eq!(c.log_dir.as_deref(), Some(Path::new("l")));
    }
}
