//! `atdata copy` and `--store`/`ATDATA_STORE`, run as a user runs them: between SQLite
//! indexes and local stores, and into a PostgreSQL index on 127.0.0.1:5432 (a database of the
//! test's own, dropped after).

mod common;
#[path = "../../atdata/tests/pg_common/mod.rs"]
mod pg_common;

use std::path::{Path, PathBuf};

use common::{atdata_env, atdata_in, flip_byte, write_dataset};

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A source index `a.db` with store `a-data` holding `docs` (two versions), under `dir`.
struct Source {
    index: PathBuf,
    store: PathBuf,
}

fn source(home: &Path, dir: &Path) -> Source {
    let src = Source {
        index: dir.join("a.db"),
        store: dir.join("a-data"),
    };
    for (n, sub) in [(6, "one"), (4, "two")] {
        let shards = dir.join(sub);
        write_dataset(&shards, n, 2);
        let added = atdata_in(
            home,
            &[
                "add",
                "docs",
                text(&shards),
                "--copy",
                "--index",
                text(&src.index),
                "--store",
                text(&src.store),
            ],
        );
        assert!(added.ok(), "{added:?}");
    }
    src
}

fn shard_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tar") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn copy_into_another_index_and_store_keeps_the_cid_and_again_does_nothing() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = source(home.path(), dir.path());
    let (b_index, b_store) = (dir.path().join("b.db"), dir.path().join("b-data"));
    // The source through the environment, the destination through options.
    let env = [
        ("ATDATA_INDEX", text(&src.index)),
        ("ATDATA_STORE", text(&src.store)),
    ];
    let to = [
        "--to-index",
        text(&b_index),
        "--to-store",
        text(&b_store),
        "--json",
    ];
    let args: Vec<&str> = ["copy", "docs"].into_iter().chain(to).collect();
    let copied = atdata_env(home.path(), &env, &args);
    assert!(copied.ok(), "{copied:?}");
    let j = copied.json();
    assert_eq!(j["created"], 1);
    let v = &j["versions"][0];
    assert_eq!(v["source"]["version"], "2");
    assert_eq!(v["cid_kept"], true);
    assert_eq!(v["entry"]["cid"], v["source"]["cid"]);
    assert_eq!(v["entry"]["version"], "1");
    assert_eq!(v["entry"]["num_samples"], 4);
    assert_eq!(shard_files(&b_store).len(), 2);

    let verified = atdata_in(home.path(), &["verify", "docs", "--index", text(&b_index)]);
    assert!(verified.ok(), "{verified:?}");
    let shown = atdata_in(
        home.path(),
        &["show", "docs", "--index", text(&b_index), "--json"],
    );
    assert_eq!(shown.json()["cid"], v["source"]["cid"]);

    let again = atdata_env(home.path(), &env, &args[..args.len() - 1]);
    assert!(again.ok(), "{again:?}");
    assert!(again.stdout.contains("already there"), "{again:?}");
    assert!(
        again.stdout.contains("0 of 1 version(s) copied"),
        "{again:?}"
    );
    // Nothing went to the home.
    assert!(!home.path().join("index.db").exists());
}

#[test]
fn every_version_and_a_new_name() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = source(home.path(), dir.path());
    let b_index = dir.path().join("b.db");
    let b_store = dir.path().join("b-data");
    let from = ["--index", text(&src.index), "--store", text(&src.store)];
    let to = ["--to-index", text(&b_index), "--to-store", text(&b_store)];
    let mut args = vec![
        "copy",
        "docs",
        "--all-versions",
        "--as",
        "docs-copy",
        "--json",
    ];
    args.extend(from);
    args.extend(to);
    let copied = atdata_in(home.path(), &args);
    assert!(copied.ok(), "{copied:?}");
    let j = copied.json();
    assert_eq!(j["created"], 2);
    for v in j["versions"].as_array().unwrap() {
        assert_eq!(v["cid_kept"], false, "another name, another CID");
        assert_eq!(v["entry"]["name"], "docs-copy");
    }
    let listed = atdata_in(home.path(), &["ls", "--index", text(&b_index), "--json"]);
    let versions: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(versions, vec!["1", "2"]);
    // A pinned version with --all-versions is a mistake, said as such.
    let mut args = vec!["copy", "docs@1", "--all-versions"];
    args.extend(from);
    args.extend(to);
    let r = atdata_in(home.path(), &args);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("every version"), "{r:?}");
}

