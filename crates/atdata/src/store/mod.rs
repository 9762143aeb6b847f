//! Data stores: where shard files live once published.
//!
//! This module owns the [`DataStore`] trait and its backends (one file each: [`local`], and
//! with the feature `s3`, `s3` with `S3DataStore`, S3-compatible object storage on the
//! `object_store` crate). A store places, reads, lists and removes shard files; it
//! does not write or parse tar bytes (that is `shard`) nor decide what a dataset is (that is
//! `index`). Its read side is a trait of its own, [`ShardSource`], because shards that belong
//! to no store (a path the user typed, an entry indexed in place) are read too: by
//! [`LocalFiles`], the one place a local path or `file://` URL becomes a reader. A
//! `Dataset` holds the source its URLs are read from.
//! The index stages shards with [`ShardWriter`](crate::shard::ShardWriter) in the store's
//! staging area, publishes them here, and only then commits the entry, so nothing a reader can
//! reach is ever partial.
//!
//! With the feature `s3`, remote shards are read too: `S3Source` (`s3://` of any bucket),
//! `HttpSource` (`http(s)://`), and `UrlSource`, which reads each URL by its scheme and is the
//! source a `Dataset` holds by default ([`default_source`]; [`source_over`] puts a store's own
//! source first). Their shared machinery (a blocking API over a runtime each source owns,
//! streamed ranged GETs, error mapping) is the private module `object`.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "s3")]
pub mod http;
pub mod local;
#[cfg(feature = "s3")]
mod object;
pub mod open;
#[cfg(feature = "s3")]
pub mod remote;
#[cfg(feature = "s3")]
pub mod s3;
pub mod write;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::Result;
use crate::shard::StagedShard;

#[cfg(feature = "s3")]
pub use self::http::HttpSource;
pub use local::{LocalDiskStore, LocalFiles};
#[cfg(feature = "s3")]
pub use object::ReadTuning;
pub use open::{open_store_location, open_store_location_for_reading, StoreLocation};
#[cfg(feature = "s3")]
pub use remote::UrlSource;
#[cfg(feature = "s3")]
pub use s3::{RetryPolicy, S3DataStore, S3Options, S3Source};
pub use write::{write_shards, WrittenShard};

/// The source a `Dataset` reads through when it was given none: [`LocalFiles`], or with the
/// feature `s3` a [`UrlSource`] (local files, `s3://` from the AWS environment, `http(s)://`).
pub fn default_source() -> std::sync::Arc<dyn ShardSource> {
    #[cfg(feature = "s3")]
    {
        std::sync::Arc::new(UrlSource::new())
    }
    #[cfg(not(feature = "s3"))]
    {
        LocalFiles::shared()
    }
}

/// The source for the entries of a repository whose store is `store`: the store's own
/// source, and with the feature `s3` also every other scheme (a [`UrlSource`] over it), since
/// an entry may name shards outside its store.
pub fn source_over(store: std::sync::Arc<dyn ShardSource>) -> std::sync::Arc<dyn ShardSource> {
    #[cfg(feature = "s3")]
    {
        std::sync::Arc::new(UrlSource::over(store))
    }
    #[cfg(not(feature = "s3"))]
    {
        store
    }
}

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

/// A shard opened for streaming by [`ShardSource::open`].
pub struct OpenedShard {
    /// The shard's bytes from the start, unbuffered or lightly buffered: readers put their own
    /// buffer in front, sized for how they read.
    pub reader: Box<dyn Read + Send>,
    /// The shard's size in bytes when the source knows it (it bounds member sizes).
    pub len: Option<u64>,
}

impl fmt::Debug for OpenedShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedShard")
            .field("len", &self.len)
            .finish()
    }
}

