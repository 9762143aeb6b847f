//! Copying datasets between indexes and stores (`Index::copy_to`): from a SQLite index and
//! local store into another, into a PostgreSQL index (feature `postgres`, a database of the
//! test's own on 127.0.0.1:5432), and from an index Python atdata 0.7 wrote.

mod index_common;
#[cfg(feature = "postgres")]
mod pg_common;
mod py07_common;

use std::path::Path;

use atdata::dataset::Order;
use atdata::index::{CopyOptions, Entry, WriteOptions};
use atdata::{Error, Index, LocalDiskStore, Progress};
use index_common::{file_index, files_under, texts, TextSample};

/// Writes `docs` twice (versions 1 and 2) into a file index in `dir`.
fn source(dir: &Path) -> (Index, Entry, Entry) {
    let index = file_index(dir);
    let opts = WriteOptions::new("docs")
        .description("docs to copy")
        .tags(["a", "b"])
        .maxcount(4);
    let v1 = index.write(texts(10, "one"), &opts).unwrap();
    let v2 = index.write(texts(6, "two"), &opts).unwrap();
    (index, v1, v2)
}

fn typed(index: &Index, reference: &str) -> Vec<TextSample> {
    index
        .load(reference)
        .unwrap()
        .typed(Order::Ordered)
        .map(Result::unwrap)
        .collect()
}

/// Loads, verifies and compares the copy of `src` in `dest` with the source.
fn same_dataset(src: &Index, src_entry: &Entry, dest: &Index, dest_entry: &Entry) {
    let pinned = |e: &Entry| format!("@local/{}@{}", e.name, e.cid);
    assert_eq!(
        typed(src, &pinned(src_entry)),
        typed(dest, &pinned(dest_entry))
    );
    let report = dest.verify(&pinned(dest_entry)).unwrap();
    assert!(report.is_verified(), "{report}");
    assert_eq!(dest_entry.num_samples, src_entry.num_samples);
    assert_eq!(dest_entry.description, src_entry.description);
    assert_eq!(dest_entry.tags, src_entry.tags);
}

#[derive(Default)]
struct Counted {
    total: std::sync::Mutex<u64>,
    done: std::sync::Mutex<u64>,
}

impl Progress for Counted {
    fn start(&self, total: u64) {
        *self.total.lock().unwrap() += total;
    }
    fn advance(&self, bytes: u64) {
        *self.done.lock().unwrap() += bytes;
    }
}

#[test]
fn a_copy_into_another_index_and_store_keeps_cid_and_schema_and_loads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, _, v2) = source(a.path());
    let dest = file_index(b.path());
    let seen = Counted::default();
    let report = src
        .copy_to_with_progress("docs", &dest, &CopyOptions::default(), &seen)
        .unwrap();
    assert_eq!(report.versions.len(), 1);
    let copied = &report.versions[0];
    assert!(copied.created && copied.cid_kept(), "{copied:?}");
    assert_eq!(copied.entry.cid, v2.cid);
    assert_eq!(copied.entry.schema_ref, v2.schema_ref);
    assert_eq!(
        copied.entry.version, "1",
        "the destination numbers its own versions"
    );
    assert!(copied.digests_computed.is_empty());
    let bytes: u64 = v2.shards.iter().filter_map(|s| s.bytes).sum();
    assert_eq!(copied.bytes, bytes);
    assert_eq!(*seen.total.lock().unwrap(), bytes);
    assert_eq!(*seen.done.lock().unwrap(), bytes);
    // The shards are the destination store's, named by content as every write names them.
    let root = b.path().join("data").canonicalize().unwrap();
    for (s, orig) in copied.entry.shards.iter().zip(&v2.shards) {
        assert!(Path::new(&s.url).starts_with(&root), "{}", s.url);
        assert_eq!(s.sha256, orig.sha256);
        assert_eq!(
            Path::new(&s.url).file_name(),
            Path::new(&orig.url).file_name()
        );
    }
    assert_eq!(
        dest.get_schema(&copied.entry.schema_ref).unwrap(),
        src.get_schema(&v2.schema_ref).unwrap()
    );
    same_dataset(&src, &v2, &dest, &copied.entry);
    // Nothing staged is left behind.
    assert!(files_under(&root.join(".staging"))
        .iter()
        .all(|p| !p.to_string_lossy().ends_with(".tmp")));
}

