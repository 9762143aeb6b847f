//! Batch-reading throughput of 1 MiB arrays: an S3 store on loopback S3-compatible servers
//! against the local store, plus the raw GET throughput of each server, in one process run.
//!
//! ```text
//! ATDATA_REF_PYTHON=.venv-ref/bin/python ATDATA_S3S_FS=<path to s3s-fs> \
//!     cargo run --release -p atdata --features s3 --example s3_read [-- SAMPLES [SERVER...]]
//! ```
//!
//! `SERVER` is `moto` (moto's Python server, from `$ATDATA_REF_PYTHON`), `s3s-fs` (the Rust S3
//! server over a local folder, from crates.io: `$ATDATA_S3S_FS`, else `s3s-fs` on `PATH`) or
//! `s3rver` (node's S3 server over a local folder, from npm: `$ATDATA_S3RVER`, else `s3rver`
//! on `PATH`); all three by default. `scripts/bench-s3.sh` installs the last two when missing
//! and runs this.
//!
//! Every figure is the median of `ATDATA_BENCH_REPS` (default 5) timed passes after one
//! untimed pass. The local store is measured again next to each server, so each percentage
//! compares figures taken under the same machine load. Client, server and page cache share the
//! machine's cores: a server that burns CPU lowers the S3 figure twice (its own work, and the
//! client's lost share); compare the S3 batch line with the raw GET line of the same server,
//! which reads the same shards with no decoding.

#[path = "../tests/s3_common/mod.rs"]
mod s3_common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atdata::index::WriteOptions;
use atdata::store::{DataStore, ReadTuning, S3DataStore, S3Options};
use atdata::{Index, LocalDiskStore, NdArray, Packable};

#[derive(Packable, Debug, Clone)]
struct Frame {
    pixels: NdArray,
    label: i64,
}

const FLOATS: usize = 1 << 18; // 1 MiB of f32
const BUCKET: &str = "bench";

fn frames(n: usize) -> impl Iterator<Item = Frame> {
    (0..n).map(|i| Frame {
        pixels: NdArray::from_vec(vec![FLOATS], vec![i as f32; FLOATS]).unwrap(),
        label: i as i64,
    })
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / secs
}

