//! Removing what no entry needs: shard files in the stores that no entry references (left by
//! writes that failed or were killed between publishing and committing) and stale staging
//! files (left by writers that died while writing).
//!
//! Deleting is only safe when the index knows every entry that may reference the store, so gc
//! first proves that the store is its own and that it read every entry:
//!
//! - the store must record this index as its owner ([`StoreOwner`], written at the first
//!   write); a store that records another index, or none (written by Python atdata 0.7 or an
//!   earlier build), is refused unless claimed ([`GcOptions::claim`]);
//! - a store holding shards of which no entry references any is refused unless forced
//!   ([`GcOptions::force`]): that is what a wrong, new or emptied index looks like;
//! - an index row that cannot be read stops gc, since what it references is unknown.
//!
//! Only stores given to the index explicitly are collected, never the fallback default store,
//! which other indexes may share.
//!
//! Against concurrent writers: the referenced set is read, and each candidate's age checked
//! and the file deleted, while holding the index's write lock
//! (inside one [`Provider::write`]), so no entry can be committed in between. A writer publishes
//! before it commits, though, and re-publishing identical content only touches the existing
//! file; so a file younger than the grace period is never removed (publishing refreshes its
//! modification time), and the commit itself checks, under the same lock, that every shard
//! it references is still there (see `index::write`). A committed entry never points at a
//! shard gc removed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::index::provider::{Listing, Provider, ProviderExt};
use crate::index::scan::expand_url;
use crate::index::{Index, Repository};
use crate::store::{DataStore, StoreOwner, StoredFile};

/// How [`Index::gc_with`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Only report what would be removed (and claimed).
    pub dry_run: bool,
    /// Files modified more recently than this are kept (writes in progress).
    pub grace: Duration,
    /// Record this index as the owner of its stores first, also of a store that records
    /// none (written by Python atdata 0.7 or an earlier build) or another index (this one was
    /// rebuilt). Only for a store whose shards this index really references.
    pub claim: bool,
    /// Collect even from a store that holds shards none of which any entry references (which
    /// otherwise means the index is the wrong one, or new, or emptied).
    pub force: bool,
}

impl GcOptions {
    /// The grace period of [`Index::gc`]: longer than any write waits for the index lock.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

    /// Options with the default grace period, claiming and forcing nothing.
    pub fn new(dry_run: bool) -> Self {
        GcOptions {
            dry_run,
            grace: Self::DEFAULT_GRACE,
            claim: false,
            force: false,
        }
    }
}

/// What [`Index::gc`] found (and, unless a dry run, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Whether nothing was removed.
    pub dry_run: bool,
    /// Shard files no entry references.
    pub shards: Vec<StoredFile>,
    /// Stale staging files.
    pub staging: Vec<StoredFile>,
    /// Unreferenced files kept because they are younger than the grace period.
    pub kept_recent: usize,
    /// Stores claimed for this index (or, in a dry run, that would be), by location.
    pub claimed: Vec<String>,
}

impl GcReport {
    /// Bytes the listed files take.
    pub fn bytes(&self) -> u64 {
        self.shards
            .iter()
            .chain(&self.staging)
            .map(|f| f.bytes)
            .sum()
    }
}

impl Index {
    /// Finds, and unless `dry_run` removes, unreferenced shard files and stale staging files
    /// older than [`GcOptions::DEFAULT_GRACE`] in the stores of this index's repositories
    /// (see the module docs for what it refuses).
    pub fn gc(&self, dry_run: bool) -> Result<GcReport> {
        self.gc_with(&GcOptions::new(dry_run))
    }

