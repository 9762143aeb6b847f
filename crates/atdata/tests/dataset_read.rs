//! Datasets over shards we write: ordered and shuffled iteration, batches, parts, errors.

use atdata::dataset::{BatchBuilder, Column, Dataset, Order, ReadOptions, ShuffleOptions};
use atdata::shard::{write_shards, ShardOptions};
use atdata::{Field, FieldType, NdArray, Primitive, Schema, Value};

fn schema() -> Schema {
    Schema::new(
        "Doc",
        vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::new("n", FieldType::Primitive(Primitive::Int)),
            Field::new("v", FieldType::ndarray()),
        ],
    )
}

fn sample(i: i64) -> Vec<u8> {
    let mut out = Vec::new();
    atdata::codec::encode_sample(
        &[
            ("text", Value::from(format!("doc {i}"))),
            ("n", Value::Int(i)),
            (
                "v",
                Value::Array(NdArray::from_vec(vec![3], vec![i as f32; 3]).unwrap()),
            ),
        ],
        &mut out,
    );
    out
}

fn make(dir: &std::path::Path, n: i64, maxcount: usize) -> Dataset {
    let shards = write_shards(
        dir,
        "data",
        (0..n).map(sample),
        ShardOptions {
            maxcount: Some(maxcount),
            maxsize: None,
        },
    )
    .unwrap();
    let urls = shards
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    Dataset::new(urls, Some(schema())).with_name("docs")
}

fn ns(ds: &Dataset, order: Order) -> Vec<i64> {
    ds.samples(order)
        .map(|s| match s.unwrap().get("n") {
            Some(Value::Int(i)) => *i,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn ordered_reads_every_sample_in_order_with_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 1000, 70);
    assert_eq!(ds.urls().len(), 15);
    for workers in [0, 1, 2, 4] {
        let d = ds.clone().with_read_options(ReadOptions { workers });
        assert_eq!(
            ns(&d, Order::Ordered),
            (0..1000).collect::<Vec<_>>(),
            "workers={workers}"
        );
    }
    assert_eq!(ds.len().unwrap(), 1000);
}

#[test]
fn batches_are_columnar_and_cross_shards() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 25, 7);
    let batches: Vec<_> = ds.ordered(10).map(Result::unwrap).collect();
    assert_eq!(
        batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let b = &batches[1];
    assert_eq!(b.column("n"), Some(&Column::Int((10..20).collect())));
    match b.column("text") {
        Some(Column::Str(v)) => assert_eq!(v[0], "doc 10"),
        other => panic!("{other:?}"),
    }
    let arr = b.column("v").unwrap().to_ndarray(b.len()).unwrap().unwrap();
    assert_eq!(arr.shape(), &[10, 3]);
    assert_eq!(arr.to_vec::<f32>().unwrap()[..3], [10.0, 10.0, 10.0]);
    let dropped: Vec<_> = ds.ordered(10).drop_last(true).map(Result::unwrap).collect();
    assert_eq!(dropped.len(), 2);
}

#[test]
fn shuffled_is_seeded_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 300, 50);
    let opts = |seed| {
        Order::Shuffled(ShuffleOptions {
            seed,
            epoch: 0,
            buffer_size: 64,
        })
    };
    let a = ns(&ds, opts(1));
    assert_eq!(a, ns(&ds, opts(1)));
    assert_ne!(a, ns(&ds, opts(2)));
    assert_ne!(a, (0..300).collect::<Vec<_>>());
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..300).collect::<Vec<_>>());
    let total: usize = ds
        .shuffled(32, ShuffleOptions::default())
        .map(|b| b.unwrap().len())
        .sum();
    assert_eq!(total, 300);
}

#[test]
fn parts_split_shards_disjointly() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 100, 10);
    let mut all: Vec<i64> = Vec::new();
    for rank in 0..3 {
        all.extend(ns(&ds.part(rank, 3).unwrap(), Order::Ordered));
    }
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert!(ds.part(3, 3).is_err());
}

#[test]
fn a_damaged_shard_names_dataset_shard_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 20, 10);
    let second = ds.urls()[1].clone();
    let mut bytes = std::fs::read(&second).unwrap();
    // Break the msgpack of the first sample of the second shard (its data starts at 512).
    bytes[512] = 0xc1;
    std::fs::write(&second, &bytes).unwrap();
    let err = ds
        .samples(Order::Ordered)
        .find_map(Result::err)
        .expect("an error")
        .to_string();
    assert!(err.contains("dataset 'docs'"), "{err}");
    assert!(err.contains(&second), "{err}");
    assert!(err.contains("byte offset 0"), "{err}");
    let berr = ds.ordered(4).find_map(Result::err).unwrap().to_string();
    assert!(berr.contains(&second), "{berr}");
    // Batches in shard order (decoded as read) and shuffled ones (decoded from samples read
    // whole by reader threads) say the same.
    for workers in [0, 2] {
        let ds = ds.clone().with_read_options(ReadOptions { workers });
        let ordered = ds.ordered(4).find_map(Result::err).unwrap().to_string();
        let shuffled = ds
            .shuffled(4, ShuffleOptions::default())
            .find_map(Result::err)
            .unwrap()
            .to_string();
        assert_eq!(ordered, berr);
        assert_eq!(shuffled, berr);
    }
}

