//! The [`Provider`] trait: the primitive operations an index backend must offer, and
//! [`ProviderExt`], everything built once on top of them for every backend.
//!
//! A provider only persists and looks up; it never decides a CID, a version or a schema
//! version, reads shards or resolves names. The commit algorithm (schema decision, CID, dedup,
//! version numbers, labels, bulk batches) is [`commit`](crate::index::commit), written once on
//! the [`WriteTx`] primitives; listing, names and search are built on the one listing
//! primitive [`Provider::list`]. A new backend implements SQL (or keys) for these primitives
//! and nothing else, and runs the conformance suite's `run_all`.

use std::fmt;

use crate::error::{Error, Result};
use crate::index::entry::{Committed, Entry, NewEntry, ShardInfo};
use crate::schema::Schema;

/// An index backend (SQLite now; PostgreSQL and Redis next).
///
/// # Contract
///
/// - **One write, one transaction.** [`write`](Provider::write) runs `f` inside one
///   transaction holding the backend's write lock (no other writer, in any process, runs
///   meanwhile) and commits it if and only if `f` returns `Ok`; an error, or a crash before
///   `write` returns, leaves no trace. A backend may run `f` again after a retryable conflict
///   (a busy lock, a serialization failure): `f` must reset anything it captured at its start.
///   Errors `f` returns are returned as they are.
/// - **Visible once committed.** After `write` returns, every later read on any handle to the
///   same index sees what it wrote.
/// - **Immutable entries.** An entry, once inserted, changes only through
///   [`WriteTx::update_shards`] (new places of the same bytes, or facts that were unknown).
/// - **Versions are numeric strings.** Entries written by Python atdata 0.7 (which has no
///   versions) count as one above the previous version of their name in insertion order
///   (`1..n` in an index only 0.7 wrote); [`WriteTx::highest_version`] and the reads agree.
/// - **Reads are consistent.** One read call sees one committed state.
/// - **Errors.** A busy or conflicting backend returns [`Error::Conflict`] (retryable);
///   lookups of missing things return `Ok(None)` or an empty list, not an error. Backend
///   errors (SQL, network) become [`Error::Database`] / [`Error::Conflict`] inside the backend's
///   module, naming the index.
/// - Providers are `Send + Sync`; one handle may be shared by threads.
pub trait Provider: Send + Sync + fmt::Debug {
    /// The backend's type name (`SqliteProvider`), shown when listing repositories.
    fn kind(&self) -> &'static str;

    /// Where the index is, for people (a file path, a server), when it is anywhere.
    fn location(&self) -> Option<String> {
        None
    }

    /// The index's identity, a stable random id recorded in the index by the first write, or
    /// `None` when it has none yet (a file only Python atdata 0.7 wrote, opened read-only).
    /// Data stores record it to know which index they belong to.
    fn index_id(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Runs `f` in one write transaction (see the contract).
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()>;

    /// The entry with this CID.
    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>>;

    /// The entry of `name` at `version` (a version number; backends that hold Python 0.7
    /// labels may also resolve a label's version text).
    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>>;

    /// The newest version of `name`.
    fn latest_entry(&self, name: &str) -> Result<Option<Entry>>;

    /// The versions of `name`, oldest first.
    fn versions(&self, name: &str) -> Result<Vec<String>>;

    /// One page of the entries `query` selects (every version of every name it matches),
    /// oldest first. A row that cannot be read is not an error of the page: it goes to
    /// [`Page::skipped`], naming its dataset and CID, so one damaged row hides no other.
    fn list(&self, query: &ListQuery) -> Result<Page>;

    /// Every dataset name, sorted. The default reads the whole listing; a backend that can
    /// ask for distinct names alone should.
    fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .list(&ListQuery::default())?
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    /// Every schema record, in the order they were stored. Records no reader could use are
    /// left out (their lookup by [`schema`](Self::schema) reports them).
    fn schemas(&self) -> Result<Vec<Schema>>;

    /// The schema record `name@version`; an unreadable record is [`Error::Corrupt`] naming it.
    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>>;

    /// The record of `name` with the highest version (semver order, see
    /// [`semver_key`](crate::index::entry::semver_key)).
    fn newest_schema(&self, name: &str) -> Result<Option<Schema>>;
}

/// The primitives of one write transaction (see [`Provider::write`]). Only the commit
/// algorithms of [`commit`](crate::index::commit) and garbage collection use them.
pub trait WriteTx {
    /// Every schema record stored under `name`, in any order. A record that cannot be parsed
    /// still holds its version: it is returned with no fields, so that version is never handed
    /// out again.
    fn schemas_of(&mut self, name: &str) -> Result<Vec<Schema>>;

    /// Stores a schema record (its `name`, `version` and `created_at` are set). A record of
    /// that name and version already there is an error.
    fn insert_schema(&mut self, schema: &Schema) -> Result<()>;

