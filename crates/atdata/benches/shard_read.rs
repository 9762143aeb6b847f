//! Shard reading throughput from an in-memory shard on one core: small samples (three short
//! fields, ~60-byte members) and large ones (1 MiB members).

use atdata::shard::{sample_key, ShardOptions, ShardReader, ShardWriter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The shipped binaries (CLI, Python module) use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A msgpack map of three short fields: {"text": str, "label": int, "score": float}.
fn small_sample(i: u32) -> Vec<u8> {
    let mut s = vec![0x83];
    s.push(0xa4);
    s.extend_from_slice(b"text");
    let text = format!("document number {i:08} ok");
    s.push(0xa0 | text.len() as u8);
    s.extend_from_slice(text.as_bytes());
    s.push(0xa5);
    s.extend_from_slice(b"label");
    s.push(0xce);
    s.extend_from_slice(&i.to_be_bytes());
    s.push(0xa5);
    s.extend_from_slice(b"score");
    s.push(0xcb);
    s.extend_from_slice(&(f64::from(i) * 0.5).to_be_bytes());
    s
}

fn shard_bytes(samples: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    for (n, s) in samples.iter().enumerate() {
        w.write_sample(&sample_key(n as u64), s).unwrap();
    }
    let staged = w.finish().unwrap();
    std::fs::read(staged[0].path()).unwrap()
}

fn read_count(bytes: &[u8]) -> usize {
    let mut n = 0;
    for s in ShardReader::new(bytes, "bench.tar", Some(bytes.len() as u64)) {
        std::hint::black_box(s.unwrap());
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let small: Vec<Vec<u8>> = (0..100_000).map(small_sample).collect();
    assert!((55..=65).contains(&small[0].len()), "{}", small[0].len());
    let small_shard = shard_bytes(&small);
    let large: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 1 << 20]).collect();
    let large_shard = shard_bytes(&large);

    let mut g = c.benchmark_group("shard_read");
    g.throughput(Throughput::Elements(small.len() as u64));
    g.bench_function("small_60B_x100k", |b| {
        b.iter(|| assert_eq!(read_count(&small_shard), 100_000))
    });
    g.throughput(Throughput::Bytes(large_shard.len() as u64));
    g.sample_size(20);
    g.bench_function("large_1MiB_x64", |b| {
        b.iter(|| assert_eq!(read_count(&large_shard), 64))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
