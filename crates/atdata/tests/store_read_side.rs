//! The read side of stores: a dataset resolved in a repository reads its shards through that
//! repository's store (every reading path: samples, batches in shard order, counting,
//! verifying), and a dataset over paths reads local files.

mod py07_common;

use std::sync::{Arc, Mutex};

use atdata::index::WriteOptions;
use atdata::store::{DataStore, LocalDiskStore, OpenedShard, ShardSource, StoredFile};
use atdata::{Field, FieldType, Index, Primitive, Result, Sample, Schema, Value};

/// A local store that records every read it is asked for.
#[derive(Debug)]
struct Recording {
    inner: LocalDiskStore,
    reads: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn note(&self, what: &str, url: &str) {
        self.reads.lock().unwrap().push(format!("{what} {url}"));
    }
}

impl ShardSource for Recording {
    fn check_url(&self, url: &str) -> Result<()> {
        self.inner.check_url(url)
    }
    fn open(&self, url: &str) -> Result<OpenedShard> {
        self.note("open", url);
        self.inner.open(url)
    }
    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.note("range", url);
        self.inner.read_range(url, offset, len)
    }
    fn size(&self, url: &str) -> Result<Option<u64>> {
        self.note("size", url);
        self.inner.size(url)
    }
    fn local_path(&self, url: &str) -> Option<std::path::PathBuf> {
        self.note("local_path", url);
        self.inner.local_path(url)
    }
}

impl DataStore for Recording {
    fn kind(&self) -> &'static str {
        "Recording"
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn owner(&self) -> Result<Option<atdata::store::StoreOwner>> {
        self.inner.owner()
    }
    fn set_owner(
        &self,
        owner: &atdata::store::StoreOwner,
        replace: bool,
    ) -> Result<atdata::store::StoreOwner> {
        self.inner.set_owner(owner, replace)
    }
    fn in_use(&self, url: &str) -> bool {
        self.inner.in_use(url)
    }
    fn check_name(&self, dataset: &str) -> Result<()> {
        self.inner.check_name(dataset)
    }
    fn staging_dir(&self) -> Result<std::path::PathBuf> {
        self.inner.staging_dir()
    }
    fn publish(
        &self,
        dataset: &str,
        tag: &str,
        index: usize,
        shard: atdata::shard::StagedShard,
    ) -> Result<String> {
        self.inner.publish(dataset, tag, index, shard)
    }
    fn shards(&self) -> Result<Vec<StoredFile>> {
        self.inner.shards()
    }
    fn staging_files(&self) -> Result<Vec<StoredFile>> {
        self.inner.staging_files()
    }
    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }
    fn remove(&self, url: &str) -> Result<()> {
        self.inner.remove(url)
    }
    fn as_source(self: Arc<Self>) -> Arc<dyn ShardSource> {
        self
    }
}

fn index_with_recording_store(dir: &std::path::Path) -> (Index, Arc<Mutex<Vec<String>>>) {
    let reads = Arc::new(Mutex::new(Vec::new()));
    let store = Recording {
        inner: LocalDiskStore::new(dir.join("data")).unwrap(),
        reads: reads.clone(),
    };
    (Index::in_memory().unwrap().with_store(store), reads)
}

fn write_nums(index: &Index, n: i64) -> Vec<String> {
    let schema = Schema::new(
        "T",
        vec![Field::new("x", FieldType::Primitive(Primitive::Int))],
    );
    let samples = (0..n).map(|i| Sample::new(vec![("x".into(), Value::Int(i))]));
    let opts = WriteOptions::new("nums").maxcount(2);
    let entry = index.write_samples(&schema, samples, &opts).unwrap();
    entry.data_urls().map(str::to_string).collect()
}

