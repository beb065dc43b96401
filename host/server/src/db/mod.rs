//! The database: SQLite (the default, one file) or PostgreSQL (for several nodes), behind one
//! small interface so every query in payhook is written once.
//!
//! SQL is written with `$1, $2, …` placeholders in PostgreSQL's style; the SQLite side rewrites
//! them to `?1, ?2, …`. Values are [`Value`]s: integers, text and null are all the schema uses
//! (booleans are 0/1, times are unix seconds or milliseconds, JSON is text).
//!
//! [`Database`] opens and migrates a database from a URL and hands out connections ([`Conn`]);
//! [`transaction`] wraps a closure in `BEGIN`/`COMMIT`. SQLite is opened in WAL mode with
//! `synchronous=FULL`, and both settings are read back at start-up: a database that will not
//! take them is refused rather than run with weaker durability.

mod postgres;
mod schema;
mod sqlite;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement may wait for a lock or a connection before the caller gets an error
/// (and a webhook sender a 503): well inside the 2 s a delivery may wait for its answer.
pub const LOCK_TIMEOUT: Duration = Duration::from_millis(1500);

/// One SQL value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// A 64-bit integer (BIGINT / INTEGER).
    Int(i64),
    /// Text.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of a statement built from the predicates actually present (a filter that is
/// not set adds no condition, so every query keeps to an index): each value bound gets the next
/// placeholder.
#[derive(Debug, Default)]
pub(crate) struct Params(pub(crate) Vec<Value>);

impl Params {
    /// Binds `v`; returns its placeholder (`$1`, `$2`, …) to write into the SQL.
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> String {
        self.0.push(v.into());
        format!("${}", self.0.len())
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i` as an integer (0 when NULL).
    pub fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(Value::Int(v)) => *v,
            _ => 0,
        }
    }
    /// Column `i` as an integer, or `None` when NULL.
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }
    /// Column `i` as text ("" when NULL).
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    /// Column `i` as text, or `None` when NULL.
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Some(v.clone()),
            _ => None,
        }
    }
}

/// Why the database refused.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The `--database` value is not a URL payhook understands.
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH (e.g. sqlite://payhook.db) or \
         postgres://USER@HOST:PORT/DATABASE"
    )]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// SQLite would not run with the durability payhook requires.
    #[error(
        "the SQLite database refused {setting} (it reports {found:?}); payhook needs WAL with synchronous=FULL"
    )]
    Durability {
        /// The setting.
        setting: &'static str,
        /// What SQLite reported.
        found: String,
    },
    /// The database is busy or unreachable right now; try again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("database error: {0}")]
    Query(String),
    /// The schema is newer than this payhook.
    #[error(
        "the database schema is version {found}, newer than this payhook ({supported}); upgrade payhook"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
}

impl DbError {
    /// True when the operation may succeed if tried again (busy, locked, connection lost).
    pub fn is_transient(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// A connection: run statements, read rows.
pub trait Conn {
    /// Runs a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    /// Runs statements with no parameters (`BEGIN`, DDL).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The first row of a query, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Runs `f` inside a transaction: committed when it returns `Ok`, rolled back otherwise. On
/// SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`).
pub fn transaction<T, E: From<DbError>>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> Result<T, E> {
    let begin = match conn.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    conn.batch(begin)?;
    match f(conn) {
        Ok(value) => match conn.batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Runs `f` inside a savepoint of the current transaction: released when it returns `Ok`,
/// rolled back to (and released) otherwise, leaving the transaction usable either way.
pub fn savepoint<T, E: From<DbError>>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> Result<T, E> {
    conn.batch("SAVEPOINT payhook_sp")?;
    match f(conn) {
        Ok(value) => {
            conn.batch("RELEASE SAVEPOINT payhook_sp")?;
            Ok(value)
        }
        Err(e) => {
            conn.batch("ROLLBACK TO SAVEPOINT payhook_sp")?;
            conn.batch("RELEASE SAVEPOINT payhook_sp")?;
            Err(e)
        }
    }
}

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…`).
    Postgres(String),
}

impl Location {
    /// Parses `sqlite://PATH` (also `sqlite:PATH`) or `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<Location, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| DbError::UnsupportedUrl(url.to_owned()))?;
        if path.is_empty() {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// The URL with any password hidden, for logs.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite://{}", p.display()),
            Location::Postgres(url) => redact_url_password(url),
        }
    }
}

fn redact_url_password(url: &str) -> String {
    // postgres://user:password@host → postgres://user:…@host
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:…@{host}"),
        None => url.to_owned(),
    }
}

/// An open, migrated database: a source of connections.
#[derive(Clone)]
pub enum Database {
    /// SQLite.
    Sqlite(sqlite::SqlitePool),
    /// PostgreSQL.
    Postgres(postgres::PgPool),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Database::Sqlite(_) => "Database::Sqlite",
            Database::Postgres(_) => "Database::Postgres",
        })
    }
}

/// A connection borrowed from a [`Database`]; returned to the pool when dropped.
pub enum DbConn {
    /// SQLite.
    Sqlite(r2d2::PooledConnection<sqlite::Manager>),
    /// PostgreSQL.
    Postgres(r2d2::PooledConnection<postgres::Manager>),
}

impl Conn for DbConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            DbConn::Sqlite(c) => c.execute(sql, params),
            DbConn::Postgres(c) => c.execute(sql, params),
        }
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            DbConn::Sqlite(c) => c.query(sql, params),
            DbConn::Postgres(c) => c.query(sql, params),
        }
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            DbConn::Sqlite(c) => c.batch(sql),
            DbConn::Postgres(c) => c.batch(sql),
        }
    }
    fn backend(&self) -> Backend {
        match self {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Postgres(_) => Backend::Postgres,
        }
    }
}

impl Database {
    /// Opens the database at `location`, checks its settings and brings its schema up to date.
    pub fn open(location: &Location) -> Result<Database, DbError> {
        let db = match location {
            Location::Sqlite(path) => Database::Sqlite(sqlite::SqlitePool::open(path)?),
            Location::Postgres(url) => Database::Postgres(postgres::PgPool::open(url)?),
        };
        let mut conn = db.conn()?;
        schema::migrate(&mut conn)?;
        Ok(db)
    }

    /// A connection from the pool (waits at most [`LOCK_TIMEOUT`]).
    pub fn conn(&self) -> Result<DbConn, DbError> {
        match self {
            Database::Sqlite(pool) => pool.get().map(DbConn::Sqlite),
            Database::Postgres(pool) => pool.get().map(DbConn::Postgres),
        }
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }
}

#[cfg(test)]
mod tests;
