//! `--index` and `ATDATA_INDEX` naming a database server: PostgreSQL and Redis on
//! 127.0.0.1 (see CONTRIBUTING.md). Each PostgreSQL test makes a database of its own and
//! drops it; the CLI cannot pass a Redis key prefix, so the Redis test owns logical
//! database 12 of the test server and flushes it before and after.

mod common;
#[path = "../../atdata/tests/pg_common/mod.rs"]
mod pg_common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{atdata_env, atdata_in, write_dataset};

const REDIS_DB: &str = "redis://127.0.0.1:6379/12";

/// Logical database 12 of the test Redis server, flushed now and on drop.
struct RedisDb;

impl RedisDb {
    fn new() -> RedisDb {
        flush_redis_db_12();
        RedisDb
    }
}

impl Drop for RedisDb {
    fn drop(&mut self) {
        flush_redis_db_12();
    }
}

/// `SELECT 12` + `FLUSHDB` in Redis's wire protocol (no client crate needed for two commands).
fn flush_redis_db_12() {
    let mut s = TcpStream::connect("127.0.0.1:6379").expect("the test Redis server answers");
    s.write_all(b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*1\r\n$7\r\nFLUSHDB\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.iter().filter(|&&b| b == b'\n').count() < 2 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "Redis closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+OK\r\n+OK\r\n");
}

/// `add` through `--index URL`, then `ls` and `show` through `ATDATA_INDEX`.
fn add_ls_show_through(url: &str) {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 6, 2);
    let shards = dir.path().to_str().unwrap();
    let added = atdata_in(
        home.path(),
        &["add", "shared", shards, "--index", url, "--json"],
    );
    assert!(added.ok(), "{added:?}");
    assert_eq!(added.json()["num_samples"], 6);

    let env = [("ATDATA_INDEX", url)];
    let listed = atdata_env(home.path(), &env, &["ls", "--json"]);
    assert!(listed.ok(), "{listed:?}");
    assert!(listed.stdout.contains("shared"), "{listed:?}");
    let shown = atdata_env(home.path(), &env, &["show", "shared", "--json"]);
    assert!(shown.ok(), "{shown:?}");
    assert_eq!(shown.json()["num_samples"], 6);
    // Nothing went to the home's SQLite index.
    assert!(!home.path().join("index.db").exists());
}

#[test]
fn add_ls_and_show_work_through_a_postgres_index() {
    let db = pg_common::TestDb::new("cli_test");
    add_ls_show_through(&db.dsn);
}

#[test]
fn add_ls_and_show_work_through_a_redis_index() {
    let _db = RedisDb::new();
    add_ls_show_through(REDIS_DB);
}

#[test]
fn the_index_flag_wins_over_atdata_index() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("flag.db");
    let env = [("ATDATA_INDEX", "redis://127.0.0.1:1/0")];
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 2, 2);
    let run = atdata_env(
        home.path(),
        &env,
        &[
            "add",
            "x",
            dir.path().to_str().unwrap(),
            "--index",
            file.to_str().unwrap(),
        ],
    );
    assert!(run.ok(), "{run:?}");
    assert!(file.exists());
}

#[test]
fn an_unreachable_server_is_one_error_line_without_the_password() {
    let home = tempfile::tempdir().unwrap();
    for url in [
        "postgresql://someone:hunter2@127.0.0.1:1/db",
        "redis://:hunter2@127.0.0.1:1/0",
    ] {
        let r = atdata_in(home.path(), &["ls", "--index", url]);
        assert!(!r.ok(), "{r:?}");
        assert!(r.stderr.starts_with("error: "), "{r:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
        assert!(r.stderr.contains("127.0.0.1:1"), "{r:?}");
        assert!(!r.stderr.contains("hunter2"), "{r:?}");
    }
}

#[test]
fn unknown_index_schemes_are_refused_by_name() {
    let home = tempfile::tempdir().unwrap();
    let r = atdata_in(home.path(), &["ls", "--index", "mysql://u:pw@h/db"]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("mysql://"), "{r:?}");
    assert!(!r.stderr.contains("pw@"), "{r:?}");
}
