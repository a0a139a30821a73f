//! Host bindings for the Spin interfaces in `crates/runtime/wit` (Spin's own WIT, unchanged).

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "spindle:host/capabilities",
    with: {
        "fermyon:spin/key-value.store": crate::capabilities::key_value::StoreHandle,
        "spin:key-value/key-value.store": crate::capabilities::key_value::StoreHandle,
        "wasi:keyvalue/store.bucket": crate::capabilities::key_value::StoreHandle,
        "wasi:keyvalue/atomics.cas": crate::capabilities::key_value::Cas,
        "fermyon:spin/sqlite.connection": crate::capabilities::sqlite::Connection,
        "spin:sqlite/sqlite.connection": crate::capabilities::sqlite::Connection,
        "fermyon:spin/redis.connection": crate::capabilities::redis::RedisConnection,
        "spin:redis/redis.connection": crate::capabilities::redis::RedisConnection,
        "fermyon:spin/mqtt.connection": crate::capabilities::unsupported::NoConnection,
        "fermyon:spin/postgres.connection": crate::capabilities::unsupported::NoConnection,
        "fermyon:spin/mysql.connection": crate::capabilities::unsupported::NoConnection,
    },
});
