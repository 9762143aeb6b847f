//! A PostgreSQL database of a test's own on the test server, for every test that talks to
//! PostgreSQL (the core's and, by `#[path]`, the CLI's): one rule for where the server is,
//! how a database is named and that it is dropped, failed test or not.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The test server: `ATDATA_TEST_PG` (a URL without a database), else
/// `postgresql://postgres@127.0.0.1:5432`, which scripts/services.sh starts.
pub fn server() -> String {
    std::env::var("ATDATA_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432".to_string())
}

/// Runs `sql` on the server's `postgres` database.
pub fn admin(sql: &str) {
    let mut c = postgres::Client::connect(&format!("{}/postgres", server()), postgres::NoTls)
        .expect("the test PostgreSQL server answers (scripts/services.sh starts it)");
    c.batch_execute(sql).unwrap();
}

/// A database made for one test, dropped (with any connections left) when this is dropped.
pub struct TestDb {
    /// Its name, unique across concurrent tests and test processes.
    pub name: String,
    /// Its URL on [`server`].
    pub dsn: String,
}

impl TestDb {
    /// A new empty database whose name starts with `atdata_{what}_`.
    pub fn new(what: &str) -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "atdata_{what}_{}_{}_{:x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos & 0xffff_ffff
        );
        admin(&format!("CREATE DATABASE {name}"));
        TestDb {
            dsn: format!("{}/{name}", server()),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Never panic in drop (a failing test is already unwinding): a database left behind
        // is named atdata_* and shows in the leftover check.
        if let Ok(mut c) =
            postgres::Client::connect(&format!("{}/postgres", server()), postgres::NoTls)
        {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
