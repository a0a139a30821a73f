//! Precompilation through runwasi's [`Compiler`]: the first container of an image compiles its
//! components; runwasi stores the code in containerd's content store (labelled with this
//! compiler's [`Compiler::cache_key`]) and every later container of the image gets it back
//! instead of the Wasm, which the runtime then loads by digest (`CompileCache::load_digest`).

use containerd_shim_wasm::sandbox::context::WasmLayer;
use containerd_shim_wasm::shim::Compiler;
use spindle_runtime::{CompileCache, EngineOptions, SpindleEngine};

pub struct SpindleCompiler {
    engine: SpindleEngine,
    fingerprint: u64,
}

/// The engine code is compiled with: its code-generation settings are those of the engine
/// `spindle up` runs (the fingerprint covers every setting that matters; the pooling
/// allocator's limits do not change generated code, see `precompiled_code_fits_the_run_engine`).
pub fn engine() -> anyhow::Result<SpindleEngine> {
    SpindleEngine::new(EngineOptions {
        pooling: false,
        ..EngineOptions::default()
    })
}

impl SpindleCompiler {
    pub fn new() -> anyhow::Result<Self> {
        let engine = engine()?;
        let fingerprint = CompileCache::engine_fingerprint(&engine.engine);
        Ok(Self {
            engine,
            fingerprint,
        })
    }
}

impl Compiler for SpindleCompiler {
    fn cache_key(&self) -> impl std::hash::Hash {
        self.fingerprint
    }

    async fn compile(&self, layers: &[WasmLayer]) -> anyhow::Result<Vec<Option<Vec<u8>>>> {
        // Components with dependencies are composed when the app loads, so their layers (and
        // their dependencies') must stay Wasm.
        let composed = layers
            .iter()
            .find(|l| l.config.media_type().to_string() == spindle_oci::SPIN_APPLICATION_MEDIA_TYPE)
            .and_then(|l| spindle_manifest::locked::LockedApp::from_json(&l.layer).ok())
            .map(|locked| spindle_oci::composed_digests(&locked))
            .unwrap_or_default();
        // Every layer gets an entry: runwasi recompiles the whole image whenever one layer has
        // none, so layers that are not compiled (data, the locked app, composed components)
        // come back as they are, and the container tells them apart by their content
        // (compiled code is an ELF file, see `is_compiled_code`).
        let jobs: Vec<(bool, Vec<u8>)> = layers
            .iter()
            .map(|l| {
                let compile = spindle_oci::is_wasm_layer(l.config.media_type().as_ref())
                    && !composed.contains(&l.config.digest().to_string())
                    && wasmparser::Parser::is_component(&l.layer);
                (compile, l.layer.clone())
            })
            .collect();
        let engine = self.engine.engine.clone();
        tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(compile, bytes)| match compile {
                    true => CompileCache::precompile(&engine, &bytes).map(Some),
                    false => Ok(Some(bytes)),
                })
                .collect()
        })
        .await?
    }
}

/// Whether a layer runwasi hands back as precompiled holds compiled code (wasmtime writes ELF
/// files) rather than the layer's own content.
pub fn is_compiled_code(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}
