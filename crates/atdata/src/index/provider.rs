//! The [`Provider`] trait: the primitive operations an index backend must offer.
//!
//! A provider only persists and looks up; it never reads shards or decides names. Everything
//! built from these primitives (reference parsing, loading, search, verify, gc) lives on
//! [`Index`](crate::index::Index), so backends cannot drift apart. The pure rules a commit needs
//! (CID recipe, schema versions, the 0.7 metadata map) are shared functions in
//! [`entry`](crate::index::entry).

use std::fmt;

use crate::error::Result;
use crate::index::entry::{Committed, Entry, NewEntry, ShardInfo};
use crate::schema::Schema;

/// An index backend (SQLite now; PostgreSQL and Redis next).
///
/// # Contract
///
/// - **One commit, one transaction.** [`commit`](Provider::commit) makes the entry, its dataset
///   version and (if needed) its schema record visible together or not at all. Inside that
///   transaction, holding the backend's write lock, it:
///   1. chooses the schema version with
///      [`decide_schema_version`](crate::index::entry::decide_schema_version) against the
///      records stored under the schema's name, storing a new record if it decides so;
///   2. computes the CID with [`entry_cid`](crate::index::entry::entry_cid) over the name, the
///      resulting schema reference and the shard digests;
///   3. if an entry with that CID exists, returns it unchanged (`created: false`);
///   4. otherwise assigns the next version of the name (`"1"`, `"2"`, ...: one above the
///      highest existing version, so concurrent writers never share or skip a number) and
///      stores the entry.
/// - **Visible once committed.** After `commit` returns, every later call on any handle to the
///   same index (any process) sees the entry; a crash before it returns leaves no trace of it.
/// - **Immutable entries.** Nothing but [`record_shard_info`](Provider::record_shard_info)
///   (which only fills unknown counts) and [`relocate_shards`](Provider::relocate_shards) (which
///   only moves where the same bytes are) changes a committed entry.
/// - **Versions are numeric strings.** Entries written by Python atdata 0.7 (which has no
///   versions) count as one above the previous version of their name in insertion order
///   (`1..n` in an index only 0.7 wrote).
/// - **Errors.** A busy or conflicting backend returns [`Error::Conflict`](crate::Error)
///   (retryable); lookups of missing things return `Ok(None)` or an empty list, not an error.
/// - Providers are `Send + Sync`; one handle may be shared by threads.
pub trait Provider: Send + Sync + fmt::Debug {
    /// The backend's type name (`SqliteProvider`), shown when listing repositories.
    fn kind(&self) -> &'static str;

    /// Commits one entry (see the contract).
    fn commit(&self, entry: &NewEntry) -> Result<Committed> {
        let mut out = self.commit_many(std::slice::from_ref(entry))?;
        out.pop().ok_or_else(|| {
            crate::Error::Database("commit_many returned no result for one entry".into())
        })
    }

    /// Commits several entries in ONE transaction, in order, each as [`commit`](Self::commit)
    /// would (an entry may reuse a schema or dedup against an earlier one of the same batch).
    /// All or nothing. This is what bulk imports use.
    fn commit_many(&self, entries: &[NewEntry]) -> Result<Vec<Committed>>;

    /// The entry with this CID.
    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>>;

    /// The entry of `name` at `version` (a version number; backends that hold Python 0.7
    /// labels may also resolve a label's version text).
    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>>;

    /// The newest version of `name`.
    fn latest_entry(&self, name: &str) -> Result<Option<Entry>>;

    /// The versions of `name`, oldest first.
    fn versions(&self, name: &str) -> Result<Vec<String>>;

    /// Every dataset name, sorted.
    fn names(&self) -> Result<Vec<String>>;

    /// Every entry (every version of every name), oldest first.
    fn entries(&self) -> Result<Vec<Entry>>;

    /// Every schema record, in the order they were stored.
    fn schemas(&self) -> Result<Vec<Schema>>;

    /// The schema record `name@version`.
    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>>;

    /// Records per-shard facts learned by scanning an entry whose counts were unknown (one
    /// written by Python atdata 0.7), so the next load need not scan. Known facts are kept;
    /// `shards` are in the order of the entry's `data_urls`.
    fn record_shard_info(&self, cid: &str, shards: &[ShardInfo]) -> Result<()>;

    /// Points the shards of entry `cid` at `urls` (one per shard, in order): new places of the
    /// same bytes, which the caller has checked (same digests). Everything else stays: CID,
    /// version, counts, digests, metadata. 0.7's `data_urls` and its `checksums` keys follow
    /// the new URLs. This is how indexing a dataset again with `copy` moves an entry that
    /// pointed at files outside the store onto the store's copies, since both have one CID.
    /// An unknown CID is [`Error::NotFound`](crate::Error); a URL count that differs from the
    /// entry's shards, or an entry Python atdata 0.7 wrote (its CID covers its URLs), is
    /// [`Error::InvalidArgument`](crate::Error). Returns the entry as it now is.
    fn relocate_shards(&self, cid: &str, urls: &[String]) -> Result<Entry>;
}
