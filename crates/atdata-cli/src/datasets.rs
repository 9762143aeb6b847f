//! `atdata ls`, `atdata show` and `atdata add`: the datasets of an index.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use atdata::index::{Entry, Index, InsertOptions};

use crate::context::Paths;
use crate::output::{human_bytes, truncate, Out};
use crate::values::render;
use crate::{json, progress};

/// Characters of a CID shown in tables (the full CID is in `show` and `--json`).
const SHORT_CID: usize = 16;
/// Characters of a description shown in tables.
const SHORT_DESCRIPTION: usize = 40;

fn samples_text(e: &Entry) -> String {
    e.num_samples
        .map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// The first characters of a CID, enough to tell entries apart in a table.
fn short_cid(cid: &str) -> String {
    if cid.chars().count() <= SHORT_CID {
        return cid.to_string();
    }
    let head: String = cid.chars().take(SHORT_CID).collect();
    format!("{head}...")
}

/// Runs `ls`: every version of every dataset, oldest first. Rows of the index that cannot be
/// read are skipped, named on stderr, and make the exit status non-zero; the others are listed.
pub fn ls(paths: &Paths, as_json: bool) -> Result<()> {
    let listing = paths.open_existing()?.listing()?;
    let entries = listing.entries;
    let mut out = Out::new();
    if as_json {
        out.json(&Json::from(
            entries.iter().map(json::entry).collect::<Vec<_>>(),
        ))?;
        out.flush()?;
        return skipped(paths, &listing.skipped);
    }
    if entries.is_empty() {
        out.line(format!("no datasets in '{}'", paths.index_shown()))?;
        out.flush()?;
        return skipped(paths, &listing.skipped);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.version.clone(),
                short_cid(&e.cid),
                e.shards.len().to_string(),
                samples_text(e),
                e.description
                    .as_deref()
                    .map(|d| truncate(d, SHORT_DESCRIPTION))
                    .unwrap_or_default(),
                e.tags.join(","),
            ]
        })
        .collect();
    out.table(
        &[
            "NAME",
            "VERSION",
            "CID",
            "SHARDS",
            "SAMPLES",
            "DESCRIPTION",
            "TAGS",
        ],
        &rows,
    )?;
    out.flush()?;
    skipped(paths, &listing.skipped)
}

/// The error for the rows a listing skipped, one per line.
fn skipped(paths: &Paths, skipped: &[atdata::Error]) -> Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = skipped.iter().map(|e| format!("  {e}")).collect();
    bail!(
        "skipped {} row(s) of the index '{}' that cannot be read (every other dataset was \
         listed):\n{}",
        skipped.len(),
        paths.index_shown(),
        rows.join("\n")
    )
}

/// Runs `show`: one entry in full.
pub fn show(paths: &Paths, reference: &str, as_json: bool) -> Result<()> {
    let index = paths.open_existing()?;
    let entry = index.get(reference)?;
    let versions = index
        .versions(&format!("@local/{}", entry.name))
        .unwrap_or_default();
    // A missing schema record is worth showing as such, not worth failing `show` for.
    let schema = index.get_schema(&entry.schema_ref);
    let mut out = Out::new();
    if as_json {
        let mut j = json::entry(&entry);
        if let Some(obj) = j.as_object_mut() {
            obj.insert(
                "schema".into(),
                schema.as_ref().map_or(Json::Null, json::schema),
            );
            obj.insert("versions".into(), json!(versions));
        }
        out.json(&j)?;
        return out.flush();
    }
    let total_bytes: Option<u64> = entry.shards.iter().map(|s| s.bytes).sum();
    let mut rows = vec![
        vec!["name".to_string(), entry.name.clone()],
        vec![
            "version".to_string(),
            format!("{} (versions: {})", entry.version, versions.join(", ")),
        ],
        vec!["cid".to_string(), entry.cid.clone()],
        vec!["created".to_string(), entry.created_at.clone()],
        vec!["samples".to_string(), samples_text(&entry)],
        vec![
            "description".to_string(),
            entry.description.clone().unwrap_or_else(|| "-".into()),
        ],
        vec!["tags".to_string(), entry.tags.join(", ")],
        vec![
            "license".to_string(),
            entry.license.clone().unwrap_or_else(|| "-".into()),
        ],
        vec!["schema".to_string(), entry.schema_ref.clone()],
    ];
    if let Some(meta) = &entry.metadata {
        rows.push(vec!["metadata".to_string(), render(meta)]);
    }
    out.line(entry.reference())?;
    out.rows(
        &rows
            .into_iter()
            .map(|mut r| {
                if let Some(first) = r.first_mut() {
                    *first = format!("  {first}");
                }
                r
            })
            .collect::<Vec<_>>(),
    )?;
    out.line("")?;
    match &schema {
        Ok(s) => {
            out.line(format!("schema {}@{}", s.name, s.version))?;
            crate::schemas::print_fields(&mut out, s)?;
        }
        Err(e) => out.line(format!("schema: unavailable ({e})"))?,
    }
    out.line("")?;
    out.line(format!(
        "shards ({}, {})",
        entry.shards.len(),
        total_bytes.map_or_else(|| "size unknown".to_string(), human_bytes)
    ))?;
    let shard_rows: Vec<Vec<String>> = entry
        .shards
        .iter()
        .map(|s| {
            vec![
                format!("  {}", s.url),
                s.samples.map_or_else(|| "?".into(), |n| n.to_string()),
                s.bytes.map_or_else(|| "?".into(), human_bytes),
                s.sha256.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.table(&["  URL", "SAMPLES", "SIZE", "SHA256"], &shard_rows)?;
    out.flush()
}

/// Runs `add`: indexes existing shards as a new version of `name`.
pub fn add(
    paths: &Paths,
    name: &str,
    target: &str,
    opts: InsertOptions,
    as_json: bool,
) -> Result<()> {
    let index: Index = if opts.copy {
        paths.open_with_store()?
    } else {
        paths.open_index()?
    };
    // Without a schema the core infers one over every sample, with the engine `inspect`
    // shows (see `InsertOptions::schema`), so the two always agree.
    let verb = if opts.copy { "copying" } else { "indexing" };
    let bar = progress::Bytes::new(&format!("{verb} into '{name}'"));
    let result = index.insert_with_progress(name, target, &opts, &bar);
    bar.finish();
    let entry = result.with_context(|| format!("cannot add '{target}' as dataset '{name}'"))?;
    let mut out = Out::new();
    if as_json {
        out.json(&json::entry(&entry))?;
    } else {
        out.line(format!(
            "{}  cid {}  {} shard(s)  {} samples",
            entry.reference(),
            entry.cid,
            entry.shards.len(),
            samples_text(&entry)
        ))?;
    }
    out.flush()
}
