//! The behaviour every [`DataStore`] must show, as one `pub fn` per behaviour on
//! `&dyn DataStore`. Each backend's tests call every function on a fresh, empty store (see the
//! tests of `store/local.rs`). Functions panic on failure, like assertions.

use crate::error::Error;
use crate::shard::{sample_key, ShardOptions, ShardWriter, StagedShard};
use crate::store::DataStore;

/// Stages one shard holding `samples` (raw msgpack bytes) in the store's staging area.
pub fn stage(store: &dyn DataStore, samples: &[&[u8]]) -> StagedShard {
    let mut w = ShardWriter::new(store.staging_dir().unwrap(), ShardOptions::default()).unwrap();
    for (i, s) in samples.iter().enumerate() {
        w.write_sample(&sample_key(i as u64), s).unwrap();
    }
    let mut shards = w.finish().unwrap();
    assert_eq!(shards.len(), 1);
    shards.remove(0)
}

/// Stages and publishes one shard; returns its URL.
pub fn publish_one(
    store: &dyn DataStore,
    dataset: &str,
    tag: &str,
    index: usize,
    samples: &[&[u8]],
) -> String {
    let shard = stage(store, samples);
    store.publish(dataset, tag, index, shard).unwrap()
}

/// A published shard is listed with its size and owned by the store; its URL ends with the
/// 0.7 layout `{name}/data--{tag}--{index:06}.tar`.
pub fn publish_makes_the_shard_visible(store: &dyn DataStore) {
    assert!(store.shards().unwrap().is_empty());
    let shard = stage(store, &[b"\x81\xa1a\x01", b"\x81\xa1a\x02"]);
    let bytes = shard.bytes;
    let url = store.publish("docs", "0a1b2c3d", 2, shard).unwrap();
    assert!(url.ends_with("docs/data--0a1b2c3d--000002.tar"), "{url}");
    assert!(store.owns(&url));
    let listed = store.shards().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].url, url);
    assert_eq!(listed[0].bytes, bytes);
    assert!(!store.kind().is_empty());
}

/// Publishing the same content at the same place again succeeds and keeps one file.
pub fn same_content_is_stored_once(store: &dyn DataStore) {
    let a = publish_one(store, "d", "00000000", 0, &[b"\x80"]);
    let b = publish_one(store, "d", "00000000", 0, &[b"\x80"]);
    assert_eq!(a, b);
    assert_eq!(store.shards().unwrap().len(), 1);
    assert!(store.staging_files().unwrap().is_empty());
}

/// Different content at an occupied place fails with `AlreadyExists` and leaves the existing
/// file as it was.
pub fn different_content_is_never_clobbered(store: &dyn DataStore) {
    publish_one(store, "d", "00000000", 0, &[b"\x80"]);
    let before = store.shards().unwrap();
    let other = stage(store, &[b"\x80", b"\x80"]);
    let err = store.publish("d", "00000000", 0, other).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(store.shards().unwrap(), before);
    assert!(store.staging_files().unwrap().is_empty());
}

/// Names that could escape the root or collide with the store's own files are refused with a
/// clear `InvalidArgument`, before anything is written.
pub fn unsafe_names_are_refused(store: &dyn DataStore) {
    for bad in [
        "", ".", "..", "../up", "a/b", "/abs", "a\\b", "nul\0", ".staging",
    ] {
        let err = store.check_name(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
        let shard = stage(store, &[b"\x80"]);
        let err = store.publish(bad, "00000000", 0, shard).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("dataset name"), "{err}");
    }
    let shard = stage(store, &[b"\x80"]);
    assert!(store.publish("ok", "../x", 0, shard).is_err());
    assert!(store.shards().unwrap().is_empty());
    assert!(store.staging_files().unwrap().is_empty());
}

/// Staged shards are listed as staging files, not as shards, until published.
pub fn staging_is_listed_apart(store: &dyn DataStore) {
    let shard = stage(store, &[b"\x80"]);
    assert_eq!(store.staging_files().unwrap().len(), 1);
    assert!(store.shards().unwrap().is_empty());
    store.publish("d", "00000000", 0, shard).unwrap();
    assert!(store.staging_files().unwrap().is_empty());
    assert_eq!(store.shards().unwrap().len(), 1);
}

/// `remove` deletes a shard of the store, says `NotFound` the second time and refuses URLs
/// outside the store.
pub fn remove_deletes_only_inside_the_store(store: &dyn DataStore) {
    let url = publish_one(store, "d", "00000000", 0, &[b"\x80"]);
    store.remove(&url).unwrap();
    assert!(store.shards().unwrap().is_empty());
    assert!(matches!(
        store.remove(&url).unwrap_err(),
        Error::NotFound { .. }
    ));
    let outside = store.remove("/etc/hostname").unwrap_err();
    assert!(matches!(outside, Error::InvalidArgument(_)), "{outside}");
    assert!(!store.owns("/etc/hostname"));
}

/// Several threads publishing the same shard at once all succeed, with one file as the result.
pub fn concurrent_publishers_of_one_shard_agree(store: &dyn DataStore) {
    let urls: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| publish_one(store, "d", "11111111", 0, &[b"\x80", b"\x81\xa1a\x01"]))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(urls.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.shards().unwrap().len(), 1);
    assert!(store.staging_files().unwrap().is_empty());
}
