//! Writing through the index and reading back: the walkthrough, content addressing,
//! versions, references, schemas, metadata, search, repositories and error messages.

mod index_common;

use atdata::dataset::Order;
use atdata::index::{NewEntry, Repository, ShardInfo, WriteOptions};
use atdata::{
    Error, Field, FieldType, Index, LocalDiskStore, Packable, Primitive, Sample, Schema,
    SqliteProvider, Value,
};
use index_common::{embeddings, file_index, files_under, texts, EmbeddingSample, TextSample};

#[test]
fn seed_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let opts = WriteOptions::new("docs-v1")
        .description("500 synthetic text documents")
        .tags(["text", "multilingual"])
        .maxcount(250);
    let docs = index.write(texts(500, "a"), &opts).unwrap();
    assert_eq!(docs.name, "docs-v1");
    assert_eq!(docs.version, "1");
    assert!(docs.cid.starts_with("bafyrei") && docs.cid.len() == 59);
    assert_eq!(docs.shards.len(), 2, "maxcount honoured");
    assert_eq!(docs.num_samples, Some(500));
    assert_eq!(docs.schema_ref, "atdata://local/schema/TextSample@1.0.0");
    assert_eq!(
        docs.description.as_deref(),
        Some("500 synthetic text documents")
    );
    assert_eq!(docs.tags, vec!["text", "multilingual"]);
    let root = std::fs::canonicalize(dir.path().join("data")).unwrap();
    for (i, (url, shard)) in docs.data_urls().zip(&docs.shards).enumerate() {
        let path = std::path::Path::new(url);
        assert!(path.is_absolute() && path.is_file(), "{url}");
        assert_eq!(path.parent().unwrap(), root.join("docs-v1"));
        let file = path.file_name().unwrap().to_str().unwrap();
        assert!(
            file.starts_with("data--") && file.ends_with(&format!("--{i:06}.tar")),
            "{file}"
        );
        assert_eq!(file.len(), "data--12345678--000000.tar".len());
        assert_eq!(shard.url, *url);
        assert_eq!(shard.samples, Some(250));
        assert_eq!(shard.bytes, Some(std::fs::metadata(path).unwrap().len()));
        let digest = atdata::codec::sha256_hex(&std::fs::read(path).unwrap());
        assert_eq!(shard.sha256.as_deref(), Some(digest.as_str()));
    }

    let emb = index
        .write(
            embeddings(300),
            &WriteOptions::new("embeddings-v1").maxcount(150),
        )
        .unwrap();
    assert_eq!(emb.shards.len(), 2);

    let listed: Vec<String> = index
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, vec!["docs-v1", "embeddings-v1"]);

    let ds = index.load("@local/docs-v1").unwrap();
    assert_eq!(ds.known_len(), Some(500));
    assert_eq!(ds.len().unwrap(), 500);
    let back: Vec<TextSample> = ds.typed(Order::Ordered).map(Result::unwrap).collect();
    assert_eq!(back, texts(500, "a"));
    // The schema comes from the index: no type needed.
    let first = ds.head(1).unwrap().remove(0);
    assert_eq!(first.get("language"), Some(&Value::from("es")));

    let eds = index.load("@local/embeddings-v1").unwrap();
    let e0 = eds.head(1).unwrap().remove(0);
    match e0.get("vector") {
        Some(Value::Array(a)) => assert_eq!(a.shape(), &[8]),
        other => panic!("vector came back as {other:?}"),
    }
    let typed: Vec<EmbeddingSample> = eds.typed(Order::Ordered).map(Result::unwrap).collect();
    assert_eq!(typed, embeddings(300));

    let names: Vec<String> = index
        .schemas()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["TextSample", "EmbeddingSample"]);
    assert_eq!(index.repos().keys().collect::<Vec<_>>(), vec!["local"]);
    assert_eq!(index.repos()["local"].provider.kind(), "SqliteProvider");
    assert!(index.repos()["local"].store.is_some());
}

