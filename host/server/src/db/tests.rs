use super::*;

#[test]
fn database_urls_are_parsed_or_refused_with_the_forms_that_work() {
    assert_eq!(
        Location::parse("sqlite://payhook.db").unwrap(),
        Location::Sqlite("payhook.db".into())
    );
    assert_eq!(
        Location::parse("sqlite:/tmp/x.db").unwrap(),
        Location::Sqlite("/tmp/x.db".into())
    );
    assert!(matches!(
        Location::parse("postgres://u@h/db").unwrap(),
        Location::Postgres(_)
    ));
    let err = Location::parse("mysql://x").unwrap_err().to_string();
    assert!(
        err.contains("sqlite://PATH") && err.contains("postgres://"),
        "{err}"
    );
    assert!(Location::parse("sqlite://").is_err());
}

#[test]
fn a_postgres_password_is_not_shown() {
    let shown = Location::parse("postgres://user:hunter2@localhost/db")
        .unwrap()
        .display();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("user:…@localhost"), "{shown}");
}

#[test]
fn sqlite_opens_in_wal_with_synchronous_full_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::Sqlite(dir.path().join("t.db"));
    let db = Database::open(&loc).unwrap();
    let mut conn = db.conn().unwrap();
    let mode = conn
        .query_opt("PRAGMA journal_mode", &[])
        .unwrap()
        .unwrap()
        .text(0);
    assert_eq!(mode, "wal");
    assert_eq!(
        conn.query_opt("PRAGMA synchronous", &[])
            .unwrap()
            .unwrap()
            .int(0),
        2,
        "synchronous=FULL"
    );
    drop(conn);
    // Opening again finds the schema in place.
    let db = Database::open(&loc).unwrap();
    let mut conn = db.conn().unwrap();
    assert_eq!(
        conn.query_opt("SELECT COUNT(*) FROM payhook_schema", &[])
            .unwrap()
            .unwrap()
            .int(0),
        crate::db::schema::VERSION
    );
}

#[test]
fn a_database_from_a_newer_payhook_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::Sqlite(dir.path().join("t.db"));
    let db = Database::open(&loc).unwrap();
    db.conn()
        .unwrap()
        .execute(
            "INSERT INTO payhook_schema (version) VALUES ($1)",
            &[99.into()],
        )
        .unwrap();
    let err = Database::open(&loc).unwrap_err().to_string();
    assert!(
        err.contains("version 99") && err.contains("upgrade payhook"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough to be read as a header",
    )
    .unwrap();
    let err = Database::open(&Location::Sqlite(path))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a database") || err.contains("cannot open"),
        "{err}"
    );
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&Location::Sqlite(dir.path().join("t.db"))).unwrap();
    let mut conn = db.conn().unwrap();
    let r: Result<(), DbError> = transaction(&mut conn, |tx| {
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)",
            &["a".into(), "1".into()],
        )?;
        Err(DbError::Query("boom".into()))
    });
    assert!(r.is_err());
    assert!(
        conn.query_opt("SELECT value FROM settings WHERE key = 'a'", &[])
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_version_5_database_is_brought_up_to_date() {
    const NEW: [&str; 19] = [
        "events_by_status",
        "events_by_type",
        "payments_by_updated",
        "payments_by_status",
        "payments_pending",
        "payments_failed",
        "payments_refunded",
        "payments_disputed",
        "payments_unlinked",
        "payments_by_invoice",
        "subscriptions_by_updated",
        "subscriptions_by_status",
        "invoices_by_created",
        "invoices_by_status",
        "appointments_by_created",
        "appointments_by_status",
        "ledger_by_day",
        "stripe_objects_by_created",
        "sqlite_autoindex_payout_links_1",
    ];
    let indexes = |conn: &mut DbConn| -> Vec<String> {
        conn.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.text(0))
        .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::Sqlite(dir.path().join("t.db"));
    let db = Database::open(&loc).unwrap();
    let mut conn = db.conn().unwrap();
    let current = indexes(&mut conn);
    for name in NEW {
        assert!(current.iter().any(|n| n == name), "{name}: {current:?}");
    }
    // Back to version 5: v6's tables and indexes gone, the indexes it replaced back.
    for name in &NEW[..NEW.len() - 1] {
        conn.batch(&format!("DROP INDEX {name}")).unwrap();
    }
    conn.batch(
        "DROP TABLE payout_transactions; DROP TABLE payout_links; \
         CREATE INDEX stripe_objects_by_created ON stripe_objects (tenant_id, kind, created); \
         CREATE INDEX invoices_by_tenant ON invoices (tenant_id, created_at); \
         CREATE INDEX appointments_by_tenant ON appointments (tenant_id, created_at); \
         DROP TABLE plugin_tenants; DROP TABLE plugin_actions; DROP TABLE plugin_calls; \
         DROP TABLE plugin_statuses; DROP TABLE plugin_ledger; DROP TABLE plugin_callbacks; \
         DROP TABLE plugin_kv; DROP TABLE callback_endpoints; DROP INDEX notifications_due; \
         ALTER TABLE notifications DROP COLUMN attempts; ALTER TABLE notifications DROP COLUMN next_attempt_at; \
         ALTER TABLE notifications DROP COLUMN last_error; \
         DELETE FROM payhook_schema WHERE version >= 6;",
    )
    .unwrap();
    assert!(!indexes(&mut conn).contains(&"payments_pending".to_owned()));
    drop(conn);
    drop(db);
    let db = Database::open(&loc).unwrap();
    let mut conn = db.conn().unwrap();
    assert_eq!(indexes(&mut conn), current);
    assert_eq!(
        conn.query_opt("SELECT MAX(version) FROM payhook_schema", &[])
            .unwrap()
            .unwrap()
            .int(0),
        super::schema::VERSION
    );
}
