//! Spin's host capabilities, deny by default.
//!
//! Each capability is one module behind the small [`Capability`] trait: the app-wide
//! configuration (from the manifest and runtime config) checks what each component was granted
//! ([`Capability::grant`], once at load) and makes fresh per-instance state from that grant
//! ([`Capability::state`]); the module then implements the WIT host traits on
//! [`InstanceState`] against that state. Every interface version an SDK imports maps onto the
//! same implementation.
//!
//! | module | interfaces | manifest grant |
//! |---|---|---|
//! | [`key_value`] | `fermyon:spin/key-value@2.0.0`, `wasi:keyvalue/*@0.2.0-draft2` | `key_value_stores` |
//! | [`sqlite`] | `fermyon:spin/sqlite@2.0.0`, `spin:sqlite/sqlite@3.0.0` and `@3.1.0` (sync and async) | `sqlite_databases` |
//! | [`variables`] | `fermyon:spin/variables@2.0.0`, `wasi:config/store` | component `variables` |
//! | [`redis`] | `fermyon:spin/redis@2.0.0`, `spin:redis/redis@3.0.0` | `redis://` in `allowed_outbound_hosts` |
//! | [`unsupported`] | mqtt, postgres, mysql, llm: linked, every call returns an error value | – |

pub mod bindings;
pub mod key_value;
pub mod redis;
pub mod runtime_config;
pub mod sqlite;
pub mod unsupported;
pub mod variables;

use std::path::PathBuf;

use anyhow::Context as _;
use std::sync::Arc;

use spindle_manifest::locked::{LockedApp, LockedComponent};

use crate::allowed_hosts::AllowedHosts;
use wasmtime::component::{HasSelf, Linker};

use crate::sandbox::InstanceState;
use key_value::{KeyValue, KvGrant, KvState};
use redis::{RedisGate, RedisState};
use runtime_config::RuntimeConfig;
use sqlite::{Sqlite, SqliteGrant, SqliteState};
use variables::{Providers, Variables, VariablesState};

/// One host capability: from app configuration, to a component's grant, to instance state.
pub trait Capability: Send + Sync + 'static {
    /// What one component was granted, resolved once when the app loads.
    type Grant: Clone + Send + Sync + 'static;
    /// Per-instance state, placed in the store for one instance.
    type State: Send + 'static;
    /// Checks the component's manifest grant; errors name the component and the key.
    fn grant(&self, component: &LockedComponent) -> anyhow::Result<Self::Grant>;
    /// Fresh state for one instance of a component with `grant`.
    fn state(self: &Arc<Self>, grant: &Self::Grant) -> Self::State;
}

impl Capability for KeyValue {
    type Grant = KvGrant;
    type State = KvState;
    fn grant(&self, component: &LockedComponent) -> anyhow::Result<KvGrant> {
        KeyValue::grant_labels(self, &component.id, &component.key_value_stores())
    }
    fn state(self: &Arc<Self>, grant: &KvGrant) -> KvState {
        KvState::new(self.clone(), grant.clone())
    }
}

impl Capability for Sqlite {
    type Grant = SqliteGrant;
    type State = SqliteState;
    fn grant(&self, component: &LockedComponent) -> anyhow::Result<SqliteGrant> {
        Sqlite::grant_labels(self, &component.id, &component.sqlite_databases())
    }
    fn state(self: &Arc<Self>, grant: &SqliteGrant) -> SqliteState {
        SqliteState::new(self.clone(), grant.clone())
    }
}

impl Capability for Variables {
    type Grant = VariablesState;
    type State = VariablesState;
    fn grant(&self, component: &LockedComponent) -> anyhow::Result<VariablesState> {
        self.component_values(component)
    }
    fn state(self: &Arc<Self>, grant: &VariablesState) -> VariablesState {
        grant.clone()
    }
}

