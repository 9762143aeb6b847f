//! `verify` names every damaged or missing shard; `gc` removes only what no entry needs.

mod index_common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use atdata::index::{GcOptions, ShardProblem, WriteOptions};
use index_common::{file_index, files_under, texts};

fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn verify_names_the_damaged_and_the_missing_shard() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let e = index
        .write(texts(40, "a"), &WriteOptions::new("d").maxcount(10))
        .unwrap();
    assert_eq!(e.shards.len(), 4);
    let ok = index.verify("d").unwrap();
    assert!(ok.is_ok(), "{ok}");
    assert_eq!(ok.checked.len(), 4);
    assert_eq!(ok.dataset, "@local/d@1");

    // Flip one byte in shard 2.
    let victim = &e.shards[2].url;
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[600] ^= 0x01;
    std::fs::write(victim, &bytes).unwrap();
    let r = index.verify("@local/d@1").unwrap();
    assert_eq!(r.problems.len(), 1, "{r}");
    match &r.problems[0] {
        ShardProblem::DigestMismatch { url, expected, .. } => {
            assert_eq!(url, victim);
            assert_eq!(Some(expected), e.shards[2].sha256.as_ref());
        }
        other => panic!("{other}"),
    }
    assert!(r.to_string().contains(victim.as_str()));

    // And remove shard 0.
    std::fs::remove_file(&e.shards[0].url).unwrap();
    let r = index.verify("d").unwrap();
    let urls: Vec<&str> = r.problems.iter().map(|p| p.url()).collect();
    assert_eq!(urls, vec![e.shards[0].url.as_str(), victim.as_str()]);
    assert!(matches!(r.problems[0], ShardProblem::Missing { .. }));
    assert!(index.verify("nope").is_err(), "unknown datasets are errors");
}

#[test]
fn gc_removes_orphans_and_stale_staging_only() {
    let dir = tempfile::tempdir().unwrap();
    let index = file_index(dir.path());
    let kept = index
        .write(texts(20, "a"), &WriteOptions::new("d").maxcount(10))
        .unwrap();
    let store = std::fs::canonicalize(dir.path().join("data")).unwrap();
    // What a write killed between publishing and committing leaves, and a dead writer's temp.
    let orphan = store.join("d/data--deadbeef--000000.tar");
    std::fs::copy(&kept.shards[0].url, &orphan).unwrap();
    let stale = store.join(".staging/.atdata-shard-dead.tmp");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"partial").unwrap();
    // Someone else's file in the store is not ours to remove.
    std::fs::write(store.join("d/README.txt"), b"hi").unwrap();

    // Fresh files are kept by the default grace period.
    let r = index.gc(false).unwrap();
    assert!(r.shards.is_empty() && r.staging.is_empty());
    assert_eq!(r.kept_recent, 2);
    assert!(orphan.exists() && stale.exists());

    let now = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::new(true)
    };
    let r = index.gc_with(&now).unwrap();
    assert_eq!(r.shards.len(), 1);
    assert_eq!(r.shards[0].url, orphan.display().to_string());
    assert_eq!(r.staging.len(), 1);
    assert!(r.bytes() > 0);
    assert!(orphan.exists() && stale.exists(), "dry run removes nothing");

    age(&orphan, Duration::from_secs(3600));
    age(&stale, Duration::from_secs(3600));
    let r = index.gc(false).unwrap();
    assert_eq!((r.shards.len(), r.staging.len()), (1, 1));
    assert!(!orphan.exists() && !stale.exists());
    assert!(store.join("d/README.txt").exists());
    for url in kept.data_urls() {
        assert!(Path::new(url).exists(), "referenced shard {url} kept");
    }
    assert!(index.verify("d").unwrap().is_ok());
    let again = index
        .gc_with(&GcOptions {
            grace: Duration::ZERO,
            ..GcOptions::new(false)
        })
        .unwrap();
    assert!(again.shards.is_empty() && again.staging.is_empty());
    // The shards, README.txt, and the store's record of its owning index.
    assert_eq!(files_under(&store).len(), kept.shards.len() + 2);
    assert!(store.join(".atdata-store").is_file());
}

#[test]
fn gc_leaves_the_fallback_store_and_foreign_shards_alone() {
    // An index without a store of its own writes to the default store, which other indexes may
    // share: gc must not collect it.
    let dir = tempfile::tempdir().unwrap();
    let index = atdata::Index::open(dir.path().join("index.db")).unwrap();
    let r = index
        .gc_with(&GcOptions {
            grace: Duration::ZERO,
            ..GcOptions::new(true)
        })
        .unwrap();
    assert!(r.shards.is_empty() && r.staging.is_empty());
}
