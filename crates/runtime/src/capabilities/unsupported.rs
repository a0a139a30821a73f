//! Spin interfaces Spindle links but does not back yet: MQTT, PostgreSQL, MySQL and LLM.
//!
//! Every call returns the interface's own error value saying the host does not support it, so
//! an app that imports them (every Python and JS Spin SDK app does) loads and runs, and a guest
//! that calls them gets an error it can handle instead of a trap.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::fermyon::spin::{llm, mqtt, mysql, postgres, rdbms_types};
use super::{Capability, Grantee, Has, View};

/// The interfaces Spindle links but does not back: nothing to grant, no state.
pub struct Unsupported;

/// The (empty) per-instance state of [`Unsupported`].
pub struct UnsupportedState;

impl Capability for Unsupported {
    type Grant = ();
    type State = UnsupportedState;
    type View = Has<UnsupportedState>;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()> {
        llm::add_to_linker::<T, Self::View>(linker, view)?;
        mqtt::add_to_linker::<T, Self::View>(linker, view)?;
        rdbms_types::add_to_linker::<T, Self::View>(linker, view)?;
        postgres::add_to_linker::<T, Self::View>(linker, view)?;
        mysql::add_to_linker::<T, Self::View>(linker, view)?;
        Ok(())
    }

    fn grant(&self, _grantee: &Grantee<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn state(self: &Arc<Self>, _grant: &()) -> UnsupportedState {
        UnsupportedState
    }
}

/// The connection resource of an unsupported interface. `open` never succeeds, so no value of
/// this type is ever handed to a guest.
pub struct NoConnection;

fn message(what: &str) -> String {
    format!("{what} is not supported by this host (Spindle)")
}

impl llm::Host for View<'_, UnsupportedState> {
    fn infer(
        &mut self,
        _model: String,
        _prompt: String,
        _params: Option<llm::InferencingParams>,
    ) -> Result<llm::InferencingResult, llm::Error> {
        Err(llm::Error::RuntimeError(message("LLM inferencing")))
    }

    fn generate_embeddings(
        &mut self,
        _model: String,
        _text: Vec<String>,
    ) -> Result<llm::EmbeddingsResult, llm::Error> {
        Err(llm::Error::RuntimeError(message("LLM embeddings")))
    }
}

impl mqtt::Host for View<'_, UnsupportedState> {}

impl mqtt::HostConnection for View<'_, UnsupportedState> {
    fn open(
        &mut self,
        _address: String,
        _username: String,
        _password: String,
        _keep_alive_interval_in_secs: u64,
    ) -> Result<Resource<NoConnection>, mqtt::Error> {
        Err(mqtt::Error::ConnectionFailed(message("MQTT")))
    }

    fn publish(
        &mut self,
        _c: Resource<NoConnection>,
        _topic: String,
        _payload: Vec<u8>,
        _qos: mqtt::Qos,
    ) -> Result<(), mqtt::Error> {
        Err(mqtt::Error::Other(message("MQTT")))
    }

    fn drop(&mut self, c: Resource<NoConnection>) -> wasmtime::Result<()> {
        let _ = self.table.delete(c);
        Ok(())
    }
}

impl rdbms_types::Host for View<'_, UnsupportedState> {}

impl postgres::Host for View<'_, UnsupportedState> {}

impl postgres::HostConnection for View<'_, UnsupportedState> {
    fn open(&mut self, _address: String) -> Result<Resource<NoConnection>, rdbms_types::Error> {
        Err(rdbms_types::Error::ConnectionFailed(message("PostgreSQL")))
    }

    fn query(
        &mut self,
        _c: Resource<NoConnection>,
        _statement: String,
        _params: Vec<rdbms_types::ParameterValue>,
    ) -> Result<rdbms_types::RowSet, rdbms_types::Error> {
        Err(rdbms_types::Error::Other(message("PostgreSQL")))
    }

    fn execute(
        &mut self,
        _c: Resource<NoConnection>,
        _statement: String,
        _params: Vec<rdbms_types::ParameterValue>,
    ) -> Result<u64, rdbms_types::Error> {
        Err(rdbms_types::Error::Other(message("PostgreSQL")))
    }

    fn drop(&mut self, c: Resource<NoConnection>) -> wasmtime::Result<()> {
        let _ = self.table.delete(c);
        Ok(())
    }
}

impl mysql::Host for View<'_, UnsupportedState> {}

impl mysql::HostConnection for View<'_, UnsupportedState> {
    fn open(&mut self, _address: String) -> Result<Resource<NoConnection>, rdbms_types::Error> {
        Err(rdbms_types::Error::ConnectionFailed(message("MySQL")))
    }

    fn query(
        &mut self,
        _c: Resource<NoConnection>,
        _statement: String,
        _params: Vec<rdbms_types::ParameterValue>,
    ) -> Result<rdbms_types::RowSet, rdbms_types::Error> {
        Err(rdbms_types::Error::Other(message("MySQL")))
    }

    fn execute(
        &mut self,
        _c: Resource<NoConnection>,
        _statement: String,
        _params: Vec<rdbms_types::ParameterValue>,
    ) -> Result<(), rdbms_types::Error> {
        Err(rdbms_types::Error::Other(message("MySQL")))
    }

    fn drop(&mut self, c: Resource<NoConnection>) -> wasmtime::Result<()> {
        let _ = self.table.delete(c);
        Ok(())
    }
}
