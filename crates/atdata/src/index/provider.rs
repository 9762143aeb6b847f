//! The [`Provider`] trait: the primitive operations an index backend must offer.
//!
//! A provider only persists and looks up; it never reads shards or decides names. Everything
//! built from these primitives (reference parsing, loading, search, verify, gc) lives on
//! [`Index`](crate::index::Index), so backends cannot drift apart. The pure rules a commit needs
//! (CID recipe, schema versions, the 0.7 metadata map) are shared functions in
//! [`entry`](crate::index::entry).

use std::fmt;

use crate::error::{Error, Result};
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
    fn commit_many(&self, entries: &[NewEntry]) -> Result<Vec<Committed>> {
        self.commit_many_if(entries, &mut || Ok(()))
    }

    /// [`commit_many`](Self::commit_many), running `check` first inside the transaction,
    /// holding the write lock: if it fails nothing is committed and its error is returned
    /// as it is (never retried here). The write path checks there that every shard file the
    /// entries reference is still in place, which [`while_locked`](Self::while_locked) makes
    /// race-free against garbage collection.
    fn commit_many_if(
        &self,
        entries: &[NewEntry],
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Committed>>;

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

    /// Every entry (every version of every name), oldest first. A row that cannot be read is
    /// an error naming it (dataset name and CID); [`listing`](Self::listing) reads the rest.
    fn entries(&self) -> Result<Vec<Entry>>;

    /// Every entry that can be read, oldest first, and an error for each row that cannot
    /// (naming its dataset and CID), so that one damaged row does not hide the others.
    fn listing(&self) -> Result<Listing> {
        Ok(Listing {
            entries: self.entries()?,
            skipped: Vec::new(),
        })
    }

    /// Runs `f` with the [`listing`](Self::listing) while holding the backend's write lock:
    /// no commit happens from the moment the entries are read until `f` returns. Garbage
    /// collection decides and deletes inside it, so a commit either comes before (its shards
    /// are referenced) or after (and finds, in its [`commit_many_if`](Self::commit_many_if)
    /// check, that a shard is gone). `f` must not call this provider.
    fn while_locked(&self, f: &mut dyn FnMut(Listing) -> Result<()>) -> Result<()>;

    /// The index's identity, a stable random id recorded in the index by the first write, or
    /// `None` when it has none yet (a file only Python atdata 0.7 wrote, opened read-only).
    /// Data stores record it to know which index they belong to.
    fn index_id(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Where the index is, for people (a file path), when it is anywhere.
    fn location(&self) -> Option<String> {
        None
    }

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
    ///
    /// `check` runs first inside the transaction, holding the write lock, as in
    /// [`commit_many_if`](Self::commit_many_if): the write path checks there that the new
    /// places are still in place (until this commit nothing references them, so a concurrent
    /// gc may have taken them); if it fails nothing changes and its error is returned.
    fn relocate_shards(
        &self,
        cid: &str,
        urls: &[String],
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Entry>;
}

/// What [`Provider::listing`] read.
#[derive(Debug, Default)]
pub struct Listing {
    /// The entries read, oldest first.
    pub entries: Vec<Entry>,
    /// One error per row that could not be read, naming its dataset and CID.
    pub skipped: Vec<Error>,
}

impl Listing {
    /// The entries, or the first skipped row's error when any was skipped.
    pub fn strict(self) -> Result<Vec<Entry>> {
        let more = self.skipped.len().saturating_sub(1);
        match self.skipped.into_iter().next() {
            None => Ok(self.entries),
            Some(e) if more == 0 => Err(e),
            Some(Error::Corrupt { location, reason }) => Err(Error::Corrupt {
                location,
                reason: format!("{reason} (and {more} more unreadable row(s))"),
            }),
            Some(e) => Err(e),
        }
    }
}
