//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` on [`KvState`](super::KvState).

use wasmtime::component::Resource;

use super::{atomics, batch, handle, wasi_kv, Cas, KvState, OpenError, StoreHandle};
use crate::capabilities::View;

impl wasi_kv::Host for View<'_, KvState> {
    fn open(&mut self, identifier: String) -> Result<Resource<StoreHandle>, wasi_kv::Error> {
        let store = self.state.open(&identifier).map_err(|e| match e {
            OpenError::AccessDenied => wasi_kv::Error::AccessDenied,
            OpenError::NoSuchStore => wasi_kv::Error::NoSuchStore,
            OpenError::Unavailable(m) => wasi_kv::Error::Other(m),
        })?;
        self.table
            .push(store)
            .map_err(|e| wasi_kv::Error::Other(e.to_string()))
    }
}

impl wasi_kv::HostBucket for View<'_, KvState> {
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

impl atomics::Host for View<'_, KvState> {
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

impl atomics::HostCas for View<'_, KvState> {
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

impl batch::Host for View<'_, KvState> {
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
    //! The three wasi:keyvalue interfaces called as a guest would, on the SQLite backend and
    //! (for compare-and-swap) on a real Redis server.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use wasmtime::component::{Resource, ResourceTable};

    use super::super::{KeyValue, KvState};
    use super::{atomics, batch, wasi_kv, Cas, StoreHandle};
    use crate::capabilities::runtime_config::StoreConfig;
    use crate::capabilities::View;

    use atomics::{Host as _, HostCas as _};
    use batch::Host as _;
    use wasi_kv::{Host as _, HostBucket as _};

    /// The state of an instance granted `labels` of an app with `configured` stores.
    fn instance(
        dir: &std::path::Path,
        configured: BTreeMap<String, StoreConfig>,
        labels: &[&str],
    ) -> (KvState, ResourceTable) {
        let app = Arc::new(KeyValue::new(&configured, dir, dir).unwrap());
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let grant = app.grant_labels("c", &labels).unwrap();
        (KvState::new(app, grant), ResourceTable::new())
    }

    /// Another handle to the same resource, as a guest's borrow is.
    fn again<T: 'static>(r: &Resource<T>) -> Resource<T> {
        Resource::new_borrow(r.rep())
    }

    #[test]
    fn store_opens_only_granted_buckets_and_reads_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (mut state, mut table) = instance(dir.path(), BTreeMap::new(), &["default"]);
        let mut kv = View::new(&mut state, &mut table);

        assert!(matches!(
            kv.open("other".into()),
            Err(wasi_kv::Error::AccessDenied)
        ));
        let bucket: Resource<StoreHandle> = kv.open("default".into()).unwrap();
        assert_eq!(kv.get(again(&bucket), "a".into()).unwrap(), None);
        kv.set(again(&bucket), "a".into(), b"1".to_vec()).unwrap();
        kv.set(again(&bucket), "b".into(), b"2".to_vec()).unwrap();
        kv.set(again(&bucket), "c".into(), b"3".to_vec()).unwrap();
        assert_eq!(
            kv.get(again(&bucket), "a".into()).unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert!(kv.exists(again(&bucket), "b".into()).unwrap());
        kv.delete(again(&bucket), "b".into()).unwrap();
        assert!(!kv.exists(again(&bucket), "b".into()).unwrap());
        // Deleting what is not there is not an error.
        kv.delete(again(&bucket), "b".into()).unwrap();

        let all = kv.list_keys(again(&bucket), None).unwrap();
        assert_eq!(all.keys, vec!["a", "c"]);
        assert_eq!(all.cursor, None);
        let after_a = kv.list_keys(again(&bucket), Some("a".into())).unwrap();
        assert_eq!(after_a.keys, vec!["c"]);

        wasi_kv::HostBucket::drop(&mut kv, bucket).unwrap();
        assert!(kv.table.is_empty());

        // The data is in the app's store: a second instance sees it.
        let (mut state, mut table) = instance(dir.path(), BTreeMap::new(), &["default"]);
        let mut kv = View::new(&mut state, &mut table);
        let bucket = kv.open("default".into()).unwrap();
        assert_eq!(
            kv.get(again(&bucket), "c".into()).unwrap().as_deref(),
            Some(&b"3"[..])
        );
    }

    #[test]
    fn undeclared_stores_are_no_such_store() {
        let dir = tempfile::tempdir().unwrap();
        let (mut state, mut table) = instance(dir.path(), BTreeMap::new(), &["default"]);
        // Granted, but the store is not in the app: a grant the app could not check.
        state.grant = super::super::KvGrant(Arc::new(["ghost".to_string()].into()));
        let mut kv = View::new(&mut state, &mut table);
        assert!(matches!(
            kv.open("ghost".into()),
            Err(wasi_kv::Error::NoSuchStore)
        ));
    }

    #[test]
    fn atomics_increment_and_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let (mut state, mut table) = instance(dir.path(), BTreeMap::new(), &["default"]);
        let mut kv = View::new(&mut state, &mut table);
        let bucket = kv.open("default".into()).unwrap();
        compare_and_swap_rules(&mut kv, &bucket);
    }

    /// increment counts from 0; a CAS swaps only while nobody else wrote, and a failed swap
    /// hands back the handle with the value that is there now.
    fn compare_and_swap_rules(kv: &mut View<'_, KvState>, bucket: &Resource<StoreHandle>) {
        assert_eq!(kv.increment(again(bucket), "n".into(), 5).unwrap(), 5);
        assert_eq!(kv.increment(again(bucket), "n".into(), -7).unwrap(), -2);
        kv.set(again(bucket), "text".into(), b"x".to_vec()).unwrap();
        assert!(matches!(
            kv.increment(again(bucket), "text".into(), 1),
            Err(wasi_kv::Error::Other(_))
        ));

        // A key that does not exist yet.
        let cas: Resource<Cas> = atomics::HostCas::new(kv, again(bucket), "k".into()).unwrap();
        assert_eq!(kv.current(again(&cas)).unwrap(), None);
        kv.swap(cas, b"v1".to_vec()).unwrap();
        assert_eq!(
            kv.get(again(bucket), "k".into()).unwrap().as_deref(),
            Some(&b"v1"[..])
        );

        // Someone writes between reading and swapping: the swap fails and says what is there.
        let cas = atomics::HostCas::new(kv, again(bucket), "k".into()).unwrap();
        assert_eq!(
            kv.current(again(&cas)).unwrap().as_deref(),
            Some(&b"v1"[..])
        );
        kv.set(again(bucket), "k".into(), b"theirs".to_vec())
            .unwrap();
        let refreshed = match kv.swap(cas, b"mine".to_vec()) {
            Err(atomics::CasError::CasFailed(refreshed)) => refreshed,
            Err(atomics::CasError::StoreError(e)) => panic!("store error: {e:?}"),
            Ok(()) => panic!("the swap overwrote a concurrent write"),
        };
        assert_eq!(
            kv.current(again(&refreshed)).unwrap().as_deref(),
            Some(&b"theirs"[..])
        );
        assert_eq!(
            kv.get(again(bucket), "k".into()).unwrap().as_deref(),
            Some(&b"theirs"[..])
        );
        // Retrying with the refreshed handle succeeds.
        kv.swap(refreshed, b"mine".to_vec()).unwrap();
        assert_eq!(
            kv.get(again(bucket), "k".into()).unwrap().as_deref(),
            Some(&b"mine"[..])
        );
    }

    #[test]
    fn batch_reads_writes_and_deletes_many() {
        let dir = tempfile::tempdir().unwrap();
        let (mut state, mut table) = instance(dir.path(), BTreeMap::new(), &["default"]);
        let mut kv = View::new(&mut state, &mut table);
        let bucket = kv.open("default".into()).unwrap();
        kv.set_many(
            again(&bucket),
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
        )
        .unwrap();
        let got = kv
            .get_many(again(&bucket), vec!["a".into(), "b".into(), "z".into()])
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), Some(b"1".to_vec())),
                ("b".to_string(), Some(b"2".to_vec())),
                ("z".to_string(), None),
            ]
        );
        kv.delete_many(again(&bucket), vec!["a".into(), "z".into()])
            .unwrap();
        assert_eq!(kv.list_keys(again(&bucket), None).unwrap().keys, vec!["b"]);
    }

    #[test]
    fn compare_and_swap_on_a_real_redis_server() {
        let redis = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let configured: BTreeMap<String, StoreConfig> = toml::from_str(&format!(
            "[shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\n",
            redis.port
        ))
        .unwrap();
        let (mut state, mut table) = instance(dir.path(), configured, &["shared"]);
        let mut kv = View::new(&mut state, &mut table);
        let bucket = kv.open("shared".into()).unwrap();
        compare_and_swap_rules(&mut kv, &bucket);
    }

    /// A `redis-server` on a free port, stopped when dropped.
    struct RedisServer {
        child: std::process::Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl RedisServer {
        fn start() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server must be installed (scripts/test.sh installs it)");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server did not listen on port {port} within 5 s");
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