/// Where shard bytes are read from: the read side of a [`DataStore`], and of
/// [`LocalFiles`] for shards no store owns.
///
/// # Contract
///
/// - **Which URLs.** [`check_url`](ShardSource::check_url) says, without I/O, whether the
///   source can read a URL; a URL it cannot read is refused with
///   [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming its scheme and the URL
///   (the wording of [`shard::local_path`](crate::shard::local_path)). Every other method
///   refuses it the same way. A source reads more than the files it owns: the local store
///   reads every local path, since entries indexed in place name files outside it.
/// - **Streaming, bounded memory.** [`open`](ShardSource::open) returns the bytes as a stream
///   whatever the shard's size; memory held does not grow with it. Opening something that is
///   not a regular file or object (a FIFO, a device, a directory) is an error naming the URL,
///   never a read that blocks or never ends.
/// - **Ranged reads are exact.** [`read_range`](ShardSource::read_range) returns exactly
///   `len` bytes from `offset`; a range that runs past the end (also one starting there with
///   `len > 0`) is an error naming the URL, the offset and the size, never a short result. It
///   allocates only after checking the range against the size.
/// - **Size.** [`size`](ShardSource::size) is `None` when nothing is at the URL (a missing
///   file is not an error); something there that is not a regular file or object is an error
///   naming the URL, as from `open`.
/// - **Missing shards** are [`Error::Io`](crate::Error::Io) naming the URL (kind `NotFound`)
///   from `open` and `read_range`.
/// - **Fast path.** [`local_path`](ShardSource::local_path) is `Some` only when the URL is a
///   file on a local filesystem that callers may read directly (the one-copy batch reader
///   does); object stores return `None`. Callers that use it still open the file with
///   [`open_shard_file`](crate::shard::open_shard_file).
/// - Sources are `Send + Sync`.
pub trait ShardSource: Send + Sync + fmt::Debug {
    /// Checks, without I/O, that this source can read `url` (see the contract).
    fn check_url(&self, url: &str) -> Result<()>;

    /// Opens the shard at `url` for streaming from its first byte.
    fn open(&self, url: &str) -> Result<OpenedShard>;

    /// Exactly `len` bytes of the shard at `url` from byte `offset`.
    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// The size of the shard at `url`, or `None` when there is none.
    fn size(&self, url: &str) -> Result<Option<u64>>;

    /// The local file `url` names, when callers may read it directly.
    fn local_path(&self, url: &str) -> Option<PathBuf> {
        let _ = url;
        None
    }
}

/// Where shard files live: a [`ShardSource`] that also publishes, lists and removes.
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
///   committed. (An object store sets it by copying the object onto itself; where a backend
///   cannot, the index's write path still never commits a shard gc took: it checks every
///   shard under the index lock and publishes it again.)
/// - **Ownership.** A store records which index it belongs to ([`StoreOwner`]) the first time
///   an index writes to it; later writes of that or other indexes leave the record alone, and
///   only an explicit claim ([`set_owner`](DataStore::set_owner) with `replace`) changes it.
/// - **Reading** follows [`ShardSource`]'s contract; [`size`](ShardSource::size) of a URL
///   the store just published is what it published.
/// - **Listing** is [`shards`](DataStore::shards) (published shard files, in the layout
///   above) and [`staging_files`](DataStore::staging_files) (writes not yet published): the two
///   listings garbage collection needs, rather than a listing by arbitrary prefix, so that
///   callers never learn a backend's key layout. An object store lists under its prefix and
///   keeps the names that have the shard layout.
/// - **Delete only what the store owns.** [`remove`](DataStore::remove) refuses any URL
///   [`owns`](DataStore::owns) is false for (`InvalidArgument`), and says `NotFound` for a
///   file already gone. Whether a file is still referenced is the caller's question (garbage
///   collection checks it under the index's lock and checks the store's [`owner`](DataStore::owner)).
/// - Stores are `Send + Sync`.
pub trait DataStore: ShardSource {
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

    /// This store as a [`ShardSource`], for a `Dataset` to read through.
    fn as_source(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn ShardSource>;
}

/// The file name of shard `index` of a write tagged `tag`: `data--{tag}--{index:06}.tar`.
pub fn shard_file_name(tag: &str, index: usize) -> String {
    format!("data--{tag}--{index:06}.tar")
}

/// The path, relative to a store's root, where shard `index` of `dataset` tagged `tag` is
/// published (`{dataset}/data--{tag}--{index:06}.tar`): the checks every backend's
/// [`DataStore::publish`] makes before it writes anything (a safe dataset name, a tag of ASCII
/// letters and digits), in one place.
pub(crate) fn published_shard_path(dataset: &str, tag: &str, index: usize) -> Result<String> {
    check_dataset_name(dataset)?;
    let file_name = shard_file_name(tag, index);
    if !is_shard_file_name(&file_name) {
        return Err(crate::Error::invalid(format!(
            "shard tag {tag:?} must be ASCII letters and digits"
        )));
    }
    Ok(format!("{dataset}/{file_name}"))
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
