//! Indexing shards that already exist: in place or copied into the store, with a given or
//! inferred schema; Python 0.7 shards included.

mod index_common;

use std::path::{Path, PathBuf};

use atdata::codec::encode_sample;
use atdata::dataset::Order;
use atdata::index::InsertOptions;
use atdata::shard::{write_shards, ShardOptions, ShardReader};
use atdata::{Error, Field, FieldType, NdArray, Primitive, Schema, Value};
use index_common::file_index;

fn fixture_shards() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py07/shards")
}

/// 10 samples {name: str, n: int, vec: float32[3]} in shards of 4, under `dir`.
fn make_shards(dir: &Path) -> Vec<atdata::shard::PublishedShard> {
    let samples = (0..10).map(|i| {
        let mut out = Vec::new();
        encode_sample(
            &[
                ("name", Value::from(format!("s{i}"))),
                ("n", Value::Int(i)),
                (
                    "vec",
                    Value::Array(NdArray::from_vec(vec![3], vec![i as f32; 3]).unwrap()),
                ),
            ],
            &mut out,
        );
        out
    });
    let opts = ShardOptions {
        maxcount: Some(4),
        maxsize: None,
    };
    write_shards(dir, "part", samples, opts).unwrap()
}

#[test]
fn in_place_with_an_inferred_schema() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let made = make_shards(&src);
    let index = file_index(&dir.path().join("idx"));
    let pattern = format!("{}/part-{{000000..000002}}.tar", src.display());
    let e = index
        .insert("my-points", &pattern, &InsertOptions::default())
        .unwrap();
    assert_eq!(e.num_samples, Some(10));
    assert_eq!(e.shards.len(), 3);
    for (s, m) in e.shards.iter().zip(&made) {
        let canonical = std::fs::canonicalize(&m.path).unwrap();
        assert_eq!(
            s.url,
            canonical.display().to_string(),
            "indexed where it is"
        );
        assert_eq!(s.sha256.as_deref(), Some(m.sha256.as_str()));
        assert_eq!(s.samples, Some(m.samples));
        assert_eq!(s.bytes, Some(m.bytes));
    }
    let schema = index.get_schema(&e.schema_ref).unwrap();
    assert_eq!(schema.name, "MyPoints");
    let ty: Vec<(String, FieldType)> = schema
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.ty.clone()))
        .collect();
    assert_eq!(
        ty,
        vec![
            ("name".to_string(), FieldType::Primitive(Primitive::Str)),
            ("n".to_string(), FieldType::Primitive(Primitive::Int)),
            ("vec".to_string(), FieldType::ndarray_of("float32")),
        ]
    );
    let ds = index.load("my-points").unwrap();
    let all: Vec<_> = ds.samples(Order::Ordered).map(Result::unwrap).collect();
    assert_eq!(all.len(), 10);
    match all[9].get("vec") {
        Some(Value::Array(a)) => assert_eq!(a.to_vec::<f32>().unwrap(), vec![9.0; 3]),
        other => panic!("{other:?}"),
    }
    // Nothing was copied into the store.
    assert!(index_common::files_under(&dir.path().join("idx/data")).is_empty());
    // Inserting the same files again is the same entry.
    let again = index
        .insert(
            "my-points",
            &src.display().to_string(),
            &InsertOptions::default(),
        )
        .unwrap();
    assert_eq!(again.cid, e.cid);
    assert!(index.verify("my-points").unwrap().is_ok());
}

#[test]
fn copied_into_the_store_keeping_keys() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_shards(&src);
    let index = file_index(&dir.path().join("idx"));
    let opts = InsertOptions {
        copy: true,
        description: Some("copied".into()),
        tags: vec!["points".into()],
        ..Default::default()
    };
    let e = index
        .insert("pts", &format!("{}/*.tar", src.display()), &opts)
        .unwrap();
    let store_root = std::fs::canonicalize(dir.path().join("idx/data")).unwrap();
    assert_eq!(e.shards.len(), 3);
    for url in e.data_urls() {
        assert!(Path::new(url).starts_with(store_root.join("pts")), "{url}");
    }
    assert_eq!(e.description.as_deref(), Some("copied"));
    // Keys survive the copy.
    let keys = |p: &Path| -> Vec<String> {
        ShardReader::open(p)
            .unwrap()
            .map(|s| s.unwrap().key)
            .collect()
    };
    let src_keys: Vec<String> = ["000000", "000001", "000002"]
        .iter()
        .flat_map(|n| keys(&src.join(format!("part-{n}.tar"))))
        .collect();
    let dst_keys: Vec<String> = e.data_urls().flat_map(|u| keys(Path::new(u))).collect();
    assert_eq!(src_keys, dst_keys);
    // The source can go away.
    std::fs::remove_dir_all(&src).unwrap();
    assert_eq!(
        index.load("pts").unwrap().samples(Order::Ordered).count(),
        10
    );
    assert!(index.verify("pts").unwrap().is_ok());
}

#[test]
fn python_07_shards_with_inferred_and_given_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let text = fixture_shards().join("text.tar");
    let e = index
        .insert(
            "py-text",
            &text.display().to_string(),
            &InsertOptions::default(),
        )
        .unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_shards().join("../expected.json")).unwrap())
            .unwrap();
    assert_eq!(
        e.num_samples,
        expected["datasets"]["text"]["count"].as_u64()
    );
    let emb = fixture_shards().join("embedding.tar");
    let e = index
        .insert(
            "py-emb",
            &emb.display().to_string(),
            &InsertOptions {
                copy: true,
                ..Default::default()
            },
        )
        .unwrap();
    let schema = index.get_schema(&e.schema_ref).unwrap();
    assert!(
        schema.field("vector").unwrap().ty.is_ndarray(),
        "{schema:?}"
    );
    let schema_text =
        std::fs::read_to_string(fixture_shards().join("../schemas/AllKinds.json")).unwrap();
    let kinds = Schema::from_json(&schema_text).unwrap();
    let e = index
        .insert(
            "py-kinds",
            &format!("{}/kinds-*.tar", fixture_shards().display()),
            &InsertOptions {
                schema: Some(kinds.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        e.num_samples,
        expected["datasets"]["kinds"]["count"].as_u64()
    );
    assert!(index
        .get_schema(&e.schema_ref)
        .unwrap()
        .same_structure(&Schema::from_json(&kinds.to_json()).unwrap()));
}

#[test]
fn a_wrong_schema_is_an_error_naming_shard_key_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_shards(&src);
    let index = file_index(&dir.path().join("idx"));
    let wrong = Schema::new(
        "Wrong",
        vec![
            Field::new("name", FieldType::Primitive(Primitive::Str)),
            Field::new("n", FieldType::Primitive(Primitive::Str)),
            Field::new("vec", FieldType::ndarray()),
        ],
    );
    for copy in [false, true] {
        let err = index
            .insert(
                "bad",
                &src.display().to_string(),
                &InsertOptions {
                    copy,
                    schema: Some(wrong.clone()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::SchemaMismatch { .. }), "{msg}");
        assert!(
            msg.contains("part-000000.tar")
                && msg.contains("sample key '000000000'")
                && msg.contains("field 'n'"),
            "{msg}"
        );
    }
    assert!(index.list_datasets().unwrap().is_empty());
    let err = index
        .insert(
            "x",
            &format!("{}/nothing-*.tar", src.display()),
            &InsertOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}
