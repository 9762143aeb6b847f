//! What the interop tests with Python atdata 0.7 share: the fixtures it wrote
//! (scripts/py07_make_fixtures.py) and the reference venv that runs scripts/py07_read.py.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

/// The folder of fixtures written by the real atdata 0.7.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py07")
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

/// `python scripts/py07_read.py` in the reference venv, ready for its arguments.
pub fn py07_read(python: &str) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/py07_read.py"));
    cmd
}
