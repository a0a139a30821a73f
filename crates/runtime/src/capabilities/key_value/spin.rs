//! `fermyon:spin/key-value@2.0.0` and its WASIp3 version `spin:key-value/key-value@3.0.0`, on
//! [`KvState`](super::KvState).

use wasmtime::component::Resource;

use super::{handle, spin_kv, KvState, OpenError, StoreHandle};
use crate::capabilities::View;

impl spin_kv::Host for View<'_, KvState> {}

impl spin_kv::HostStore for View<'_, KvState> {
    fn open(&mut self, label: String) -> Result<Resource<StoreHandle>, spin_kv::Error> {
        let store = self.state.open(&label).map_err(|e| match e {
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

// ---- spin:key-value/key-value@3.0.0 (WASIp3, async) --------------------------------------------

mod p3 {
    use std::future::Future;

    use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

    use super::super::{kv3, spin_kv, KvState, StoreHandle};
    use crate::capabilities::{Has, View};

    type Acc<T> = Accessor<T, Has<KvState>>;

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
    fn sync<T, R>(
        accessor: &Acc<T>,
        f: impl FnOnce(&mut View<'_, KvState>) -> Result<R, spin_kv::Error>,
    ) -> Result<R, kv3::Error> {
        accessor
            .with(|mut access| f(&mut access.get()))
            .map_err(convert)
    }

    impl<T> kv3::HostStoreWithStore<T> for Has<KvState> {
        fn open(
            accessor: &Acc<T>,
            label: String,
        ) -> impl Future<Output = Result<Resource<StoreHandle>, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::open(s, label));
            async move { r }
        }

        fn get(
            accessor: &Acc<T>,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<Option<Vec<u8>>, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::get(s, store, key));
            async move { r }
        }

        fn set(
            accessor: &Acc<T>,
            store: Resource<StoreHandle>,
            key: String,
            value: Vec<u8>,
        ) -> impl Future<Output = Result<(), kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::set(s, store, key, value));
            async move { r }
        }

        fn delete(
            accessor: &Acc<T>,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<(), kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::delete(s, store, key));
            async move { r }
        }

        fn exists(
            accessor: &Acc<T>,
            store: Resource<StoreHandle>,
            key: String,
        ) -> impl Future<Output = Result<bool, kv3::Error>> + Send {
            let r = sync(accessor, |s| spin_kv::HostStore::exists(s, store, key));
            async move { r }
        }

        fn get_keys(
            accessor: &Acc<T>,
            store: Resource<StoreHandle>,
        ) -> impl Future<Output = (StreamReader<String>, FutureReader<Result<(), kv3::Error>>)> + Send
        {
            let result = accessor.with(|mut access| {
                let keys = spin_kv::HostStore::get_keys(&mut access.get(), store).map_err(convert);
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

    impl kv3::HostStore for View<'_, KvState> {
        fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
            self.table.delete(store)?;
            Ok(())
        }
    }

    impl kv3::Host for View<'_, KvState> {}
}
