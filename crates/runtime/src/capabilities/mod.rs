//! Spin's host capabilities, deny by default.
//!
//! Each capability is one module behind the [`Capability`] trait, which does the whole job:
//!
//! 1. [`Capability::link`] adds every WIT version of its interfaces to a linker. The host traits
//!    are implemented on the capability's own [`View`] of the store (its per-instance state and
//!    the resource table), found through a getter, as wasmtime-wasi-http does with
//!    `WasiHttpView`; so no capability knows the store type, and each can be tested alone.
//!    Older interface versions are thin conversions onto one implementation.
//! 2. [`Capability::grant`] checks what a component's manifest grants, once at load; errors name
//!    the component and the key.
//! 3. [`Capability::state`] makes fresh per-instance state from that grant.
//!
//! | module | interfaces | manifest grant |
//! |---|---|---|
//! | [`key_value`] | `fermyon:spin/key-value@2.0.0`, `spin:key-value/key-value@3.0.0`, `wasi:keyvalue/*@0.2.0-draft2` | `key_value_stores` |
//! | [`sqlite`] | `fermyon:spin/sqlite@2.0.0`, `spin:sqlite/sqlite@3.0.0` and `@3.1.0` (sync and async) | `sqlite_databases` |
//! | [`variables`] | `fermyon:spin/variables@2.0.0`, `spin:variables/variables@3.0.0`, `wasi:config/store` | component `variables` |
//! | [`redis`] | `fermyon:spin/redis@2.0.0`, `spin:redis/redis@3.0.0` | `redis://` in `allowed_outbound_hosts` |
//! | [`outbound_http`] | `wasi:http/outgoing-handler@0.2.x`, `wasi:http/client@0.3.x` | `http(s)://` in `allowed_outbound_hosts` |
//! | [`unsupported`] | mqtt, postgres, mysql, llm: linked, every call returns an error value | – |

pub mod bindings;
pub mod key_value;
pub mod outbound_http;
pub mod redis;
pub mod runtime_config;
pub mod sqlite;
pub mod unsupported;
pub mod variables;

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use spindle_manifest::locked::{LockedApp, LockedComponent};
use wasmtime::component::{HasData, Linker, ResourceTable};

use crate::allowed_hosts::AllowedHosts;

use key_value::{KeyValue, KvState};
use outbound_http::{AppLinks, OutboundConfig, OutboundHttpCapability, OutboundHttpSettings};
use redis::{OutboundRedis, RedisState};
use runtime_config::RuntimeConfig;
use sqlite::{Sqlite, SqliteState};
use unsupported::{Unsupported, UnsupportedState};
use variables::{Providers, Variables, VariablesState};

/// One host capability: its interfaces, from app configuration to a component's grant, to
/// instance state.
pub trait Capability: Send + Sync + 'static {
    /// What one component was granted, resolved once when the app loads.
    type Grant: Send + Sync + 'static;
    /// Per-instance state, placed in the store for one instance.
    type State: Send + 'static;
    /// The view of the store the host traits are implemented on (usually
    /// [`Has<Self::State>`](Has), whose data is a [`View`]).
    type View: HasData;
    /// Adds every version of the capability's interfaces to `linker`; `view` finds the
    /// capability's view in the store data.
    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()>;
    /// Checks the component's manifest grant; errors name the component and the key.
    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<Self::Grant>;
    /// Fresh state for one instance of a component with `grant`.
    fn state(self: &Arc<Self>, grant: &Self::Grant) -> Self::State;
}

/// The component a grant is for, with what several capabilities share: its
/// `allowed_outbound_hosts`, parsed once (variables filled in) for outbound HTTP, Redis and
/// sockets.
pub struct Grantee<'a> {
    /// The component.
    pub component: &'a LockedComponent,
    /// Its parsed `allowed_outbound_hosts`.
    pub allowed_hosts: &'a Arc<AllowedHosts>,
}

/// What a capability's host traits see of one instance: its own state and the resource table
/// (shared with WASI, so resources can cross interfaces).
pub struct View<'a, S> {
    /// The capability's per-instance state.
    pub state: &'a mut S,
    /// The instance's resource table.
    pub table: &'a mut ResourceTable,
}

impl<'a, S> View<'a, S> {
    /// A view of `state` with `table`.
    pub fn new(state: &'a mut S, table: &'a mut ResourceTable) -> Self {
        Self { state, table }
    }
}

/// The [`HasData`] marker whose data is a [`View`] of `S`.
pub struct Has<S>(PhantomData<fn() -> S>);

impl<S: 'static> HasData for Has<S> {
    type Data<'a> = View<'a, S>;
}

/// Settings for the capabilities, usually from `spindle up` flags and the runtime config.
#[derive(Debug, Clone, Default)]
pub struct CapabilityOptions {
    /// Where `default` stores and databases live (`--state-dir`, the runtime config's
    /// `state_dir`, else `.spin/` next to the manifest: the caller resolves it).
    pub state_dir: PathBuf,
    /// The runtime config (`--runtime-config-file`), if any.
    pub runtime_config: RuntimeConfig,
    /// Directory relative paths in the runtime config resolve against.
    pub runtime_config_dir: PathBuf,
    /// `--variable K=V` values.
    pub cli_variables: Vec<(String, String)>,
    /// `--sqlite` statements, run against `default` before serving.
    pub sqlite_statements: Vec<String>,
    /// `--key-value K=V` values, set in `default` before serving.
    pub key_value_presets: Vec<(String, String)>,
}