    /// [`Index::gc`] with explicit options.
    pub fn gc_with(&self, opts: &GcOptions) -> Result<GcReport> {
        let repos = self.repos();
        let mut report = GcReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        // Each store once, with the repository whose index must own it.
        let mut stores: Vec<(Arc<dyn DataStore>, &str, &Repository)> = Vec::new();
        for (name, repo) in &repos {
            let Some(s) = &repo.store else { continue };
            match stores
                .iter()
                .find(|(o, _, _)| Arc::ptr_eq(o, s) || o.location() == s.location())
            {
                Some((_, other, first)) if !same_index(first, repo)? => {
                    return Err(refuse(format!(
                        "the store at '{}' is used by repositories '{other}' and '{name}' of \
                         different indexes; gc collects a store only from the index that owns it",
                        s.location()
                    )));
                }
                Some(_) => {}
                None => stores.push((s.clone(), name, repo)),
            }
        }
        // Every check before anything changes (a claim included): the references, then the
        // owners. Then again under the lock, where the decisions are made.
        let mut planned = Vec::with_capacity(stores.len());
        for (store, _, repo) in &stores {
            // References from the other repositories (a store may hold their shards too).
            let mut others: HashSet<String> = HashSet::new();
            for other in repos.values() {
                if !Arc::ptr_eq(&other.provider, &repo.provider) {
                    others.extend(read_references(other.provider.as_ref(), store.as_ref())?);
                }
            }
            let mut refs = read_references(repo.provider.as_ref(), store.as_ref())?;
            refs.extend(others.iter().cloned());
            check_references(repo, store.as_ref(), &store.shards()?, &refs, opts)?;
            planned.push((store, repo, others));
        }
        for (store, _, repo) in &stores {
            check_owner(repo, store.as_ref(), opts, false, &mut report)?;
        }
        for (store, _, repo) in &stores {
            check_owner(repo, store.as_ref(), opts, true, &mut report)?;
        }
        for (store, repo, others) in planned {
            let mut collect = |listing: Listing| {
                refuse_skipped(repo.provider.as_ref(), &listing)?;
                let mut refs = referenced(&listing, store.as_ref())?;
                refs.extend(others.iter().cloned());
                collect_store(repo, store.as_ref(), &refs, opts, &mut report)
            };
            if opts.dry_run {
                collect(repo.provider.listing()?)?;
            } else {
                repo.provider.write(&mut |tx| collect(tx.listing()?))?;
            }
        }
        Ok(report)
    }
}

/// Every shard URL the entries of `p` reference, as `store` resolves them; refuses when a row
/// cannot be read.
fn read_references(p: &dyn Provider, store: &dyn DataStore) -> Result<HashSet<String>> {
    let listing = p.listing()?;
    refuse_skipped(p, &listing)?;
    referenced(&listing, store)
}

fn same_index(a: &Repository, b: &Repository) -> Result<bool> {
    Ok(Arc::ptr_eq(&a.provider, &b.provider)
        || (a.provider.index_id()?.is_some() && a.provider.index_id()? == b.provider.index_id()?))
}

/// A gc refusal: nothing was removed.
fn refuse(why: String) -> Error {
    Error::invalid(format!("gc refused, nothing was removed: {why}"))
}

fn index_name(p: &dyn Provider) -> String {
    p.location().map_or_else(
        || "this in-memory index".to_string(),
        |l| format!("the index at '{l}'"),
    )
}

/// The command that claims `store` for the index of `repo`, for error messages.
fn claim_command(p: &dyn Provider, store: &dyn DataStore) -> String {
    match p.location() {
        Some(l) => format!(
            "`atdata gc --index '{l}' --store '{}' --claim` (GcOptions::claim in the library)",
            store.location()
        ),
        None => "GcOptions::claim".to_string(),
    }
}

/// Checks that `repo`'s index owns `store`; with `claim_now`, claims it when asked (a first
/// pass only checks, so that nothing is claimed when another store is refused).
fn check_owner(
    repo: &Repository,
    store: &dyn DataStore,
    opts: &GcOptions,
    claim_now: bool,
    report: &mut GcReport,
) -> Result<()> {
    let p = repo.provider.as_ref();
    let id = p.index_id()?;
    let owner = store.owner()?;
    if owner.is_some() && owner.as_ref().map(|o| &o.index_id) == id.as_ref() {
        return Ok(());
    }
    if !opts.claim {
        let whose = match &owner {
            Some(o) => format!(
                "it belongs to another index ({}, id {}), not to {} (id {})",
                o.index_path
                    .as_deref()
                    .map_or_else(|| "location unknown".to_string(), |l| format!("'{l}'")),
                o.index_id,
                index_name(p),
                id.as_deref().unwrap_or("none yet")
            ),
            None => format!(
                "it records no owning index (written by atdata 0.7 or an earlier build), so \
                 {} cannot know that its entries are all that reference it",
                index_name(p)
            ),
        };
        return Err(refuse(format!(
            "the store at '{}': {whose}. If this index really is the one whose datasets live \
             there, claim the store with {}",
            store.location(),
            claim_command(p, store)
        )));
    }
    if !claim_now {
        return Ok(());
    }
    report.claimed.push(store.location());
    if opts.dry_run {
        return Ok(());
    }
    let id = id.ok_or_else(|| {
        refuse(format!(
            "{} has no identity to record in the store (open it for writing)",
            index_name(p)
        ))
    })?;
    store.set_owner(
        &StoreOwner {
            index_id: id,
            index_path: p.location(),
        },
        true,
    )?;
    Ok(())
}

