//! SQLite databases (`sqlite_databases` in the manifest).
//!
//! One implementation behind `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`.
//! `default` is `<state_dir>/sqlite_db.db`; other labels need a `[sqlite_database.<label>]` in
//! the runtime config. Opening a database the component did not declare is `access-denied`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::fermyon::spin::sqlite as v2;
use super::bindings::spin::sqlite::sqlite as v3;
use super::runtime_config::DatabaseConfig;
use super::{Capability, Grantee, Has, View};

/// A value crossing the interface, independent of its version.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `integer(s64)`.
    Integer(i64),
    /// `real(f64)`.
    Real(f64),
    /// `text(string)`.
    Text(String),
    /// `blob(list<u8>)`.
    Blob(Vec<u8>),
    /// `null`.
    Null,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Null => ValueRef::Null,
        }))
    }
}

/// Rows returned by a statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<Value>>,
}

/// Why a database operation failed, independent of interface version.
#[derive(Debug, Clone, PartialEq)]
pub enum DbError {
    /// The label is not configured.
    NoSuchDatabase,
    /// The component did not declare the label.
    AccessDenied,
    /// The database is full.
    DatabaseFull,
    /// Anything else, with SQLite's message.
    Io(String),
}

/// An open connection (the `connection` resource of both versions).
pub struct Connection {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl Connection {
    /// Runs one statement with positional parameters and returns its rows (empty for
    /// statements that return none).
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, DbError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn.prepare(sql).map_err(db_error)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let ncols = columns.len();
        let mut rows = Vec::new();
        let mut cursor = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(db_error)?;
        while let Some(row) = cursor.next().map_err(db_error)? {
            let mut values = Vec::with_capacity(ncols);
            for i in 0..ncols {
                use rusqlite::types::ValueRef;
                values.push(match row.get_ref(i).map_err(db_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            rows.push(values);
        }
        Ok(QueryResult { columns, rows })
    }

    fn last_insert_rowid(&self) -> i64 {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_insert_rowid()
    }

    fn changes(&self) -> u64 {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .changes()
    }
}

fn db_error(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(code, _) = &e {
        if code.code == rusqlite::ErrorCode::DiskFull {
            return DbError::DatabaseFull;
        }
    }
    DbError::Io(e.to_string())
}

/// The databases of one app, by label.
#[derive(Default)]
pub struct Sqlite {
    paths: BTreeMap<String, PathBuf>,
}

impl Sqlite {
    /// `default` in `state_dir` unless configured, plus every configured label.
    pub fn new(
        configured: &BTreeMap<String, DatabaseConfig>,
        state_dir: &Path,
        config_dir: &Path,
    ) -> Self {
        let mut paths = BTreeMap::new();
        paths.insert("default".to_string(), state_dir.join("sqlite_db.db"));
        for (label, config) in configured {
            let DatabaseConfig::Spin { path } = config;
            let path = match path {
                Some(p) if p.is_absolute() => p.clone(),
                Some(p) => config_dir.join(p),
                None => state_dir.join(format!("{label}.db")),
            };
            paths.insert(label.clone(), path);
        }
        Self { paths }
    }

    /// Checks the component's `sqlite_databases` against the configured labels.
    pub fn grant_labels(
        &self,
        component_id: &str,
        labels: &[String],
    ) -> anyhow::Result<SqliteGrant> {
        for label in labels {
            if !self.paths.contains_key(label) {
                bail!(
                    "component `{component_id}` uses SQLite database `{label}`, which is not \
                     defined (help: only `default` exists unless a runtime config file defines \
                     [sqlite_database.{label}])"
                );
            }
        }
        Ok(SqliteGrant(Arc::new(labels.iter().cloned().collect())))
    }

    /// Opens a connection to `label`.
    pub fn connect(&self, label: &str) -> Result<Connection, DbError> {
        let path = self.paths.get(label).ok_or(DbError::NoSuchDatabase)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Io(e.to_string()))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        Ok(Connection {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `spindle up --sqlite` statements against `default` before serving.
    pub fn run_startup_statements(&self, statements: &[String]) -> anyhow::Result<()> {
        if statements.is_empty() {
            return Ok(());
        }
        let conn = self
            .connect("default")
            .map_err(|e| anyhow::anyhow!("opening the default database: {e:?}"))?;
        let guard = conn.conn.lock().unwrap_or_else(|e| e.into_inner());
        for sql in statements {
            guard
                .execute_batch(sql)
                .with_context(|| format!("running --sqlite statement `{sql}`"))?;
        }
        Ok(())
    }
}

impl Capability for Sqlite {
    type Grant = SqliteGrant;
    type State = SqliteState;
    type View = Has<SqliteState>;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()> {
        v2::add_to_linker::<T, Self::View>(linker, view)?;
        v3::add_to_linker::<T, Self::View>(linker, view)?;
        Ok(())
    }

    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<SqliteGrant> {
        let component = grantee.component;
        self.grant_labels(&component.id, &component.sqlite_databases())
    }

    fn state(self: &Arc<Self>, grant: &SqliteGrant) -> SqliteState {
        SqliteState::new(self.clone(), grant.clone())
    }
}

/// The databases one component may open.
#[derive(Clone, Default)]
pub struct SqliteGrant(Arc<BTreeSet<String>>);

/// Per-instance SQLite state.
pub struct SqliteState {
    app: Arc<Sqlite>,
    grant: SqliteGrant,
}

impl SqliteState {
    /// State for one instance of a component with `grant`.
    pub fn new(app: Arc<Sqlite>, grant: SqliteGrant) -> Self {
        Self { app, grant }
    }

    fn open(&self, label: &str) -> Result<Connection, DbError> {
        if !self.grant.0.contains(label) {
            return Err(DbError::AccessDenied);
        }
        self.app.connect(label)
    }
}

fn conn<'a>(state: &'a View<'_, SqliteState>, c: &Resource<Connection>) -> &'a Connection {
    state
        .table
        .get(c)
        .expect("the component model guarantees a live handle")
}

// ---- fermyon:spin/sqlite@2.0.0 ----------------------------------------------------------------

impl From<DbError> for v2::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v2::Error::NoSuchDatabase,
            DbError::AccessDenied => v2::Error::AccessDenied,
            DbError::DatabaseFull => v2::Error::DatabaseFull,
            DbError::Io(m) => v2::Error::Io(m),
        }
    }
}

fn from_v2(v: v2::Value) -> Value {
    match v {
        v2::Value::Integer(i) => Value::Integer(i),
        v2::Value::Real(f) => Value::Real(f),
        v2::Value::Text(s) => Value::Text(s),
        v2::Value::Blob(b) => Value::Blob(b),
        v2::Value::Null => Value::Null,
    }
}

fn to_v2(v: Value) -> v2::Value {
    match v {
        Value::Integer(i) => v2::Value::Integer(i),
        Value::Real(f) => v2::Value::Real(f),
        Value::Text(s) => v2::Value::Text(s),
        Value::Blob(b) => v2::Value::Blob(b),
        Value::Null => v2::Value::Null,
    }
}

impl v2::Host for View<'_, SqliteState> {}

impl v2::HostConnection for View<'_, SqliteState> {
    fn open(&mut self, database: String) -> Result<Resource<Connection>, v2::Error> {
        let c = self.state.open(&database)?;
        self.table.push(c).map_err(|e| v2::Error::Io(e.to_string()))
    }

