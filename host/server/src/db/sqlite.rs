//! The SQLite side: a file in WAL mode with `synchronous=FULL`, checked on every connection.

use std::path::{Path, PathBuf};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{Backend, Conn, DbError, LOCK_TIMEOUT, Row, Value};

/// How many connections one process keeps open to the file.
const POOL_SIZE: u32 = 8;

/// A pool of connections to one SQLite file.
#[derive(Clone)]
pub struct SqlitePool(r2d2::Pool<Manager>);

impl SqlitePool {
    pub(super) fn open(path: &Path) -> Result<SqlitePool, DbError> {
        let manager = Manager {
            path: path.to_owned(),
        };
        // The first connection is made here so that a bad path or a refused setting is reported
        // at start-up with its own message, not as a pool time-out.
        drop(manager.open()?);
        r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(LOCK_TIMEOUT)
            .build(manager)
            .map(SqlitePool)
            .map_err(|e| DbError::Open(e.to_string()))
    }

    pub(super) fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.0
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

/// Opens connections for the pool.
#[derive(Debug)]
pub struct Manager {
    path: PathBuf,
}

impl Manager {
    fn open(&self) -> Result<SqliteConn, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| DbError::Open(format!("{}: {e}", self.path.display())))?;
        conn.busy_timeout(LOCK_TIMEOUT).map_err(open_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Durability {
                setting: "journal_mode=WAL",
                found: mode,
            });
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(open_error)?;
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(open_error)?;
        if sync != 2 {
            return Err(DbError::Durability {
                setting: "synchronous=FULL",
                found: sync.to_string(),
            });
        }
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteConn(conn))
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = SqliteConn;
    type Error = DbError;

    fn connect(&self) -> Result<SqliteConn, DbError> {
        self.open()
    }
    fn is_valid(&self, conn: &mut SqliteConn) -> Result<(), DbError> {
        conn.batch("SELECT 1")
    }
    fn has_broken(&self, _conn: &mut SqliteConn) -> bool {
        false
    }
}

/// One SQLite connection.
pub struct SqliteConn(Connection);

impl Conn for SqliteConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut stmt = self.0.prepare_cached(&placeholders(sql)).map_err(error)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(error)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.0.prepare_cached(&placeholders(sql)).map_err(error)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Int(v as i64),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql).map_err(error)
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Text(t) => SqlValue::Text(t.clone()),
    }
}

/// `$1` → `?1`: the queries are written once, in PostgreSQL's style.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn open_error(e: rusqlite::Error) -> DbError {
    DbError::Open(e.to_string())
}

fn error(e: rusqlite::Error) -> DbError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure,
        ) => DbError::Unavailable(e.to_string()),
        _ => DbError::Query(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_rewritten_outside_nothing_else() {
        assert_eq!(
            super::placeholders("SELECT $1, $12 FROM t WHERE a = '$'"),
            "SELECT ?1, ?12 FROM t WHERE a = '$'"
        );
    }
}
