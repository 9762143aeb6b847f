//! Writing samples as shards straight into a store, without an index entry: what atdata
//! 0.7's `store.write_shards(ds, prefix=...)` does, after which the caller indexes the shards
//! itself (or not).
//!
//! It runs the same pieces as the index's write path: [`stage_shards`] (the one write loop)
//! into the store's staging area, then [`DataStore::publish`] under the one naming
//! rule of the store (`{prefix}/data--{content tag}--{i:06}.tar`). Every shard is complete and
//! hashed before the first is published, so a failed sample or encoding publishes nothing.
//! When publishing itself fails midway (a full disk, a lost connection), the shards already
//! published stay, unreferenced (the error names the one that failed): removing them could delete a file
//! another writer adopted meanwhile, and `gc` removes them safely after its grace period, as
//! it does for the index's own write path.
//!
//! Shards written here and never indexed are unreferenced files of the store: `gc` removes
//! them once they are older than its grace period, as it does any write that was never
//! committed. Indexed (their URLs committed in an entry), they are kept.

use crate::error::Result;
use crate::index::entry::content_tag;
use crate::shard::{stage_shards, ShardOptions, StagedShard};
use crate::store::DataStore;

/// Most samples per shard when the caller gives no limit: WebDataset's `ShardWriter` default,
/// which atdata 0.7's `write_shards` inherits.
pub const DEFAULT_MAXCOUNT: usize = 100_000;

/// Most bytes per shard when the caller gives no limit (WebDataset's `ShardWriter` default,
/// 3e9).
pub const DEFAULT_MAXSIZE: u64 = 3_000_000_000;

/// A shard [`write_shards`] published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenShard {
    /// The shard's URL in the store (an absolute path for a local store, `s3://...` for S3).
    pub url: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Samples in the shard.
    pub samples: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Writes `samples` (msgpack maps, in order; an `Err` item aborts) as shards of `store` under
/// the folder `prefix` and returns them in order. Limits left `None` in `opts` take 0.7's
/// defaults ([`DEFAULT_MAXCOUNT`], [`DEFAULT_MAXSIZE`]).
///
/// `prefix` must pass the store's name rule ([`DataStore::check_name`]); it is checked before
/// anything is read. No samples means no shards: `Ok` with an empty list, and nothing written.
/// On any failure nothing of this call stays visible (see the module docs).
pub fn write_shards(
    store: &dyn DataStore,
    prefix: &str,
    samples: impl IntoIterator<Item = Result<Vec<u8>>>,
    opts: ShardOptions,
) -> Result<Vec<WrittenShard>> {
    store.check_name(prefix)?;
    let opts = ShardOptions {
        maxcount: Some(opts.maxcount.unwrap_or(DEFAULT_MAXCOUNT)),
        maxsize: Some(opts.maxsize.unwrap_or(DEFAULT_MAXSIZE)),
    };
    let staged = stage_shards(&store.staging_dir()?, samples, opts)?;
    publish_all_or_none(store, prefix, staged)
}

