//! Index operations on the SQLite provider: lookups by name and by CID, listing 10k entries,
//! and bulk commits of many entries in one transaction. Targets: get <= 5 µs, list 10k <= 10 ms,
//! bulk >= 100k entries/s.

use std::hint::black_box;

use atdata::codec::sha256_hex;
use atdata::index::entry::content_tag;
use atdata::index::{NewEntry, ProviderExt, ShardInfo};
use atdata::{Field, FieldType, Index, Primitive, Schema, SqliteProvider};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

// The shipped binaries (CLI, Python module) use mimalloc; measure what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn schema() -> Schema {
    Schema::new(
        "TextSample",
        vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::new("language", FieldType::Primitive(Primitive::Str)),
            Field::new("word_count", FieldType::Primitive(Primitive::Int)),
        ],
    )
}

/// Entry `i`: dataset `d{i % names}` with two shards of its own.
fn entry(i: usize, names: usize, salt: &str) -> NewEntry {
    let name = format!("d{}", i % names);
    let shards = (0..2)
        .map(|s| {
            let digest = sha256_hex(format!("{salt}-{i}-{s}").as_bytes());
            ShardInfo::new(
                format!(
                    "/home/user/.atdata/data/{name}/data--{}--{s:06}.tar",
                    content_tag(&digest)
                ),
                digest,
                250,
                1 << 20,
            )
        })
        .collect();
    NewEntry {
        name,
        schema: schema(),
        shards,
        description: Some(format!("entry {i}")),
        tags: vec!["bench".into()],
        license: None,
        metadata: None,
    }
}

fn entries(n: usize, names: usize, salt: &str) -> Vec<NewEntry> {
    (0..n).map(|i| entry(i, names, salt)).collect()
}

fn lookups(c: &mut Criterion) {
    let index = Index::in_memory().unwrap();
    // 10k entries over 10k names, one version each.
    let committed = index.commit_entries(&entries(10_000, 10_000, "a")).unwrap();
    let probe = &committed[4321].entry;
    let by_name = format!("@local/{}", probe.name);
    let by_cid = format!("@local/{}@{}", probe.name, probe.cid);
    let provider = index.provider();

    let mut g = c.benchmark_group("index_get");
    g.bench_function("get_by_name (Index::get @local/name)", |b| {
        b.iter(|| black_box(index.get(black_box(&by_name)).unwrap()))
    });
    g.bench_function("get_by_cid (Index::get @local/name@cid)", |b| {
        b.iter(|| black_box(index.get(black_box(&by_cid)).unwrap()))
    });
    g.bench_function("provider latest_entry", |b| {
        b.iter(|| black_box(provider.latest_entry(black_box(&probe.name)).unwrap()))
    });
    g.bench_function("provider entry_by_cid", |b| {
        b.iter(|| black_box(provider.entry_by_cid(black_box(&probe.cid)).unwrap()))
    });
    g.finish();

    // A name with many versions: the newest is still found quickly.
    let versions = Index::in_memory().unwrap();
    versions.commit_entries(&entries(1_000, 1, "v")).unwrap();
    let mut g = c.benchmark_group("index_get_1000_versions");
    g.bench_function("get_by_name newest of 1000", |b| {
        b.iter(|| black_box(versions.get(black_box("@local/d0")).unwrap()))
    });
    g.bench_function("get pinned version 500 of 1000", |b| {
        b.iter(|| black_box(versions.get(black_box("@local/d0@500")).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("index_list");
    g.sample_size(30);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("list_datasets 10k entries", |b| {
        b.iter(|| black_box(index.list_datasets().unwrap()))
    });
    // The same without the time to free the 10k entries afterwards.
    g.bench_function("list_datasets 10k entries (without dropping them)", |b| {
        b.iter_with_large_drop(|| index.list_datasets().unwrap())
    });

    // The yardstick, measured in the same run because this VM's speed drifts: SQLite alone
    // stepping through the same rows and reading the same columns, on one thread, against
    // our listing of the same index file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.db");
    let on_file = Index::open(&path).unwrap();
    on_file
        .commit_entries(&entries(10_000, 10_000, "a"))
        .unwrap();
    g.bench_function("list_datasets 10k entries, file", |b| {
        b.iter(|| black_box(on_file.list_datasets().unwrap()))
    });
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "cache_size", -64 * 1024).unwrap();
    g.bench_function(
        "SQLite alone: step through the same rows and columns, file",
        |b| {
            b.iter(|| {
                let mut stmt = raw
                    .prepare_cached(
                        "SELECT cid, name, schema_ref, data_urls, atdata_version, atdata_info, \
                     rowid, metadata, created_at FROM dataset_entries ORDER BY rowid",
                    )
                    .unwrap();
                let mut rows = stmt.query([]).unwrap();
                let mut bytes = 0usize;
                while let Some(row) = rows.next().unwrap() {
                    for column in [0, 1, 2, 3, 5] {
                        if let rusqlite::types::ValueRef::Text(v)
                        | rusqlite::types::ValueRef::Blob(v) = row.get_ref(column).unwrap()
                        {
                            bytes += v.len();
                        }
                    }
                    bytes += row.get::<_, Option<i64>>(4).unwrap().is_some() as usize;
                    bytes += row.get::<_, i64>(6).unwrap() as usize & 1;
                }
                black_box(bytes)
            })
        },
    );
    g.finish();
}

fn bulk(c: &mut Criterion) {
    const N: usize = 100_000;
    let batch = entries(N, 1_000, "bulk");
    let mut g = c.benchmark_group("index_bulk_commit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("commit_many 100k entries, in memory", |b| {
        b.iter_batched(
            || SqliteProvider::in_memory().unwrap(),
            // The provider (the whole database) is freed outside the measurement.
            |p| {
                black_box(p.commit_many(&batch).unwrap().len());
                p
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("commit_many 100k entries, file", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let p = SqliteProvider::open(dir.path().join("index.db")).unwrap();
                (dir, p)
            },
            |(dir, p)| {
                black_box(p.commit_many(&batch).unwrap().len());
                (dir, p)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("index_single_commit");
    g.sample_size(20);
    g.bench_function("commit one entry, file (fsync)", |b| {
        let dir = tempfile::tempdir().unwrap();
        let p = SqliteProvider::open(dir.path().join("index.db")).unwrap();
        let mut i = 0usize;
        b.iter(|| {
            i += 1;
            black_box(p.commit(&entry(i, 100, "single")).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, lookups, bulk);
criterion_main!(benches);
