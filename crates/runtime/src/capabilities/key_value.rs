//! Key-value stores (`key_value_stores` in the manifest).
//!
//! One implementation behind two interfaces: `fermyon:spin/key-value@2.0.0` and
//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2`. A label maps to a backend: the `default`
//! store is a SQLite file in the state directory (`.spin/sqlite_key_value.db`, so data survives
//! a restart); the runtime config can map any label to `type = "spin"` (a SQLite file) or
//! `type = "redis"`. Opening a label the component did not declare is `access-denied`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{bail, Context as _};
use wasmtime::component::Resource;

use super::bindings::fermyon::spin::key_value as spin_kv;
use super::bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use super::runtime_config::StoreConfig;
use crate::sandbox::InstanceState;

/// A backend error, reported to the guest as the interface's `other(..)`.
pub type BackendError = String;

/// What a store backend must do.
pub trait KvBackend: Send + Sync {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Sets `key`.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Removes `key` (not an error when absent).
    fn delete(&self, key: &str) -> Result<(), BackendError>;
    /// Whether `key` is set.
    fn exists(&self, key: &str) -> Result<bool, BackendError>;
    /// All keys.
    fn keys(&self) -> Result<Vec<String>, BackendError>;
    /// Adds `delta` to the integer stored at `key` (0 when absent) atomically.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError>;
    /// Sets `key` to `new` only if it still holds `expected`; returns whether it did.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError>;
}

/// A store in a SQLite file, in Spin's table layout.
pub struct SqliteKv {
    conn: Mutex<rusqlite::Connection>,
    store: String,
}

impl SqliteKv {
    /// Opens (creating if needed) the store `label` in the file at `path`.
    pub fn open(path: &Path, label: &str) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening key-value database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
               store TEXT NOT NULL,
               key   TEXT NOT NULL,
               value BLOB NOT NULL,
               PRIMARY KEY (store, key)
             );",
        )
        .with_context(|| format!("initializing key-value database {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            store: label.to_string(),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BackendError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|e| e.to_string())
    }
}

impl KvBackend for SqliteKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        use rusqlite::OptionalExtension as _;
        self.with(|c| {
            c.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
        })
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                (&self.store, key, value),
            )
            .map(|_| ())
        })
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
            )
            .map(|_| ())
        })
    }

    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.get(key)?.is_some())
    }

    fn keys(&self) -> Result<Vec<String>, BackendError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let keys = stmt
                .query_map([&self.store], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(keys)
        })
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let current: Option<Vec<u8>> = {
            use rusqlite::OptionalExtension as _;
            tx.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?
        };
        let current = match current {
            None => 0,
            Some(bytes) => parse_counter(&bytes)?,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| format!("incrementing `{key}` overflows"))?;
        tx.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
            (&self.store, key, next.to_string().as_bytes()),
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(next)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let current: Option<Vec<u8>> = {
            use rusqlite::OptionalExtension as _;
            tx.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?
        };
        if current.as_deref() != expected {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
            (&self.store, key, new),
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(true)
    }
}

fn parse_counter(bytes: &[u8]) -> Result<i64, BackendError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| "the stored value is not an integer".to_string())
}

/// A store on a Redis server.
pub struct RedisKv {
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
}

impl RedisKv {
    /// A store at `url` (connects on first use).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .with_context(|| format!("invalid Redis URL `{url}` for a key-value store"))?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, BackendError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.client.get_connection().map_err(|e| e.to_string())?);
        }
        let result = f(guard.as_mut().expect("connected above"));
        if result.is_err() {
            *guard = None;
        }
        result.map_err(|e| e.to_string())
    }
}

