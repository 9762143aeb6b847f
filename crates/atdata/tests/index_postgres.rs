//! `PostgresProvider` against the real server (127.0.0.1:5432, see scripts/services.sh) and
//! against Python atdata 0.7's own `PostgresProvider` (psycopg, in the reference venv from
//! `ATDATA_REF_PYTHON`): each writes, the other lists and loads. Also many writer processes
//! committing into one name at once. Every test works in a database of its own, created here
//! and dropped afterwards (also when the test fails).

mod index_common;
mod pg_common;
mod py07_common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use atdata::dataset::Order;
use atdata::index::{NewEntry, PostgresProvider, Provider, ProviderExt, ShardInfo, WriteOptions};
use atdata::{Index, LocalDiskStore, Packable};
use index_common::{texts, TextSample};
use pg_common::TestDb;
use py07_common::{py07_read, py07_report, ref_python, run_python};
use serde_json::{json, Value as Json};

fn pg_index(db: &TestDb, data: &std::path::Path) -> Index {
    Index::new(Arc::new(PostgresProvider::connect(&db.dsn).unwrap()), None)
        .with_store(LocalDiskStore::new(data).unwrap())
}

const PY_WRITE: &str = r#"
import json, sys
import atdata
from atdata.providers._postgres import PostgresProvider

@atdata.packable
class TextSample:
    """Simple text document."""
    text: str
    language: str
    word_count: int

idx = atdata.Index(provider=PostgresProvider(dsn=sys.argv[1]),
                   data_store=atdata.LocalDiskStore(root=sys.argv[2]), atmosphere=None)
cids = []
for n in (3, 5, 2):
    samples = [TextSample(text=f"python {n} {i}", language="en", word_count=3) for i in range(n)]
    cids.append(idx.write_samples(samples, name="docs").cid)
print(json.dumps(cids))
"#;

#[test]
fn python_07_writes_and_we_read_names_versions_schemas_and_shards() {
    let Some(py) = ref_python() else { return };
    let db = TestDb::new("test");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run_python(&py, PY_WRITE, &[&db.dsn, data.to_str().unwrap()]);
    let cids: Vec<String> = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    assert_eq!(cids.len(), 3);

    let index = pg_index(&db, &data);
    assert_eq!(index.names().unwrap(), vec!["docs"]);
    assert_eq!(index.versions("docs").unwrap(), vec!["1", "2", "3"]);
    for (n, (cid, count)) in cids.iter().zip([3u64, 5, 2]).enumerate() {
        let reference = format!("@local/docs@{}", n + 1);
        let e = index.get(&reference).unwrap();
        assert_eq!(&e.cid, cid, "{reference}");
        assert_eq!(e.schema_ref, "atdata://local/schema/TextSample@1.0.0");
        assert!(
            e.shards.iter().all(|s| s.sha256.is_some()),
            "0.7's checksums"
        );
        let back: Vec<TextSample> = index
            .load(&reference)
            .unwrap()
            .typed(Order::Ordered)
            .map(Result::unwrap)
            .collect();
        assert_eq!(back.len() as u64, count);
        assert_eq!(back[0].text, format!("python {count} 0"));
    }
    assert_eq!(index.get("@local/docs").unwrap().cid, cids[2], "newest");
    let schema = index
        .get_schema("atdata://local/schema/TextSample@1.0.0")
        .unwrap();
    assert_eq!(schema.fields.len(), 3);

    // We write after 0.7: the next version, 0.7's schema record reused.
    let e = index
        .write(texts(4, "ours"), &WriteOptions::new("docs"))
        .unwrap();
    assert_eq!(e.version, "4");
    assert_eq!(e.schema_ref, "atdata://local/schema/TextSample@1.0.0");
    assert_eq!(index.schemas().unwrap().len(), 1);
}

fn py_read(py: &str, dsn: &str, name: &str, version: Option<&str>) -> Json {
    let mut cmd = py07_read(py);
    cmd.arg("--dsn").arg(dsn).arg("--name").arg(name);
    if let Some(v) = version {
        cmd.arg("--version").arg(v);
    }
    py07_report(cmd)
}

const PY_LIST: &str = r#"
import json, sys
from atdata.providers._postgres import PostgresProvider
p = PostgresProvider(dsn=sys.argv[1])
print(json.dumps(sorted([e.name, e.cid] for e in p.iter_entries())))
"#;