fn refuse_skipped(p: &dyn Provider, listing: &Listing) -> Result<()> {
    if listing.skipped.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = listing.skipped.iter().map(|e| e.to_string()).collect();
    Err(refuse(format!(
        "{} has {} row(s) that cannot be read, so what they reference is unknown: {}",
        index_name(p),
        rows.len(),
        rows.join("; ")
    )))
}

/// Every file the entries reference, as readers resolve their URLs: a brace pattern in a row
/// Python atdata 0.7 wrote names every file it expands to (see `scan::expand_url`), which
/// must all count as referenced, or gc would delete a 0.7 dataset's shards. `store`, the store
/// being collected, answers whether a URL with braces names a file as it stands.
fn referenced(listing: &Listing, store: &dyn DataStore) -> Result<HashSet<String>> {
    let mut refs = HashSet::new();
    for e in &listing.entries {
        for s in &e.shards {
            for url in expand_url(store, e, &s.url)? {
                refs.insert(normal_url(url));
            }
        }
    }
    Ok(refs)
}

/// Refuses a store holding shards none of which `refs` names, unless forced.
fn check_references(
    repo: &Repository,
    store: &dyn DataStore,
    shards: &[StoredFile],
    refs: &HashSet<String>,
    opts: &GcOptions,
) -> Result<()> {
    let is_referenced = |f: &StoredFile| refs.contains(&normal_url(f.url.clone()));
    if !opts.force && !shards.is_empty() && !shards.iter().any(is_referenced) {
        return Err(refuse(format!(
            "no entry of {} references any of the {} shard file(s) in the store at '{}': \
             the index is not the one these datasets were written with, or it was emptied. \
             If they really are garbage, run gc again with --force (GcOptions::force)",
            index_name(repo.provider.as_ref()),
            shards.len(),
            store.location()
        )));
    }
    Ok(())
}

/// Lists `store` and removes (unless a dry run) what `refs` does not name and is old enough.
fn collect_store(
    repo: &Repository,
    store: &dyn DataStore,
    refs: &HashSet<String>,
    opts: &GcOptions,
    report: &mut GcReport,
) -> Result<()> {
    let now = SystemTime::now();
    let old = |f: &StoredFile| {
        f.modified
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= opts.grace)
    };
    let shards = store.shards()?;
    check_references(repo, store, &shards, refs, opts)?;
    let is_referenced = |f: &StoredFile| refs.contains(&normal_url(f.url.clone()));
    for f in shards {
        if is_referenced(&f) {
            continue;
        }
        if !old(&f) {
            report.kept_recent += 1;
            continue;
        }
        if !opts.dry_run {
            remove(store, &f.url)?;
        }
        report.shards.push(f);
    }
    for f in store.staging_files()? {
        if !old(&f) || store.in_use(&f.url) {
            report.kept_recent += 1;
            continue;
        }
        if !opts.dry_run {
            remove(store, &f.url)?;
        }
        report.staging.push(f);
    }
    Ok(())
}

/// Removes a file; one that vanished meanwhile (another gc) is fine.
fn remove(store: &dyn DataStore, url: &str) -> Result<()> {
    match store.remove(url) {
        Err(crate::Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}

fn normal_url(url: String) -> String {
    match url.strip_prefix("file://") {
        Some(p) => p.to_string(),
        None => url,
    }
}
