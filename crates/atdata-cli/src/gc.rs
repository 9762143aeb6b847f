//! `atdata gc [--dry-run] [--claim] [--force]`: remove shard files of the store that no entry
//! refers to, and stale staging files. Recent files are kept: they may belong to a write in
//! progress.
//!
//! gc only collects a store its index owns (the store records its owner at the first write),
//! from an index that exists and whose every row can be read, and refuses a store none of
//! whose shards the index references; `--claim` and `--force` override the last two checks
//! of ownership and emptiness (see `atdata gc --help`). A dry run opens everything read-only
//! and reports the same refusals.

use anyhow::Result;

use atdata::index::GcOptions;

use crate::context::Paths;
use crate::output::{human_bytes, Out};

/// Runs `gc`.
pub fn run(paths: &Paths, dry_run: bool, claim: bool, force: bool) -> Result<()> {
    let index = paths.open_for_gc(dry_run)?;
    let report = index.gc_with(&GcOptions {
        claim,
        force,
        ..GcOptions::new(dry_run)
    })?;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = Out::new();
    for store in &report.claimed {
        let claim = if dry_run { "would claim" } else { "claimed" };
        out.line(format!(
            "{claim} the store '{store}' for the index '{}'",
            paths.index.display()
        ))?;
    }
    for f in report.shards.iter().chain(&report.staging) {
        out.line(format!("{verb}  {}  ({})", f.url, human_bytes(f.bytes)))?;
    }
    let files = report.shards.len() + report.staging.len();
    let mut summary = format!(
        "{verb} {files} file(s), {} ({} unreferenced shard(s), {} staging file(s))",
        human_bytes(report.bytes()),
        report.shards.len(),
        report.staging.len()
    );
    if report.kept_recent > 0 {
        summary.push_str(&format!(
            "; kept {} recent unreferenced file(s) that may belong to a write in progress",
            report.kept_recent
        ));
    }
    out.line(summary)?;
    out.flush()
}