    /// The highest version of `name`, 0 when it has none.
    fn highest_version(&mut self, name: &str) -> Result<u64>;

    /// Stores `entry` (its version set) unless an entry with its CID exists: then nothing is
    /// written and that entry is returned.
    fn insert_entry(&mut self, entry: &Entry) -> Result<Option<Entry>>;

    /// Points the label `version` of `name` (the unversioned one for `None`, which is how
    /// Python atdata 0.7 resolves a bare name) at `entry`, replacing what it pointed at.
    fn set_label(&mut self, name: &str, version: Option<&str>, entry: &Entry) -> Result<()>;

    /// The entry with this CID, as this transaction sees it.
    fn entry_by_cid(&mut self, cid: &str) -> Result<Option<Entry>>;

    /// Stores `entry`'s shards (URLs and facts), `num_samples` and version for its CID; its
    /// name, schema and the rest stay as they are. Backends that keep 0.7's columns make them
    /// follow the URLs.
    fn update_shards(&mut self, entry: &Entry) -> Result<()>;

    /// Every entry that can be read, oldest first, and an error for each that cannot.
    fn listing(&mut self) -> Result<Listing>;

    /// A hint before `entries` (prepared, their versions not yet set) are inserted in order:
    /// a backend on a server may learn here, in one round trip, which of their CIDs exist and
    /// the highest version of each of their names, instead of one round trip per entry in
    /// [`insert_entry`](Self::insert_entry) and [`highest_version`](Self::highest_version).
    /// What those answer must not change. The default does nothing.
    fn prefetch(&mut self, entries: &[Entry]) -> Result<()> {
        let _ = entries;
        Ok(())
    }
}

/// What a [`WriteTx::prefetch`] still has to ask its server about `entries`: the CIDs that
/// `known_cid` does not know and the distinct names `known_name` does not (sorted), so that
/// every backend skips what its write already learned the same way.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) fn unknown_keys(
    entries: &[Entry],
    known_cid: impl Fn(&str) -> bool,
    known_name: impl Fn(&str) -> bool,
) -> (Vec<&str>, Vec<&str>) {
    let cids = entries
        .iter()
        .map(|e| e.cid.as_str())
        .filter(|c| !known_cid(c))
        .collect();
    let mut names: Vec<&str> = entries
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| !known_name(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    (cids, names)
}

/// What [`Provider::list`] selects. The default selects everything, in one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only names starting with this.
    pub name_prefix: Option<String>,
    /// Only entries carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only entries whose schema reference is exactly this.
    pub schema_ref: Option<String>,
    /// Where to go on: the [`Page::next`] of the previous page.
    pub cursor: Option<String>,
    /// At most this many rows per page (`None`: all).
    pub limit: Option<usize>,
}

impl ListQuery {
    /// Whether `entry` passes the filters (not the cursor or limit): what a backend that
    /// cannot push a filter into its query applies to what it read.
    pub fn matches(&self, entry: &Entry) -> bool {
        self.name_prefix
            .as_deref()
            .is_none_or(|p| entry.name.starts_with(p))
            && self
                .schema_ref
                .as_deref()
                .is_none_or(|s| entry.schema_ref == s)
            && self.tags.iter().all(|t| entry.tags.contains(t))
    }
}

/// One page of a [`Provider::list`].
#[derive(Debug, Default)]
pub struct Page {
    /// The entries read, oldest first. A page may hold fewer than the limit (filters a
    /// backend applies after its query) and still not be the last.
    pub entries: Vec<Entry>,
    /// One error per row that could not be read, naming its dataset and CID.
    pub skipped: Vec<Error>,
    /// The cursor of the next page, `None` after the last.
    pub next: Option<String>,
}

/// What a listing read: the entries, and the rows it could not read.
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

/// What every provider can do, built once on its primitives (see
/// [`commit`](crate::index::commit)). Implemented for every [`Provider`], `dyn` included.
pub trait ProviderExt: Provider {
    /// Commits one entry: one [`write`](Provider::write) that chooses the schema version
    /// ([`decide_schema_version`](crate::index::entry::decide_schema_version)), stores a new
    /// schema record if it decides so, computes the CID
    /// ([`entry_cid`](crate::index::entry::entry_cid)), returns the entry with that CID
    /// unchanged if there is one (`created: false`), else stores the entry as the next
    /// version of its name (one above the highest) with its labels.
    fn commit(&self, entry: &NewEntry) -> Result<Committed> {
        let mut out = self.commit_many(std::slice::from_ref(entry))?;
        out.pop()
            .ok_or_else(|| Error::Database("commit_many returned no result for one entry".into()))
    }

    /// Commits several entries in ONE transaction, in order, each as [`commit`](Self::commit)
    /// would (an entry may reuse a schema or dedup against an earlier one of the same batch).
    /// All or nothing. This is what bulk imports use.
    fn commit_many(&self, entries: &[NewEntry]) -> Result<Vec<Committed>> {
        self.commit_many_if(entries, &mut || Ok(()))
    }