/// The median of `reps` runs of `f`, after one untimed run (page cache, connections).
fn median(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    let _ = f();
    let mut v: Vec<f64> = (0..reps.max(1)).map(|_| f()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Reads every batch of `name` in shard order; bytes of array data per second.
fn batch_read(index: &Index, name: &str, samples: usize) -> f64 {
    let ds = index.load(name).unwrap();
    let start = Instant::now();
    let mut n = 0;
    for b in ds.ordered(32) {
        n += b.unwrap().len();
    }
    assert_eq!(n, samples);
    mib_per_s((samples * FLOATS * 4) as u64, start.elapsed().as_secs_f64())
}

/// Streams every shard of `store` with no decoding; file bytes per second.
fn raw_read(store: &dyn DataStore) -> f64 {
    let start = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for f in store.shards().unwrap() {
        let mut r = store.open(&f.url).unwrap().reader;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    mib_per_s(total, start.elapsed().as_secs_f64())
}

/// A loopback S3 server of one of the kinds this benchmark knows, stopped on drop.
enum Server {
    Moto(s3_common::S3Server),
    /// A child process at `port` with these keys: s3s-fs, s3rver.
    Process {
        child: Child,
        port: u16,
        keys: &'static str,
    },
}

impl Server {
    fn start(kind: &str, root: &Path) -> Server {
        match kind {
            "moto" => {
                let s = s3_common::S3Server::start();
                s.create_bucket(BUCKET);
                Server::Moto(s)
            }
            "s3s-fs" => {
                std::fs::create_dir_all(root.join(BUCKET)).unwrap();
                let mut cmd = Command::new(binary("ATDATA_S3S_FS", "s3s-fs"));
                cmd.args(["--access-key", s3_common::KEY_ID])
                    .args(["--secret-key", s3_common::SECRET])
                    .arg(root)
                    .args(["--host", "127.0.0.1", "--port"]);
                start_process(cmd, s3_common::KEY_ID)
            }
            "s3rver" => {
                std::fs::create_dir_all(root).unwrap();
                let mut cmd = Command::new(binary("ATDATA_S3RVER", "s3rver"));
                cmd.arg("-d")
                    .arg(root)
                    .args(["--silent", "--configure-bucket", BUCKET])
                    .args(["-a", "127.0.0.1", "-p"]);
                start_process(cmd, "S3RVER")
            }
            other => panic!("unknown server '{other}': expected moto, s3s-fs or s3rver"),
        }
    }

    fn options(&self) -> S3Options {
        match self {
            Server::Moto(s) => s.options(),
            Server::Process { port, keys, .. } => {
                s3_common::options_at(&format!("http://127.0.0.1:{port}")).with_keys(*keys, *keys)
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Process { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The program named by the environment variable `var`, else `name` on `PATH`.
fn binary(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs `cmd` with a free loopback port as its last argument, until it listens.
fn start_process(mut cmd: Command, keys: &'static str) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}; scripts/bench-s3.sh installs the servers and says \
                 where"
            )
        });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{program} exited at start ({status})");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server::Process { child, port, keys };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{program} did not listen within 30 s");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let samples: usize = args
        .next()
        .map(|a| a.parse().expect("SAMPLES must be a number"))
        .unwrap_or(256);
    let mut servers: Vec<String> = args.collect();
    if servers.is_empty() {
        servers = vec!["moto".into(), "s3s-fs".into(), "s3rver".into()];
    }
    let reps: usize = std::env::var("ATDATA_BENCH_REPS")
        .ok()
        .map(|r| r.parse().expect("ATDATA_BENCH_REPS must be a number"))
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriteOptions::new("frames").maxsize(32 << 20);
    let bytes = (samples * FLOATS * 4) as u64;

    let local = Index::open(tmp.path().join("local.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(tmp.path().join("data")).unwrap());
    local.write(frames(samples), &opts).unwrap();
    let local_store = LocalDiskStore::new(tmp.path().join("data")).unwrap();

    println!("{samples} samples of 1 MiB arrays, shards of 32 MiB, median of {reps}");
    println!(
        "batches, local store:            {:8.0} MiB/s",
        median(reps, || batch_read(&local, "frames", samples))
    );
    println!(
        "raw read, local store:           {:8.0} MiB/s",
        median(reps, || raw_read(&local_store))
    );
    for kind in &servers {
        let root = tmp.path().join(format!("server-{kind}"));
        let server = Server::start(kind, &root);
        let mut options = server
            .options()
            .with_staging_dir(tmp.path().join(format!("staging-{kind}")));
        options.read = tuning();
        let s3 = Arc::new(S3DataStore::new(BUCKET, None, options).unwrap());
        let remote = Index::open(tmp.path().join(format!("{kind}.db")))
            .unwrap()
            .with_shared_store(s3.clone());
        let start = Instant::now();
        remote.write(frames(samples), &opts).unwrap();
        let upload = mib_per_s(bytes, start.elapsed().as_secs_f64());
        let s = median(reps, || batch_read(&remote, "frames", samples));
        let l = median(reps, || batch_read(&local, "frames", samples));
        let raw = median(reps, || raw_read(s3.as_ref()));
        let label = |what: &str| format!("{what} ({kind}):");
        println!("{:33}{upload:8.0} MiB/s", label("write, S3 store"));
        println!(
            "{:33}{s:8.0} MiB/s  ({:.0}% of local, {l:.0} MiB/s next to it)",
            label("batches, S3 store"),
            100.0 * s / l
        );
        println!("{:33}{raw:8.0} MiB/s", label("raw GET, S3 store"));
        drop(server);
    }
}

/// The read tuning: the default, or `ATDATA_S3_CHUNK` (bytes) / `ATDATA_S3_IN_FLIGHT` to try
/// others.
fn tuning() -> ReadTuning {
    let mut t = ReadTuning::default();
    if let Some(c) = std::env::var("ATDATA_S3_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        t.chunk = c;
    }
    if let Some(n) = std::env::var("ATDATA_S3_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        t.in_flight = n;
    }
    t
}