/// The capabilities of one app.
pub struct AppCapabilities {
    key_value: Arc<KeyValue>,
    sqlite: Arc<Sqlite>,
    variables: Arc<Variables>,
    redis: Arc<OutboundRedis>,
    unsupported: Arc<Unsupported>,
    outbound_http: Arc<OutboundHttpCapability>,
    links: Arc<AppLinks>,
}

impl AppCapabilities {
    /// Opens the stores and databases, resolves variables (a required variable with no value
    /// fails here), and applies `--sqlite` / `--key-value`.
    pub fn new(app: &LockedApp, options: &CapabilityOptions) -> anyhow::Result<Self> {
        let config = &options.runtime_config;
        let state_dir = &options.state_dir;
        let providers = Providers::new(
            &options.cli_variables,
            &config.variables_provider,
            &options.runtime_config_dir,
        )?;
        let variables = Arc::new(Variables::resolve(app, &providers)?);
        let links = Arc::new(AppLinks::default());
        let key_value = Arc::new(KeyValue::new(
            &config.key_value_store,
            state_dir,
            &options.runtime_config_dir,
        )?);
        for (k, v) in &options.key_value_presets {
            key_value.preset(k, v)?;
        }
        let sqlite = Arc::new(Sqlite::new(
            &config.sqlite_database,
            state_dir,
            &options.runtime_config_dir,
        ));
        sqlite.run_startup_statements(&options.sqlite_statements)?;
        let outbound_http = OutboundHttpSettings::new(
            config.outbound_http.as_ref(),
            &config.client_tls,
            &options.runtime_config_dir,
        )
        .context("invalid runtime config")?;
        Ok(Self {
            key_value,
            sqlite,
            redis: Arc::new(OutboundRedis),
            unsupported: Arc::new(Unsupported),
            outbound_http: Arc::new(OutboundHttpCapability::new(outbound_http, links.clone())),
            variables,
            links,
        })
    }

    /// What outbound requests of the app's components can reach: the app fills in its
    /// components, the HTTP trigger its router (for `http://self`).
    pub fn links(&self) -> &Arc<AppLinks> {
        &self.links
    }

    /// Checks one component's grants, for every capability.
    pub fn grants(&self, component: &LockedComponent) -> anyhow::Result<ComponentGrants> {
        let variables = &self.variables;
        let allowed_hosts = AllowedHosts::parse(&component.allowed_outbound_hosts(), &|name| {
            variables.get(name).map(str::to_string)
        })
        .map_err(|e| anyhow::anyhow!("component `{}`: {e}", component.id))?;
        let grantee = Grantee {
            component,
            allowed_hosts: &Arc::new(allowed_hosts),
        };
        Ok(ComponentGrants {
            key_value: granted(&self.key_value, &grantee)?,
            sqlite: granted(&self.sqlite, &grantee)?,
            variables: granted(&self.variables, &grantee)?,
            outbound_http: granted(&self.outbound_http, &grantee)?,
            redis: granted(&self.redis, &grantee)?,
            unsupported: granted(&self.unsupported, &grantee)?,
        })
    }
}

/// Adds every capability's interfaces to `linker`; `views` finds each one's view in the store
/// data.
pub fn link_all<T: Send + 'static>(
    linker: &mut Linker<T>,
    views: &CapabilityViews<T>,
) -> anyhow::Result<()> {
    KeyValue::link(linker, views.key_value)?;
    Sqlite::link(linker, views.sqlite)?;
    Variables::link(linker, views.variables)?;
    OutboundRedis::link(linker, views.redis)?;
    Unsupported::link(linker, views.unsupported)?;
    OutboundHttpCapability::link(linker, views.outbound_http)?;
    Ok(())
}

/// Where each capability's view is in a store's data `T`.
pub struct CapabilityViews<T> {
    /// Key-value.
    pub key_value: fn(&mut T) -> View<'_, KvState>,
    /// SQLite.
    pub sqlite: fn(&mut T) -> View<'_, SqliteState>,
    /// Variables.
    pub variables: fn(&mut T) -> View<'_, VariablesState>,
    /// Outbound Redis.
    pub redis: fn(&mut T) -> View<'_, RedisState>,
    /// The unsupported interfaces.
    pub unsupported: fn(&mut T) -> View<'_, UnsupportedState>,
    /// Outbound HTTP (wasi:http's own view).
    pub outbound_http: fn(&mut T) -> wasmtime_wasi_http::WasiHttpCtxView<'_>,
}

fn granted<C: Capability>(app: &Arc<C>, grantee: &Grantee<'_>) -> anyhow::Result<Granted<C>> {
    Ok((app.clone(), app.grant(grantee)?))
}

