//! Outbound Redis (`fermyon:spin/redis@2.0.0` and the WASIp3 `spin:redis/redis@3.0.0`), gated
//! by `redis://` entries in the component's `allowed_outbound_hosts`. Both versions share one
//! connection type and one command runner; the async version runs each (blocking) command on
//! tokio's blocking pool so a slow server never stalls other requests.

use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::fermyon::spin::redis as v2;
use super::bindings::spin::redis::redis as r3;
use super::{Capability, Grantee, Has, View};

/// Decides whether a component may connect to `redis://host:port`.
pub type RedisGate = Arc<dyn Fn(&str, u16) -> bool + Send + Sync>;

/// Outbound Redis: a component may connect where a `redis://` entry of its
/// `allowed_outbound_hosts` allows.
pub struct OutboundRedis;

/// What one component was granted: its id and where it may connect.
#[derive(Clone)]
pub struct RedisGrant {
    component_id: Arc<str>,
    gate: RedisGate,
}

impl Capability for OutboundRedis {
    type Grant = RedisGrant;
    type State = RedisState;
    type View = Has<RedisState>;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()> {
        v2::add_to_linker::<T, Self::View>(linker, view)?;
        r3::add_to_linker::<T, Self::View>(linker, view)?;
        Ok(())
    }

    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<RedisGrant> {
        let hosts = grantee.allowed_hosts.clone();
        Ok(RedisGrant {
            component_id: grantee.component.id.as_str().into(),
            gate: Arc::new(move |host: &str, port: u16| hosts.allows("redis", host, Some(port))),
        })
    }

    fn state(self: &Arc<Self>, grant: &RedisGrant) -> RedisState {
        RedisState::new(grant.component_id.clone(), grant.gate.clone())
    }
}

/// An open connection (the `connection` resource).
pub struct RedisConnection {
    conn: Arc<Mutex<redis::Connection>>,
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

fn conn<'a>(state: &'a View<'_, RedisState>, c: &Resource<RedisConnection>) -> &'a RedisConnection {
    state
        .table
        .get(c)
        .expect("the component model guarantees a live handle")
}

impl RedisConnection {
    fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, v2::Error> {
        run(&self.conn, cmd)
    }
}

fn run<T: redis::FromRedisValue>(
    conn: &Mutex<redis::Connection>,
    cmd: &redis::Cmd,
) -> Result<T, v2::Error> {
    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
    cmd.query(&mut *c).map_err(|e| {
        // The value had the wrong type: a reply the caller cannot take (`GET` of a set), the
        // server's WRONGTYPE, or a number operation on something that is not a number.
        let not_a_number =
            e.code() == Some("ERR") && e.detail().is_some_and(|d| d.contains("not an integer"));
        if e.kind() == redis::ErrorKind::UnexpectedReturnType
            || e.code() == Some("WRONGTYPE")
            || not_a_number
        {
            v2::Error::TypeError
        } else {
            other(e)
        }
    })
}

impl RedisState {
    /// Checks `address` against the component's grant; the connection is made by [`connect`].
    fn check(&self, address: &str) -> Result<redis::ConnectionInfo, v2::Error> {
        let info: redis::ConnectionInfo = address.parse().map_err(|_| v2::Error::InvalidAddress)?;
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
            _ => return Err(v2::Error::InvalidAddress),
        };
        if !(self.gate)(&host, port) {
            tracing::warn!(
                "component `{}` was denied a Redis connection to {host}:{port} (help: add \
                 \"redis://{host}:{port}\" to its allowed_outbound_hosts)",
                self.component_id
            );
            return Err(v2::Error::InvalidAddress);
        }
        Ok(info)
    }
}

/// Connects (blocking, at most 10 s).
fn connect(info: redis::ConnectionInfo) -> Result<RedisConnection, v2::Error> {
    let client = redis::Client::open(info).map_err(other)?;
    let connection = client
        .get_connection_with_timeout(std::time::Duration::from_secs(10))
        .map_err(other)?;
    Ok(RedisConnection {
        conn: Arc::new(Mutex::new(connection)),
    })
}

/// The command `execute` sends.
fn build_command(name: &str, arguments: Vec<v2::RedisParameter>) -> redis::Cmd {
    let mut cmd = redis::cmd(name);
    for arg in arguments {
        match arg {
            v2::RedisParameter::Int64(n) => cmd.arg(n),
            v2::RedisParameter::Binary(b) => cmd.arg(b),
        };
    }
    cmd
}

impl v2::Host for View<'_, RedisState> {}