/// Publishes `staged` as shards `0..` of `prefix`. If one fails, its error is returned and the
/// shards this call had already published are left in place, unreferenced, for `gc`: removing
/// them here could delete a file another writer adopted in the meantime (a publish of the same
/// content accepts the file that is there).
pub fn publish_all_or_none(
    store: &dyn DataStore,
    prefix: &str,
    staged: Vec<StagedShard>,
) -> Result<Vec<WrittenShard>> {
    let mut written = Vec::with_capacity(staged.len());
    for (i, shard) in staged.into_iter().enumerate() {
        let (sha256, samples, bytes) = (shard.sha256.clone(), shard.samples, shard.bytes);
        let url = store.publish(prefix, &content_tag(&sha256), i, shard)?;
        written.push(WrittenShard {
            url,
            sha256,
            samples,
            bytes,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::shard::{ShardReader, StagedShard};
    use crate::store::{LocalDiskStore, ShardSource, StoreOwner, StoredFile};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn sample(n: u8) -> Vec<u8> {
        // {"x": n}
        vec![0x81, 0xa1, b'x', n]
    }

    fn samples(n: u8) -> impl Iterator<Item = Result<Vec<u8>>> {
        (0..n).map(|i| Ok(sample(i)))
    }

    fn read_back(store: &dyn ShardSource, url: &str) -> Vec<(String, Vec<u8>)> {
        let opened = store.open(url).unwrap();
        ShardReader::new(opened.reader, url, opened.len)
            .map(|r| {
                let r = r.unwrap();
                (r.key, r.data)
            })
            .collect()
    }

    #[test]
    fn shards_are_published_in_order_under_the_one_naming_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        let opts = ShardOptions {
            maxcount: Some(2),
            maxsize: None,
        };
        let out = write_shards(&store, "mnist-v1", samples(5), opts).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(
            out.iter().map(|s| s.samples).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        let mut keys = Vec::new();
        for (i, s) in out.iter().enumerate() {
            let want = store
                .root()
                .join("mnist-v1")
                .join(crate::store::shard_file_name(&content_tag(&s.sha256), i));
            assert_eq!(s.url, want.display().to_string());
            use sha2::Digest;
            let bytes = std::fs::read(&want).unwrap();
            assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), s.sha256);
            assert_eq!(std::fs::metadata(&want).unwrap().len(), s.bytes);
            keys.extend(read_back(&store, &s.url));
        }
        let datas: Vec<_> = keys.iter().map(|(_, d)| d.clone()).collect();
        assert_eq!(datas, (0..5).map(sample).collect::<Vec<_>>());
        // Nothing left in staging.
        assert!(store.staging_files().unwrap().is_empty());
        // The store lists them as its shards (what gc sees).
        assert_eq!(store.shards().unwrap().len(), 3);
    }

    #[test]
    fn writing_again_reuses_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        let a = write_shards(&store, "d", samples(3), ShardOptions::default()).unwrap();
        let b = write_shards(&store, "d", samples(3), ShardOptions::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(store.shards().unwrap().len(), 1);
    }

    #[test]
    fn no_samples_writes_nothing_and_bad_prefixes_are_refused_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        let out = write_shards(&store, "d", samples(0), ShardOptions::default()).unwrap();
        assert!(out.is_empty());
        assert!(store.shards().unwrap().is_empty());
        for bad in ["", "../x", "a/b", ".staging"] {
            let pulled = AtomicUsize::new(0);
            let items = samples(3).inspect(|_| {
                pulled.fetch_add(1, Ordering::SeqCst);
            });
            let e = write_shards(&store, bad, items, ShardOptions::default()).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad:?}: {e}");
            assert_eq!(pulled.load(Ordering::SeqCst), 0, "{bad:?}: nothing read");
        }
    }

    #[test]
    fn a_failing_sample_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        let items = (0..5u8).map(|i| {
            if i == 3 {
                Err(Error::invalid("boom"))
            } else {
                Ok(sample(i))
            }
        });
        let opts = ShardOptions {
            maxcount: Some(1),
            maxsize: None,
        };
        let e = write_shards(&store, "d", items, opts).unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
        assert!(store.shards().unwrap().is_empty());
        assert!(store.staging_files().unwrap().is_empty());
    }

    /// A local store whose `publish` fails at the n-th call.
    #[derive(Debug)]
    struct FailingAt {
        inner: LocalDiskStore,
        fail_at: usize,
        calls: AtomicUsize,
    }

    impl ShardSource for FailingAt {
        fn check_url(&self, url: &str) -> Result<()> {
            self.inner.check_url(url)
        }
        fn open(&self, url: &str) -> Result<crate::store::OpenedShard> {
            self.inner.open(url)
        }
        fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
            self.inner.read_range(url, offset, len)
        }
        fn size(&self, url: &str) -> Result<Option<u64>> {
            self.inner.size(url)
        }
    }

    impl DataStore for FailingAt {
        fn kind(&self) -> &'static str {
            "FailingAt"
        }
        fn location(&self) -> String {
            self.inner.location()
        }
        fn owner(&self) -> Result<Option<StoreOwner>> {
            self.inner.owner()
        }
        fn set_owner(&self, owner: &StoreOwner, replace: bool) -> Result<StoreOwner> {
            self.inner.set_owner(owner, replace)
        }
        fn check_name(&self, dataset: &str) -> Result<()> {
            self.inner.check_name(dataset)
        }
        fn staging_dir(&self) -> Result<PathBuf> {
            self.inner.staging_dir()
        }
        fn publish(&self, d: &str, t: &str, i: usize, s: StagedShard) -> Result<String> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == self.fail_at {
                return Err(Error::io("publish", std::io::Error::other("disk full")));
            }
            self.inner.publish(d, t, i, s)
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

    #[test]
    fn a_failed_publish_leaves_what_was_published_for_gc() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDiskStore::new(dir.path()).unwrap();
        let opts = || ShardOptions {
            maxcount: Some(1),
            maxsize: None,
        };
        let store = FailingAt {
            inner: local.clone(),
            fail_at: 2,
            calls: AtomicUsize::new(0),
        };
        let e = write_shards(&store, "d", samples(3), opts()).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        // Shards 0 and 1 were published before the failure: complete files, left unreferenced
        // (gc's to remove), never half-written; nothing stays in staging.
        let left = local.shards().unwrap();
        assert_eq!(left.len(), 2);
        assert!(local.staging_files().unwrap().is_empty());
        let again = write_shards(&local, "d", samples(3), opts()).unwrap();
        assert_eq!(again.len(), 3, "a retry adopts the two and adds the third");
    }
}