#[test]
fn a_dataset_loaded_by_name_reads_through_its_repositorys_store() {
    let dir = tempfile::tempdir().unwrap();
    let (index, reads) = index_with_recording_store(dir.path());
    let urls = write_nums(&index, 5);
    assert_eq!(urls.len(), 3);
    reads.lock().unwrap().clear();

    let ds = index.load("@local/nums").unwrap();
    assert_eq!(ds.urls(), urls);
    assert!(format!("{:?}", ds.source()).contains("Recording"));
    // Samples: through the store's stream, every shard.
    assert_eq!(ds.samples(atdata::dataset::Order::Ordered).count(), 5);
    for u in &urls {
        assert!(reads.lock().unwrap().contains(&format!("open {u}")), "{u}");
    }
    // Batches in shard order: through the store's fast path.
    reads.lock().unwrap().clear();
    let rows: usize = ds.ordered(2).map(|b| b.unwrap().len()).sum();
    assert_eq!(rows, 5);
    for u in &urls {
        assert!(
            reads.lock().unwrap().contains(&format!("local_path {u}")),
            "{u}"
        );
    }
    // Verifying: sizes and digests through the store.
    reads.lock().unwrap().clear();
    assert!(index.verify("@local/nums").unwrap().is_ok());
    let seen = reads.lock().unwrap().clone();
    for u in &urls {
        assert!(seen.contains(&format!("size {u}")), "{u}: {seen:?}");
        assert!(seen.contains(&format!("open {u}")), "{u}: {seen:?}");
    }
}

#[test]
fn a_dataset_over_paths_reads_local_files() {
    let dir = tempfile::tempdir().unwrap();
    atdata::shard::write_shards(dir.path(), "s", [vec![0x80u8]], Default::default()).unwrap();
    let ds = atdata::dataset::Dataset::open(&dir.path().display().to_string()).unwrap();
    // With the feature `s3`, the default source reads remote schemes too (local files alike).
    let default = if cfg!(feature = "s3") {
        "UrlSource"
    } else {
        "LocalFiles"
    };
    assert!(format!("{:?}", ds.source()).contains(default));
    assert_eq!(ds.len().unwrap(), 1);
}

/// Inserts a row as Python atdata 0.7 writes it (URLs as given, 0.7's CID, no count).
fn insert_py07_row(db: &std::path::Path, name: &str, urls: &[String]) {
    let schema_ref = "atdata://local/schema/TextSample@1.0.0";
    let cid = atdata::codec::python_entry_cid(schema_ref, urls).unwrap();
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, metadata) \
         VALUES (?1, ?2, ?3, ?4, NULL)",
        rusqlite::params![
            cid,
            name,
            schema_ref,
            atdata::index::entry::strings_to_msgpack(urls)
        ],
    )
    .unwrap();
}

#[test]
fn stored_file_urls_are_read_as_stored_and_other_schemes_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = py07_common::relocated_index(dir.path());
    let text = py07_common::fixtures().join("shards/text.tar");
    let file_url = format!("file://{}", text.display());
    insert_py07_row(&db, "by-file-url", std::slice::from_ref(&file_url));
    // With the feature `s3`, s3:// is read; a scheme no build reads is refused alike.
    let (scheme, foreign) = if cfg!(feature = "s3") {
        ("gs", "gs://bucket/ds/data-000000.tar")
    } else {
        ("s3", "s3://bucket/ds/data-000000.tar")
    };
    insert_py07_row(&db, "in-a-bucket", &[foreign.into()]);
    let index = Index::open(&db).unwrap();

    let ds = index.load("by-file-url").unwrap();
    assert_eq!(ds.urls(), [file_url]);
    assert_eq!(ds.samples(atdata::dataset::Order::Ordered).count(), 6);
    assert_eq!(ds.ordered(4).map(|b| b.unwrap().len()).sum::<usize>(), 6);

    let e = index.load("in-a-bucket").unwrap_err().to_string();
    assert!(
        e.contains(&format!("unsupported URL scheme '{scheme}'")) && e.contains(foreign),
        "{e}"
    );
}
