//! Per-request cost of running a real component through the public runtime API.
//!
//! * `handle/hello-rust-p2`: `App::handler("hello").handle(request)` for examples/hello-rust
//!   (Rust spin-sdk 5, `wasi:http/incoming-handler@0.2.0`): a fresh instance per request, the
//!   guest runs, and the response body is read to the end.
//! * `handle/hello-rust-p3`: the same for examples/hello-rust-p3 (WASIp3, instances reused).
//! * `instantiate/hello-rust-p2`: only `InstancePre::instantiate_async` (through wasmtime-wasi-http's
//!   `ProxyPre`) on a store with a fresh WASI context, on Spindle's engine configuration (pooling
//!   allocator, copy-on-write memory images) — the floor under `handle`.
//!
//! The guests come from `bash .ci/build-guests.sh rust`; a missing guest skips its benchmark.
//!
//!   cargo bench -p spindle-runtime --bench instantiate

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Empty};
use spindle_runtime::{App, CompileCache, EngineOptions, RuntimeOptions, SpindleEngine};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The app at `examples/<name>/spin.toml` (if its guest has been built) and its state directory.
fn load_app(engine: &SpindleEngine, name: &str) -> Option<(App, tempfile::TempDir)> {
    let manifest = repo_root().join("examples").join(name).join("spin.toml");
    let loaded = spindle_manifest::load(&manifest).ok()?;
    let source = loaded
        .locked
        .component("hello")?
        .source
        .content
        .local_path()?;
    if !source.exists() {
        eprintln!(
            "skipping {name}: {} is not built (bash .ci/build-guests.sh rust)",
            source.display()
        );
        return None;
    }
    let mut options = RuntimeOptions {
        cache: CompileCache::disabled(),
        ..RuntimeOptions::default()
    };
    // Default key-value / SQLite files go to a scratch directory, not the crate directory.
    let state = tempfile::tempdir().expect("creating a state directory");
    options.capabilities.state_dir = state.path().to_path_buf();
    let app = App::load(engine, loaded.locked, &options).expect("loading the app");
    Some((app, state))
}

fn request() -> http::Request<wasmtime_wasi_http::WasiBody> {
    http::Request::builder()
        .method("GET")
        .uri("http://127.0.0.1:3000/hello")
        .header("host", "127.0.0.1:3000")
        .body(
            Empty::<Bytes>::new()
                .map_err(|never: Infallible| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

fn bench_handle(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = SpindleEngine::new(EngineOptions::default()).unwrap();
    let mut group = c.benchmark_group("handle");
    for (name, example) in [
        ("hello-rust-p2", "hello-rust"),
        ("hello-rust-p3", "hello-rust-p3"),
    ] {
        let Some((app, _state)) = load_app(&engine, example) else {
            continue;
        };
        let handler = app.handler("hello").expect("component `hello`").clone();
        // One request outside the measurement: the first one pays for lazy initialisation.
        rt.block_on(async {
            let response = handler.handle(request()).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap();
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let response = handler.handle(request()).await.unwrap();
                    response.into_body().collect().await.unwrap().to_bytes()
                })
            })
        });
    }
    group.finish();
}

/// A bare store state: WASI (no grants) and wasi:http.
struct Bare {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Bare {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

fn bench_instantiate(c: &mut Criterion) {
    let wasm = repo_root().join("examples/hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    let Ok(bytes) = std::fs::read(&wasm) else {
        eprintln!("skipping instantiate: {} is not built", wasm.display());
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = SpindleEngine::new(EngineOptions::default()).unwrap();
    let component = Component::new(&engine.engine, &bytes).unwrap();
    let mut linker = Linker::<Bare>::new(&engine.engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    let pre = wasmtime_wasi_http::p2::bindings::ProxyPre::new(
        linker.instantiate_pre(&component).unwrap(),
    )
    .unwrap();
    c.bench_function("instantiate/hello-rust-p2", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut store = Store::new(
                    &engine.engine,
                    Bare {
                        wasi: WasiCtxBuilder::new().build(),
                        http: WasiHttpCtx::new(),
                        table: ResourceTable::new(),
                    },
                );
                // The engine has epoch interruption on; give instantiation plenty of ticks.
                store.set_epoch_deadline(1 << 32);
                let _proxy = pre.instantiate_async(&mut store).await.unwrap();
                drop(store);
            })
        })
    });
}

criterion_group!(benches, bench_handle, bench_instantiate);
criterion_main!(benches);
