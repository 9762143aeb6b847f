//! Removing what no entry needs: shard files in the stores that no entry references (left by
//! writes that failed or were killed between publishing and committing) and stale staging
//! files (left by writers that died while writing).
//!
//! A file younger than the grace period is never removed: it may belong to a write in
//! progress (publishing refreshes a shard's modification time just before the commit). Only
//! stores given to the index explicitly are collected, never the fallback default store, which
//! other indexes may share; and a store shared with another index must not be collected from
//! this one, since its entries are not known here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::Result;
use crate::index::Index;
use crate::store::{DataStore, StoredFile};

/// How [`Index::gc_with`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Files modified more recently than this are kept (writes in progress).
    pub grace: Duration,
}

impl GcOptions {
    /// The grace period of [`Index::gc`]: longer than any write waits for the index lock.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

    /// Options with the default grace period.
    pub fn new(dry_run: bool) -> Self {
        GcOptions {
            dry_run,
            grace: Self::DEFAULT_GRACE,
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
    /// older than [`GcOptions::DEFAULT_GRACE`] in the stores of this index's repositories.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport> {
        self.gc_with(&GcOptions::new(dry_run))
    }

    /// [`Index::gc`] with explicit options.
    pub fn gc_with(&self, opts: &GcOptions) -> Result<GcReport> {
        let repos = self.repos();
        // Stores may be shared between repositories: collect every reference first.
        let mut referenced: HashSet<String> = HashSet::new();
        for repo in repos.values() {
            for e in repo.provider.entries()? {
                referenced.extend(e.shards.into_iter().map(|s| normal_url(s.url)));
            }
        }
        let mut stores: Vec<Arc<dyn DataStore>> = Vec::new();
        for repo in repos.values() {
            if let Some(s) = &repo.store {
                if !stores.iter().any(|o| Arc::ptr_eq(o, s)) {
                    stores.push(s.clone());
                }
            }
        }
        let now = SystemTime::now();
        let old = |f: &StoredFile| {
            f.modified
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= opts.grace)
        };
        let mut report = GcReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        // Seen by URL, so that one store mounted twice is not collected twice.
        let mut seen: HashSet<String> = HashSet::new();
        for store in &stores {
            for f in store.shards()? {
                if referenced.contains(&normal_url(f.url.clone())) || !seen.insert(f.url.clone()) {
                    continue;
                }
                if !old(&f) {
                    report.kept_recent += 1;
                    continue;
                }
                if !opts.dry_run {
                    remove(store.as_ref(), &f.url)?;
                }
                report.shards.push(f);
            }
            for f in store.staging_files()? {
                if !seen.insert(f.url.clone()) {
                    continue;
                }
                if !old(&f) {
                    report.kept_recent += 1;
                    continue;
                }
                if !opts.dry_run {
                    remove(store.as_ref(), &f.url)?;
                }
                report.staging.push(f);
            }
        }
        Ok(report)
    }
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