#[test]
fn a_damaged_shard_fails_the_copy_naming_it_and_commits_nothing() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = source(home.path(), dir.path());
    let bad = shard_files(&src.store).pop().unwrap();
    flip_byte(&bad, 700);
    let b_index = dir.path().join("b.db");
    let b_store = dir.path().join("b-data");
    let r = atdata_in(
        home.path(),
        &[
            "copy",
            "docs",
            "--all-versions",
            "--index",
            text(&src.index),
            "--store",
            text(&src.store),
            "--to-index",
            text(&b_index),
            "--to-store",
            text(&b_store),
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.starts_with("error: "), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    let name = bad.file_name().unwrap().to_str().unwrap();
    assert!(
        r.stderr.contains(name) && r.stderr.contains("nothing was committed"),
        "{r:?}"
    );
    let listed = atdata_in(home.path(), &["ls", "--index", text(&b_index), "--json"]);
    assert_eq!(listed.json(), serde_json::json!([]));
    assert!(shard_files(&b_store).is_empty());
}

#[test]
fn the_store_flag_wins_over_atdata_store() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_dataset(&shards, 3, 2);
    let (env_store, flag_store) = (dir.path().join("env"), dir.path().join("flag"));
    let env = [("ATDATA_STORE", text(&env_store))];
    let index = dir.path().join("i.db");
    let add = |extra: &[&str], name: &str| {
        let mut args = vec![
            "add",
            name,
            text(&shards),
            "--copy",
            "--index",
            text(&index),
        ];
        args.extend(extra);
        atdata_env(home.path(), &env, &args)
    };
    let r = add(&[], "from-env");
    assert!(r.ok(), "{r:?}");
    assert_eq!(shard_files(&env_store).len(), 2);
    let r = add(&["--store", text(&flag_store)], "from-flag");
    assert!(r.ok(), "{r:?}");
    assert_eq!(shard_files(&flag_store).len(), 2);
    // An empty variable is no variable: the home's store.
    let r = atdata_env(
        home.path(),
        &[("ATDATA_STORE", "")],
        &[
            "add",
            "home",
            text(&shards),
            "--copy",
            "--index",
            text(&index),
        ],
    );
    assert!(r.ok(), "{r:?}");
    assert_eq!(shard_files(&home.path().join("data")).len(), 2);
}

#[test]
fn store_locations_the_build_cannot_open_are_one_error_line() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("i.db");
    let r = atdata_env(
        home.path(),
        &[("ATDATA_STORE", "gs://key:secret@bucket/x")],
        &["ls", "--index", text(&index)],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("gs://"), "{r:?}");
    assert!(!r.stderr.contains("secret"), "{r:?}");
    // A copy without a destination is a usage error.
    let r = atdata_in(home.path(), &["copy", "docs"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn copy_into_a_postgres_index() {
    let db = pg_common::TestDb::new("cli_copy");
    let url = db.dsn.clone();

    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = source(home.path(), dir.path());
    let b_store = dir.path().join("b-data");
    let copied = atdata_in(
        home.path(),
        &[
            "copy",
            "docs",
            "--all-versions",
            "--index",
            text(&src.index),
            "--to-index",
            &url,
            "--to-store",
            text(&b_store),
            "--json",
        ],
    );
    assert!(copied.ok(), "{copied:?}");
    assert_eq!(copied.json()["created"], 2);
    let env = [("ATDATA_INDEX", url.as_str())];
    let verified = atdata_env(home.path(), &env, &["verify", "docs@1"]);
    assert!(verified.ok(), "{verified:?}");
    let listed = atdata_env(home.path(), &env, &["ls", "--json"]);
    assert_eq!(listed.json().as_array().unwrap().len(), 2);
}

#[test]
fn an_unreachable_destination_is_one_error_line_without_the_password() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = source(home.path(), dir.path());
    let b_store = dir.path().join("b-data");
    let r = atdata_in(
        home.path(),
        &[
            "copy",
            "docs",
            "--index",
            text(&src.index),
            "--to-index",
            "postgresql://someone:hunter2@127.0.0.1:1/db",
            "--to-store",
            text(&b_store),
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains("127.0.0.1:1"), "{r:?}");
    assert!(!r.stderr.contains("hunter2"), "{r:?}");
    assert!(shard_files(&b_store).is_empty());
}
