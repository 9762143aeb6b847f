//! Index files both ways with Python atdata 0.7.0b1: its index opens in ours (listed, resolved,
//! loaded, verified, and written to), and it opens and loads an index we wrote (run with the
//! reference venv's python from `ATDATA_REF_PYTHON`, see scripts/test.sh).

mod py07_common;

mod index_common;

use std::path::Path;
use std::process::Command;

use atdata::dataset::Order;
use atdata::index::WriteOptions;
use atdata::{Index, LocalDiskStore, Value};
use index_common::{embeddings, texts, TextSample};
use py07_common::{expected, fixtures, py07_read, py07_report, ref_python, relocated_index};
use serde_json::{json, Value as Json};

fn manifest() -> Json {
    serde_json::from_slice(&std::fs::read(fixtures().join("fixture_manifest.json")).unwrap())
        .unwrap()
}

#[test]
fn a_python_07_index_opens_lists_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let db = relocated_index(dir.path());
    let index = Index::open(&db).unwrap();
    let m = manifest();
    let exp = expected();

    let listed: Vec<(String, String, String)> = index
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.version, e.cid))
        .collect();
    let want: Vec<(String, String, String)> = m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["write"].to_string(),
                e["cid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, want, "entries in write order, versions by write");

    // The references the manifest resolved with 0.7 resolve the same here.
    for (reference, r) in m["resolution"].as_object().unwrap() {
        let e = index.get(reference).unwrap();
        assert_eq!(e.cid, r["cid"].as_str().unwrap(), "{reference}");
        assert_eq!(
            index.sample_count(reference).unwrap(),
            r["count"].as_u64().unwrap()
        );
    }

    for e in m["entries"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let reference = format!("@local/{name}@{}", e["write"]);
        let entry = index.get(&reference).unwrap();
        assert_eq!(entry.schema_ref, e["schema_ref"].as_str().unwrap());
        // 0.7's checksums become the shards' digests.
        let sums = e["metadata"]["checksums"].as_object().unwrap();
        assert_eq!(entry.shards.len(), sums.len());
        assert!(entry.shards.iter().all(|s| s.sha256.is_some()));
        assert_eq!(entry.metadata, None, "only checksums were stored");

        let ds = index.load(&reference).unwrap();
        let count = e["count"].as_u64().unwrap();
        assert_eq!(ds.known_len(), Some(count));
        let samples: Vec<_> = ds.samples(Order::Ordered).map(Result::unwrap).collect();
        assert_eq!(samples.len() as u64, count);
        let want = &exp["datasets"][e["expected"].as_str().unwrap()]["samples"];
        for (got, want) in samples.iter().zip(want.as_array().unwrap()) {
            for (field, v) in want["values"].as_object().unwrap() {
                match got.get(field).unwrap() {
                    Value::Str(s) => assert_eq!(json!(s), *v),
                    Value::Int(i) => assert_eq!(json!(i), *v),
                    Value::Array(a) => assert_eq!(a.shape().len(), 1, "{field} decoded as array"),
                    other => panic!("{field}: unexpected {other:?}"),
                }
            }
        }
        // The count is now remembered; verification checks 0.7's checksums.
        assert_eq!(index.get(&reference).unwrap().num_samples, Some(count));
        let report = index.verify(&reference).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.checked.len(), entry.shards.len());
    }

    let texts_back: Vec<TextSample> = index
        .load("@local/docs-v1")
        .unwrap()
        .typed(Order::Ordered)
        .map(Result::unwrap)
        .collect();
    assert_eq!(texts_back.len(), 8);
    let names: Vec<String> = index
        .schemas()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["TextSample", "EmbeddingSample"]);
}

#[test]
fn we_write_into_a_python_07_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = relocated_index(dir.path());
    let index = Index::open(&db)
        .unwrap()
        .with_store(LocalDiskStore::new(db.parent().unwrap().join("data")).unwrap());
    let e = index
        .write(texts(5, "ours"), &WriteOptions::new("docs-v1"))
        .unwrap();
    assert_eq!(e.version, "3", "continues after 0.7's two writes");
    assert_eq!(
        e.schema_ref, "atdata://local/schema/TextSample@1.0.0",
        "0.7's record of the same structure is reused"
    );
    assert_eq!(index.get("@local/docs-v1").unwrap().cid, e.cid);
    assert_eq!(index.get("@local/docs-v1@1.0.0").unwrap().version, "1");
    let emb = index
        .write(embeddings(3), &WriteOptions::new("embeddings-v1"))
        .unwrap();
    assert_eq!(
        emb.schema_ref,
        "atdata://local/schema/EmbeddingSample@1.0.0"
    );
    assert_eq!(index.versions("embeddings-v1").unwrap(), vec!["1", "2"]);
    assert_eq!(index.schemas().unwrap().len(), 2, "no new schema records");
}

