//! `atdata verify REF`: re-hash every shard of a dataset and compare with the index.
//!
//! One line per shard (`OK`, `DIFFERS`, `MISSING`, `UNREADABLE`, or `UNCHECKED` for shards
//! whose digest the index never knew), then a summary; the exit status is zero only when every
//! shard was checked and matched (an `UNCHECKED` shard fails it too: nothing vouches for its
//! content), so scripts can gate on it.

use anyhow::{bail, Result};
use serde_json::json;

use atdata::index::{ShardProblem, VerifyReport};

use crate::context::Paths;
use crate::output::Out;
use crate::progress;

/// The verdict on one shard.
struct Line {
    url: String,
    status: &'static str,
    detail: Option<String>,
}

/// One line per shard, in the order the report met them.
fn lines(report: &VerifyReport) -> Vec<Line> {
    let mut urls: Vec<&str> = Vec::new();
    for u in report
        .checked
        .iter()
        .chain(&report.unverifiable)
        .map(String::as_str)
        .chain(report.problems.iter().map(ShardProblem::url))
    {
        if !urls.contains(&u) {
            urls.push(u);
        }
    }
    urls.iter()
        .map(|&url| {
            let problems: Vec<&ShardProblem> =
                report.problems.iter().filter(|p| p.url() == url).collect();
            let status = match problems.first() {
                Some(ShardProblem::Missing { .. }) => "MISSING",
                Some(ShardProblem::Unreadable { .. }) => "UNREADABLE",
                Some(_) => "DIFFERS",
                None if report.unverifiable.iter().any(|u| u == url) => "UNCHECKED",
                None => "OK",
            };
            let detail = if problems.is_empty() {
                (status == "UNCHECKED").then(|| "no digest recorded; present".to_string())
            } else {
                Some(
                    problems
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            };
            Line {
                url: url.to_string(),
                status,
                detail,
            }
        })
        .collect()
}

/// Runs `verify`.
pub fn run(paths: &Paths, reference: &str, as_json: bool) -> Result<()> {
    let index = paths.open_existing()?;
    let entry = index.get(reference)?;
    let bar = progress::Bytes::new(&format!("verifying {}", entry.reference()));
    // Pin the CID so a version committed meanwhile cannot change what is checked.
    let result = index.verify_with_progress(&format!("@local/{}@{}", entry.name, entry.cid), &bar);
    bar.finish();
    let report = result?;
    let lines = lines(&report);
    let bad = lines
        .iter()
        .filter(|l| matches!(l.status, "MISSING" | "DIFFERS" | "UNREADABLE"))
        .count();

    let mut out = Out::new();
    if as_json {
        out.json(&json!({
            "dataset": report.dataset,
            "cid": report.cid,
            "ok": report.is_verified(),
            "unchecked": report.unverifiable.len(),
            "shards": lines.iter().map(|l| json!({
                "url": l.url,
                "status": l.status,
                "detail": l.detail,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let width = lines.iter().map(|l| l.status.len()).max().unwrap_or(0);
        for l in &lines {
            match &l.detail {
                Some(d) if l.status != "OK" => {
                    out.line(format!("{:width$}  {}  ({d})", l.status, l.url))?
                }
                _ => out.line(format!("{:width$}  {}", l.status, l.url))?,
            }
        }
        if report.is_verified() {
            out.line(format!(
                "{}: {} shard(s) OK",
                report.dataset,
                report.checked.len()
            ))?;
        }
    }
    out.flush()?;
    if !report.is_ok() {
        let names: Vec<&str> = lines
            .iter()
            .filter(|l| matches!(l.status, "MISSING" | "DIFFERS" | "UNREADABLE"))
            .map(|l| l.url.as_str())
            .collect();
        bail!(
            "{}: {bad} of {} shard(s) missing or changed: {}",
            report.dataset,
            lines.len(),
            names.join(", ")
        );
    }
    if !report.is_verified() {
        bail!(
            "{}: {} of {} shard(s) could not be checked: the index records no digest for \
             them (only their presence was checked): {}",
            report.dataset,
            report.unverifiable.len(),
            lines.len(),
            report.unverifiable.join(", ")
        );
    }
    Ok(())
}
