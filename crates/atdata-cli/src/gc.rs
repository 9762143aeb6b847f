//! `atdata gc [--dry-run]`: remove shard files of the store that no entry refers to, and stale
//! staging files. Recent files are kept: they may belong to a write in progress.

use anyhow::Result;

use crate::context::Paths;
use crate::output::{human_bytes, Out};

/// Runs `gc`.
pub fn run(paths: &Paths, dry_run: bool) -> Result<()> {
    let index = paths.open_with_store()?;
    let report = index.gc(dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = Out::new();
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
