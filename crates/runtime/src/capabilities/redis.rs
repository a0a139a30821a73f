//! Outbound Redis (`fermyon:spin/redis@2.0.0`), gated by `redis://` entries in the
//! component's `allowed_outbound_hosts`.

use std::sync::{Arc, Mutex};

use wasmtime::component::Resource;

use super::bindings::fermyon::spin::redis as v2;
use crate::sandbox::InstanceState;

/// Decides whether a component may connect to `redis://host:port`.
pub type RedisGate = Arc<dyn Fn(&str, u16) -> bool + Send + Sync>;

/// An open connection (the `connection` resource).
pub struct RedisConnection {
    conn: Mutex<redis::Connection>,
}

/// Per-instance outbound Redis state.
pub struct RedisState {
    component_id: Arc<str>,
    gate: RedisGate,
}

impl RedisState {
    /// State for `component_id`, allowed where `gate` says.
    pub fn new(component_id: Arc<str>, gate: RedisGate) -> Self {
        Self { component_id, gate }
    }
}

fn other(e: impl std::fmt::Display) -> v2::Error {
    v2::Error::Other(e.to_string())
}

fn conn<'a>(state: &'a InstanceState, c: &Resource<RedisConnection>) -> &'a RedisConnection {
    state
        .table
        .get(c)
        .expect("the component model guarantees a live handle")
}

impl RedisConnection {
    fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, v2::Error> {
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        cmd.query(&mut *c).map_err(|e| match e.kind() {
            redis::ErrorKind::UnexpectedReturnType => v2::Error::TypeError,
            _ => other(e),
        })
    }
}

impl v2::Host for InstanceState {}

impl v2::HostConnection for InstanceState {
    fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, v2::Error> {
        let info: redis::ConnectionInfo = address
            .as_str()
            .parse()
            .map_err(|_| v2::Error::InvalidAddress)?;
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
            _ => return Err(v2::Error::InvalidAddress),
        };
        if !(self.caps.redis.gate)(&host, port) {
            tracing::warn!(
                "component `{}` was denied a Redis connection to {host}:{port} (help: add \
                 \"redis://{host}:{port}\" to its allowed_outbound_hosts)",
                self.caps.redis.component_id
            );
            return Err(v2::Error::InvalidAddress);
        }
        let client = redis::Client::open(info).map_err(other)?;
        let connection = client
            .get_connection_with_timeout(std::time::Duration::from_secs(10))
            .map_err(other)?;
        self.table
            .push(RedisConnection {
                conn: Mutex::new(connection),
            })
            .map_err(other)
    }

    fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), v2::Error> {
        conn(self, &c)
            .run::<i64>(redis::cmd("PUBLISH").arg(channel).arg(payload))
            .map(|_| ())
    }

    fn get(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, v2::Error> {
        conn(self, &c).run(redis::cmd("GET").arg(key))
    }

    fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), v2::Error> {
        conn(self, &c).run(redis::cmd("SET").arg(key).arg(value))
    }

    fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> Result<i64, v2::Error> {
        conn(self, &c).run(redis::cmd("INCR").arg(key))
    }

    fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> Result<u32, v2::Error> {
        conn(self, &c).run(redis::cmd("DEL").arg(keys))
    }

    fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v2::Error> {
        conn(self, &c).run(redis::cmd("SADD").arg(key).arg(values))
    }

    fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Vec<String>, v2::Error> {
        conn(self, &c).run(redis::cmd("SMEMBERS").arg(key))
    }

    fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, v2::Error> {
        conn(self, &c).run(redis::cmd("SREM").arg(key).arg(values))
    }

    fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<v2::RedisParameter>,
    ) -> Result<Vec<v2::RedisResult>, v2::Error> {
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                v2::RedisParameter::Int64(n) => cmd.arg(n),
                v2::RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: redis::Value = conn(self, &c).run(&cmd)?;
        Ok(flatten(value))
    }

    fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

/// Spin returns a flat list of results for `execute`.
fn flatten(value: redis::Value) -> Vec<v2::RedisResult> {
    match value {
        redis::Value::Nil => vec![v2::RedisResult::Nil],
        redis::Value::Int(n) => vec![v2::RedisResult::Int64(n)],
        redis::Value::BulkString(b) => vec![v2::RedisResult::Binary(b)],
        redis::Value::SimpleString(s) => vec![v2::RedisResult::Status(s)],
        redis::Value::Okay => vec![v2::RedisResult::Status("OK".into())],
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.into_iter().flat_map(flatten).collect()
        }
        other => vec![v2::RedisResult::Binary(format!("{other:?}").into_bytes())],
    }
}
