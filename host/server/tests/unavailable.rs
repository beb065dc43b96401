//! When the database cannot take the write, a delivery gets a 503 within 2 s, never a 2xx, and
//! nothing is half-stored; once the database is back, the retry is stored.

mod common;

use std::time::{Duration, Instant};

use common::*;
use payhook_server::db::Location;
use serde_json::json;

/// Holds the database's write lock from another connection until dropped.
struct WriteLock {
    release: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteLock {
    fn take(location: &Location) -> WriteLock {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (locked, is_locked) = std::sync::mpsc::channel::<()>();
        let location = location.clone();
        let thread = std::thread::spawn(move || match location {
            Location::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
                locked.send(()).unwrap();
                let _ = wait.recv();
                conn.execute_batch("ROLLBACK").unwrap();
            }
            Location::Postgres(url) => {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                client
                    .batch_execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                    .unwrap();
                locked.send(()).unwrap();
                let _ = wait.recv();
                client.batch_execute("ROLLBACK").unwrap();
            }
        });
        is_locked.recv().unwrap();
        WriteLock {
            release,
            thread: Some(thread),
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.release.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_take_the_write_gets_503_within_two_seconds_and_nothing_is_stored() {
    for db in databases("unavailable_503") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        // Warm the signing-secret cache so the lock only blocks the write.
        assert_eq!(
            s.deliver(&tenant, &event(PI_SUCCEEDED, json!({}), json!({})))
                .await
                .0,
            200
        );
        s.settle(&tenant).await;
        let body = event(PI_SUCCEEDED, json!({}), json!({}));
        let lock = blocking(|| WriteLock::take(&db.location));
        let started = Instant::now();
        let (status, answer) = s.deliver(&tenant, &body).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{:?}: {answer}", db.location);
        assert!(
            took < Duration::from_millis(2100),
            "answered after {took:?}"
        );
        assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
        drop(lock);
        assert_eq!(
            s.count("SELECT COUNT(*) FROM events", &[]),
            1,
            "the refused delivery was not stored"
        );
        // Stripe retries; now it is stored.
        let (status, answer) = s.deliver(&tenant, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["duplicate"], false);
        assert_eq!(s.count("SELECT COUNT(*) FROM events", &[]), 2);
        s.stop().await;
    }
}