    fn execute(
        &mut self,
        c: Resource<Connection>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> Result<v2::QueryResult, v2::Error> {
        let params: Vec<Value> = parameters.into_iter().map(from_v2).collect();
        let result = conn(self, &c).execute(&statement, &params)?;
        Ok(v2::QueryResult {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| v2::RowResult {
                    values: r.into_iter().map(to_v2).collect(),
                })
                .collect(),
        })
    }

    fn drop(&mut self, c: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

// ---- spin:sqlite/sqlite@3.0.0 -----------------------------------------------------------------

impl From<DbError> for v3::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v3::Error::NoSuchDatabase,
            DbError::AccessDenied => v3::Error::AccessDenied,
            DbError::DatabaseFull => v3::Error::DatabaseFull,
            DbError::Io(m) => v3::Error::Io(m),
        }
    }
}

fn from_v3(v: v3::Value) -> Value {
    match v {
        v3::Value::Integer(i) => Value::Integer(i),
        v3::Value::Real(f) => Value::Real(f),
        v3::Value::Text(s) => Value::Text(s),
        v3::Value::Blob(b) => Value::Blob(b),
        v3::Value::Null => Value::Null,
    }
}

fn to_v3(v: Value) -> v3::Value {
    match v {
        Value::Integer(i) => v3::Value::Integer(i),
        Value::Real(f) => v3::Value::Real(f),
        Value::Text(s) => v3::Value::Text(s),
        Value::Blob(b) => v3::Value::Blob(b),
        Value::Null => v3::Value::Null,
    }
}

impl v3::Host for View<'_, SqliteState> {}

