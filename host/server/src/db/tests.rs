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
        super::schema::VERSION
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
