//! `atdata inspect TARGET`: what a set of shard files holds, with no index involved.
//!
//! Reads every sample of every shard (a damaged byte anywhere must be reported, and a count is
//! only exact when everything was read), decodes each without a schema and infers field types.
//! Shards are read by a few threads at once; results are merged in shard order so the output
//! does not depend on timing.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value as Json};

use atdata::codec::decode_sample;
use atdata::shard::{expand, ShardReader};

use crate::infer::{shape_text, Inference, Sketch};
use crate::output::{human_bytes, Out};
use crate::progress;

/// Shards listed one by one in the human output before the rest are summarised.
const LISTED_SHARDS: usize = 20;

/// What reading one shard found.
struct ShardReport {
    url: String,
    bytes: u64,
    samples: u64,
    inference: Inference,
    error: Option<atdata::Error>,
}

/// What reading every shard of a target found.
pub struct Scan {
    /// (shard path, samples, bytes), in shard order.
    pub shards: Vec<(String, u64, u64)>,
    /// Sum of the shard sizes.
    pub total_bytes: u64,
    /// Field types over every sample.
    pub inference: Inference,
}

/// Reads every sample of every shard `target` names. Any damage is an error naming the shard
/// and byte offset; with several damaged shards, each is reported on stderr first.
pub fn scan(target: &str, what: &str) -> Result<Scan> {
    let urls = expand(target).with_context(|| format!("cannot open '{target}'"))?;
    let reports = read_all(&urls, what);

    let errors: Vec<&atdata::Error> = reports.iter().filter_map(|r| r.error.as_ref()).collect();
    match errors.as_slice() {
        [] => {}
        [one] => return Err(anyhow!("{one}")),
        many => {
            for e in many {
                let _ = writeln!(std::io::stderr(), "error: {e}");
            }
            return Err(anyhow!(
                "{} of {} shards of '{target}' could not be read",
                many.len(),
                reports.len()
            ));
        }
    }

    let mut scan = Scan {
        shards: Vec::with_capacity(reports.len()),
        total_bytes: 0,
        inference: Inference::default(),
    };
    for r in reports {
        scan.total_bytes = scan.total_bytes.saturating_add(r.bytes);
        scan.shards.push((r.url, r.samples, r.bytes));
        scan.inference.absorb(r.inference);
    }
    Ok(scan)
}

/// Runs `inspect`.
pub fn run(target: &str, as_json: bool) -> Result<()> {
    let scan = scan(target, "inspect")?;
    let mut out = Out::new();
    if as_json {
        out.json(&to_json(
            target,
            &scan.shards,
            scan.total_bytes,
            &scan.inference,
        ))?;
    } else {
        print_human(
            &mut out,
            target,
            &scan.shards,
            scan.total_bytes,
            &scan.inference,
        )?;
    }
    out.flush()
}

/// Reads every shard with a few threads, returning reports in shard order.
fn read_all(urls: &[String], what: &str) -> Vec<ShardReport> {
    let bar = progress::bar(urls.len() as u64, what);
    let slots: Vec<Mutex<Option<ShardReport>>> = urls.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
        .min(urls.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(url) = urls.get(i) else { return };
                let report = read_shard(url);
                if let Some(slot) = slots.get(i) {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(report);
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    slots
        .into_iter()
        .zip(urls)
        .map(|(slot, url)| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| ShardReport {
                    url: url.clone(),
                    bytes: 0,
                    samples: 0,
                    inference: Inference::default(),
                    error: Some(atdata::Error::corrupt("reader thread failed").with_shard(url, 0)),
                })
        })
        .collect()
}

/// Reads one shard to its end, stopping at the first error.
fn read_shard(url: &str) -> ShardReport {
    let mut report = ShardReport {
        url: url.to_string(),
        bytes: 0,
        samples: 0,
        inference: Inference::default(),
        error: None,
    };
    let reader = match ShardReader::open(Path::new(url)) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.bytes = std::fs::metadata(url).map_or(0, |m| m.len());
    for raw in reader {
        let decoded = raw.and_then(|raw| {
            decode_sample(&raw.data, None)
                .map_err(|e| e.with_key(&raw.key).with_shard(url, raw.offset))
        });
        match decoded {
            Ok(sample) => {
                report.samples += 1;
                report.inference.add(&sample);
            }
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
    }
    report
}

fn shape_json(sketch: &Sketch) -> Json {
    match sketch.shape() {
        Some(shape) => Json::from(
            shape
                .iter()
                .map(|d| d.map_or(Json::Null, Json::from))
                .collect::<Vec<_>>(),
        ),
        None => Json::Null,
    }
}

fn dtype_of(sketch: &Sketch) -> Option<String> {
    match sketch {
        Sketch::Array { dtype, .. } => Some(dtype.clone()),
        Sketch::Union(members) => members.iter().find_map(dtype_of),
        _ => None,
    }
}

fn to_json(
    target: &str,
    per_shard: &[(String, u64, u64)],
    total_bytes: u64,
    inference: &Inference,
) -> Json {
    let samples = inference.samples();
    let mut fields = serde_json::Map::new();
    let mut details = Vec::new();
    for f in inference.fields() {
        let ty = f.sketch.to_string();
        fields.insert(f.name.clone(), Json::from(ty.clone()));
        details.push(json!({
            "name": f.name,
            "type": ty,
            "dtype": dtype_of(&f.sketch),
            "shape": shape_json(&f.sketch),
            "present": f.present,
            "optional": f.present < samples || ty.ends_with("| None") || ty == "None",
        }));
    }
    json!({
        "target": target,
        "shards": per_shard.iter().map(|(u, _, _)| u.clone()).collect::<Vec<_>>(),
        "samples": samples,
        "bytes": total_bytes,
        "shard_stats": per_shard
            .iter()
            .map(|(u, n, b)| json!({"path": u, "samples": n, "bytes": b}))
            .collect::<Vec<_>>(),
        "fields": fields,
        "field_details": details,
    })
}

fn print_human(
    out: &mut Out,
    target: &str,
    per_shard: &[(String, u64, u64)],
    total_bytes: u64,
    inference: &Inference,
) -> Result<()> {
    let samples = inference.samples();
    out.line(format!("target   {target}"))?;
    out.line(format!(
        "shards   {} ({})",
        per_shard.len(),
        human_bytes(total_bytes)
    ))?;
    let rows: Vec<Vec<String>> = per_shard
        .iter()
        .take(LISTED_SHARDS)
        .map(|(u, n, b)| vec![format!("  {u}"), format!("{n} samples"), human_bytes(*b)])
        .collect();
    if !rows.is_empty() {
        out.rows(&rows)?;
    }
    if per_shard.len() > LISTED_SHARDS {
        out.line(format!(
            "  ... and {} more (--json lists them all)",
            per_shard.len() - LISTED_SHARDS
        ))?;
    }
    out.line(format!("samples  {samples}"))?;
    if inference.fields().is_empty() {
        out.line("fields   (none)")?;
        return Ok(());
    }
    out.line(format!("fields   {}", inference.fields().len()))?;
    let rows: Vec<Vec<String>> = inference
        .fields()
        .iter()
        .map(|f| {
            let shape = f
                .sketch
                .shape()
                .map(|s| format!("shape {}", shape_text(s)))
                .unwrap_or_default();
            let presence = if f.present < samples {
                format!("in {} of {samples} samples", f.present)
            } else {
                String::new()
            };
            vec![
                format!("  {}", f.name),
                f.sketch.to_string(),
                shape,
                presence,
            ]
        })
        .collect();
    out.rows(&rows)
}
