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
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
}

#[test]
fn add_with_copy_after_add_in_place_moves_the_entry_onto_the_store_copies() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_shards(&src);
    let index = file_index(&dir.path().join("idx"));
    let target = src.display().to_string();
    let in_place = index
        .insert("pts", &target, &InsertOptions::default())
        .unwrap();
    let copy = InsertOptions {
        copy: true,
        ..Default::default()
    };
    let copied = index.insert("pts", &target, &copy).unwrap();
    // The CID addresses content: the same entry, now on the store's copies.
    assert_eq!(copied.cid, in_place.cid);
    assert_eq!(copied.version, in_place.version);
    assert_eq!(index.versions("pts").unwrap(), vec!["1"]);
    let store_root = std::fs::canonicalize(dir.path().join("idx/data")).unwrap();
    let latest = index.get("pts").unwrap();
    assert_eq!(latest, copied);
    for (s, before) in latest.shards.iter().zip(&in_place.shards) {
        assert!(
            Path::new(&s.url).starts_with(store_root.join("pts")),
            "{}",
            s.url
        );
        assert_eq!(s.sha256, before.sha256);
        assert_eq!(s.samples, before.samples);
    }
    // The copies are referenced: gc keeps them, even with no grace period.
    let gc = index
        .gc_with(&atdata::index::GcOptions {
            dry_run: false,
            grace: std::time::Duration::ZERO,
            claim: false,
            force: false,
        })
        .unwrap();
    assert!(gc.shards.is_empty(), "{gc:?}");
    // The source can go away.
    std::fs::remove_dir_all(&src).unwrap();
    assert_eq!(
        index.load("pts").unwrap().samples(Order::Ordered).count(),
        10
    );
    let report = index.verify("pts").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.checked.len(), 3);
    // Copying again changes nothing.
    make_shards(&src);
    assert_eq!(index.insert("pts", &target, &copy).unwrap(), latest);
}

#[test]
fn every_way_in_refuses_the_same_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let made = make_shards(&src);
    let index = file_index(&dir.path().join("idx"));
    let target = src.display().to_string();
    let long = "x".repeat(10_000);
    let bad = [
        "", ".", "..", ".staging", ".hidden", "a\\b", "a/b", "a@b", " a", "a\n", &long,
    ];
    let schema = Schema::new(
        "T",
        vec![Field::new("n", FieldType::Primitive(Primitive::Int))],
    );
    for name in bad {
        let shown = format!("{:?}", &name[..name.len().min(20)]);
        let write = index.write_samples(
            &schema,
            [atdata::Sample::new(vec![("n".into(), Value::Int(1))])],
            &atdata::index::WriteOptions::new(name),
        );
        let in_place = index.insert(name, &target, &InsertOptions::default());
        let copy = index.insert(
            name,
            &target,
            &InsertOptions {
                copy: true,
                ..Default::default()
            },
        );
        let new = atdata::index::NewEntry {
            name: name.to_string(),
            schema: schema.clone(),
            shards: made
                .iter()
                .map(|m| {
                    let url = m.path.display().to_string();
                    atdata::index::ShardInfo::new(url, m.sha256.clone(), m.samples, m.bytes)
                })
                .collect(),
            description: None,
            tags: vec![],
            license: None,
            metadata: None,
        };
        let bulk = index.commit_entries(&[new]).map(|_| ());
        for (way, r) in [
            ("write", write.map(|_| ())),
            ("insert", in_place.map(|_| ())),
            ("insert --copy", copy.map(|_| ())),
            ("commit_entries", bulk),
        ] {
            let e = r.expect_err(&format!("{way} accepted {shown}"));
            assert!(matches!(e, Error::InvalidArgument(_)), "{way} {shown}: {e}");
            assert!(e.to_string().contains("dataset name"), "{way}: {e}");
            assert!(e.to_string().len() < 400, "{way}: the message stays short");
        }
    }
    assert!(index.list_datasets().unwrap().is_empty());
    assert!(index_common::files_under(&dir.path().join("idx/data"))
        .iter()
        .all(|f| f.components().any(|c| c.as_os_str() == ".staging")));
}

/// A ustar archive with one `{name}` member per (name, data), as a hostile tool could write it.
fn raw_tar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn add_with_copy_never_stores_absolute_or_parent_member_names() {
    let dir = tempfile::tempdir().unwrap();
    let sample = |n: i64| {
        let mut b = Vec::new();
        encode_sample(&[("n", Value::Int(n))], &mut b);
        b
    };
    let src = dir.path().join("hostile.tar");
    std::fs::write(
        &src,
        raw_tar(&[
            ("/abs/dir/k1.msgpack", sample(1)),
            ("../up/k2.msgpack", sample(2)),
            ("ok/k3.msgpack", sample(3)),
            ("./dot/k4.msgpack", sample(4)),
        ]),
    )
    .unwrap();
    let index = file_index(&dir.path().join("idx"));
    let e = index
        .insert(
            "hostile",
            &src.display().to_string(),
            &InsertOptions {
                copy: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(e.num_samples, Some(4));
    let keys: Vec<String> = e
        .data_urls()
        .flat_map(|u| {
            ShardReader::open(Path::new(u))
                .unwrap()
                .map(|s| s.unwrap().key)
        })
        .collect();
    assert_eq!(keys, vec!["k1", "k2", "ok/k3", "k4"]);
    let ns: Vec<Value> = index
        .load("hostile")
        .unwrap()
        .samples(Order::Ordered)
        .map(|s| s.unwrap().get("n").unwrap().clone())
        .collect();
    assert_eq!(
        ns,
        vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)]
    );
}