impl v3::HostConnection for View<'_, SqliteState> {
    fn open(&mut self, database: String) -> Result<Resource<Connection>, v3::Error> {
        let c = self.state.open(&database)?;
        self.table.push(c).map_err(|e| v3::Error::Io(e.to_string()))
    }

    fn execute(
        &mut self,
        c: Resource<Connection>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> Result<v3::QueryResult, v3::Error> {
        let params: Vec<Value> = parameters.into_iter().map(from_v3).collect();
        let result = conn(self, &c).execute(&statement, &params)?;
        Ok(v3::QueryResult {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| v3::RowResult {
                    values: r.into_iter().map(to_v3).collect(),
                })
                .collect(),
        })
    }

    fn last_insert_rowid(&mut self, c: Resource<Connection>) -> i64 {
        conn(self, &c).last_insert_rowid()
    }

    fn changes(&mut self, c: Resource<Connection>) -> u64 {
        conn(self, &c).changes()
    }

    fn drop(&mut self, c: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_with_parameters_and_grants() {
        let dir = tempfile::tempdir().unwrap();
        let app = Arc::new(Sqlite::new(&BTreeMap::new(), dir.path(), dir.path()));
        app.run_startup_statements(&[
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)".into(),
        ])
        .unwrap();
        let denied = SqliteState::new(app.clone(), app.grant_labels("c", &[]).unwrap());
        assert!(matches!(denied.open("default"), Err(DbError::AccessDenied)));
        let state = SqliteState::new(
            app.clone(),
            app.grant_labels("c", &["default".into()]).unwrap(),
        );
        let c = state.open("default").unwrap();
        c.execute(
            "INSERT INTO t (name, score, data) VALUES (?, ?, ?)",
            &[
                Value::Text("a".into()),
                Value::Real(1.5),
                Value::Blob(vec![1, 2]),
            ],
        )
        .unwrap();
        assert_eq!(c.last_insert_rowid(), 1);
        assert_eq!(c.changes(), 1);
        let r = c
            .execute("SELECT id, name, score, data, NULL AS n FROM t", &[])
            .unwrap();
        assert_eq!(r.columns, vec!["id", "name", "score", "data", "n"]);
        assert_eq!(
            r.rows,
            vec![vec![
                Value::Integer(1),
                Value::Text("a".into()),
                Value::Real(1.5),
                Value::Blob(vec![1, 2]),
                Value::Null
            ]]
        );
        assert!(matches!(
            c.execute("SELEC nonsense", &[]),
            Err(DbError::Io(_))
        ));
        assert!(app.grant_labels("c", &["other".into()]).is_err());
        assert!(dir.path().join("sqlite_db.db").exists());
    }
}

// ---- spin:sqlite/sqlite@3.1.0: the async variants (WASIp3) ------------------------------------

mod p3 {
    use std::future::Future;

    use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

    use super::{v3, Connection, SqliteState};
    use crate::capabilities::Has;

    type Acc<T> = Accessor<T, Has<SqliteState>>;

    impl<T> v3::HostConnectionWithStore<T> for Has<SqliteState> {
        fn open_async(
            accessor: &Acc<T>,
            database: String,
        ) -> impl Future<Output = Result<Resource<Connection>, v3::Error>> + Send {
            let r = accessor.with(|mut a| v3::HostConnection::open(&mut a.get(), database));
            async move { r }
        }

        #[allow(clippy::type_complexity)]
        fn execute_async(
            accessor: &Acc<T>,
            c: Resource<Connection>,
            statement: String,
            parameters: Vec<v3::Value>,
        ) -> impl Future<
            Output = Result<
                (
                    Vec<String>,
                    StreamReader<v3::RowResult>,
                    FutureReader<Result<(), v3::Error>>,
                ),
                v3::Error,
            >,
        > + Send {
            let r = accessor.with(|mut a| {
                let result = v3::HostConnection::execute(&mut a.get(), c, statement, parameters)?;
                let rows = StreamReader::new(&mut a, result.rows)
                    .map_err(|e| v3::Error::Io(e.to_string()))?;
                let done = FutureReader::new(&mut a, async { wasmtime::error::Ok(Ok(())) })
                    .map_err(|e| v3::Error::Io(e.to_string()))?;
                Ok((result.columns, rows, done))
            });
            async move { r }
        }

        fn last_insert_rowid_async(
            accessor: &Acc<T>,
            c: Resource<Connection>,
        ) -> impl Future<Output = i64> + Send {
            let r = accessor.with(|mut a| v3::HostConnection::last_insert_rowid(&mut a.get(), c));
            async move { r }
        }

        fn changes_async(
            accessor: &Acc<T>,
            c: Resource<Connection>,
        ) -> impl Future<Output = u64> + Send {
            let r = accessor.with(|mut a| v3::HostConnection::changes(&mut a.get(), c));
            async move { r }
        }
    }
}