    /// [`commit_many`](Self::commit_many), running `check` first inside the transaction,
    /// holding the write lock: if it fails nothing is committed and its error is returned
    /// as it is. The write path checks there that every shard file the entries reference is
    /// still in place, which garbage collection (deciding inside a write) makes race-free.
    fn commit_many_if(
        &self,
        entries: &[NewEntry],
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<Committed>> {
        crate::index::commit::commit_many_if(self.as_dyn(), entries, check)
    }

    /// Points the shards of entry `cid` at `urls` (one per shard, in order): new places of the
    /// same bytes, which the caller has checked (same digests). Everything else stays: CID,
    /// version, counts, digests, metadata. This is how indexing a dataset again with `copy`
    /// moves an entry that pointed at files outside the store onto the store's copies, since
    /// both have one CID. An unknown CID is [`Error::NotFound`]; a URL count that differs from
    /// the entry's shards, or an entry Python atdata 0.7 wrote (its CID covers its URLs), is
    /// [`Error::InvalidArgument`]. Returns the entry as it now is.
    ///
    /// `check` runs first inside the transaction, as in
    /// [`commit_many_if`](Self::commit_many_if).
    fn relocate_shards(
        &self,
        cid: &str,
        urls: &[String],
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Entry> {
        crate::index::commit::relocate_shards(self.as_dyn(), cid, urls, check)
    }

    /// Records per-shard facts learned by scanning an entry whose counts were unknown (one
    /// written by Python atdata 0.7), so the next load need not scan. Known facts are kept;
    /// `shards` are in the order of the entry's `data_urls`.
    fn record_shard_info(&self, cid: &str, shards: &[ShardInfo]) -> Result<()> {
        crate::index::commit::record_shard_info(self.as_dyn(), cid, shards)
    }

    /// Stores the schema record `schema` (its own name and version) as it is, for callers
    /// that publish a schema before any entry uses it (atdata 0.7's `store_schema`). A record
    /// of that name and version with the same structure is kept (returns false); one with
    /// another structure is [`Error::AlreadyExists`]: entries name schemas by version and their
    /// CIDs cover that reference, so a stored record never changes under them.
    fn store_schema(&self, schema: &Schema) -> Result<bool> {
        crate::index::commit::store_schema(self.as_dyn(), schema)
    }

    /// Records `entry` as atdata 0.7's `IndexProvider.store_entry` does: as given, shards
    /// without digests unless the caller knows them, under a CID that must be 0.7's for its
    /// schema reference and URLs ([`python_entry_cid`](crate::codec::python_entry_cid)), as
    /// the next version of its name (its `version` and `created_at` are set here). Its schema
    /// record must be stored. An entry with that CID already there is returned unchanged
    /// (`created: false`): entries never change. Loading such an entry scans its shards, as
    /// for every entry 0.7 wrote.
    fn record_07_entry(&self, entry: &Entry) -> Result<Committed> {
        crate::index::commit::record_07_entry(self.as_dyn(), entry)
    }

    /// Every entry that can be read, oldest first, and an error for each row that cannot
    /// (naming its dataset and CID), so that one damaged row does not hide the others.
    fn listing(&self) -> Result<Listing> {
        list_all(self.as_dyn(), ListQuery::default())
    }

    /// Every entry [`listing`](Self::listing) reads; a row that cannot be read is an error
    /// naming it (dataset name and CID).
    fn entries(&self) -> Result<Vec<Entry>> {
        self.listing()?.strict()
    }

    /// This provider as a trait object.
    #[doc(hidden)]
    fn as_dyn(&self) -> &dyn Provider;
}

impl<P: Provider> ProviderExt for P {
    fn as_dyn(&self) -> &dyn Provider {
        self
    }
}

impl ProviderExt for dyn Provider + '_ {
    fn as_dyn(&self) -> &dyn Provider {
        self
    }
}

/// Every page of `query` (whatever its limit), joined.
pub fn list_all(p: &dyn Provider, mut query: ListQuery) -> Result<Listing> {
    let mut out = Listing::default();
    loop {
        let mut page = p.list(&query)?;
        // Appending to nothing would copy every entry once more.
        if out.entries.is_empty() {
            out.entries = page.entries;
        } else {
            out.entries.append(&mut page.entries);
        }
        out.skipped.append(&mut page.skipped);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// How many times [`retry_conflicts`] runs a call that keeps failing with a retryable error.
const CONFLICT_ATTEMPTS: u32 = 20;

/// Runs `f` again while it fails with a retryable error ([`Error::Conflict`]: a busy
/// database, a lost lock), backing off a little more each time, up to 20 attempts; then the
/// last error. What backends do inside [`Provider::write`] when their own transaction aborts.
pub fn retry_conflicts<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_retryable() && attempt + 1 < CONFLICT_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)));
            }
            other => return other,
        }
    }
}