#[test]
fn a_missing_shard_is_an_error() {
    let ds = Dataset::new(vec!["/nonexistent/x.tar".into()], None).with_name("ghost");
    let err = ds.head(1).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/x.tar"), "{err}");
}

/// Regression: with shards larger than the prefetch window, the parallel reader once waited
/// forever for the end of a shard whose sender a shared vector kept alive.
#[test]
fn parallel_reader_finishes_shards_larger_than_the_prefetch_window() {
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 9000, 3000).with_read_options(ReadOptions { workers: 2 });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ds.ordered(256).map(|b| b.unwrap().len()).sum::<usize>());
    });
    let rows = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the parallel reader hung");
    assert_eq!(rows, 9000);
}

/// Batches in shard order take the one-copy path (the array payload goes from the file straight
/// into its column), whatever the reader threads; it must give exactly what decoding whole
/// samples gives.
#[test]
fn one_copy_path_matches_the_general_path() {
    let schema = Schema::new(
        "Big",
        vec![
            Field::new("id", FieldType::Primitive(Primitive::Int)),
            Field::new("image", FieldType::ndarray()),
            Field::new("blob", FieldType::Primitive(Primitive::Bytes)),
            Field::new("label", FieldType::Primitive(Primitive::Str)),
        ],
    );
    let sample = |i: i64| {
        let img: Vec<f32> = (0..200_000).map(|k| (k as f32) * 0.5 + i as f32).collect();
        let mut out = Vec::new();
        atdata::codec::encode_sample(
            &[
                ("id", Value::Int(i)),
                (
                    "image",
                    Value::Array(NdArray::from_vec(vec![400, 500], img).unwrap()),
                ),
                // Large bytes after the array: read from the tail, not the head.
                ("blob", Value::Bytes(vec![i as u8; 70_000 + i as usize])),
                ("label", Value::from(format!("label {i}"))),
            ],
            &mut out,
        );
        out
    };
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(
        dir.path(),
        "big",
        (0..7).map(sample),
        ShardOptions {
            maxcount: Some(3),
            maxsize: None,
        },
    )
    .unwrap();
    let urls: Vec<String> = shards
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    let ds = Dataset::new(urls, Some(schema.clone()));
    let mut general = Vec::new();
    let mut builder = BatchBuilder::new(Some(schema), 4);
    for s in ds.raw(Order::Ordered) {
        builder.push(&s.unwrap().raw.data).unwrap();
        if builder.len() == 4 {
            general.push(builder.finish());
        }
    }
    general.push(builder.finish());
    for workers in [0, 2] {
        let direct = ds.clone().with_read_options(ReadOptions { workers });
        let a: Vec<_> = direct.ordered(4).map(Result::unwrap).collect();
        assert_eq!(a, general, "workers={workers}");
    }
    let a = general;
    assert_eq!(a.len(), 2);
    let img = a[1]
        .column("image")
        .unwrap()
        .to_ndarray(3)
        .unwrap()
        .unwrap();
    assert_eq!(img.shape(), &[3, 400, 500]);
    assert_eq!(img.to_vec::<f32>().unwrap()[200_000], 5.0);
    assert_eq!(a[1].column("id"), Some(&Column::Int(vec![4, 5, 6])));
}

