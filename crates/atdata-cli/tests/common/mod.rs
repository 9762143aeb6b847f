//! Helpers shared by the CLI integration tests: running the built binary, making shards.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use atdata::codec::encode_sample;
use atdata::shard::{write_shards, PublishedShard, ShardOptions};
use atdata::{NdArray, Value};

/// What a run of `atdata` produced.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Parses stdout as JSON, failing the test with the output when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `atdata args...` with `ATDATA_HOME` pointing at `home` (so no test touches ~/.atdata).
pub fn atdata_in(home: &Path, args: &[&str]) -> Run {
    atdata_at(Path::new("."), home, args)
}

/// [`atdata_in`] from the working directory `cwd` (for arguments read relative to it).
pub fn atdata_at(cwd: &Path, home: &Path, args: &[&str]) -> Run {
    run_atdata::<&str>(cwd, home, &[], args)
}

/// [`atdata_in`] with the variables `env` set (`ATDATA_INDEX`, `AWS_ENDPOINT_URL`, ...).
pub fn atdata_env<V: AsRef<std::ffi::OsStr>>(home: &Path, env: &[(&str, V)], args: &[&str]) -> Run {
    run_atdata(Path::new("."), home, env, args)
}

fn run_atdata<V: AsRef<std::ffi::OsStr>>(
    cwd: &Path,
    home: &Path,
    env: &[(&str, V)],
    args: &[&str],
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atdata"));
    cmd.args(args)
        .current_dir(cwd)
        .env("ATDATA_HOME", home)
        // The caller's own index, store and AWS settings must not leak into a test.
        .env_remove("ATDATA_INDEX")
        .env_remove("ATDATA_STORE")
        .env_remove("HOME");
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("AWS_")) {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("the atdata binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `atdata args...` with an `ATDATA_HOME` that does not exist.
pub fn atdata(args: &[&str]) -> Run {
    atdata_in(Path::new("/nonexistent/atdata-home"), args)
}

/// Sample `i` of the test dataset: text, an int, an optional str and a float32 vector.
pub fn sample(i: usize) -> Vec<(String, Value)> {
    let vector: Vec<f32> = (0..4).map(|j| (i * 10 + j) as f32).collect();
    vec![
        ("text".to_string(), Value::Str(format!("document {i}"))),
        ("label".to_string(), Value::Int(i as i64 % 3)),
        (
            "note".to_string(),
            if i % 2 == 0 {
                Value::Nil
            } else {
                Value::Str("odd".into())
            },
        ),
        (
            "vector".to_string(),
            Value::Array(NdArray::from_vec(vec![4], vector).expect("shape fits")),
        ),
    ]
}

/// Writes `n` samples into `dir/data-00000N.tar` shards of at most `per_shard` samples.
pub fn write_dataset(dir: &Path, n: usize, per_shard: usize) -> Vec<PublishedShard> {
    let samples = (0..n).map(|i| {
        let mut buf = Vec::new();
        encode_sample(&sample(i), &mut buf);
        buf
    });
    let opts = ShardOptions {
        maxcount: Some(per_shard),
        maxsize: None,
    };
    write_shards(dir, "data", samples, opts).expect("shards are written")
}

/// Flips the bits of the byte at `offset` of `path`.
pub fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).expect("shard is readable");
    bytes[offset] ^= 0xff;
    std::fs::write(path, bytes).expect("shard is writable");
}

/// The Python 0.7 fixture directory, when another helper has generated it.
pub fn py07_fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../atdata/tests/fixtures/py07");
    dir.join("expected.json").exists().then_some(dir)
}