#[test]
fn same_samples_same_name_same_cid_and_no_second_copy() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let opts = WriteOptions::new("d").maxcount(10);
    let first = index.write(texts(25, "a"), &opts).unwrap();
    let files = files_under(&dir.path().join("data"));
    let again = index.write(texts(25, "a"), &opts).unwrap();
    assert_eq!(again, first);
    assert_eq!(
        files_under(&dir.path().join("data")),
        files,
        "no second copy"
    );
    assert_eq!(index.versions("d").unwrap(), vec!["1"]);
    // A fresh index over the same store: same content gives the same CID and file names.
    let dir2 = tempfile::tempdir().unwrap();
    let other = index_common::file_index(dir2.path());
    let elsewhere = other.write(texts(25, "a"), &opts).unwrap();
    assert_eq!(
        elsewhere.cid, first.cid,
        "the CID does not depend on location"
    );
    // Another name is another dataset.
    let renamed = index
        .write(texts(25, "a"), &WriteOptions::new("d2").maxcount(10))
        .unwrap();
    assert_ne!(renamed.cid, first.cid);
    // One changed sample changes the CID.
    let mut changed = texts(25, "a");
    changed[24].word_count += 1;
    let v2 = index.write(changed, &opts).unwrap();
    assert_ne!(v2.cid, first.cid);
    assert_eq!(v2.version, "2");
    assert_eq!(
        v2.shards[..2],
        first.shards[..2],
        "unchanged shards are shared"
    );
}

#[test]
fn versions_and_references() {
    let index = Index::in_memory()
        .unwrap()
        .with_store(LocalDiskStore::new(tempfile::tempdir().unwrap().keep()).unwrap());
    let v: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|t| {
            index
                .write(texts(3, t), &WriteOptions::new("docs"))
                .unwrap()
        })
        .collect();
    assert_eq!(
        v.iter().map(|e| e.version.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(index.versions("docs").unwrap(), vec!["1", "2", "3"]);
    for (r, want) in [
        ("@local/docs", &v[2]),
        ("docs", &v[2]),
        ("@local/docs@1", &v[0]),
        ("docs@2", &v[1]),
        (&format!("@local/docs@{}", v[0].cid), &v[0]),
    ] {
        assert_eq!(&index.get(r).unwrap(), want, "{r}");
    }
    assert_eq!(index.sample_count("@local/docs@1").unwrap(), 3);

    let e = index.get("@local/docs@9").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("no version 9") && msg.contains("1, 2, 3"),
        "{msg}"
    );
    let e = index.get("@local/docs@9.9").unwrap_err().to_string();
    assert!(e.contains("1, 2, 3"), "{e}");
    let e = index.get("@local/nope").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    assert!(e.to_string().contains("docs"), "{e}");
    let e = index.get("@local/nope@1").unwrap_err().to_string();
    assert!(
        e.contains("no dataset named 'nope'") && e.contains("docs"),
        "{e}"
    );
    // A CID of another dataset does not resolve under this name.
    let other = index
        .write(texts(3, "z"), &WriteOptions::new("other"))
        .unwrap();
    assert!(index.get(&format!("docs@{}", other.cid)).is_err());
    let all: Vec<String> = index
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|e| format!("{}@{}", e.name, e.version))
        .collect();
    assert_eq!(all, vec!["docs@1", "docs@2", "docs@3", "other@1"]);
}

/// Same name, different fields: a new schema version.
mod changed {
    use atdata::Packable;

    /// Simple text document, now with a score.
    #[derive(Packable, Debug, Clone, PartialEq)]
    #[atdata(name = "TextSample")]
    pub struct TextSample {
        pub text: String,
        pub score: f64,
    }
}