#[test]
fn copying_twice_is_a_no_op() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, v1, _) = source(a.path());
    let dest = file_index(b.path());
    let first = src
        .copy_to("docs@1", &dest, &CopyOptions::default())
        .unwrap();
    assert_eq!(first.created(), 1);
    let files = files_under(b.path());
    let again = src
        .copy_to("docs@1", &dest, &CopyOptions::default())
        .unwrap();
    assert_eq!(again.created(), 0);
    assert_eq!(again.bytes(), 0);
    assert_eq!(again.versions[0].entry, first.versions[0].entry);
    assert_eq!(again.versions[0].entry.cid, v1.cid);
    assert_eq!(dest.list_datasets().unwrap().len(), 1);
    assert_eq!(files_under(b.path()), files, "nothing was written");
}

#[test]
fn every_version_is_copied_in_order_in_one_commit() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, v1, v2) = source(a.path());
    let dest = file_index(b.path());
    // One version is there already: it is found, the other copied.
    src.copy_to("docs@1", &dest, &CopyOptions::default())
        .unwrap();
    let opts = CopyOptions {
        all_versions: true,
        ..Default::default()
    };
    let report = src.copy_to("docs", &dest, &opts).unwrap();
    let got: Vec<(&str, bool)> = report
        .versions
        .iter()
        .map(|v| (v.entry.cid.as_str(), v.created))
        .collect();
    assert_eq!(got, vec![(v1.cid.as_str(), false), (v2.cid.as_str(), true)]);
    let listed: Vec<(String, String)> = dest
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|e| (e.version, e.cid))
        .collect();
    assert_eq!(
        listed,
        vec![("1".into(), v1.cid.clone()), ("2".into(), v2.cid.clone())]
    );
    same_dataset(&src, &v1, &dest, &report.versions[0].entry);
    same_dataset(&src, &v2, &dest, &report.versions[1].entry);
    let e = src.copy_to("docs@1", &dest, &opts).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}

#[test]
fn a_corrupted_source_shard_is_refused_by_name_and_nothing_is_committed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, v1, v2) = source(a.path());
    // A byte of the last shard of version 1 flipped: everything before it copies well.
    let bad = &v1.shards.last().unwrap().url;
    let mut bytes = std::fs::read(bad).unwrap();
    bytes[600] ^= 0xff;
    std::fs::write(bad, &bytes).unwrap();
    let dest = file_index(b.path());
    let opts = CopyOptions {
        all_versions: true,
        ..Default::default()
    };
    let e = src.copy_to("docs", &dest, &opts).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(bad.as_str()) && text.contains("sha256") && text.contains("docs@1"),
        "{text}"
    );
    assert!(dest.list_datasets().unwrap().is_empty());
    assert!(dest.schemas().unwrap().is_empty());
    // Nothing was published either: every shard is checked before the first is.
    let published: Vec<_> = files_under(&b.path().join("data"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "tar"))
        .collect();
    assert!(published.is_empty(), "{published:?}");
    // A shard cut short is refused the same way; the good version still copies.
    let short = &v2.shards[0].url;
    let len = std::fs::metadata(short).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(short)
        .unwrap()
        .set_len(len - 512)
        .unwrap();
    let e = src
        .copy_to("docs@2", &dest, &CopyOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains(short.as_str()), "{e}");
    assert!(dest.list_datasets().unwrap().is_empty());
}

#[test]
fn a_renamed_copy_gets_its_own_cid_and_a_repository_of_the_same_index_works() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, _, v2) = source(a.path());
    let lab = atdata::index::Repository::new(
        atdata::SqliteProvider::open(b.path().join("lab.db")).unwrap(),
        Some(std::sync::Arc::new(
            LocalDiskStore::new(b.path().join("lab-data")).unwrap(),
        )),
    );
    src.mount("lab", lab).unwrap();
    let opts = CopyOptions {
        rename: Some("@lab/docs-copy".into()),
        ..Default::default()
    };
    let report = src.copy_to("@local/docs", &src, &opts).unwrap();
    let copied = &report.versions[0];
    assert!(copied.created && !copied.cid_kept());
    assert_eq!(copied.entry.name, "docs-copy");
    assert_eq!(
        typed(&src, "@lab/docs-copy"),
        typed(&src, &format!("@local/docs@{}", v2.cid))
    );
    assert!(src.verify("@lab/docs-copy").unwrap().is_verified());
    assert!(src.list_datasets_in("local").unwrap().len() == 2);
}