type Granted<C> = (Arc<C>, <C as Capability>::Grant);

/// What one component was granted, for every capability.
pub struct ComponentGrants {
    key_value: Granted<KeyValue>,
    sqlite: Granted<Sqlite>,
    variables: Granted<Variables>,
    redis: Granted<OutboundRedis>,
    unsupported: Granted<Unsupported>,
    outbound_http: Granted<OutboundHttpCapability>,
}

impl ComponentGrants {
    /// The component's outbound HTTP policy.
    pub(crate) fn outbound(&self) -> &OutboundConfig {
        &self.outbound_http.1
    }

    /// Fresh capability state for one instance.
    pub fn instance_state(&self) -> InstanceCapabilities {
        fn state<C: Capability>((app, grant): &Granted<C>) -> C::State {
            app.state(grant)
        }
        InstanceCapabilities {
            key_value: state(&self.key_value),
            sqlite: state(&self.sqlite),
            variables: state(&self.variables),
            redis: state(&self.redis),
            unsupported: state(&self.unsupported),
            outbound_http: state(&self.outbound_http),
        }
    }
}

/// The capability state of one instance.
pub struct InstanceCapabilities {
    /// Key-value.
    pub key_value: KvState,
    /// SQLite.
    pub sqlite: SqliteState,
    /// Variables the component can read.
    pub variables: VariablesState,
    /// Outbound Redis.
    pub redis: RedisState,
    /// The unsupported interfaces (no state).
    pub unsupported: UnsupportedState,
    /// Outbound HTTP: wasi:http's hooks for this instance.
    pub outbound_http: outbound_http::OutboundHttp,
}

#[cfg(test)]
mod tests {
    //! A new capability, written from scratch: its WIT, its grant and state, its host trait on
    //! its own view, linked into a store type it knows nothing about, and called by a guest.

    use super::*;

    /// What adding a capability takes (between the two markers, 45 lines).
    mod toy {
        // -- a new capability: begin
        wasmtime::component::bindgen!({
            inline: "package toy:counter;
                     interface counter { next: func() -> u32; }
                     world toy { import counter; }",
        });
        use toy::counter::counter;

        use super::super::{Capability, Grantee, Has, View};
        use std::sync::Arc;
        use wasmtime::component::{HasData, Linker};

        /// Counts per instance, from the component's `start` env var (its "grant").
        pub struct Counter;

        /// One instance's count.
        pub struct CounterState(pub u32);

        impl Capability for Counter {
            type Grant = u32;
            type State = CounterState;
            type View = Has<CounterState>;

            fn link<T: Send + 'static>(
                linker: &mut Linker<T>,
                view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
            ) -> anyhow::Result<()> {
                counter::add_to_linker::<T, Self::View>(linker, view)?;
                Ok(())
            }

            fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<u32> {
                let start = grantee.component.env.get("start");
                let start = start.map_or("0", String::as_str);
                Ok(start.parse()?)
            }

            fn state(self: &Arc<Self>, grant: &u32) -> CounterState {
                CounterState(*grant)
            }
        }

        impl counter::Host for View<'_, CounterState> {
            fn next(&mut self) -> u32 {
                self.state.0 += 1;
                self.state.0
            }
        }
        // -- a new capability: end
    }

    /// A store type of the test's own, holding the toy capability's state.
    struct Host {
        counter: toy::CounterState,
        table: ResourceTable,
    }

    #[test]
    fn a_capability_written_in_a_test_links_grants_and_serves_a_guest() {
        let locked = serde_json::json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{"id": "c", "env": {"start": "40"}, "source": {
                "content_type": "application/wasm", "source": "file:///c.wasm"}}],
        });
        let locked = LockedApp::from_json(locked.to_string().as_bytes()).unwrap();
        let capability = Arc::new(toy::Counter);
        let grantee = Grantee {
            component: locked.component("c").unwrap(),
            allowed_hosts: &Arc::new(AllowedHosts::default()),
        };
        let grant = capability.grant(&grantee).unwrap();

        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<Host>::new(&engine);
        toy::Counter::link(&mut linker, |h| View::new(&mut h.counter, &mut h.table)).unwrap();
        let guest = wat::parse_str(
            r#"(component
                (import "toy:counter/counter" (instance $c (export "next" (func (result u32)))))
                (core func $next (canon lower (func $c "next")))
                (core module $m
                  (import "host" "next" (func $next (result i32)))
                  (func (export "twice") (result i32) (drop (call $next)) (call $next)))
                (core instance $i (instantiate $m
                  (with "host" (instance (export "next" (func $next))))))
                (func (export "twice") (result u32) (canon lift (core func $i "twice"))))"#,
        )
        .unwrap();
        let component = wasmtime::component::Component::new(&engine, guest).unwrap();
        let mut store = wasmtime::Store::new(
            &engine,
            Host {
                counter: capability.state(&grant),
                table: ResourceTable::new(),
            },
        );
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let twice = instance
            .get_typed_func::<(), (u32,)>(&mut store, "twice")
            .unwrap();
        assert_eq!(twice.call(&mut store, ()).unwrap(), (42,));
    }
}
