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
pub fn run(paths: &Paths, opts: &GcOptions, json: bool) -> Result<()> {
    let dry_run = opts.dry_run;
    let index = paths.open_for_gc(dry_run)?;
    let report = index.gc_with(opts)?;
    if json {
        let files = |fs: &[atdata::store::StoredFile]| -> Vec<serde_json::Value> {
            fs.iter()
                .map(|f| serde_json::json!({"url": f.url, "bytes": f.bytes}))
                .collect()
        };
        let mut out = Out::new();
        out.line(serde_json::to_string_pretty(&serde_json::json!({
            "dry_run": dry_run,
            "claimed": report.claimed,
            "shards": files(&report.shards),
            "staging": files(&report.staging),
            "kept_recent": report.kept_recent,
            "bytes": report.bytes(),
        }))?)?;
        return out.flush();
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = Out::new();
    for store in &report.claimed {
        let claim = if dry_run { "would claim" } else { "claimed" };
        out.line(format!(
            "{claim} the store '{store}' for the index '{}'",
            paths.index_shown()
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

/// Parses a grace period: a whole number followed by `s`, `m`, `h` or `d` (seconds when bare).
pub fn parse_grace(text: &str) -> std::result::Result<std::time::Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "'{text}': the unit must be s, m, h or d (e.g. 15m)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 0, 90s, 15m, 2h or 1d"))?;
    n.checked_mul(scale)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("'{text}' is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_grace;
    use std::time::Duration;

    #[test]
    fn grace_periods_take_a_unit_and_refuse_anything_else() {
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_grace("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_grace("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_grace("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "m", "-1", "1.5h", "10y", "99999999999999999999d"] {
            assert!(parse_grace(bad).is_err(), "{bad:?}");
        }
    }
}
