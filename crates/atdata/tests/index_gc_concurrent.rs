//! gc against concurrent writers: no committed entry ever points at a shard gc removed.
//!
//! A writer commits its entry after publishing its shards; publishing content that is already
//! in the store (left by a write whose commit failed) only touches the existing file. gc runs
//! with no grace period at all, back to back, so it races every write: it removes shards just
//! published, and the staging files of writes in progress. Writes may then fail (cleanly,
//! committing nothing) but every entry that was committed must have all its shards, intact.
//!
//! The CI version runs a bounded number of writes; `ATDATA_SOAK_SECS=N` runs for N seconds
//! instead (the numbers are printed with `--nocapture`).

mod index_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atdata::index::{Entry, GcOptions, WriteOptions};
use atdata::{Index, LocalDiskStore};
use index_common::{file_index, texts};

/// Writes in the CI version.
const WRITES: usize = 240;

/// Kinds of content: each comes back every `KINDS` writes, so identical content is written
/// again and again (with orphans of it left in between).
const KINDS: usize = 6;

fn open(dir: &std::path::Path) -> Index {
    Index::open(dir.join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(dir.join("data")).unwrap())
}

#[test]
fn no_committed_entry_points_at_a_shard_gc_removed() {
    let dir = tempfile::tempdir().unwrap();
    let soak = std::env::var("ATDATA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    // The first write makes the index and claims the store for it.
    let first = file_index(dir.path())
        .write(texts(4, "seed"), &WriteOptions::new("seed"))
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let removed = Arc::new(AtomicUsize::new(0));
    let gc_runs = Arc::new(AtomicUsize::new(0));
    let gc = {
        let (dir, stop, removed, gc_runs) = (
            dir.path().to_path_buf(),
            stop.clone(),
            removed.clone(),
            gc_runs.clone(),
        );
        std::thread::spawn(move || {
            let index = open(&dir);
            let now = GcOptions {
                grace: Duration::ZERO,
                ..GcOptions::new(false)
            };
            while !stop.load(Ordering::Relaxed) {
                let r = index.gc_with(&now).expect("gc never fails here");
                removed.fetch_add(r.shards.len() + r.staging.len(), Ordering::Relaxed);
                gc_runs.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let index = open(dir.path());
    // A write whose commit went elsewhere: its shards stay in the store, referenced by no
    // entry of this index (what a write killed or failed after publishing leaves).
    let orphans = Index::in_memory()
        .unwrap()
        .with_store(LocalDiskStore::new(dir.path().join("data")).unwrap());
    let started = Instant::now();
    let mut committed: Vec<Entry> = vec![first];
    let (mut failed, mut orphaned, mut i) = (0usize, 0usize, 0usize);
    loop {
        let done = match soak {
            Some(d) => started.elapsed() >= d,
            None => i >= WRITES,
        };
        if done {
            break;
        }
        let kind = i % KINDS;
        // Each content comes back three times, then a new one takes its place.
        let content = format!("k{kind}-r{}", i / (KINDS * 3));
        let opts = WriteOptions::new(format!("d{kind}")).maxcount(3);
        if i % 2 == 0 && orphans.write(texts(7, &content), &opts).is_ok() {
            orphaned += 1;
        }
        match index.write(texts(7, &content), &opts) {
            Ok(e) => committed.push(e),
            // gc removed a staging file under the writer, or a shard more often than the
            // write publishes again: nothing was committed.
            Err(e) => {
                if failed < 3 {
                    eprintln!("write failed: {e}");
                }
                failed += 1
            }
        }
        i += 1;
    }
    stop.store(true, Ordering::Relaxed);
    gc.join().unwrap();

    let listed = index.list_datasets().unwrap();
    for e in committed.iter().chain(&listed) {
        let r = index
            .verify(&format!("@local/{}@{}", e.name, e.cid))
            .unwrap();
        assert!(r.is_verified(), "{r}");
    }
    let ok = committed.len() - 1;
    eprintln!(
        "{i} writes in {:.1}s: {ok} committed ({} entries listed), {failed} failed cleanly, \
         {orphaned} orphan writes; {} gc runs removed {} files",
        started.elapsed().as_secs_f64(),
        listed.len(),
        gc_runs.load(Ordering::Relaxed),
        removed.load(Ordering::Relaxed)
    );
    assert!(ok > 0, "no write got through");
    assert!(
        removed.load(Ordering::Relaxed) > 0,
        "gc removed nothing: no race was run"
    );
}
