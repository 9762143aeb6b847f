//! Shard writing throughput: large-array samples (1 MiB members) and small samples, into the
//! page cache (temp files on the system temp dir; no fsync, publishing is not measured).

use atdata::shard::{sample_key, ShardOptions, ShardWriter, StagedShard};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

// The shipped binaries (CLI, Python module) use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns the staged shards so that deleting their temp files happens outside the timing.
fn write_all(dir: &std::path::Path, samples: &[Vec<u8>]) -> Vec<StagedShard> {
    let mut w = ShardWriter::new(dir, ShardOptions::default()).unwrap();
    for (n, s) in samples.iter().enumerate() {
        w.write_sample(&sample_key(n as u64), s).unwrap();
    }
    let staged = w.finish().unwrap();
    assert_eq!(staged.len(), 1);
    staged
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();

    // 1 MiB msgpack members, like a float32 256x1024 array field.
    let large: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 1 << 20]).collect();
    let bytes: u64 = large.iter().map(|s| s.len() as u64).sum();
    let mut g = c.benchmark_group("shard_write");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("large_1MiB_x64", |b| {
        b.iter_batched(
            || (),
            |()| write_all(dir.path(), &large),
            BatchSize::PerIteration,
        )
    });

    // 60-byte samples: per-member overhead dominates.
    let small: Vec<Vec<u8>> = (0..100_000u32)
        .map(|i| {
            let mut s = vec![0x83u8];
            s.extend_from_slice(&i.to_le_bytes());
            s.resize(60, 0xa0);
            s
        })
        .collect();
    g.throughput(Throughput::Elements(small.len() as u64));
    g.bench_function("small_60B_x100k", |b| {
        b.iter_batched(
            || (),
            |()| write_all(dir.path(), &small),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
