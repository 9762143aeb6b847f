//! What the interop tests with Python atdata 0.7 share: the fixtures it wrote
//! (scripts/py07_make_fixtures.py) and the reference venv that runs scripts/py07_read.py.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use atdata::index::entry::{
    strings_from_msgpack, strings_to_msgpack, to_msgpack, value_from_msgpack,
};
use atdata::Value;
use serde_json::Value as Json;

/// The folder of fixtures written by the real atdata 0.7. (Spelled through `../atdata` so that
/// the CLI's tests, which include this module by path, find it too.)
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../atdata/tests/fixtures/py07")
}

/// `expected.json`: every fixture sample's key, msgpack hex and decoded values.
pub fn expected() -> Json {
    serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap()
}

/// The reference venv's python, from scripts/test.sh. Under CI its absence is a failure.
pub fn ref_python() -> Option<String> {
    match std::env::var("ATDATA_REF_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the interop tests: ATDATA_REF_PYTHON is not set"
            );
            eprintln!(
                "skipping: ATDATA_REF_PYTHON not set (run scripts/test.sh, which makes the \
                 Python 3.12 venv)"
            );
            None
        }
    }
}

/// Runs `cmd` (a Python 0.7 program) and returns its standard output; a failure fails the
/// test with what it printed.
pub fn python_output(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "python 0.7 failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `python -c script args...` in the reference venv, through [`python_output`].
pub fn run_python(python: &str, script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).args(args);
    python_output(cmd)
}

/// Runs a `py07_read` command and returns its JSON report, which must say `ok`.
pub fn py07_report(cmd: Command) -> Json {
    let report: Json = serde_json::from_str(&python_output(cmd)).unwrap();
    assert_eq!(report["ok"], Json::Bool(true), "{report}");
    report
}

/// `python scripts/py07_read.py` in the reference venv, ready for its arguments.
pub fn py07_read(python: &str) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/py07_read.py"));
    cmd
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Copies the Python 0.7 fixture index into `dir`, moving its absolute shard paths there as
/// the fixture manifest says. Returns the index file.
pub fn relocated_index(dir: &Path) -> PathBuf {
    let fixtures = fixtures();
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(fixtures.join("fixture_manifest.json")).unwrap())
            .unwrap();
    let old_root = manifest["index_root"].as_str().unwrap();
    let root = dir.join("index");
    copy_dir(&fixtures.join("index"), &root);
    let new_root = root.display().to_string();
    let db = root.join("index.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = conn
        .prepare("SELECT cid, data_urls, metadata FROM dataset_entries")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let moved = |u: &str| u.replacen(old_root, &new_root, 1);
    for (cid, urls, meta) in rows {
        let urls: Vec<String> = strings_from_msgpack(&urls)
            .unwrap()
            .iter()
            .map(|u| moved(u))
            .collect();
        let meta = meta.map(|m| match value_from_msgpack(&m).unwrap() {
            Value::Map(pairs) => Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::Map(sums) if k == "checksums" => (
                            k,
                            Value::Map(sums.into_iter().map(|(u, d)| (moved(&u), d)).collect()),
                        ),
                        other => (k, other),
                    })
                    .collect(),
            ),
            other => other,
        });
        conn.execute(
            "UPDATE dataset_entries SET data_urls = ?1, metadata = ?2 WHERE cid = ?3",
            rusqlite::params![
                strings_to_msgpack(&urls),
                meta.as_ref().map(to_msgpack),
                cid
            ],
        )
        .unwrap();
    }
    db
}