impl KvBackend for RedisKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with(|c| redis::cmd("GET").arg(key).query(c))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.with(|c| redis::cmd("SET").arg(key).arg(value).query(c))
    }
    fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.with(|c| redis::cmd("DEL").arg(key).query::<i64>(c).map(|_| ()))
    }
    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.with(|c| redis::cmd("EXISTS").arg(key).query(c))
    }
    fn keys(&self) -> Result<Vec<String>, BackendError> {
        self.with(|c| redis::cmd("KEYS").arg("*").query(c))
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError> {
        self.with(|c| redis::cmd("INCRBY").arg(key).arg(delta).query(c))
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError> {
        // Check-and-set in one server-side step.
        const SCRIPT: &str = r#"
            local cur = redis.call('GET', KEYS[1])
            if (ARGV[1] == '0' and cur == false) or (ARGV[1] == '1' and cur == ARGV[2]) then
              redis.call('SET', KEYS[1], ARGV[3]); return 1
            end
            return 0"#;
        let (flag, old): (&str, &[u8]) = match expected {
            Some(old) => ("1", old),
            None => ("0", b""),
        };
        self.with(|c| {
            redis::Script::new(SCRIPT)
                .key(key)
                .arg(flag)
                .arg(old)
                .arg(new)
                .invoke::<i64>(c)
                .map(|n| n == 1)
        })
    }
}

/// Where one store lives; opened on first use, so apps that never touch key-value create no
/// database file and several servers can start side by side.
enum StoreSpec {
    Sqlite(PathBuf),
    Redis(String),
}

struct LazyStore {
    spec: StoreSpec,
    opened: OnceLock<Result<Arc<dyn KvBackend>, String>>,
}

impl LazyStore {
    fn get(&self, label: &str) -> Result<Arc<dyn KvBackend>, String> {
        self.opened
            .get_or_init(|| {
                let backend: anyhow::Result<Arc<dyn KvBackend>> = match &self.spec {
                    StoreSpec::Sqlite(path) => {
                        SqliteKv::open(path, label).map(|s| Arc::new(s) as Arc<dyn KvBackend>)
                    }
                    StoreSpec::Redis(url) => {
                        RedisKv::new(url).map(|s| Arc::new(s) as Arc<dyn KvBackend>)
                    }
                };
                backend.map_err(|e| {
                    tracing::error!("key-value store `{label}` is unavailable: {e:#}");
                    format!("store `{label}` is unavailable: {e:#}")
                })
            })
            .clone()
    }
}

/// The key-value stores of one app, by label.
#[derive(Default)]
pub struct KeyValue {
    stores: BTreeMap<String, LazyStore>,
}

impl KeyValue {
    /// Declares the stores: `default` in `state_dir` unless configured, plus every configured
    /// label. Paths in the runtime config are relative to `config_dir`. Redis URLs are checked
    /// here; files are opened on first use.
    pub fn new(
        configured: &BTreeMap<String, StoreConfig>,
        state_dir: &Path,
        config_dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut stores = BTreeMap::new();
        let default_path = state_dir.join("sqlite_key_value.db");
        if !configured.contains_key("default") {
            stores.insert(
                "default".to_string(),
                StoreSpec::Sqlite(default_path.clone()),
            );
        }
        for (label, config) in configured {
            let spec = match config {
                StoreConfig::Spin { path } => StoreSpec::Sqlite(match path {
                    Some(p) => resolve(config_dir, p),
                    None => default_path.clone(),
                }),
                StoreConfig::Redis { url } => {
                    redis::Client::open(url.as_str()).with_context(|| {
                        format!("invalid Redis URL `{url}` for key-value store `{label}`")
                    })?;
                    StoreSpec::Redis(url.clone())
                }
            };
            stores.insert(label.clone(), spec);
        }
        Ok(Self {
            stores: stores
                .into_iter()
                .map(|(label, spec)| {
                    (
                        label,
                        LazyStore {
                            spec,
                            opened: OnceLock::new(),
                        },
                    )
                })
                .collect(),
        })
    }

    /// Checks the component's `key_value_stores` against the configured labels.
    pub fn grant_labels(&self, component_id: &str, labels: &[String]) -> anyhow::Result<KvGrant> {
        for label in labels {
            if !self.stores.contains_key(label) {
                bail!(
                    "component `{component_id}` uses key-value store `{label}`, which is not \
                     defined (help: only `default` exists unless a runtime config file defines \
                     [key_value_store.{label}])"
                );
            }
        }
        Ok(KvGrant(Arc::new(labels.iter().cloned().collect())))
    }

    /// The store for `label`: `None` when no such label exists, `Some(Err)` when it exists but
    /// could not be opened.
    pub fn store(&self, label: &str) -> Option<Result<Arc<dyn KvBackend>, String>> {
        self.stores.get(label).map(|s| s.get(label))
    }

    /// Sets `key` in the `default` store (`spindle up --key-value k=v`).
    pub fn preset(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let store = self
            .store("default")
            .context("there is no `default` key-value store")?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .set(key, value.as_bytes())
            .map_err(|e| anyhow::anyhow!("setting `{key}` in the default store: {e}"))
    }
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The labels one component may open.
#[derive(Clone, Default)]
pub struct KvGrant(Arc<BTreeSet<String>>);

/// Per-instance key-value state.
pub struct KvState {
    app: Arc<KeyValue>,
    grant: KvGrant,
}

impl KvState {
    /// State for one instance of a component with `grant`.
    pub fn new(app: Arc<KeyValue>, grant: KvGrant) -> Self {
        Self { app, grant }
    }

    fn open(&self, label: &str) -> Result<StoreHandle, OpenError> {
        if !self.grant.0.contains(label) {
            return Err(OpenError::AccessDenied);
        }
        match self.app.store(label) {
            Some(Ok(backend)) => Ok(StoreHandle {
                backend,
                label: label.to_string(),
            }),
            Some(Err(message)) => Err(OpenError::Unavailable(message)),
            None => Err(OpenError::NoSuchStore),
        }
    }
}

enum OpenError {
    AccessDenied,
    NoSuchStore,
    Unavailable(String),
}

/// An open store (a `store` / `bucket` resource).
pub struct StoreHandle {
    backend: Arc<dyn KvBackend>,
    #[allow(dead_code)]
    label: String,
}

/// A compare-and-swap handle (`wasi:keyvalue/atomics.cas`).
pub struct Cas {
    backend: Arc<dyn KvBackend>,
    key: String,
    current: Option<Vec<u8>>,
}

fn handle<'a>(state: &'a InstanceState, store: &Resource<StoreHandle>) -> &'a StoreHandle {
    state
        .table
        .get(store)
        .expect("the component model guarantees a live handle")
}

