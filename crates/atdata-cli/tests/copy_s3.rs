//! The laptop-to-lab copy end to end through the binary: a dataset added to a laptop index
//! (SQLite file, local store) is copied with `atdata copy --to-index postgresql://...
//! --to-store s3://...` into a lab index on PostgreSQL (127.0.0.1:5432, a database of the
//! test's own, dropped after) and a bucket of moto's S3 server (started by the test from
//! `$ATDATA_REF_PYTHON`, see `s3_common`), configured only through the standard AWS_*
//! variables; then verified and previewed from there. Also: an S3 store whose server is down
//! is one error line naming bucket and endpoint.

mod common;
#[path = "../../atdata/tests/pg_common/mod.rs"]
mod pg_common;
#[path = "../../atdata/tests/s3_common/mod.rs"]
mod s3_common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{atdata_env, atdata_in, write_dataset};
use s3_common::S3Server;

/// The AWS variables pointing at the S3 server at `endpoint`.
fn aws(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", s3_common::KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", s3_common::SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_laptop_dataset_copied_to_postgres_and_s3_verifies_previews_and_keeps_its_cid() {
    let server = S3Server::start();
    server.create_bucket("lab");
    let env = aws(&server.endpoint());
    let db = pg_common::TestDb::new("cli_s3");
    let lab = db.dsn.clone();
    let store = "s3://lab/datasets";
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (laptop, laptop_data) = (dir.path().join("laptop.db"), dir.path().join("data"));
    let shards = dir.path().join("shards");
    write_dataset(&shards, 10, 4);
    let laptop_args = ["--index", text(&laptop), "--store", text(&laptop_data)];
    let added = atdata_in(
        home.path(),
        &[&["add", "docs", text(&shards), "--copy"][..], &laptop_args].concat(),
    );
    assert!(added.ok(), "{added:?}");
    let shown = atdata_in(
        home.path(),
        &[&["show", "docs", "--json"][..], &laptop_args].concat(),
    );
    assert!(shown.ok(), "{shown:?}");
    let laptop_cid = shown.json()["cid"].clone();

    let copy: Vec<&str> = vec![
        "copy",
        "docs",
        "--index",
        text(&laptop),
        "--to-index",
        &lab,
        "--to-store",
        store,
        "--json",
    ];
    let started = Instant::now();
    let copied = atdata_env(home.path(), &env, &copy);
    let copy_time = started.elapsed();
    assert!(copied.ok(), "{copied:?}");
    let j = copied.json();
    assert_eq!(j["created"], 1, "{j}");
    let v = &j["versions"][0];
    assert_eq!(v["cid_kept"], true, "{j}");
    assert_eq!(v["entry"]["cid"], laptop_cid, "{j}");
    assert_eq!(v["entry"]["num_samples"], 10, "{j}");

    let lab_args = ["--index", lab.as_str(), "--store", store];
    let shown = atdata_env(
        home.path(),
        &env,
        &[&["show", "docs", "--json"][..], &lab_args].concat(),
    );
    assert!(shown.ok(), "{shown:?}");
    let entry = shown.json();
    assert_eq!(entry["cid"], laptop_cid);
    let urls = entry.to_string();
    assert!(urls.contains("s3://lab/datasets/docs/"), "{entry}");

    let verified = atdata_env(
        home.path(),
        &env,
        &[&["verify", "docs"][..], &lab_args].concat(),
    );
    assert!(verified.ok(), "{verified:?}");
    // Reading the samples back from the bucket (the laptop's store could serve nothing: it
    // is gone).
    std::fs::remove_dir_all(&laptop_data).unwrap();
    let preview = atdata_env(
        home.path(),
        &env,
        &[&["preview", "docs", "-n", "10"][..], &lab_args].concat(),
    );
    assert!(preview.ok(), "{preview:?}");
    for i in [0, 9] {
        assert!(
            preview.stdout.contains(&format!("document {i}")),
            "{preview:?}"
        );
    }

    // Copying again changes nothing.
    let again = atdata_env(home.path(), &env, &copy[..copy.len() - 1]);
    assert!(again.ok(), "{again:?}");
    assert!(
        again.stdout.contains("0 of 1 version(s) copied"),
        "{again:?}"
    );
    let listed = atdata_env(
        home.path(),
        &env,
        &[&["ls", "--json"][..], &lab_args].concat(),
    );
    assert_eq!(listed.json().as_array().unwrap().len(), 1, "{listed:?}");
    eprintln!("copy to PostgreSQL + S3: {:.2} s", copy_time.as_secs_f64());
}

#[test]
fn an_s3_store_whose_server_is_down_is_one_error_line_naming_it() {
    let db = pg_common::TestDb::new("cli_s3");
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_dataset(&shards, 4, 2);
    let laptop = dir.path().join("laptop.db");
    let added = atdata_in(
        home.path(),
        &["add", "docs", text(&shards), "--index", text(&laptop)],
    );
    assert!(added.ok(), "{added:?}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let r = atdata_env(
        home.path(),
        &aws(&endpoint),
        &[
            "copy",
            "docs",
            "--index",
            text(&laptop),
            "--to-index",
            &db.dsn.clone(),
            "--to-store",
            "s3://lab/datasets",
        ],
    );
    let took = started.elapsed();
    eprintln!(
        "copy to an S3 server that is down: {:.1} s: {}",
        took.as_secs_f64(),
        r.stderr.trim_end()
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(r.stderr.starts_with("error:"), "{r:?}");
    assert!(r.stderr.contains("lab"), "{r:?}");
    assert!(r.stderr.contains(&format!("127.0.0.1:{port}")), "{r:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    // `--store` (not only `--to-store`) says the same.
    let r = atdata_env(
        home.path(),
        &aws(&endpoint),
        &[
            "add",
            "more",
            text(&shards),
            "--copy",
            "--index",
            text(&laptop),
            "--store",
            "s3://lab/datasets",
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains(&format!("127.0.0.1:{port}")), "{r:?}");
    // Nothing was committed to the lab index.
    let listed = atdata_in(home.path(), &["ls", "--json", "--index", &db.dsn.clone()]);
    assert_eq!(listed.json().as_array().unwrap().len(), 0, "{listed:?}");
}
