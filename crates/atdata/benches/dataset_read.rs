//! Reading throughput: decode + batch of small samples, and large-array samples read from
//! the page cache into batches, with this machine's memcpy bandwidth measured in the same run
//! as the yardstick. Also end-to-end encode + shard write of large-array samples.

use std::hint::black_box;
use std::time::Duration;

use atdata::codec::encode_sample;
use atdata::dataset::{BatchBuilder, Dataset, ReadOptions};
use atdata::shard::{write_shards, ShardOptions, ShardWriter};
use atdata::{Field, FieldType, NdArray, Primitive, Schema, Value};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

// The shipped binaries (CLI, Python module) use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn small_schema() -> Schema {
    Schema::new(
        "TextSample",
        vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::new("language", FieldType::Primitive(Primitive::Str)),
            Field::new("word_count", FieldType::Primitive(Primitive::Int)),
        ],
    )
}

fn small_sample(i: usize) -> Vec<u8> {
    let mut out = Vec::new();
    encode_sample(
        &[
            (
                "text",
                Value::from(format!("Document number {i} about topic {}.", i % 5)),
            ),
            (
                "language",
                Value::from(if i % 3 == 0 { "es" } else { "en" }),
            ),
            ("word_count", Value::Int(6)),
        ],
        &mut out,
    );
    out
}

fn array_schema() -> Schema {
    Schema::new(
        "Big",
        vec![
            Field::new("image", FieldType::ndarray_of("float32")),
            Field::new("label", FieldType::Primitive(Primitive::Int)),
        ],
    )
}

/// 1 MiB of float32 (512 x 512).
fn array_sample(i: usize) -> Vec<u8> {
    let a = NdArray::from_vec(vec![512, 512], vec![i as f32; 512 * 512]).unwrap();
    let mut out = Vec::new();
    encode_sample(
        &[("image", Value::Array(a)), ("label", Value::Int(i as i64))],
        &mut out,
    );
    out
}

fn decode_small(c: &mut Criterion) {
    let samples: Vec<Vec<u8>> = (0..100_000).map(small_sample).collect();
    let mut g = c.benchmark_group("small_samples");
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("decode_batch_in_memory_b256", |b| {
        let mut builder = BatchBuilder::new(Some(small_schema()), 256);
        b.iter(|| {
            let mut n = 0;
            for s in &samples {
                builder.push(s).unwrap();
                if builder.len() == 256 {
                    n += black_box(builder.finish()).len();
                }
            }
            n += builder.finish().len();
            n
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let urls = shards_of(dir.path(), "small", samples.iter().cloned(), 25_000);
    bench_batches(
        &mut g,
        "shards_to_batches_b256_workers",
        &urls,
        small_schema(),
        256,
    );
    g.finish();
}

fn large_arrays(c: &mut Criterion) {
    const N: usize = 256; // 256 MiB in all
    let mut g = c.benchmark_group("large_arrays");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Bytes((N * (1 << 20)) as u64));

    // The yardstick: one-thread memcpy of the same volume, between buffers bigger than cache.
    let src = vec![1u8; N << 20];
    let mut dst = vec![0u8; N << 20];
    g.bench_function("memcpy_256MiB", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(dst[12345])
        })
    });
    drop((src, dst));

    let dir = tempfile::tempdir().unwrap();
    let urls = shards_of(dir.path(), "big", (0..N).map(array_sample), 32);
    bench_batches(
        &mut g,
        "page_cache_to_batches_b16_workers",
        &urls,
        array_schema(),
        16,
    );

    let encoded: Vec<Vec<u8>> = (0..64).map(array_sample).collect();
    g.throughput(Throughput::Bytes(
        encoded.iter().map(|e| e.len() as u64).sum(),
    ));
    g.bench_function("write_64x1MiB_shards", |b| {
        b.iter(|| write_all(dir.path(), encoded.iter().map(|e| e.as_slice())))
    });
    let arrays: Vec<NdArray> = (0..64)
        .map(|i| NdArray::from_vec(vec![512, 512], vec![i as f32; 512 * 512]).unwrap())
        .collect();
    g.bench_function("encode_and_write_64x1MiB", |b| {
        b.iter(|| {
            let encoded = arrays.iter().enumerate().map(|(i, a)| {
                let mut buf = Vec::new();
                encode_sample(
                    &[
                        ("image", Value::Array(a.clone())),
                        ("label", Value::Int(i as i64)),
                    ],
                    &mut buf,
                );
                buf
            });
            write_all(dir.path(), encoded)
        })
    });
    g.finish();
}

/// Writes `samples` as shards of `maxcount` under `dir`; returns their paths.
fn shards_of(
    dir: &std::path::Path,
    prefix: &str,
    samples: impl Iterator<Item = Vec<u8>>,
    maxcount: usize,
) -> Vec<String> {
    let opts = ShardOptions {
        maxcount: Some(maxcount),
        maxsize: None,
    };
    write_shards(dir, prefix, samples, opts)
        .unwrap()
        .iter()
        .map(|s| s.path.display().to_string())
        .collect()
}

/// Times reading `urls` into batches, on the calling thread and with 2 reader threads.
fn bench_batches<M: criterion::measurement::Measurement>(
    g: &mut criterion::BenchmarkGroup<'_, M>,
    name: &str,
    urls: &[String],
    schema: Schema,
    batch: usize,
) {
    for workers in [0usize, 2] {
        let ds = Dataset::new(urls.to_vec(), Some(schema.clone()))
            .with_read_options(ReadOptions { workers });
        g.bench_with_input(BenchmarkId::new(name, workers), &ds, |b, ds| {
            b.iter(|| ds.ordered(batch).map(|b| b.unwrap().len()).sum::<usize>())
        });
    }
}

/// Writes samples into shards of 16 staged in a fresh dir under `root`; returns the shard count.
fn write_all<S: AsRef<[u8]>>(root: &std::path::Path, samples: impl Iterator<Item = S>) -> usize {
    let staging = tempfile::tempdir_in(root).unwrap();
    let opts = ShardOptions {
        maxcount: Some(16),
        maxsize: None,
    };
    let mut w = ShardWriter::new(staging.path(), opts).unwrap();
    for (i, e) in samples.enumerate() {
        w.write_sample(&atdata::shard::sample_key(i as u64), e.as_ref())
            .unwrap();
    }
    black_box(w.finish().unwrap().len())
}

criterion_group!(benches, decode_small, large_arrays);
criterion_main!(benches);