// ---- fermyon:spin/key-value@2.0.0 -------------------------------------------------------------

impl spin_kv::Host for InstanceState {}

impl spin_kv::HostStore for InstanceState {
    fn open(&mut self, label: String) -> Result<Resource<StoreHandle>, spin_kv::Error> {
        let store = self.caps.key_value.open(&label).map_err(|e| match e {
            OpenError::AccessDenied => spin_kv::Error::AccessDenied,
            OpenError::NoSuchStore => spin_kv::Error::NoSuchStore,
            OpenError::Unavailable(m) => spin_kv::Error::Other(m),
        })?;
        self.table
            .push(store)
            .map_err(|e| spin_kv::Error::Other(e.to_string()))
    }

    fn get(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, spin_kv::Error> {
        handle(self, &store)
            .backend
            .get(&key)
            .map_err(spin_kv::Error::Other)
    }

    fn set(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), spin_kv::Error> {
        handle(self, &store)
            .backend
            .set(&key, &value)
            .map_err(spin_kv::Error::Other)
    }

    fn delete(&mut self, store: Resource<StoreHandle>, key: String) -> Result<(), spin_kv::Error> {
        handle(self, &store)
            .backend
            .delete(&key)
            .map_err(spin_kv::Error::Other)
    }

    fn exists(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
    ) -> Result<bool, spin_kv::Error> {
        handle(self, &store)
            .backend
            .exists(&key)
            .map_err(spin_kv::Error::Other)
    }

    fn get_keys(&mut self, store: Resource<StoreHandle>) -> Result<Vec<String>, spin_kv::Error> {
        handle(self, &store)
            .backend
            .keys()
            .map_err(spin_kv::Error::Other)
    }

    fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

// ---- wasi:keyvalue@0.2.0-draft2 ---------------------------------------------------------------

impl wasi_kv::Host for InstanceState {
    fn open(&mut self, identifier: String) -> Result<Resource<StoreHandle>, wasi_kv::Error> {
        let store = self.caps.key_value.open(&identifier).map_err(|e| match e {
            OpenError::AccessDenied => wasi_kv::Error::AccessDenied,
            OpenError::NoSuchStore => wasi_kv::Error::NoSuchStore,
            OpenError::Unavailable(m) => wasi_kv::Error::Other(m),
        })?;
        self.table
            .push(store)
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }
}

impl wasi_kv::HostBucket for InstanceState {
    fn get(
        &mut self,
        bucket: Resource<StoreHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        handle(self, &bucket)
            .backend
            .get(&key)
            .map_err(wasi_kv::Error::Other)
    }

    fn set(
        &mut self,
        bucket: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), wasi_kv::Error> {
        handle(self, &bucket)
            .backend
            .set(&key, &value)
            .map_err(wasi_kv::Error::Other)
    }

    fn delete(&mut self, bucket: Resource<StoreHandle>, key: String) -> Result<(), wasi_kv::Error> {
        handle(self, &bucket)
            .backend
            .delete(&key)
            .map_err(wasi_kv::Error::Other)
    }

    fn exists(
        &mut self,
        bucket: Resource<StoreHandle>,
        key: String,
    ) -> Result<bool, wasi_kv::Error> {
        handle(self, &bucket)
            .backend
            .exists(&key)
            .map_err(wasi_kv::Error::Other)
    }

    fn list_keys(
        &mut self,
        bucket: Resource<StoreHandle>,
        cursor: Option<String>,
    ) -> Result<wasi_kv::KeyResponse, wasi_kv::Error> {
        let keys = handle(self, &bucket)
            .backend
            .keys()
            .map_err(wasi_kv::Error::Other)?;
        // All keys in one page; a cursor (from another host) continues after that key.
        let keys = match cursor {
            Some(after) => keys.into_iter().filter(|k| *k > after).collect(),
            None => keys,
        };
        Ok(wasi_kv::KeyResponse { keys, cursor: None })
    }

    fn drop(&mut self, bucket: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    fn increment(
        &mut self,
        bucket: Resource<StoreHandle>,
        key: String,
        delta: i64,
    ) -> Result<i64, wasi_kv::Error> {
        handle(self, &bucket)
            .backend
            .increment(&key, delta)
            .map_err(wasi_kv::Error::Other)
    }

    fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let swapped = {
            let cas_ref = self
                .table
                .get(&cas)
                .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e.to_string())))?;
            cas_ref
                .backend
                .compare_and_swap(&cas_ref.key, cas_ref.current.as_deref(), &value)
                .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e)))?
        };
        if swapped {
            let _ = self.table.delete(cas);
            Ok(())
        } else {
            // Hand back a fresh CAS handle reflecting the new current value.
            let refreshed = {
                let cas_ref = self.table.get_mut(&cas).map_err(|e| {
                    atomics::CasError::StoreError(wasi_kv::Error::Other(e.to_string()))
                })?;
                cas_ref.current = cas_ref
                    .backend
                    .get(&cas_ref.key)
                    .map_err(|e| atomics::CasError::StoreError(wasi_kv::Error::Other(e)))?;
                cas
            };
            Err(atomics::CasError::CasFailed(refreshed))
        }
    }
}