#[test]
fn one_copy_path_reads_ragged_arrays_per_sample_and_reports_truncation_where_it_is() {
    let schema = Schema::new("A", vec![Field::new("a", FieldType::ndarray())]);
    let sample = |n: usize| {
        let mut out = Vec::new();
        atdata::codec::encode_sample(
            &[(
                "a",
                Value::Array(NdArray::from_vec(vec![n], vec![1.0f64; n]).unwrap()),
            )],
            &mut out,
        );
        out
    };
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(
        dir.path(),
        "r",
        [sample(40_000), sample(50_000)],
        Default::default(),
    )
    .unwrap();
    let url = shards[0].path.display().to_string();
    for workers in [0, 2] {
        let ds = Dataset::new(vec![url.clone()], Some(schema.clone()))
            .with_name("ragged")
            .with_read_options(ReadOptions { workers });
        // Arrays that cannot stack come one per sample, in every batch size and order.
        for batch in [1, 2, 3] {
            let batches: Vec<_> = ds.ordered(batch).map(Result::unwrap).collect();
            let lens: Vec<usize> = batches
                .iter()
                .flat_map(|b| match b.column("a").unwrap() {
                    Column::Values(values) => values
                        .iter()
                        .map(|v| match v {
                            Value::Array(a) => a.len(),
                            other => panic!("{other:?}"),
                        })
                        .collect(),
                    // A batch of one array stacks.
                    Column::Array { item_shape, .. } => {
                        vec![item_shape.iter().product(); b.len()]
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(lens, vec![40_000, 50_000], "batch {batch}");
        }
        let shuffled = ds.shuffled(2, ShuffleOptions::default());
        assert_eq!(
            shuffled.map(Result::unwrap).map(|b| b.len()).sum::<usize>(),
            2
        );
        assert_eq!(ds.samples(Order::Ordered).count(), 2);
    }

    // Cut the shard inside the second sample's array payload.
    let bytes = std::fs::read(&url).unwrap();
    std::fs::write(&url, &bytes[..700_000]).unwrap();
    for workers in [0, 2] {
        let ds = Dataset::new(vec![url.clone()], Some(schema.clone()))
            .with_read_options(ReadOptions { workers });
        let e = ds.ordered(1).find_map(Result::err).unwrap().to_string();
        assert!(e.contains("truncated") && e.contains(&url), "{e}");
    }
}

#[test]
fn a_dataset_stops_at_a_sample_without_msgpack_on_every_reading_path_as_0_7_does() {
    // The shard reader reports such a sample and could read on; a dataset, like atdata 0.7
    // (whose `wrap` raises on a sample without `msgpack`), ends at that error.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap.tar");
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("a.msgpack", sample(0)),
        ("b.jpg", b"jpeg".to_vec()),
        ("c.msgpack", sample(2)),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &data[..]).unwrap();
    }
    std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
    let located = |e: &atdata::Error| {
        let msg = e.to_string();
        assert!(
            msg.contains("sample key 'b'") && msg.contains("no .msgpack member (found: .jpg)"),
            "{msg}"
        );
    };
    for workers in [0, 2] {
        let ds = Dataset::new(vec![path.display().to_string()], Some(schema()))
            .with_read_options(ReadOptions { workers });
        // Samples (the reader threads' path).
        let got: Vec<_> = ds.samples(Order::Ordered).collect();
        assert_eq!(got.len(), 2, "workers {workers}");
        assert!(got[0].is_ok());
        located(got[1].as_ref().unwrap_err());
        // Batches in shard order (the one-copy path, straight from the file).
        let batches: Vec<_> = ds.ordered(1).collect();
        assert_eq!(batches.len(), 2, "workers {workers}");
        assert_eq!(batches[0].as_ref().unwrap().len(), 1);
        located(batches[1].as_ref().unwrap_err());
    }
}

/// The `n` of every sample in batches of `batch_size` until the first error, and that error.
fn ns_until_error(ds: &Dataset, batch_size: usize) -> (Vec<i64>, Option<String>) {
    let mut got = Vec::new();
    for b in ds.ordered(batch_size) {
        match b {
            Ok(b) => {
                for (name, col) in b.columns() {
                    assert_eq!(col.len(), b.len(), "column {name}: one value per row");
                }
                match b.column("n") {
                    Some(Column::Int(v)) => got.extend(v),
                    other => panic!("{other:?}"),
                }
            }
            Err(e) => return (got, Some(e.to_string())),
        }
    }
    (got, None)
}

#[test]
fn every_sample_before_a_corrupt_one_reaches_the_caller() {
    // 600 good samples, then a shard whose first sample is corrupt: all 600 are delivered,
    // then the error, as atdata 0.7 and WebDataset do (the rows of the unfinished batch were
    // lost before: 512 of 600 with batches of 512).
    let dir = tempfile::tempdir().unwrap();
    let ds = make(dir.path(), 700, 100);
    let seventh = ds.urls()[6].clone();
    let mut bytes = std::fs::read(&seventh).unwrap();
    bytes[512] = 0xc1;
    std::fs::write(&seventh, &bytes).unwrap();
    for workers in [0, 2] {
        let ds = ds.clone().with_read_options(ReadOptions { workers });
        for batch_size in [512, 7, 600, 1000] {
            let (got, err) = ns_until_error(&ds, batch_size);
            assert_eq!(got, (0..600).collect::<Vec<_>>(), "batch size {batch_size}");
            let err = err.expect("the corrupt shard is an error");
            assert!(err.contains(&seventh), "{err}");
        }
        // drop_last drops the short batch the error cut, never a whole one.
        let whole = ds
            .ordered(512)
            .drop_last(true)
            .filter(Result::is_ok)
            .count();
        assert_eq!(whole, 1);
    }
}

#[test]
fn a_sample_failing_after_some_of_its_fields_leaves_no_half_row() {
    // Sample 5's array is not an array: its text and n were decoded before that fails. The
    // batch handed out before the error holds samples 4 only, whole, in every column.
    let dir = tempfile::tempdir().unwrap();
    let samples = (0..8).map(|i| {
        if i != 5 {
            return sample(i);
        }
        let mut out = Vec::new();
        atdata::codec::encode_sample(
            &[
                ("text", Value::from("broken")),
                ("n", Value::Int(i)),
                ("v", Value::Bytes(b"not an npy array".to_vec())),
            ],
            &mut out,
        );
        out
    });
    let shards = write_shards(dir.path(), "data", samples, ShardOptions::default()).unwrap();
    let ds = Dataset::new(vec![shards[0].path.display().to_string()], Some(schema()));
    let (got, err) = ns_until_error(&ds, 4);
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    assert!(err.is_some());
}
