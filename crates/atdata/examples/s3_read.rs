//! Batch-reading throughput of 1 MiB arrays: an S3 store on a loopback S3-compatible server
//! (moto, started here) against the local store, plus the raw GET throughput of the server.
//!
//! ```text
//! ATDATA_REF_PYTHON=.venv-ref/bin/python \
//!     cargo run --release -p atdata --features s3 --example s3_read [-- SAMPLES]
//! ```
//!
//! Without a server (moto is slow Python) the S3 figure says more about the server than about
//! the client: compare it with the raw GET line, which reads the same shards with no decoding.

#[path = "../tests/s3_common/mod.rs"]
mod s3_common;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use atdata::index::WriteOptions;
use atdata::store::{DataStore, ReadTuning, S3DataStore};
use atdata::{Index, LocalDiskStore, NdArray, Packable};

#[derive(Packable, Debug, Clone)]
struct Frame {
    pixels: NdArray,
    label: i64,
}

const FLOATS: usize = 1 << 18; // 1 MiB of f32

fn frames(n: usize) -> impl Iterator<Item = Frame> {
    (0..n).map(|i| Frame {
        pixels: NdArray::from_vec(vec![FLOATS], vec![i as f32; FLOATS]).unwrap(),
        label: i as i64,
    })
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / secs
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

fn main() {
    let samples: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("SAMPLES must be a number"))
        .unwrap_or(256);
    let server = s3_common::S3Server::start();
    server.create_bucket("bench");
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriteOptions::new("frames").maxsize(32 << 20);

    let local = Index::open(tmp.path().join("local.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(tmp.path().join("data")).unwrap());
    local.write(frames(samples), &opts).unwrap();

    let mut options = server
        .options()
        .with_staging_dir(tmp.path().join("staging"));
    options.read = ReadTuning::default();
    let s3 = Arc::new(S3DataStore::new("bench", None, options).unwrap());
    let remote = Index::open(tmp.path().join("s3.db"))
        .unwrap()
        .with_shared_store(s3.clone());
    let start = Instant::now();
    remote.write(frames(samples), &opts).unwrap();
    let upload = mib_per_s((samples * FLOATS * 4) as u64, start.elapsed().as_secs_f64());
    let local_store = LocalDiskStore::new(tmp.path().join("data")).unwrap();

    println!("{samples} samples of 1 MiB arrays, shards of 32 MiB");
    println!("write to S3 (moto, loopback):   {upload:8.0} MiB/s");
    // Warm both once (page cache, connections), then measure.
    let _ = batch_read(&local, "frames", samples);
    let _ = raw_read(s3.as_ref());
    let l = batch_read(&local, "frames", samples);
    let s = batch_read(&remote, "frames", samples);
    println!("batches, local store:           {l:8.0} MiB/s");
    println!(
        "batches, S3 store (moto):       {s:8.0} MiB/s  ({:.0}% of local)",
        100.0 * s / l
    );
    println!(
        "raw GET, S3 store (moto):       {:8.0} MiB/s",
        raw_read(s3.as_ref())
    );
    println!(
        "raw read, local store:          {:8.0} MiB/s",
        raw_read(&local_store)
    );
}