impl atomics::HostCas for InstanceState {
    fn new(
        &mut self,
        bucket: Resource<StoreHandle>,
        key: String,
    ) -> Result<Resource<Cas>, wasi_kv::Error> {
        let backend = handle(self, &bucket).backend.clone();
        let current = backend.get(&key).map_err(wasi_kv::Error::Other)?;
        self.table
            .push(Cas {
                backend,
                key,
                current,
            })
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }

    fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        let cas = self
            .table
            .get(&cas)
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))?;
        Ok(cas.current.clone())
    }

    fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for InstanceState {
    fn get_many(
        &mut self,
        bucket: Resource<StoreHandle>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error> {
        let store = handle(self, &bucket);
        keys.into_iter()
            .map(|k| {
                let v = store.backend.get(&k).map_err(wasi_kv::Error::Other)?;
                Ok((k, v))
            })
            .collect()
    }

    fn set_many(
        &mut self,
        bucket: Resource<StoreHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), wasi_kv::Error> {
        let store = handle(self, &bucket);
        for (k, v) in key_values {
            store.backend.set(&k, &v).map_err(wasi_kv::Error::Other)?;
        }
        Ok(())
    }

    fn delete_many(
        &mut self,
        bucket: Resource<StoreHandle>,
        keys: Vec<String>,
    ) -> Result<(), wasi_kv::Error> {
        let store = handle(self, &bucket);
        for k in keys {
            store.backend.delete(&k).map_err(wasi_kv::Error::Other)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_backend_round_trip_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        {
            let kv = SqliteKv::open(&path, "default").unwrap();
            let other = SqliteKv::open(&path, "other").unwrap();
            kv.set("a", b"1").unwrap();
            kv.set("b", b"2").unwrap();
            kv.set("a", b"3").unwrap();
            other.set("a", b"x").unwrap();
            assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"3"[..]));
            assert_eq!(kv.keys().unwrap(), vec!["a", "b"]);
            kv.delete("b").unwrap();
            assert!(!kv.exists("b").unwrap());
            assert_eq!(kv.increment("n", 5).unwrap(), 5);
            assert_eq!(kv.increment("n", -2).unwrap(), 3);
            assert!(kv.compare_and_swap("a", Some(b"3"), b"4").unwrap());
            assert!(!kv.compare_and_swap("a", Some(b"3"), b"5").unwrap());
            assert!(kv.compare_and_swap("new", None, b"v").unwrap());
        }
        let kv = SqliteKv::open(&path, "default").unwrap();
        assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"4"[..]));
        assert_eq!(kv.get("n").unwrap().as_deref(), Some(&b"3"[..]));
        let other = SqliteKv::open(&path, "other").unwrap();
        assert_eq!(other.keys().unwrap(), vec!["a"]);
    }

    #[test]
    fn undeclared_labels_are_denied_and_unknown_ones_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Arc::new(KeyValue::new(&BTreeMap::new(), dir.path(), dir.path()).unwrap());
        let err = kv
            .grant_labels("c", &["nope".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("`nope`") && err.contains("component `c`"),
            "{err}"
        );
        let state = KvState::new(kv.clone(), kv.grant_labels("c", &[]).unwrap());
        assert!(matches!(
            state.open("default"),
            Err(OpenError::AccessDenied)
        ));
        let state = KvState::new(
            kv.clone(),
            kv.grant_labels("c", &["default".into()]).unwrap(),
        );
        assert!(state.open("default").is_ok());
    }
}

