//! The behaviour every [`DataStore`] must show, as one `pub fn` per behaviour on
//! `&dyn DataStore`, and [`run_all`], which runs every one of them on fresh, empty stores: a
//! backend's tests call `run_all` (see the tests of `store/local.rs`), so no behaviour is
//! forgotten. Functions panic on failure, like assertions.

use std::io::Read;

use crate::error::Error;
use crate::shard::{read_shard_bytes, sample_key, ShardOptions, ShardWriter, StagedShard};
use crate::store::DataStore;

/// A behaviour of the suite, with its name for the failure message.
type Behaviour = (&'static str, fn(&dyn DataStore));

/// Every behaviour below, in turn, each on a store `fresh` makes (new and empty each time).
pub fn run_all<S: DataStore>(mut fresh: impl FnMut() -> S) {
    let behaviours: &[Behaviour] = &[
        (
            "publish_makes_the_shard_visible",
            publish_makes_the_shard_visible,
        ),
        ("same_content_is_stored_once", same_content_is_stored_once),
        (
            "different_content_is_never_clobbered",
            different_content_is_never_clobbered,
        ),
        ("unsafe_names_are_refused", unsafe_names_are_refused),
        ("staging_is_listed_apart", staging_is_listed_apart),
        (
            "remove_deletes_only_inside_the_store",
            remove_deletes_only_inside_the_store,
        ),
        (
            "concurrent_publishers_of_one_shard_agree",
            concurrent_publishers_of_one_shard_agree,
        ),
        (
            "a_stream_gives_the_bytes_published",
            a_stream_gives_the_bytes_published,
        ),
        ("ranged_reads_are_exact", ranged_reads_are_exact),
        (
            "a_missing_shard_has_no_size_and_does_not_open",
            a_missing_shard_has_no_size_and_does_not_open,
        ),
        (
            "listing_shows_every_published_shard_once",
            listing_shows_every_published_shard_once,
        ),
        (
            "unreadable_schemes_are_refused_by_name",
            unreadable_schemes_are_refused_by_name,
        ),
        (
            "a_local_path_when_offered_holds_the_same_bytes",
            a_local_path_when_offered_holds_the_same_bytes,
        ),
    ];
    for (name, behaviour) in behaviours {
        let store = fresh();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| behaviour(&store)));
        if let Err(panic) = run {
            eprintln!("store conformance: {name} failed on {}", store.location());
            std::panic::resume_unwind(panic);
        }
    }
}

/// The whole shard at `url`, streamed through [`open`](crate::store::ShardSource::open).
pub fn read_all(store: &dyn DataStore, url: &str) -> Vec<u8> {
    let mut opened = store.open(url).unwrap();
    let mut out = Vec::new();
    opened.reader.read_to_end(&mut out).unwrap();
    if let Some(n) = opened.len {
        assert_eq!(n, out.len() as u64, "{url}: announced length");
    }
    out
}

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

/// Opening a published shard streams exactly the bytes published: their digest is the staged
/// shard's, and they parse back into the samples written.
pub fn a_stream_gives_the_bytes_published(store: &dyn DataStore) {
    let samples: [&[u8]; 3] = [b"\x81\xa1a\x01", b"\x81\xa1a\x02", b"\x81\xa1a\x03"];
    let shard = stage(store, &samples);
    let (sha, bytes) = (shard.sha256.clone(), shard.bytes);
    let url = store.publish("d", "22222222", 0, shard).unwrap();
    let got = read_all(store, &url);
    assert_eq!(got.len() as u64, bytes);
    assert_eq!(crate::codec::sha256_hex(&got), sha);
    assert_eq!(store.size(&url).unwrap(), Some(bytes));
    let back = read_shard_bytes(&got, &url).unwrap();
    let data: Vec<&[u8]> = back.iter().map(|s| s.data.as_slice()).collect();
    assert_eq!(data, samples);
}