fn py_read_index(py: &str, db: &Path, name: &str, version: Option<&str>) -> Json {
    let mut cmd = py07_read(py);
    cmd.arg("--index").arg(db).arg("--name").arg(name);
    if let Some(v) = version {
        cmd.arg("--version").arg(v);
    }
    py07_report(cmd)
}

#[test]
fn python_07_opens_and_loads_an_index_we_wrote() {
    let Some(py) = ref_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.db");
    {
        let index = index_common::file_index(dir.path());
        index
            .write(texts(30, "one"), &WriteOptions::new("docs-v1").maxcount(10))
            .unwrap();
        index
            .write(
                texts(12, "two"),
                &WriteOptions::new("docs-v1")
                    .description("second")
                    .tags(["t"]),
            )
            .unwrap();
        index
            .write(embeddings(7), &WriteOptions::new("embeddings-v1"))
            .unwrap();
    }
    // Newest by name, then pinned versions through our version labels.
    let newest = py_read_index(&py, &db, "docs-v1", None);
    assert_eq!(newest["count"], json!(12));
    assert_eq!(newest["sample_type"], json!("TextSample"));
    let first = py_read_index(&py, &db, "docs-v1", Some("1"));
    assert_eq!(first["count"], json!(30));
    let want: Vec<Json> = texts(30, "one")
        .into_iter()
        .map(|t| json!({"text": t.text, "language": t.language, "word_count": t.word_count}))
        .collect();
    let got: Vec<Json> = first["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].clone())
        .collect();
    assert_eq!(got, want);
    let emb = py_read_index(&py, &db, "embeddings-v1", None);
    assert_eq!(emb["count"], json!(7));
    assert_eq!(emb["sample_type"], json!("EmbeddingSample"));
}

#[test]
fn python_07_writes_into_an_index_we_wrote_and_we_read_it_back() {
    let Some(py) = ref_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.db");
    let index = index_common::file_index(dir.path());
    index
        .write(
            texts(4, "one"),
            &WriteOptions::new("docs-v1").description("ours"),
        )
        .unwrap();
    let script = r#"
import sys
import atdata
from atdata.providers._sqlite import SqliteProvider

@atdata.packable
class TextSample:
    """Simple text document."""
    text: str
    language: str
    word_count: int

idx = atdata.Index(provider=SqliteProvider(path=sys.argv[1]),
                   data_store=atdata.LocalDiskStore(root=sys.argv[2]), atmosphere=None)
samples = [TextSample(text=f"python {i}", language="en", word_count=2) for i in range(3)]
entry = idx.write_samples(samples, name="docs-v1")
print(entry.cid)
"#;
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&db)
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python 0.7 failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let py_cid = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();
    // Our handle, opened before Python wrote, sees its entry as version 2, the newest.
    assert_eq!(index.versions("docs-v1").unwrap(), vec!["1", "2"]);
    let newest = index.get("@local/docs-v1").unwrap();
    assert_eq!(newest.cid, py_cid);
    assert_eq!(newest.version, "2");
    assert_eq!(newest.schema_ref, "atdata://local/schema/TextSample@1.0.0");
    let back: Vec<TextSample> = index
        .load("@local/docs-v1")
        .unwrap()
        .typed(Order::Ordered)
        .map(Result::unwrap)
        .collect();
    assert_eq!(back.len(), 3);
    assert_eq!(back[0].text, "python 0");
    assert_eq!(index.sample_count("docs-v1").unwrap(), 3);
    assert!(index.verify("docs-v1").unwrap().is_ok());
    // And our next write is version 3.
    let e = index
        .write(texts(2, "three"), &WriteOptions::new("docs-v1"))
        .unwrap();
    assert_eq!(e.version, "3");
    assert_eq!(
        index
            .get("@local/docs-v1@1")
            .unwrap()
            .description
            .as_deref(),
        Some("ours")
    );
}