// ---- spin:key-value/key-value@3.0.0 (WASIp3, async) --------------------------------------------

mod p3 {
    use std::future::Future;

    use wasmtime::component::{Accessor, FutureReader, HasSelf, Resource, StreamReader};

    use super::super::bindings::fermyon::spin::key_value as spin_kv;
    use super::super::bindings::spin::key_value::key_value as kv3;
    use super::StoreHandle;
    use crate::sandbox::InstanceState;

    type Acc = Accessor<InstanceState, HasSelf<InstanceState>>;

    fn convert(e: spin_kv::Error) -> kv3::Error {
        match e {
            spin_kv::Error::StoreTableFull => kv3::Error::StoreTableFull,
            spin_kv::Error::NoSuchStore => kv3::Error::NoSuchStore,
            spin_kv::Error::AccessDenied => kv3::Error::AccessDenied,
            spin_kv::Error::Other(m) => kv3::Error::Other(m),
        }
    }

    /// Runs the synchronous (v2) implementation against the instance state. The backends are
    /// local SQLite files or a Redis connection; each call is short.
    fn sync<R>(
        accessor: &Acc,
        f: impl FnOnce(&mut InstanceState) -> Result<R, spin_kv::Error>,
    ) -> Result<R, kv3::Error> {
        accessor.with(|mut access| f(access.get())).map_err(convert)
    }

    impl kv3::HostStoreWithStore<InstanceState> for HasSelf<InstanceState> {
        fn open(
            accessor: &Acc,
            label: String,
        ) -> impl Future<Output = Result<Resource<StoreHandle>, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::open(s, label));
            async move { r }
        }

        fn get(
            accessor: &Acc,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<Option<Vec<u8>>, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::get(s, store, key));
            async move { r }
        }

        fn set(
            accessor: &Acc,
            store: Resource<StoreHandle>,
            key: String,
            value: Vec<u8>,
        ) -> impl Future<Output = Result<(), kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::set(s, store, key, value));
            async move { r }
        }

        fn delete(
            accessor: &Acc,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<(), kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::delete(s, store, key));
            async move { r }
        }

        fn exists(
            accessor: &Acc,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<bool, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::exists(s, store, key));
            async move { r }
        }

        fn get_keys(
            accessor: &Acc,
            store: Resource<StoreHandle>,
        ) -> impl Future<Output = (StreamReader<String>, FutureReader<Result<(), kv3::Error>>)> + Send
        {
            let result = accessor.with(|mut access| {
                let keys = spin_kv::HostStore::get_keys(access.get(), store).map_err(convert);
                let (keys, outcome) = match keys {
                    Ok(keys) => (keys, Ok(())),
                    Err(e) => (Vec::new(), Err(e)),
                };
                let stream = StreamReader::new(&mut access, keys)
                    .expect("concurrency support is enabled in the engine");
                let done =
                    FutureReader::new(&mut access, async move { wasmtime::error::Ok(outcome) })
                        .expect("concurrency support is enabled in the engine");
                (stream, done)
            });
            async move { result }
        }
    }

    impl kv3::HostStore for InstanceState {
        fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
            self.table.delete(store)?;
            Ok(())
        }
    }

    impl kv3::Host for InstanceState {}
}