/// Outbound Redis: the grant is the component's `redis://` allow-list, taken from the same
/// parsed `allowed_outbound_hosts` as outbound HTTP (see [`AppCapabilities::grants`]).
pub struct OutboundRedis;

impl OutboundRedis {
    fn grant(component: &LockedComponent, hosts: Arc<AllowedHosts>) -> (Arc<str>, RedisGate) {
        let gate: RedisGate =
            Arc::new(move |host: &str, port: u16| hosts.allows("redis", host, Some(port)));
        (component.id.as_str().into(), gate)
    }

    fn state((id, gate): &(Arc<str>, RedisGate)) -> RedisState {
        RedisState::new(id.clone(), gate.clone())
    }
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
    outbound_http: crate::outbound::OutboundHttpSettings,
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
        let outbound_http = crate::outbound::OutboundHttpSettings::new(
            config.outbound_http.as_ref(),
            &config.client_tls,
            &options.runtime_config_dir,
        )
        .context("invalid runtime config")?;
        Ok(Self {
            key_value,
            sqlite,
            variables,
            outbound_http,
        })
    }

    /// The app's resolved variables (for `{{ var }}` in `allowed_outbound_hosts`, for example).
    pub fn variables(&self) -> &Arc<Variables> {
        &self.variables
    }

    /// The app-wide outbound HTTP settings (`[outbound_http]`, `[[client_tls]]`).
    pub fn outbound_http(&self) -> &crate::outbound::OutboundHttpSettings {
        &self.outbound_http
    }

    /// Checks one component's grants; `hosts` is its parsed `allowed_outbound_hosts`.
    pub fn grants(
        &self,
        component: &LockedComponent,
        hosts: Arc<AllowedHosts>,
    ) -> anyhow::Result<ComponentGrants> {
        Ok(ComponentGrants {
            key_value: (self.key_value.clone(), self.key_value.grant(component)?),
            sqlite: (self.sqlite.clone(), self.sqlite.grant(component)?),
            variables: (self.variables.clone(), self.variables.grant(component)?),
            redis: OutboundRedis::grant(component, hosts),
        })
    }

    /// Adds every capability interface to the linker.
    pub fn link(linker: &mut Linker<InstanceState>) -> anyhow::Result<()> {
        bindings::Capabilities::add_to_linker::<InstanceState, HasSelf<InstanceState>>(
            linker,
            |state| state,
        )?;
        Ok(())
    }
}

type Granted<C> = (Arc<C>, <C as Capability>::Grant);

/// What one component was granted, for every capability.
pub struct ComponentGrants {
    key_value: Granted<KeyValue>,
    sqlite: Granted<Sqlite>,
    variables: Granted<Variables>,
    redis: (Arc<str>, RedisGate),
}

impl ComponentGrants {
    /// Fresh capability state for one instance.
    pub fn instance_state(&self) -> InstanceCapabilities {
        InstanceCapabilities {
            key_value: self.key_value.0.state(&self.key_value.1),
            sqlite: self.sqlite.0.state(&self.sqlite.1),
            variables: self.variables.0.state(&self.variables.1),
            redis: OutboundRedis::state(&self.redis),
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
}

/// The interfaces [`AppCapabilities::link`] provides, by exact name.
pub const LINKED_INTERFACES: &[&str] = &[
    "fermyon:spin/key-value@2.0.0",
    "fermyon:spin/variables@2.0.0",
    "fermyon:spin/sqlite@2.0.0",
    "fermyon:spin/redis@2.0.0",
    "fermyon:spin/llm@2.0.0",
    "fermyon:spin/mqtt@2.0.0",
    "fermyon:spin/postgres@2.0.0",
    "fermyon:spin/mysql@2.0.0",
    "fermyon:spin/rdbms-types@2.0.0",
    "spin:sqlite/sqlite@3.0.0",
    "spin:sqlite/sqlite@3.1.0",
    "spin:variables/variables@3.0.0",
    "spin:key-value/key-value@3.0.0",
    "spin:redis/redis@3.0.0",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];
