//! The wasmtime [`Engine`] Spindle runs every component on: pooling allocator, epoch
//! interruption for request deadlines, and the component-model features the Spin SDKs need.

use std::time::Duration;

use anyhow::Context as _;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch ticks. Request deadlines are measured in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default [`EngineOptions::keep_resident`]: 16 MiB. Pages released with `madvise` come back
/// as copy-on-write faults on the next instance, and in a multi-threaded process each such
/// fault on an image page costs a TLB-shootdown IPI to the other cores: profiling the JS hello
/// showed ~45 % of server CPU there. Resetting the first 16 MiB in place keeps a JS or Python
/// heap resident between instances (JS hello 1.0k → 2.5k req/s, Python 0.35k → 0.7k req/s on
/// this 2-core machine). With `PAGEMAP_SCAN` (Linux 6.7+, enabled in the pooling config below) only the pages an
/// instance dirtied are reset and stay resident, so a slot costs what its guest writes, not
/// 16 MiB; without it the whole prefix is reset.
pub const DEFAULT_KEEP_RESIDENT: usize = 16 << 20;

/// Engine-wide settings, usually taken from `spindle up` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Use wasmtime's pooling instance allocator (pre-reserved slots, copy-on-write memory images).
    pub pooling: bool,
    /// The most linear memory one instance may use, in bytes (`--max-instance-memory`).
    pub max_instance_memory: usize,
    /// How many instances may be alive at once (per engine) when pooling.
    pub max_instances: u32,
    /// Keep DWARF debug information in compiled code for native debuggers (`--debug-info`).
    pub debug_info: bool,
    /// Bytes at the start of each pooled linear memory that are reset in place (memset/memcpy
    /// from the image) instead of being released with `madvise` when an instance ends.
    pub keep_resident: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            pooling: true,
            max_instance_memory: 512 << 20,
            max_instances: 1000,
            debug_info: false,
            keep_resident: DEFAULT_KEEP_RESIDENT,
        }
    }
}

/// A configured engine plus the background thread that advances its epoch.
#[derive(Clone)]
pub struct SpindleEngine {
    /// The wasmtime engine; cheap to clone.
    pub engine: Engine,
    /// The options it was built with.
    pub options: EngineOptions,
}

impl SpindleEngine {
    /// Builds the engine. If the pooling allocator cannot reserve its address space (for example
    /// under a tight `ulimit -v`), falls back to on-demand allocation with a warning.
    pub fn new(options: EngineOptions) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        let engine = if options.pooling {
            match Engine::new(&config(&options, true)) {
                Ok(engine) => engine,
                Err(e) => {
                    tracing::warn!(
                        "pooling allocator unavailable ({e}); falling back to on-demand allocation"
                    );
                    Engine::new(&config(&options, false))
                        .map_err(anyhow::Error::from)
                        .context("creating the wasmtime engine")?
                }
            }
        } else {
            Engine::new(&config(&options, false))
                .map_err(anyhow::Error::from)
                .context("creating the wasmtime engine")?
        };
        start_epoch_ticker(&engine);
        tracing::debug!("startup: engine built in {:?}", started.elapsed());
        Ok(Self { engine, options })
    }
}

fn config(options: &EngineOptions, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    config.debug_info(options.debug_info);
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        let instances = options.max_instances;
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 4)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(16)
            .max_component_instance_size(10 << 20)
            .max_core_instance_size(10 << 20)
            .table_elements(100_000)
            .max_memory_size(options.max_instance_memory)
            // Reset the first pages of each memory and table with memset instead of madvise:
            // madvise on every instance drop costs TLB-shootdown IPIs on every core, which
            // profiling showed as the largest per-request cost (about 12 % of CPU) for small
            // guests. Measured: table_keep_resident 1 MiB took the Rust hello from ~7.1k to
            // ~10.4k req/s on 2 cores (BENCHMARKS.md).
            .linear_memory_keep_resident(options.keep_resident)
            .table_keep_resident(1 << 20)
            // With PAGEMAP_SCAN (Linux 6.7+) only the pages an instance actually dirtied are
            // reset, instead of memset/memcpy over the whole kept-resident prefix; pages it
            // never wrote stay shared with the image. Older kernels fall back to the plain reset.
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain background thread. An engine lives
/// for the whole process, so the thread does too.
fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("spindle-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        })
        .expect("spawning the epoch thread");
}
