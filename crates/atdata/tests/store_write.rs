//! `store::write_shards` (atdata 0.7's `store.write_shards`) end to end: shards written
//! straight into a store, then indexed without copying and read by name; `gc` keeps the
//! indexed ones and removes the ones never indexed only once they are older than its grace
//! period. On a local store, and with the feature `s3` on moto's S3 server.

mod index_common;
#[cfg(feature = "s3")]
mod s3_common;

use std::time::{Duration, SystemTime};

use atdata::dataset::Order;
use atdata::index::{GcOptions, NewEntry, ShardInfo, WriteOptions};
use atdata::shard::ShardOptions;
use atdata::store::{write_shards, DataStore, WrittenShard};
use atdata::{Index, LocalDiskStore, Packable};
use index_common::{texts, TextSample};

fn encoded(samples: Vec<TextSample>) -> impl Iterator<Item = atdata::Result<Vec<u8>>> {
    samples.into_iter().map(|s| {
        let mut buf = Vec::new();
        s.encode(&mut buf);
        Ok(buf)
    })
}

fn entry_of(name: &str, shards: &[WrittenShard]) -> NewEntry {
    NewEntry {
        name: name.to_string(),
        schema: TextSample::schema(),
        shards: shards
            .iter()
            .map(|s| ShardInfo::new(&s.url, &s.sha256, s.samples, s.bytes))
            .collect(),
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
    }
}

fn read_texts(index: &Index, name: &str) -> Vec<String> {
    index
        .load(name)
        .unwrap()
        .typed::<TextSample>(Order::Ordered)
        .map(|s| s.unwrap().text)
        .collect()
}

fn urls(shards: &[WrittenShard]) -> Vec<String> {
    shards.iter().map(|s| s.url.clone()).collect()
}

/// Writes `docs` (indexed) and `scratch` (never indexed) into `store` through
/// `write_shards`, commits `docs` in `index`, and checks gc: the default grace keeps
/// everything, and once the files are old (`age_all`, or a zero grace) only `scratch` goes.
fn indexed_shards_stay_and_unindexed_ones_go_after_the_grace(
    index: &Index,
    store: &dyn DataStore,
    age_all: Option<&dyn Fn(&str)>,
) {
    // A first write through the index: the store records this index as its owner, which gc
    // requires.
    index
        .write(texts(2, "seed"), &WriteOptions::new("seed"))
        .unwrap();
    let opts = ShardOptions {
        maxcount: Some(10),
        maxsize: None,
    };
    let docs = write_shards(store, "docs", encoded(texts(25, "w")), opts).unwrap();
    assert_eq!(
        docs.iter().map(|s| s.samples).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let scratch = write_shards(
        store,
        "scratch",
        encoded(texts(4, "x")),
        ShardOptions::default(),
    )
    .unwrap();
    assert_eq!(scratch.len(), 1);

    // Indexed where they are: the entry's URLs are the written ones, nothing copied.
    let created = index.commit_entries(&[entry_of("docs", &docs)]).unwrap();
    assert!(created[0].created);
    let e = index.get("docs").unwrap();
    assert_eq!(
        e.data_urls().map(str::to_string).collect::<Vec<_>>(),
        urls(&docs)
    );
    let want: Vec<String> = texts(25, "w").into_iter().map(|s| s.text).collect();
    assert_eq!(read_texts(index, "docs"), want);
    assert!(index.verify("docs").unwrap().is_ok());

    // Just written: the default grace keeps the unindexed shard.
    let report = index.gc_with(&GcOptions::new(false)).unwrap();
    assert!(report.shards.is_empty(), "{report:?}");
    assert_eq!(report.kept_recent, 1, "{report:?}");
    let listed = |s: &dyn DataStore| -> Vec<String> {
        s.shards().unwrap().into_iter().map(|f| f.url).collect()
    };
    assert!(listed(store).contains(&scratch[0].url));

    // Older than the grace: only the unindexed shard is removed.
    let mut opts = GcOptions::new(false);
    match age_all {
        Some(age) => {
            for u in urls(&docs).iter().chain(&urls(&scratch)) {
                age(u);
            }
        }
        None => opts.grace = Duration::ZERO,
    }
    let report = index.gc_with(&opts).unwrap();
    assert_eq!(
        report
            .shards
            .iter()
            .map(|f| f.url.clone())
            .collect::<Vec<_>>(),
        urls(&scratch),
        "{report:?}"
    );
    let left = listed(store);
    assert!(!left.contains(&scratch[0].url));
    for u in urls(&docs) {
        assert!(left.contains(&u), "{u} kept");
    }
    assert_eq!(read_texts(index, "docs"), want);
    assert!(index.verify("docs").unwrap().is_ok());
}

#[test]
fn local_store_shards_indexed_in_place_are_kept_by_gc_and_unindexed_ones_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDiskStore::new(dir.path().join("data")).unwrap();
    let index = Index::open(dir.path().join("index.db"))
        .unwrap()
        .with_store(store.clone());
    let age = |url: &str| {
        let f = std::fs::File::options().append(true).open(url).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    };
    indexed_shards_stay_and_unindexed_ones_go_after_the_grace(&index, &store, Some(&age));
}

#[test]
fn names_follow_the_store_rule_and_the_same_samples_reuse_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDiskStore::new(dir.path()).unwrap();
    let opts = || ShardOptions {
        maxcount: Some(3),
        maxsize: None,
    };
    let a = write_shards(&store, "d", encoded(texts(7, "a")), opts()).unwrap();
    for (i, s) in a.iter().enumerate() {
        let name = format!("data--{}--{i:06}.tar", &s.sha256[..8]);
        assert_eq!(
            s.url,
            store.root().join("d").join(name).display().to_string()
        );
    }
    // The same samples written through the index land on the same files.
    let index = Index::open(dir.path().join("index.db"))
        .unwrap()
        .with_store(store.clone());
    let e = index
        .write(texts(7, "a"), &WriteOptions::new("d").maxcount(3))
        .unwrap();
    assert_eq!(
        e.data_urls().map(str::to_string).collect::<Vec<_>>(),
        urls(&a)
    );
    let again = write_shards(&store, "d", encoded(texts(7, "a")), opts()).unwrap();
    assert_eq!(again, a);
    assert_eq!(store.shards().unwrap().len(), 3);
}

#[cfg(feature = "s3")]
#[test]
fn s3_store_shards_indexed_in_place_are_kept_by_gc_and_unindexed_ones_removed() {
    use atdata::store::S3DataStore;
    let server = s3_common::S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    server.create_bucket("wshards");
    let store = S3DataStore::new(
        "wshards",
        Some("team"),
        server
            .options()
            .with_staging_dir(dir.path().join("staging")),
    )
    .unwrap();
    let store: std::sync::Arc<dyn DataStore> = std::sync::Arc::new(store);
    let index = Index::open(dir.path().join("index.db"))
        .unwrap()
        .with_shared_store(store.clone());
    indexed_shards_stay_and_unindexed_ones_go_after_the_grace(&index, store.as_ref(), None);
    for u in store.shards().unwrap() {
        assert!(u.url.starts_with("s3://wshards/team/"), "{}", u.url);
    }
}
