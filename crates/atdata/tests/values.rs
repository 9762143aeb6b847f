//! Values that must read back after a write (ragged arrays, mixed dtypes), and arrays beyond the
//! limits refused on the way in (`add`) with their location (docs/values.md).

mod index_common;

use atdata::codec::encode_sample;
use atdata::dataset::{Column, Order, ShuffleOptions};
use atdata::index::InsertOptions;
use atdata::shard::{write_shards, ShardOptions};
use atdata::{DType, Error, NdArray, Packable, Value, WriteOptions};
use index_common::file_index;

/// A sample whose array field has no fixed shape or dtype.
#[derive(Packable, Debug, Clone, PartialEq)]
struct Free {
    v: NdArray,
    tag: String,
}

fn ragged(n: usize) -> Vec<Free> {
    (0..n)
        .map(|i| Free {
            v: if i % 4 == 3 {
                NdArray::from_vec(vec![2], vec![i as f64; 2]).unwrap()
            } else {
                NdArray::from_vec(vec![i % 3 + 1], vec![i as f32; i % 3 + 1]).unwrap()
            },
            tag: i.to_string(),
        })
        .collect()
}

/// The array of each row of every batch, in order.
fn arrays(batches: impl Iterator<Item = atdata::Result<atdata::dataset::Batch>>) -> Vec<NdArray> {
    let mut out = Vec::new();
    for b in batches {
        let b = b.unwrap();
        match b.column("v").unwrap() {
            // Stacked: one item of the (B, ...) array per row.
            Column::Array {
                dtype,
                item_shape,
                data,
            } => {
                let dtype = DType::parse(dtype).unwrap();
                for item in data.chunks(data.len() / b.len()) {
                    out.push(
                        NdArray::new(dtype.clone(), item_shape.clone(), item.to_vec()).unwrap(),
                    );
                }
            }
            Column::Values(values) => out.extend(values.iter().map(|v| match v {
                Value::Array(a) => a.clone(),
                other => panic!("{other:?}"),
            })),
            other => panic!("{other:?}"),
        }
    }
    out
}

#[test]
fn ragged_and_mixed_dtype_arrays_written_through_the_index_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let samples = ragged(9);
    index
        .write(samples.clone(), &WriteOptions::new("ragged").maxcount(4))
        .unwrap();
    let ds = index.load("@local/ragged").unwrap();
    let want: Vec<NdArray> = samples.iter().map(|s| s.v.clone()).collect();
    let per_sample: Vec<NdArray> = ds
        .samples(Order::Ordered)
        .map(|s| Free::from_sample(s.unwrap()).unwrap().v)
        .collect();
    assert_eq!(per_sample, want);
    for size in [1, 2, 3, 100] {
        assert_eq!(arrays(ds.ordered(size)), want, "batch size {size}");
        let mut shuffled = arrays(ds.shuffled(size, ShuffleOptions::default()));
        assert_eq!(shuffled.len(), want.len(), "batch size {size}");
        shuffled.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        let mut sorted = want.clone();
        sorted.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        assert_eq!(shuffled, sorted);
    }
    // A batch that cannot stack is one array per sample; one that can is stacked.
    let first = ds.ordered(3).next().unwrap().unwrap();
    assert!(matches!(first.column("v"), Some(Column::Values(_))));
    let same = (0..3).map(|i| Free {
        v: NdArray::from_slice(&[i as f32, 1.0]),
        tag: i.to_string(),
    });
    index.write(same, &WriteOptions::new("same")).unwrap();
    let b = index
        .load("same")
        .unwrap()
        .ordered(3)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        b.column("v")
            .unwrap()
            .to_ndarray(3)
            .unwrap()
            .unwrap()
            .shape(),
        &[3, 2]
    );
}

/// A sample `{v: bin, tag: "t"}` whose array header says `shape` of float32.
fn raw_array_sample(shape: &[i64]) -> Vec<u8> {
    let mut enc = vec![3, b'<', b'f', b'4', shape.len() as u8];
    for d in shape {
        enc.extend_from_slice(&d.to_le_bytes());
    }
    if !shape.contains(&0) {
        enc.extend_from_slice(&0f32.to_le_bytes());
    }
    let mut out = vec![0x82, 0xa1, b'v', 0xc5];
    out.extend_from_slice(&(enc.len() as u16).to_be_bytes());
    out.extend_from_slice(&enc);
    out.extend_from_slice(&[0xa3, b't', b'a', b'g', 0xa1, b't']);
    out
}

#[test]
fn add_refuses_arrays_numpy_cannot_read_naming_field_key_and_shard() {
    for (shape, why) in [
        (vec![1i64; 40], "40 dimensions"),
        (vec![0, 1 << 62], "describes more than"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let good = {
            let mut out = Vec::new();
            encode_sample(
                &[
                    ("v", Value::Array(NdArray::from_slice(&[1f32]))),
                    ("tag", Value::from("ok")),
                ],
                &mut out,
            );
            out
        };
        let shards = write_shards(
            dir.path(),
            "hostile",
            [good, raw_array_sample(&shape)],
            ShardOptions::default(),
        )
        .unwrap();
        let url = std::fs::canonicalize(&shards[0].path).unwrap();
        let index = file_index(&dir.path().join("idx"));
        let e = index
            .insert(
                "hostile",
                &url.display().to_string(),
                &InsertOptions::default(),
            )
            .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
        let loc = e.location().unwrap();
        assert_eq!(loc.field.as_deref(), Some("v"), "{e}");
        assert_eq!(loc.key.as_deref(), Some("000000001"), "{e}");
        assert_eq!(
            loc.shard.as_deref(),
            Some(&*url.display().to_string()),
            "{e}"
        );
        assert!(e.to_string().contains(why), "{e}");
    }
}

#[test]
fn arrays_beyond_the_limits_cannot_be_built_so_cannot_be_written() {
    let e = NdArray::from_vec(vec![1; 33], vec![0f32]).unwrap_err();
    assert!(e.to_string().contains("33 dimensions"), "{e}");
    assert!(NdArray::from_vec(vec![1; 32], vec![0f32]).is_ok());
    assert!(NdArray::from_vec::<f32>(vec![0, 1 << 62], vec![]).is_err());
}