#[test]
fn changed_structure_gets_a_new_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let old = index.write(texts(4, "a"), &WriteOptions::new("d")).unwrap();
    let new = index
        .write(
            vec![changed::TextSample {
                text: "x".into(),
                score: 0.5,
            }],
            &WriteOptions::new("d"),
        )
        .unwrap();
    assert_eq!(old.schema_ref, "atdata://local/schema/TextSample@1.0.0");
    assert_eq!(new.schema_ref, "atdata://local/schema/TextSample@2.0.0");
    let versions: Vec<String> = index
        .schemas()
        .unwrap()
        .into_iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(versions, vec!["1.0.0", "2.0.0"]);
    assert_eq!(index.get_schema("TextSample").unwrap().version, "2.0.0");
    assert_eq!(
        index.get_schema("TextSample@1.0.0").unwrap().fields.len(),
        3
    );
    assert_eq!(
        index
            .get_schema("atdata://local/schema/TextSample@2.0.0")
            .unwrap()
            .fields
            .len(),
        2
    );
    let e = index
        .get_schema("TextSample@7.0.0")
        .unwrap_err()
        .to_string();
    assert!(e.contains("1.0.0, 2.0.0"), "{e}");
    // Each version loads with its own schema.
    assert_eq!(index.load("d@1").unwrap().schema().unwrap().fields.len(), 3);
    assert_eq!(index.load("d@2").unwrap().schema().unwrap().fields.len(), 2);
    // The old structure again maps to the old schema version.
    let again = index.write(texts(2, "b"), &WriteOptions::new("d")).unwrap();
    assert_eq!(again.schema_ref, old.schema_ref);
}

#[test]
fn descriptive_fields_are_stored_listed_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let meta = Value::Map(vec![
        ("origin".into(), Value::from("unit test")),
        ("n".into(), Value::Int(7)),
    ]);
    let e = index
        .write(
            texts(3, "a"),
            &WriteOptions::new("docs-v1")
                .description("Synthetic TEXT documents")
                .tags(["text", "multilingual"])
                .license("CC-BY-4.0")
                .metadata(meta.clone()),
        )
        .unwrap();
    index
        .write(embeddings(2), &WriteOptions::new("emb").tags(["vectors"]))
        .unwrap();
    drop(index);
    let index = file_index(dir.path());
    let got = index.get("docs-v1").unwrap();
    assert_eq!(got, e);
    assert_eq!(got.license.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(got.metadata, Some(meta));
    let names = |q: &str| -> Vec<String> {
        index
            .search(q)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(names("text"), vec!["docs-v1"]);
    assert_eq!(names("MULTI"), vec!["docs-v1"]);
    assert_eq!(names("vector"), vec!["emb"]);
    assert_eq!(names("synthetic"), vec!["docs-v1"], "description");
    assert_eq!(names("e"), vec!["docs-v1", "emb"]);
    assert!(names("nothing-like-this").is_empty());
    assert_eq!(names("").len(), 2);
    // The reserved metadata key is refused before anything is written.
    let bad = Value::Map(vec![("checksums".into(), Value::Nil)]);
    let err = index
        .write(texts(1, "q"), &WriteOptions::new("x").metadata(bad))
        .unwrap_err();
    assert!(err.to_string().contains("checksums"), "{err}");
    let err = index
        .write(
            texts(1, "q"),
            &WriteOptions::new("x").metadata(Value::Int(1)),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[test]
fn maxsize_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let e = index
        .write(texts(100, "a"), &WriteOptions::new("d").maxsize(20 * 1024))
        .unwrap();
    assert!(e.shards.len() > 1);
    for s in &e.shards {
        assert!(s.bytes.unwrap() <= 20 * 1024);
    }
    assert_eq!(e.num_samples, Some(100));
    assert_eq!(index.load("d").unwrap().len().unwrap(), 100);
}

fn text_schema() -> Schema {
    Schema::new(
        "Doc",
        vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::optional("n", FieldType::Primitive(Primitive::Int)),
        ],
    )
}

#[test]
fn dynamic_samples_are_validated_and_written_in_schema_order() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let schema = text_schema();
    let good = vec![
        Sample::new(vec![
            ("n".into(), Value::Int(1)),
            ("text".into(), Value::from("a")),
        ]),
        Sample::new(vec![("text".into(), Value::from("b"))]),
    ];
    let e = index
        .write_samples(&schema, good, &WriteOptions::new("dyn"))
        .unwrap();
    let back = index.load("dyn").unwrap().head(2).unwrap();
    assert_eq!(back[0].fields[0].0, "text", "schema order");
    assert_eq!(back[1].get("n"), Some(&Value::Nil));
    assert_eq!(e.num_samples, Some(2));

    let bad = vec![
        Sample::new(vec![("text".into(), Value::from("ok"))]),
        Sample::new(vec![("text".into(), Value::from("ok"))]),
        Sample::new(vec![("text".into(), Value::Int(3))]),
    ];
    let err = index
        .write_samples(&schema, bad, &WriteOptions::new("dyn"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("sample #2") && msg.contains("field 'text'"),
        "{msg}"
    );
    assert_eq!(
        index.versions("dyn").unwrap(),
        vec!["1"],
        "nothing committed"
    );
}

#[test]
fn a_failed_write_leaves_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let schema = text_schema();
    let mut good = Vec::new();
    atdata::codec::encode_sample(&[("text", Value::from("a"))], &mut good);
    let items: Vec<atdata::Result<Vec<u8>>> = vec![
        Ok(good.clone()),
        Ok(good.clone()),
        Err(Error::invalid("the producer gave up")),
    ];
    let err = index
        .write_encoded(&schema, items, &WriteOptions::new("d").maxcount(1))
        .unwrap_err();
    assert!(err.to_string().contains("gave up"));
    assert!(index.list_datasets().unwrap().is_empty());
    assert!(
        files_under(&dir.path().join("data")).is_empty(),
        "staged shards removed"
    );
    let err = index
        .write_encoded(&schema, Vec::new(), &WriteOptions::new("d"))
        .unwrap_err();
    assert!(err.to_string().contains("no samples"), "{err}");
}