/// A ranged read returns exactly the bytes asked for, also the last ones and an empty range
/// at the end; a range running past the end is an error naming the URL and the offset, never
/// a short result.
pub fn ranged_reads_are_exact(store: &dyn DataStore) {
    let url = publish_one(store, "d", "33333333", 0, &[b"\x81\xa1a\x01"]);
    let all = read_all(store, &url);
    let size = all.len() as u64;
    assert_eq!(store.read_range(&url, 0, 512).unwrap(), all[..512]);
    assert_eq!(store.read_range(&url, 100, 7).unwrap(), all[100..107]);
    assert_eq!(
        store.read_range(&url, size - 10, 10).unwrap(),
        all[all.len() - 10..]
    );
    assert_eq!(store.read_range(&url, 0, size).unwrap(), all);
    assert!(store.read_range(&url, size, 0).unwrap().is_empty());
    for (offset, len) in [(size - 5, 10), (size, 1), (size + 100, 0), (0, u64::MAX)] {
        let err = store.read_range(&url, offset, len).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&url) && text.contains(&offset.to_string()),
            "{offset}+{len}: {text}"
        );
    }
}

/// A URL of the store where nothing is has no size, and opening or reading it is an error
/// naming it; so does a shard once removed.
pub fn a_missing_shard_has_no_size_and_does_not_open(store: &dyn DataStore) {
    let url = publish_one(store, "d", "44444444", 0, &[b"\x80"]);
    store.remove(&url).unwrap();
    assert_eq!(store.size(&url).unwrap(), None);
    for err in [
        store.open(&url).map(|_| ()).unwrap_err(),
        store.read_range(&url, 0, 1).map(|_| ()).unwrap_err(),
    ] {
        assert!(err.to_string().contains(&url), "{err}");
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
    }
}

/// The listing holds every published shard of every dataset once, with its size, and nothing
/// else (no staging file, no owner record).
pub fn listing_shows_every_published_shard_once(store: &dyn DataStore) {
    let owner = crate::store::StoreOwner {
        index_id: "conformance".into(),
        index_path: None,
    };
    store.set_owner(&owner, false).unwrap();
    let mut urls = vec![
        publish_one(store, "a", "55555555", 0, &[b"\x80"]),
        publish_one(store, "a", "55555555", 1, &[b"\x80", b"\x80"]),
        publish_one(store, "b", "66666666", 0, &[b"\x80"]),
    ];
    let _pending = stage(store, &[b"\x80"]);
    let listed = store.shards().unwrap();
    let mut got: Vec<String> = listed.iter().map(|f| f.url.clone()).collect();
    got.sort();
    urls.sort();
    assert_eq!(got, urls);
    for f in &listed {
        assert_eq!(Some(f.bytes), store.size(&f.url).unwrap(), "{}", f.url);
    }
}

/// URLs of a scheme the store cannot read are refused, by scheme and URL, by every read.
pub fn unreadable_schemes_are_refused_by_name(store: &dyn DataStore) {
    let url = "gopher://host/d/data--00000000--000000.tar";
    let errors = [
        store.check_url(url).unwrap_err(),
        store.open(url).map(|_| ()).unwrap_err(),
        store.read_range(url, 0, 1).unwrap_err(),
        store.size(url).unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains("'gopher'") && text.contains(url), "{text}");
    }
    assert_eq!(store.local_path(url), None);
}

/// When the store offers a local path for a shard (its one-copy fast path), that file holds
/// the bytes the stream gives.
pub fn a_local_path_when_offered_holds_the_same_bytes(store: &dyn DataStore) {
    let url = publish_one(store, "d", "77777777", 0, &[b"\x80"]);
    if let Some(path) = store.local_path(&url) {
        let (mut file, len) = crate::shard::open_shard_file(&path, &url).unwrap();
        let mut direct = Vec::new();
        file.read_to_end(&mut direct).unwrap();
        assert_eq!(len, direct.len() as u64);
        assert_eq!(direct, read_all(store, &url));
    }
}
