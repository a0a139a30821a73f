//! Key-value stores (`key_value_stores` in the manifest).
//!
//! One implementation behind three interfaces: `fermyon:spin/key-value@2.0.0` and its WASIp3
//! version `spin:key-value/key-value@3.0.0` ([`spin`]), and
//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` ([`wasi`]). A label maps to a backend
//! ([`backends`]): the `default`
//! store is a SQLite file in the state directory (`.spin/sqlite_key_value.db`, so data survives
//! a restart); the runtime config can map any label to `type = "spin"` (a SQLite file) or
//! `type = "redis"`. Opening a label the component did not declare is `access-denied`.

pub mod backends;
mod spin;
mod wasi;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context as _};
use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::fermyon::spin::key_value as spin_kv;
use super::bindings::spin::key_value::key_value as kv3;
use super::bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use super::runtime_config::StoreConfig;
use super::{Capability, Grantee, Has, View};
pub use backends::{BackendError, KvBackend, RedisKv, SqliteKv};

impl Capability for KeyValue {
    type Grant = KvGrant;
    type State = KvState;
    type View = Has<KvState>;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()> {
        spin_kv::add_to_linker::<T, Self::View>(linker, view)?;
        kv3::add_to_linker::<T, Self::View>(linker, view)?;
        wasi_kv::add_to_linker::<T, Self::View>(linker, view)?;
        atomics::add_to_linker::<T, Self::View>(linker, view)?;
        batch::add_to_linker::<T, Self::View>(linker, view)?;
        Ok(())
    }

    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<KvGrant> {
        let component = grantee.component;
        self.grant_labels(&component.id, &component.key_value_stores())
    }

    fn state(self: &Arc<Self>, grant: &KvGrant) -> KvState {
        KvState::new(self.clone(), grant.clone())
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

pub(crate) enum OpenError {
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

fn handle<'a>(view: &'a View<'_, KvState>, store: &Resource<StoreHandle>) -> &'a StoreHandle {
    view.table
        .get(store)
        .expect("the component model guarantees a live handle")
}

// ---- fermyon:spin/key-value@2.0.0 -------------------------------------------------------------

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