#[test]
fn unsafe_or_unaddressable_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    for bad in [
        "",
        "..",
        "../escape",
        "/abs",
        "a\\b",
        "nul\0x",
        ".staging",
        "a@b",
        "@local/x@1",
    ] {
        let err = index
            .write(texts(1, "a"), &WriteOptions::new(bad))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
    }
    assert!(index.list_datasets().unwrap().is_empty());
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn mounted_repositories_are_addressed_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(&dir.path().join("main"));
    let lab_store = LocalDiskStore::new(dir.path().join("lab-data")).unwrap();
    let lab = Repository::new(
        SqliteProvider::open(dir.path().join("lab.db")).unwrap(),
        Some(std::sync::Arc::new(lab_store)),
    );
    index.mount("lab", lab).unwrap();
    let e = index
        .write(texts(3, "a"), &WriteOptions::new("@lab/shared"))
        .unwrap();
    assert!(e.shards[0].url.contains("lab-data"));
    assert_eq!(index.get("@lab/shared").unwrap(), e);
    assert!(index.get("shared").is_err(), "not in local");
    let e2 = index
        .write(texts(3, "b"), &WriteOptions::new("shared").repo("lab"))
        .unwrap();
    assert_eq!(e2.version, "2");
    assert_eq!(index.load("@lab/shared@1").unwrap().len().unwrap(), 3);
    assert_eq!(index.list_datasets_in("lab").unwrap().len(), 2);
    assert_eq!(index.list_datasets().unwrap().len(), 2);
    assert_eq!(index.repos().len(), 2);
}

#[test]
fn bulk_commit_of_ready_entries() {
    let index = Index::in_memory().unwrap();
    let batch: Vec<_> = (0..1000)
        .map(|i| {
            let digest = atdata::codec::sha256_hex(format!("shard {i}").as_bytes());
            NewEntry {
                name: format!("n{}", i % 10),
                schema: TextSample::schema(),
                shards: vec![ShardInfo::new(
                    format!("/nowhere/{i}.tar"),
                    digest,
                    1,
                    10240,
                )],
                description: None,
                tags: vec![],
                license: None,
                metadata: None,
            }
        })
        .collect();
    let out = index.commit_entries(&batch).unwrap();
    assert_eq!(out.len(), 1000);
    assert_eq!(index.list_datasets().unwrap().len(), 1000);
    assert_eq!(index.versions("n3").unwrap().len(), 100);
}
