//! The PostgreSQL side: a pool of synchronous clients (the store runs on blocking threads).

use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls};

use super::{Backend, Conn, DbError, LOCK_TIMEOUT, Row, Value};

/// How many connections one process keeps open.
const POOL_SIZE: u32 = 8;

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgPool(r2d2::Pool<Manager>);

impl PgPool {
    pub(super) fn open(url: &str) -> Result<PgPool, DbError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| DbError::Open(format!("invalid PostgreSQL URL: {e}")))?;
        config.connect_timeout(Duration::from_secs(1));
        // A statement that waits longer than this for a lock fails instead of holding a
        // webhook sender past its 2 s answer.
        let timeout_ms = LOCK_TIMEOUT.as_millis();
        config.options(&format!(
            "-c lock_timeout={timeout_ms} -c statement_timeout=30000"
        ));
        let manager = Manager { config };
        drop(manager.connect_client()?);
        r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(LOCK_TIMEOUT)
            .build(manager)
            .map(PgPool)
            .map_err(|e| DbError::Open(e.to_string()))
    }

    pub(super) fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.0
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

/// Opens connections for the pool.
pub struct Manager {
    config: postgres::Config,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password.
        f.write_str("postgres::Manager")
    }
}

impl Manager {
    fn connect_client(&self) -> Result<PgConn, DbError> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| DbError::Open(e.to_string()))?;
        Ok(PgConn(Some(client)))
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = DbError;

    fn connect(&self) -> Result<PgConn, DbError> {
        self.connect_client()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
    fn is_valid(&self, conn: &mut PgConn) -> Result<(), DbError> {
        conn.batch("")
    }
    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.0.as_ref().is_none_or(Client::is_closed)
    }
}

/// One PostgreSQL connection.
///
/// The synchronous client runs a small runtime of its own, so it must not be used or dropped on
/// a thread that drives async tasks; the store is only called from blocking threads, and a
/// connection dropped on an async thread (a pool released at shutdown) is closed on a thread of
/// its own.
pub struct PgConn(Option<Client>);

impl PgConn {
    fn client(&mut self) -> Result<&mut Client, DbError> {
        self.0
            .as_mut()
            .ok_or_else(|| DbError::Unavailable("the connection is closed".into()))
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("payhook-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.client()?.execute(sql, &params).map_err(error)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.client()?.query(sql, &params).map_err(error)?;
        rows.iter().map(row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client()?.batch_execute(sql).map_err(error)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}

fn row(r: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)
                .map_err(error)?
                .map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map_err(error)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map_err(error)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)
                .map_err(error)?
                .map(|v| Value::Int(v.into()))
        } else {
            r.try_get::<_, Option<String>>(i)
                .map_err(error)?
                .map(Value::Text)
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn error(e: postgres::Error) -> DbError {
    let transient = e.is_closed()
        || e.code().is_some_and(|c| {
            let c = c.code();
            // 08: connection exceptions; 53: insufficient resources; 57P: operator intervention
            // (shutdown); 55P03: lock not available; 40001/40P01: serialization failure, deadlock.
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c == "55P03"
                || c == "40001"
                || c == "40P01"
        })
        || e.as_db_error().is_none() && e.code().is_none() && {
            // Without a server error, only failures to talk to the server are worth a retry; a
            // value that does not convert is a bug, not an outage.
            let text = e.to_string();
            text.contains("connect")
                || text.contains("communicating")
                || text.contains("timed out")
                || text.contains("closed")
        };
    if transient {
        DbError::Unavailable(e.to_string())
    } else {
        DbError::Query(e.to_string())
    }
}