#[test]
fn a_schema_the_destination_would_version_differently_is_refused_before_copying() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src, _, _) = source(a.path());
    let dest = file_index(b.path());
    // Another structure under the same name and version, there first.
    let other = atdata::Schema::from_json(
        r#"{"name":"TextSample","version":"1.0.0","fields":[{"name":"x","fieldType":{"$type":"local#primitive","primitive":"int"},"optional":false}]}"#,
    )
    .unwrap();
    dest.write_samples(
        &other,
        [atdata::Sample::new(vec![(
            "x".to_string(),
            atdata::Value::Int(1),
        )])],
        &WriteOptions::new("other"),
    )
    .unwrap();
    let before = files_under(b.path());
    let e = src
        .copy_to("docs", &dest, &CopyOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(e.to_string().contains("TextSample@1.0.0"), "{e}");
    assert_eq!(dest.list_datasets().unwrap().len(), 1);
    assert_eq!(files_under(b.path()), before);
}

#[test]
fn an_entry_python_07_wrote_without_checksums_is_copied_with_digests_computed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let db = py07_common::relocated_index(a.path());
    // 0.7 keeps digests only in metadata["checksums"]; an entry without them has none.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE dataset_entries SET metadata = NULL WHERE name = 'embeddings-v1'",
            [],
        )
        .unwrap();
    let src = Index::open(&db).unwrap();
    let entry = src.get("embeddings-v1").unwrap();
    assert!(entry.shards.iter().all(|s| s.sha256.is_none()));
    let dest = file_index(b.path());
    let report = src
        .copy_to("embeddings-v1", &dest, &CopyOptions::default())
        .unwrap();
    let copied = &report.versions[0];
    assert!(copied.created);
    assert!(!copied.cid_kept(), "0.7's CID covers shard URLs");
    assert_eq!(copied.digests_computed.len(), entry.shards.len());
    assert_eq!(copied.entry.num_samples, Some(12));
    assert!(copied.entry.shards.iter().all(|s| s.sha256.is_some()));
    let pinned = format!("@local/embeddings-v1@{}", copied.entry.cid);
    assert!(dest.verify(&pinned).unwrap().is_verified());
    assert_eq!(
        dest.load(&pinned).unwrap().samples(Order::Ordered).count(),
        12
    );
    // Copying again finds the CID computed the first time.
    let again = src
        .copy_to("embeddings-v1", &dest, &CopyOptions::default())
        .unwrap();
    assert_eq!(again.created(), 0);
    assert_eq!(again.versions[0].entry.cid, copied.entry.cid);
}

#[cfg(feature = "postgres")]
mod postgres_destination {
    use std::sync::Arc;

    use super::*;
    use atdata::index::PostgresProvider;

    #[test]
    fn every_version_copies_into_a_postgres_index_with_its_cids() {
        let db = super::pg_common::TestDb::new("copy_test");
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (src, v1, v2) = source(a.path());
        let dest = Index::new(Arc::new(PostgresProvider::connect(&db.dsn).unwrap()), None)
            .with_store(LocalDiskStore::new(b.path()).unwrap());
        let opts = CopyOptions {
            all_versions: true,
            ..Default::default()
        };
        let report = src.copy_to("docs", &dest, &opts).unwrap();
        assert_eq!(report.created(), 2);
        assert!(report.versions.iter().all(|v| v.cid_kept()));
        same_dataset(&src, &v1, &dest, &report.versions[0].entry);
        same_dataset(&src, &v2, &dest, &report.versions[1].entry);
        // Another handle on the database sees the same, and a second copy does nothing.
        let other = Index::new(Arc::new(PostgresProvider::connect(&db.dsn).unwrap()), None);
        assert_eq!(other.versions("docs").unwrap(), vec!["1", "2"]);
        assert_eq!(src.copy_to("docs", &dest, &opts).unwrap().created(), 0);
        // Back from PostgreSQL into a fresh SQLite index: the same CIDs again.
        let c = tempfile::tempdir().unwrap();
        let back = file_index(c.path());
        let report = dest.copy_to("docs", &back, &opts).unwrap();
        let cids: Vec<&str> = report
            .versions
            .iter()
            .map(|v| v.entry.cid.as_str())
            .collect();
        assert_eq!(cids, vec![v1.cid.as_str(), v2.cid.as_str()]);
    }
}
