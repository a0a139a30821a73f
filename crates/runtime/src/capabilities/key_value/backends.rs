//! Where key-value data lives: a SQLite file in Spin's table layout, or a Redis server. Both
//! implement [`KvBackend`], which the WIT glue in `spin.rs` and `wasi.rs` calls.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;

/// A backend error, reported to the guest as the interface's `other(..)`.
pub type BackendError = String;

/// What a store backend must do.
pub trait KvBackend: Send + Sync {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Sets `key`.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Removes `key` (not an error when absent).
    fn delete(&self, key: &str) -> Result<(), BackendError>;
    /// Whether `key` is set.
    fn exists(&self, key: &str) -> Result<bool, BackendError>;
    /// All keys.
    fn keys(&self) -> Result<Vec<String>, BackendError>;
    /// Adds `delta` to the integer stored at `key` (0 when absent) atomically.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError>;
    /// Sets `key` to `new` only if it still holds `expected`; returns whether it did.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError>;
}

/// A store in a SQLite file, in Spin's table layout.
pub struct SqliteKv {
    conn: Mutex<rusqlite::Connection>,
    store: String,
}

impl SqliteKv {
    /// Opens (creating if needed) the store `label` in the file at `path`.
    pub fn open(path: &Path, label: &str) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening key-value database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
               store TEXT NOT NULL,
               key   TEXT NOT NULL,
               value BLOB NOT NULL,
               PRIMARY KEY (store, key)
             );",
        )
        .with_context(|| format!("initializing key-value database {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            store: label.to_string(),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, BackendError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|e| e.to_string())
    }
}

impl KvBackend for SqliteKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        use rusqlite::OptionalExtension as _;
        self.with(|c| {
            c.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
        })
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                (&self.store, key, value),
            )
            .map(|_| ())
        })
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
            )
            .map(|_| ())
        })
    }

    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.get(key)?.is_some())
    }

    fn keys(&self) -> Result<Vec<String>, BackendError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let keys = stmt
                .query_map([&self.store], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(keys)
        })
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let current: Option<Vec<u8>> = {
            use rusqlite::OptionalExtension as _;
            tx.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?
        };
        let current = match current {
            None => 0,
            Some(bytes) => parse_counter(&bytes)?,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| format!("incrementing `{key}` overflows"))?;
        tx.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
            (&self.store, key, next.to_string().as_bytes()),
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(next)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let current: Option<Vec<u8>> = {
            use rusqlite::OptionalExtension as _;
            tx.query_row(
                "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (&self.store, key),
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?
        };
        if current.as_deref() != expected {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
            (&self.store, key, new),
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(true)
    }
}

fn parse_counter(bytes: &[u8]) -> Result<i64, BackendError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| "the stored value is not an integer".to_string())
}

/// A store on a Redis server.
pub struct RedisKv {
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
}

impl RedisKv {
    /// A store at `url` (connects on first use).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .with_context(|| format!("invalid Redis URL `{url}` for a key-value store"))?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, BackendError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.client.get_connection().map_err(|e| e.to_string())?);
        }
        let result = f(guard.as_mut().expect("connected above"));
        if result.is_err() {
            *guard = None;
        }
        result.map_err(|e| e.to_string())
    }
}

impl KvBackend for RedisKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with(|c| redis::cmd("GET").arg(key).query(c))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.with(|c| redis::cmd("SET").arg(key).arg(value).query(c))
    }
    fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.with(|c| redis::cmd("DEL").arg(key).query::<i64>(c).map(|_| ()))
    }
    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.with(|c| redis::cmd("EXISTS").arg(key).query(c))
    }
    fn keys(&self) -> Result<Vec<String>, BackendError> {
        self.with(|c| redis::cmd("KEYS").arg("*").query(c))
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, BackendError> {
        self.with(|c| redis::cmd("INCRBY").arg(key).arg(delta).query(c))
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, BackendError> {
        // Check-and-set in one server-side step.
        const SCRIPT: &str = r#"
            local cur = redis.call('GET', KEYS[1])
            if (ARGV[1] == '0' and cur == false) or (ARGV[1] == '1' and cur == ARGV[2]) then
              redis.call('SET', KEYS[1], ARGV[3]); return 1
            end
            return 0"#;
        let (flag, old): (&str, &[u8]) = match expected {
            Some(old) => ("1", old),
            None => ("0", b""),
        };
        self.with(|c| {
            redis::Script::new(SCRIPT)
                .key(key)
                .arg(flag)
                .arg(old)
                .arg(new)
                .invoke::<i64>(c)
                .map(|n| n == 1)
        })
    }
}