#[test]
fn we_write_and_python_07_lists_and_loads() {
    let Some(py) = ref_python() else { return };
    let db = TestDb::new("test");
    let dir = tempfile::tempdir().unwrap();
    let index = pg_index(&db, &dir.path().join("data"));
    let first = index
        .write(texts(30, "one"), &WriteOptions::new("docs").maxcount(10))
        .unwrap();
    let second = index
        .write(
            texts(12, "two"),
            &WriteOptions::new("docs").description("second").tags(["t"]),
        )
        .unwrap();

    let listed: Json = serde_json::from_str(
        run_python(&py, PY_LIST, &[&db.dsn])
            .trim()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let mut want = vec![json!(["docs", first.cid]), json!(["docs", second.cid])];
    want.sort_by_key(|v| v.to_string());
    let mut got = listed.as_array().unwrap().clone();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, want);

    let newest = py_read(&py, &db.dsn, "docs", None);
    assert_eq!(newest["count"], json!(12));
    assert_eq!(newest["entry"]["cid"], json!(second.cid));
    assert_eq!(newest["sample_type"], json!("TextSample"));
    let pinned = py_read(&py, &db.dsn, "docs", Some("1"));
    assert_eq!(pinned["count"], json!(30));
    let want: Vec<Json> = texts(30, "one")
        .into_iter()
        .map(|t| json!({"text": t.text, "language": t.language, "word_count": t.word_count}))
        .collect();
    let got: Vec<Json> = pinned["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].clone())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn our_columns_are_added_to_tables_python_07_created() {
    let Some(py) = ref_python() else { return };
    let db = TestDb::new("test");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // 0.7 creates the tables (and writes) before any build of ours opened the database.
    run_python(&py, PY_WRITE, &[&db.dsn, data.to_str().unwrap()]);
    let p = PostgresProvider::connect(&db.dsn).unwrap();
    assert_eq!(p.index_id().unwrap().map(|id| id.len()), Some(32));
    assert_eq!(p.versions("docs").unwrap(), vec!["1", "2", "3"]);
    // Listed in insertion order, versions counted per name.
    let listed: Vec<String> = p
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(listed, vec!["1", "2", "3"]);
}

/// Entries of `name` with fake shards, one per (writer, n): distinct content, so distinct CIDs.
fn fake_entry(name: &str, writer: &str, n: usize) -> NewEntry {
    let digest = atdata::codec::sha256_hex(format!("{writer}-{n}").as_bytes());
    NewEntry {
        name: name.to_string(),
        schema: TextSample::schema(),
        shards: vec![ShardInfo::new(
            format!("/store/{name}/{writer}-{n}.tar"),
            digest,
            1,
            10240,
        )],
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
    }
}

const PER_PROCESS: usize = 15;

/// Not a test on its own: the body of each writer process of
/// [`many_writer_processes_lose_nothing_and_number_densely`], which runs this test binary again
/// with `ATDATA_PG_CHILD` set.
#[test]
fn child_writer_process() {
    let Ok(spec) = std::env::var("ATDATA_PG_CHILD") else {
        return;
    };
    let (id, dsn) = spec.split_once(' ').unwrap();
    let p = PostgresProvider::connect(dsn).unwrap();
    for n in 0..PER_PROCESS {
        if n % 5 == 4 {
            // Some batches too, which take versions in one transaction.
            let batch = [
                fake_entry("shared", id, n),
                fake_entry("shared", id, n + 100),
            ];
            p.commit_many(&batch).unwrap();
        } else {
            p.commit(&fake_entry("shared", id, n)).unwrap();
        }
    }
}

#[test]
fn many_writer_processes_lose_nothing_and_number_densely() {
    let db = TestDb::new("test");
    // Tables first, so the writers race on commits, not on creating them.
    let p = PostgresProvider::connect(&db.dsn).unwrap();
    let exe = std::env::current_exe().unwrap();
    let writers = 6;
    let children: Vec<_> = (0..writers)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "child_writer_process", "--test-threads=1"])
                .env("ATDATA_PG_CHILD", format!("w{id} {}", db.dsn))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    let per = PER_PROCESS + PER_PROCESS / 5;
    let total = writers * per;
    let p: Arc<dyn Provider> = Arc::new(p);
    let versions = p.versions("shared").unwrap();
    let want: Vec<String> = (1..=total).map(|v| v.to_string()).collect();
    assert_eq!(versions, want, "unique and dense");
    let entries = p.entries().unwrap();
    assert_eq!(entries.len(), total, "no lost entry");
    let cids: BTreeSet<&str> = entries.iter().map(|e| e.cid.as_str()).collect();
    assert_eq!(cids.len(), total);
    let listed: Vec<&str> = entries.iter().map(|e| e.version.as_str()).collect();
    assert_eq!(listed, want.iter().map(String::as_str).collect::<Vec<_>>());
}
