//! Data stores: where shard files live once published.
//!
//! This module owns the [`DataStore`] trait and its backends (one file each: [`local`] now,
//! S3-compatible object storage next). A store only places, lists and removes shard files; it
//! does not write tar bytes (that is `shard`) nor decide what a dataset is (that is `index`).
//! The index stages shards with [`ShardWriter`](crate::shard::ShardWriter) in the store's
//! staging area, publishes them here, and only then commits the entry, so nothing a reader can
//! reach is ever partial.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod local;

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::Result;
use crate::shard::StagedShard;

pub use local::LocalDiskStore;

/// A file in a store: a published shard or a staging leftover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The file's URL (an absolute path for local stores), as entries record it.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Last modification time, when the store knows it.
    pub modified: Option<SystemTime>,
}

/// Which index a store belongs to, as the store records it at its first write (see
/// [`DataStore::owner`]). Garbage collection only removes files from a store its index owns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreOwner {
    /// The owning index's identity ([`Provider::index_id`](crate::index::Provider::index_id)).
    pub index_id: String,
    /// Where that index was when it claimed the store, for people reading error messages.
    #[serde(default)]
    pub index_path: Option<String>,
}

/// Where shard files live.
///
/// # Contract
///
/// - **Atomic, no-clobber publish.** [`publish`](DataStore::publish) makes a staged shard
///   visible at its final URL all at once (a rename, or a conditional put): no reader ever sees
///   part of it. If a file with the same content is already there, publishing succeeds without a
///   second copy (the same data gives the same file names, see
///   [`content_tag`](crate::index::entry::content_tag)); if different content is there, it fails
///   with [`Error::AlreadyExists`](crate::Error::AlreadyExists) and leaves the existing file alone.
/// - **Layout.** Shard `i` of dataset `name` with tag `t` is
///   `{name}/data--{t}--{i:06}.tar` under the store's root, the layout of Python atdata 0.7.
/// - **Safe names.** Dataset names that could escape the root or collide with the store's own
///   files are refused with [`Error::InvalidArgument`](crate::Error::InvalidArgument) before anything is written.
/// - **Staging on the same medium.** [`staging_dir`](DataStore::staging_dir) is a local
///   directory where shards are written before publishing; for a local store it is inside the
///   root, so that publishing is a rename on one filesystem.
/// - **Publishing refreshes the modification time** of the file (new or existing), so a
///   concurrent garbage collection with a grace period never removes a shard about to be
///   committed.
/// - **Ownership.** A store records which index it belongs to ([`StoreOwner`]) the first time
///   an index writes to it; later writes of that or other indexes leave the record alone, and
///   only an explicit claim ([`set_owner`](DataStore::set_owner) with `replace`) changes it.
/// - Stores are `Send + Sync`.
pub trait DataStore: Send + Sync + fmt::Debug {
    /// The backend's type name (`LocalDiskStore`).
    fn kind(&self) -> &'static str;

    /// Where the store is (its root), for messages.
    fn location(&self) -> String;

    /// The index this store belongs to, or `None` when it records none (written by Python
    /// atdata 0.7, or by a build before stores recorded their owner, or never written).
    fn owner(&self) -> Result<Option<StoreOwner>>;

    /// Records `owner` as the store's owner when it has none, or always with `replace`, and
    /// returns the owner now recorded.
    fn set_owner(&self, owner: &StoreOwner, replace: bool) -> Result<StoreOwner>;

    /// The size of the published file at `url`, or `None` when there is none.
    fn published_size(&self, url: &str) -> Result<Option<u64>>;

    /// Whether the staging file at `url` belongs to a write still in progress (its writer
    /// holds it: see [`StagedShard`]), so garbage collection must leave it, however old.
    fn in_use(&self, url: &str) -> bool {
        let _ = url;
        false
    }

    /// Checks that `dataset` can name a folder of this store.
    fn check_name(&self, dataset: &str) -> Result<()>;

    /// The local directory where shards are staged before [`publish`](Self::publish) (created).
    fn staging_dir(&self) -> Result<PathBuf>;

    /// Publishes a staged shard as shard `index` of `dataset`, in a file named with `tag` (the
    /// start of its digest, see [`content_tag`](crate::index::entry::content_tag)), and returns
    /// its URL (see the contract).
    fn publish(&self, dataset: &str, tag: &str, index: usize, shard: StagedShard)
        -> Result<String>;

    /// Every published shard file in the store.
    fn shards(&self) -> Result<Vec<StoredFile>>;

    /// Every file in the staging area (normally only writes in progress or leftovers of writers
    /// that died).
    fn staging_files(&self) -> Result<Vec<StoredFile>>;

    /// Whether `url` names a file inside this store.
    fn owns(&self, url: &str) -> bool;

    /// Removes the file at `url` (a shard or a staging file); refuses URLs outside the store.
    fn remove(&self, url: &str) -> Result<()>;
}

/// The file name of shard `index` of a write tagged `tag`: `data--{tag}--{index:06}.tar`.
pub fn shard_file_name(tag: &str, index: usize) -> String {
    format!("data--{tag}--{index:06}.tar")
}

/// Whether `file_name` has the shape of [`shard_file_name`].
pub fn is_shard_file_name(file_name: &str) -> bool {
    let Some(rest) = file_name
        .strip_prefix("data--")
        .and_then(|r| r.strip_suffix(".tar"))
    else {
        return false;
    };
    match rest.split_once("--") {
        Some((tag, n)) => {
            !tag.is_empty()
                && tag.bytes().all(|b| b.is_ascii_alphanumeric())
                && n.len() >= 6
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The one dataset name rule, which lives with the index (a name must be valid without a
/// store too); re-exported here for stores.
pub use crate::index::reference::check_dataset_name;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn names_that_escape_are_refused() {
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", "a\\b", "a\0b", ".staging", ".hidden", "a\nb",
        ] {
            let e = check_dataset_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad:?}: {e}");
        }
        assert!(check_dataset_name(&"x".repeat(256)).is_err());
        for good in ["docs-v1", "embeddings_v1", "a.b", "数据", "x..y"] {
            check_dataset_name(good).unwrap();
        }
    }

    #[test]
    fn shard_file_names() {
        let n = shard_file_name("078fef77", 1);
        assert_eq!(n, "data--078fef77--000001.tar");
        assert!(is_shard_file_name(&n));
        assert!(is_shard_file_name("data--3bd5dbe5--1000000.tar"));
        for bad in [
            "data--x--1.tar",
            "data----000000.tar",
            "other.tar",
            "data--a--000000.tmp",
        ] {
            assert!(!is_shard_file_name(bad), "{bad}");
        }
    }
}
