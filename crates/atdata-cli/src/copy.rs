//! `atdata copy SOURCE --to-index URL|PATH [--to-store DIR|s3://...]`: a dataset into another
//! index and store. The core copies and checks (`atdata::index::copy`); this renders.

use anyhow::{Context, Result};
use serde_json::json;

use atdata::index::{open_location, CopyOptions, CopyReport, Location};

use crate::context::{default_store, open_writable_store, store_shown, Paths};
use crate::output::{human_bytes, Out};
use crate::{json, progress};

/// Where a copy goes.
#[derive(Debug, Clone)]
pub struct Dest {
    /// The destination index location.
    pub index: String,
    /// The destination store location.
    pub store: String,
}

impl Dest {
    /// `--to-index` as given, `--to-store` or the default store; bad schemes are refused here,
    /// before anything is read.
    pub fn resolve(index: String, store: Option<String>) -> Result<Dest> {
        Location::parse(&index)?;
        let store = match store {
            Some(s) => s,
            None => default_store()?,
        };
        atdata::store::StoreLocation::parse(&store)?;
        Ok(Dest { index, store })
    }

    fn index_shown(&self) -> String {
        Location::parse(&self.index)
            .map(|l| l.shown())
            .unwrap_or_else(|_| self.index.clone())
    }
}

/// Runs `copy`.
pub fn run(
    paths: &Paths,
    reference: &str,
    dest: &Dest,
    opts: &CopyOptions,
    as_json: bool,
) -> Result<()> {
    let source = paths.open_existing()?;
    let store = open_writable_store(&dest.store)?;
    let target = open_location(&dest.index, Some(store))
        .with_context(|| format!("cannot open index '{}'", dest.index_shown()))?;
    let bar = progress::Bytes::new(&format!("copying {reference}"));
    let result = source.copy_to_with_progress(reference, &target, opts, &bar);
    bar.finish();
    let report = result.with_context(|| {
        format!(
            "cannot copy '{reference}' from '{}' to '{}' (store '{}')",
            paths.index_shown(),
            dest.index_shown(),
            store_shown(&dest.store)
        )
    })?;
    let repo = atdata::index::DatasetRef::parse(reference)?.repo;
    let mut out = Out::new();
    if as_json {
        out.json(&report_json(paths, dest, &report))?;
        return out.flush();
    }
    for v in &report.versions {
        let from = format!("@{repo}/{}@{}", v.source.name, v.source.version);
        let cid = if v.cid_kept() {
            format!("cid {} (kept)", v.entry.cid)
        } else {
            format!("cid {} (source {})", v.entry.cid, v.source.cid)
        };
        if v.created {
            out.line(format!(
                "copied {from} -> {}  {cid}  {} shard(s)  {}",
                v.entry.reference(),
                v.entry.shards.len(),
                human_bytes(v.bytes)
            ))?;
        } else {
            out.line(format!(
                "already there: {from} is {}  {cid}",
                v.entry.reference()
            ))?;
        }
        if !v.digests_computed.is_empty() {
            out.line(format!(
                "  note: the source recorded no digest for {} shard(s); digests were computed \
                 while copying, and nothing vouches those shards are what was written",
                v.digests_computed.len()
            ))?;
        }
    }
    out.line(format!(
        "{} of {} version(s) copied into '{}' ({})",
        report.created(),
        report.versions.len(),
        dest.index_shown(),
        human_bytes(report.bytes())
    ))?;
    out.flush()
}

fn report_json(paths: &Paths, dest: &Dest, report: &CopyReport) -> serde_json::Value {
    json!({
        "from_index": paths.index_shown(),
        "to_index": dest.index_shown(),
        "to_store": store_shown(&dest.store),
        "created": report.created(),
        "bytes": report.bytes(),
        "versions": report.versions.iter().map(|v| json!({
            "source": {
                "name": v.source.name,
                "version": v.source.version,
                "cid": v.source.cid,
            },
            "created": v.created,
            "cid_kept": v.cid_kept(),
            "bytes": v.bytes,
            "digests_computed": v.digests_computed,
            "entry": json::entry(&v.entry),
        })).collect::<Vec<_>>(),
    })
}