impl v2::HostConnection for View<'_, RedisState> {
    fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, v2::Error> {
        let info = self.state.check(&address)?;
        let connection = connect(info)?;
        self.table.push(connection).map_err(other)
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
        let value: redis::Value = conn(self, &c).run(&build_command(&command, arguments))?;
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

// ---- spin:redis/redis@3.0.0 (WASIp3, async) ----------------------------------------------------

mod p3 {
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    use wasmtime::component::{Accessor, Resource};

    use super::{r3, v2, RedisConnection, RedisState};
    use crate::capabilities::{Has, View};

    type Acc<T> = Accessor<T, Has<RedisState>>;

    fn convert(e: v2::Error) -> r3::Error {
        match e {
            v2::Error::InvalidAddress => r3::Error::InvalidAddress,
            v2::Error::TooManyConnections => r3::Error::TooManyConnections,
            v2::Error::TypeError => r3::Error::TypeError,
            v2::Error::Other(m) => r3::Error::Other(m),
        }
    }

    /// The connection behind a handle.
    fn connection<T>(
        accessor: &Acc<T>,
        c: &Resource<RedisConnection>,
    ) -> Result<Arc<Mutex<redis::Connection>>, r3::Error> {
        accessor.with(|mut access| {
            access
                .get()
                .table
                .get(c)
                .map(|c| c.conn.clone())
                .map_err(|e| r3::Error::Other(e.to_string()))
        })
    }

    /// Runs `cmd` on the blocking pool.
    async fn query<T: redis::FromRedisValue + Send + 'static>(
        conn: Result<Arc<Mutex<redis::Connection>>, r3::Error>,
        cmd: redis::Cmd,
    ) -> Result<T, r3::Error> {
        let conn = conn?;
        tokio::task::spawn_blocking(move || super::run(&conn, &cmd))
            .await
            .map_err(|e| r3::Error::Other(e.to_string()))?
            .map_err(convert)
    }

    impl<T> r3::HostConnectionWithStore<T> for Has<RedisState> {
        fn open(
            accessor: &Acc<T>,
            address: String,
        ) -> impl Future<Output = Result<Resource<RedisConnection>, r3::Error>> + Send {
            let info = accessor.with(|mut access| access.get().state.check(&address));
            async move {
                let info = info.map_err(convert)?;
                let connection = tokio::task::spawn_blocking(move || super::connect(info))
                    .await
                    .map_err(|e| r3::Error::Other(e.to_string()))?
                    .map_err(convert)?;
                accessor.with(|mut access| {
                    access
                        .get()
                        .table
                        .push(connection)
                        .map_err(|e| r3::Error::Other(e.to_string()))
                })
            }
        }

        fn publish(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            channel: String,
            payload: Vec<u8>,
        ) -> impl Future<Output = Result<(), r3::Error>> + Send {
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(channel).arg(payload);
            let q = query::<i64>(connection(accessor, &c), cmd);
            async move { q.await.map(drop) }
        }

        fn get(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
        ) -> impl Future<Output = Result<Option<Vec<u8>>, r3::Error>> + Send {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            query(connection(accessor, &c), cmd)
        }

        fn set(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
            value: Vec<u8>,
        ) -> impl Future<Output = Result<(), r3::Error>> + Send {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value);
            query(connection(accessor, &c), cmd)
        }

        fn incr(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
        ) -> impl Future<Output = Result<i64, r3::Error>> + Send {
            let mut cmd = redis::cmd("INCR");
            cmd.arg(key);
            query(connection(accessor, &c), cmd)
        }

        fn del(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            keys: Vec<String>,
        ) -> impl Future<Output = Result<u32, r3::Error>> + Send {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(keys);
            query(connection(accessor, &c), cmd)
        }

        fn sadd(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
            values: Vec<String>,
        ) -> impl Future<Output = Result<u32, r3::Error>> + Send {
            let mut cmd = redis::cmd("SADD");
            cmd.arg(key).arg(values);
            query(connection(accessor, &c), cmd)
        }

        fn smembers(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
        ) -> impl Future<Output = Result<Vec<String>, r3::Error>> + Send {
            let mut cmd = redis::cmd("SMEMBERS");
            cmd.arg(key);
            query(connection(accessor, &c), cmd)
        }

        fn srem(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            key: String,
            values: Vec<String>,
        ) -> impl Future<Output = Result<u32, r3::Error>> + Send {
            let mut cmd = redis::cmd("SREM");
            cmd.arg(key).arg(values);
            query(connection(accessor, &c), cmd)
        }

        fn execute(
            accessor: &Acc<T>,
            c: Resource<RedisConnection>,
            command: String,
            arguments: Vec<r3::RedisParameter>,
        ) -> impl Future<Output = Result<Vec<r3::RedisResult>, r3::Error>> + Send {
            let arguments = arguments
                .into_iter()
                .map(|a| match a {
                    r3::RedisParameter::Int64(n) => v2::RedisParameter::Int64(n),
                    r3::RedisParameter::Binary(b) => v2::RedisParameter::Binary(b),
                })
                .collect();
            let cmd = super::build_command(&command, arguments);
            let q = query::<redis::Value>(connection(accessor, &c), cmd);
            async move {
                Ok(super::flatten(q.await?)
                    .into_iter()
                    .map(|r| match r {
                        v2::RedisResult::Nil => r3::RedisResult::Nil,
                        v2::RedisResult::Status(s) => r3::RedisResult::Status(s),
                        v2::RedisResult::Int64(n) => r3::RedisResult::Int64(n),
                        v2::RedisResult::Binary(b) => r3::RedisResult::Binary(b),
                    })
                    .collect())
            }
        }
    }

    impl r3::HostConnection for View<'_, RedisState> {
        fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
            self.table.delete(c)?;
            Ok(())
        }
    }

    impl r3::Host for View<'_, RedisState> {}
}
