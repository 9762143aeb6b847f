//! `atdata inspect TARGET`: what a set of shard files holds, with no index involved.
//!
//! The core reads every sample of every shard (a damaged byte anywhere must be reported, and a
//! count is only exact when everything was read) and infers the field types
//! ([`atdata::index::inspect_shards`], the engine `atdata add` takes its schema from); this
//! module only renders what it found.

use std::io::Write;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value as Json};

use atdata::codec::infer::{shape_text, Sketch};
use atdata::codec::Inference;
use atdata::index::inspect_shards;
use atdata::shard::expand;

use crate::json;
use crate::output::{human_bytes, Out};
use crate::progress;

/// The name of the schema inferred for shards outside any dataset (`add` names it after the
/// dataset).
const INSPECTED: &str = "Sample";

/// Shards listed one by one in the human output before the rest are summarised.
const LISTED_SHARDS: usize = 20;

/// Runs `inspect`. Any damage is an error naming the shard and byte offset; with several
/// damaged shards, each is reported on stderr first.
pub fn run(target: &str, as_json: bool) -> Result<()> {
    let urls = expand(target).with_context(|| format!("cannot open '{target}'"))?;
    let bar = progress::Bytes::new("inspect");
    let found = inspect_shards(&urls, &bar);
    bar.finish();

    let errors: Vec<&atdata::Error> = found.errors().collect();
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
                found.shards.len()
            ));
        }
    }
    let per_shard: Vec<(String, u64, u64)> = found
        .shards
        .iter()
        .map(|s| (s.url.clone(), s.samples, s.bytes))
        .collect();
    let mut out = Out::new();
    if as_json {
        out.json(&to_json(
            target,
            &per_shard,
            found.total_bytes(),
            &found.inference,
        ))?;
    } else {
        print_human(
            &mut out,
            target,
            &per_shard,
            found.total_bytes(),
            &found.inference,
        )?;
    }
    out.flush()
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
            "dtype": f.sketch.dtype(),
            "shape": shape_json(&f.sketch),
            "present": f.present,
            "optional": inference.optional(f),
        }));
    }
    // The schema `atdata add` would record for these shards (the core's one engine), or why
    // there is none.
    let (schema, schema_error) = match inference.schema(INSPECTED) {
        Ok(s) => (json::schema(&s), Json::Null),
        Err(e) => (Json::Null, Json::from(e.to_string())),
    };
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
        "schema": schema,
        "schema_error": schema_error,
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
    out.rows(&rows)?;
    // `add` would refuse these shards without a schema: say so, and why, here already.
    if let Err(e) = inference.schema(INSPECTED) {
        out.line(format!("schema   none fits every sample: {e}"))?;
    }
    Ok(())
}
