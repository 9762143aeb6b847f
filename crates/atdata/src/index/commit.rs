//! The commit algorithm, written once for every backend on the [`WriteTx`] primitives:
//! schema records, CIDs, dedup, version numbers and 0.7's labels, inside one
//! [`Provider::write`]; and the two changes a committed entry allows (new shard places, facts
//! that were unknown).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::index::entry::{
    compat_metadata, decide_schema_version, entry_cid, user_metadata, Committed, Entry, NewEntry,
    SchemaDecision, ShardInfo,
};
use crate::index::provider::{Provider, WriteTx};
use crate::schema::{Schema, SchemaRef};

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// Runs `f` in one write of `p` after `check` passed inside it, and returns what `f` made.
/// A failed check commits nothing and is returned as it is (never retried by a backend, which
/// retries only its own conflicts); `f` may run more than once, so its result is reset on
/// every attempt. A database error or conflict is prefixed with `op` (what was being written):
/// the backend's own text says where and why, not which operation broke (a lost connection
/// mid-commit otherwise reads like any other).
fn write_checked<T>(
    p: &dyn Provider,
    op: &dyn Fn() -> String,
    check: &mut dyn FnMut() -> Result<()>,
    mut f: impl FnMut(&mut dyn WriteTx) -> Result<T>,
) -> Result<T> {
    let mut refused = None;
    let mut out = None;
    let written = p.write(&mut |tx| {
        refused = None;
        out = None;
        if let Err(e) = check() {
            refused = Some(e);
            // Not retryable, so the backend gives up at once and rolls back.
            return Err(Error::invalid("refused by the caller's check"));
        }
        out = Some(f(tx)?);
        Ok(())
    });
    match (written, refused, out) {
        (_, Some(e), _) => Err(e),
        (Err(Error::Database(m)), None, _) => Err(Error::Database(format!("{}: {m}", op()))),
        (Err(Error::Conflict { what }), None, _) => Err(Error::Conflict {
            what: format!("{}: {what}", op()),
        }),
        (Err(e), None, _) => Err(e),
        (Ok(()), None, Some(out)) => Ok(out),
        (Ok(()), None, None) => Err(Error::Database("a write finished without a result".into())),
    }
}

/// "committing dataset 'docs'", "committing 2000 entries of 20 datasets ('a', 'b', ...)":
/// what a failed commit of `entries` was doing.
fn committing(entries: &[NewEntry]) -> String {
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("'{n}'")).collect();
    let more = if names.len() > 3 { ", ..." } else { "" };
    match (entries.len(), names.len()) {
        (1, _) => format!("committing dataset {}", shown[0]),
        (n, 1) => format!("committing {n} entries of dataset {}", shown[0]),
        (n, k) => format!(
            "committing {n} entries of {k} datasets ({}{more})",
            shown.join(", ")
        ),
    }
}

/// [`ProviderExt::commit_many_if`](crate::index::ProviderExt::commit_many_if).
pub(crate) fn commit_many_if(
    p: &dyn Provider,
    entries: &[NewEntry],
    check: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Committed>> {
    write_checked(p, &|| committing(entries), check, |tx| {
        commit_all(tx, entries)
    })
}

/// [`commit_many_if`] that also refuses, committing nothing, when an entry would not get the
/// CID in `expected` at its position: what `index::copy` needs, since the CID covers the
/// schema version, which the destination's own schema records decide inside the transaction.
pub(crate) fn commit_many_expecting(
    p: &dyn Provider,
    entries: &[NewEntry],
    expected: &[String],
    check: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Committed>> {
    write_checked(p, &|| committing(entries), check, |tx| {
        let out = commit_all(tx, entries)?;
        for (c, want) in out.iter().zip(expected) {
            if c.entry.cid != *want {
                // Not retryable: the backend rolls back at once.
                return Err(Error::invalid(format!(
                    "dataset '{}' would get CID {} with schema '{}' here, not {want}: this                      index's schema records give that structure another version; nothing was                      committed",
                    c.entry.name, c.entry.cid, c.entry.schema_ref
                )));
            }
        }
        Ok(out)
    })
}

/// What one transaction has learned so far, so a bulk commit reads each schema name and each
/// dataset name's highest version once, decides each distinct schema once, and moves each
/// name's unversioned label once.
struct TxCache {
    schemas: HashMap<String, Vec<Schema>>,
    /// Each distinct schema of this transaction with its schema reference.
    decided: Vec<(Schema, String)>,
    /// name -> (the version its next entry gets, the position in the commit's output of its
    /// newest entry committed in this transaction).
    names: HashMap<String, (u64, usize)>,
    now: String,
}

/// The schema reference for `schema` (deciding and storing a record once per transaction).
fn schema_ref_for(tx: &mut dyn WriteTx, schema: &Schema, cache: &mut TxCache) -> Result<String> {
    if let Some((_, v)) = cache.decided.iter().find(|(s, _)| s == schema) {
        return Ok(v.clone());
    }
    if !cache.schemas.contains_key(&schema.name) {
        let stored = tx.schemas_of(&schema.name)?;
        cache.schemas.insert(schema.name.clone(), stored);
    }
    let stored = cache.schemas.entry(schema.name.clone()).or_default();
    let decision = decide_schema_version(schema, stored);
    if let SchemaDecision::Create(version) = &decision {
        let mut record = schema.clone();
        record.version = version.clone();
        if record.created_at.is_none() {
            record.created_at = Some(cache.now.clone());
        }
        tx.insert_schema(&record)?;
        stored.push(record);
    }
    let r = SchemaRef::local(&schema.name, decision.version()).to_string();
    cache.decided.push((schema.clone(), r.clone()));
    Ok(r)
}

/// The entry `new` becomes under `schema_ref` (its version is set at insert time): everything
/// that needs no backend, so a bulk commit can compute it on a second thread while the inserts
/// stay in order on this one.
fn prepare(new: &NewEntry, schema_ref: String, now: &str) -> Result<Entry> {
    let digests = new.digests()?;
    let cid = entry_cid(&new.name, &schema_ref, &digests)?;
    if new.metadata.is_some() {
        // A caller's map that 0.7's checksums would overwrite is refused before anything is
        // stored, whatever the backend.
        compat_metadata(new.metadata.as_ref(), &new.shards)?;
    }
    Ok(Entry {
        name: new.name.clone(),
        version: String::new(),
        cid,
        schema_ref,
        shards: new.shards.clone(),
        num_samples: Some(new.num_samples()),
        description: new.description.clone(),
        tags: new.tags.clone(),
        license: new.license.clone(),
        metadata: user_metadata(new.metadata.as_ref()).cloned(),
        created_at: now.to_string(),
    })
}

/// From this many entries on, a commit prepares entries on a second thread while this one
/// inserts; below it, starting a thread costs more than it saves.
const PIPELINE_FROM: usize = 256;

/// Entries per message between the preparing thread and the inserting one.
const CHUNK: usize = 128;

/// Commits `entries` in order inside `tx` (see
/// [`ProviderExt::commit`](crate::index::ProviderExt::commit) for each), then points the
/// unversioned labels at the newest.
fn commit_all(tx: &mut dyn WriteTx, entries: &[NewEntry]) -> Result<Vec<Committed>> {
    let mut cache = TxCache {
        schemas: HashMap::new(),
        decided: Vec::new(),
        names: HashMap::new(),
        now: now_rfc3339(),
    };
    // Schema versions are decided in order (an entry may create the record a later one reuses).
    let mut refs = Vec::with_capacity(entries.len());
    for new in entries {
        refs.push(schema_ref_for(tx, &new.schema, &mut cache)?);
    }
    let now = cache.now.clone();
    let mut out = Vec::with_capacity(entries.len());
    if entries.len() < PIPELINE_FROM {
        let ready = entries
            .iter()
            .zip(refs)
            .map(|(new, r)| prepare(new, r, &now))
            .collect::<Result<Vec<_>>>()?;
        tx.prefetch(&ready)?;
        for e in ready {
            insert(tx, &mut cache, &mut out, e)?;
        }
    } else {
        // A backend inserts one entry at a time on this thread; computing CIDs and building
        // entries happens meanwhile on another, in order.
        std::thread::scope(|scope| -> Result<()> {
            let (sender, chunks) = std::sync::mpsc::sync_channel::<Vec<Result<Entry>>>(8);
            let now = now.as_str();
            scope.spawn(move || {
                let mut refs = refs.into_iter();
                for part in entries.chunks(CHUNK) {
                    let ready = part
                        .iter()
                        .zip(refs.by_ref())
                        .map(|(new, r)| prepare(new, r, now))
                        .collect();
                    // The receiver is gone only when inserting failed: stop.
                    if sender.send(ready).is_err() {
                        break;
                    }
                }
            });
            // Returning early drops `chunks`, which ends the preparing thread.
            for part in chunks {
                let part = part.into_iter().collect::<Result<Vec<_>>>()?;
                tx.prefetch(&part)?;
                for e in part {
                    insert(tx, &mut cache, &mut out, e)?;
                }
            }
            Ok(())
        })?;
    }
    // Labels are how 0.7 resolves names: the unversioned one points at the newest.
    for (name, (_, at)) in &cache.names {
        if let Some(newest) = out.get(*at) {
            tx.set_label(name, None, &newest.entry)?;
        }
    }
    Ok(out)
}

/// Inserts one prepared entry as the next version of its name, or finds the entry with its
/// CID.
fn insert(
    tx: &mut dyn WriteTx,
    cache: &mut TxCache,
    out: &mut Vec<Committed>,
    mut entry: Entry,
) -> Result<()> {
    // The transaction holds the write lock: no other writer can take this number meanwhile.
    let version = match cache.names.get(&entry.name) {
        Some((v, _)) => *v,
        None => tx.highest_version(&entry.name)? + 1,
    };
    entry.version = itoa::Buffer::new().format(version).to_string();
    if let Some(existing) = tx.insert_entry(&entry)? {
        out.push(Committed {
            entry: existing,
            created: false,
        });
        return Ok(());
    }
    // A label per version: `@local/name@2` in 0.7, and our lookups of a pinned version.
    tx.set_label(&entry.name, Some(&entry.version), &entry)?;
    let at = out.len();
    match cache.names.get_mut(&entry.name) {
        Some(slot) => *slot = (version + 1, at),
        None => {
            cache.names.insert(entry.name.clone(), (version + 1, at));
        }
    }
    out.push(Committed {
        entry,
        created: true,
    });
    Ok(())
}

/// [`ProviderExt::record_07_entry`](crate::index::ProviderExt::record_07_entry).
pub(crate) fn record_07_entry(p: &dyn Provider, entry: &Entry) -> Result<Committed> {
    let urls: Vec<String> = entry.data_urls().map(String::from).collect();
    let expected = crate::codec::python_entry_cid(&entry.schema_ref, &urls)?;
    if entry.cid != expected {
        return Err(Error::invalid(format!(
            "entry '{}': CID {} is not the CID of its schema_ref and data_urls ({expected}); \
             an entry is recorded under the CID of its content",
            entry.name, entry.cid
        )));
    }
    let SchemaRef { name, version, .. } = SchemaRef::parse(&entry.schema_ref)?;
    compat_metadata(entry.metadata.as_ref(), &entry.shards)?;
    let now = now_rfc3339();
    let op = || format!("recording entry '{}'", entry.name);
    write_checked(p, &op, &mut || Ok(()), |tx| {
        if !tx.schemas_of(&name)?.iter().any(|s| s.version == version) {
            return Err(Error::not_found(format!(
                "schema '{name}@{version}' (of entry '{}'): store it first \
                 (store_schema, publish_schema)",
                entry.name
            )));
        }
        if let Some(existing) = tx.entry_by_cid(&entry.cid)? {
            return Ok(Committed {
                entry: existing,
                created: false,
            });
        }
        let mut new = entry.clone();
        new.version = (tx.highest_version(&new.name)? + 1).to_string();
        new.created_at = now.clone();
        new.metadata = user_metadata(entry.metadata.as_ref()).cloned();
        if let Some(existing) = tx.insert_entry(&new)? {
            return Ok(Committed {
                entry: existing,
                created: false,
            });
        }
        tx.set_label(&new.name, Some(&new.version), &new)?;
        tx.set_label(&new.name, None, &new)?;
        Ok(Committed {
            entry: new,
            created: true,
        })
    })
}

/// [`ProviderExt::store_schema`](crate::index::ProviderExt::store_schema).
pub(crate) fn store_schema(p: &dyn Provider, schema: &Schema) -> Result<bool> {
    let normal = |s: &Schema| Schema::from_json(&s.to_json()).unwrap_or_else(|_| s.clone());
    let mut stored = false;
    p.write(&mut |tx| {
        stored = false;
        let existing = tx.schemas_of(&schema.name)?;
        if let Some(old) = existing.iter().find(|s| s.version == schema.version) {
            if normal(old).same_structure(&normal(schema)) {
                return Ok(());
            }
            return Err(Error::AlreadyExists {
                what: format!(
                    "schema '{}@{}' with other fields; a stored record never changes (entries \
                     refer to it): store this one under a new version",
                    schema.name, schema.version
                ),
            });
        }
        let mut record = schema.clone();
        if record.created_at.is_none() {
            record.created_at = Some(now_rfc3339());
        }
        tx.insert_schema(&record)?;
        stored = true;
        Ok(())
    })?;
    Ok(stored)
}

/// [`ProviderExt::relocate_shards`](crate::index::ProviderExt::relocate_shards).
pub(crate) fn relocate_shards(
    p: &dyn Provider,
    cid: &str,
    urls: &[String],
    check: &mut dyn FnMut() -> Result<()>,
) -> Result<Entry> {
    let op = || format!("moving the shards of index entry '{cid}'");
    write_checked(p, &op, check, |tx| {
        let mut entry = tx
            .entry_by_cid(cid)?
            .ok_or_else(|| Error::not_found(format!("index entry '{cid}'")))?;
        if urls.len() != entry.shards.len() {
            return Err(Error::invalid(format!(
                "entry '{cid}' has {} shard(s), {} new URL(s) were given",
                entry.shards.len(),
                urls.len()
            )));
        }
        let old: Vec<String> = entry.data_urls().map(str::to_string).collect();
        if crate::codec::python_entry_cid(&entry.schema_ref, &old)? == cid {
            return Err(Error::invalid(format!(
                "entry '{cid}' was written by Python atdata 0.7, whose CID covers its shard \
                 URLs: its shards cannot move"
            )));
        }
        for (shard, url) in entry.shards.iter_mut().zip(urls) {
            shard.url.clone_from(url);
        }
        tx.update_shards(&entry)?;
        Ok(entry)
    })
}

/// [`ProviderExt::record_shard_info`](crate::index::ProviderExt::record_shard_info).
pub(crate) fn record_shard_info(p: &dyn Provider, cid: &str, shards: &[ShardInfo]) -> Result<()> {
    let op = || format!("recording the shard facts of index entry '{cid}'");
    write_checked(p, &op, &mut || Ok(()), |tx| {
        let mut entry = tx
            .entry_by_cid(cid)?
            .ok_or_else(|| Error::not_found(format!("index entry '{cid}'")))?;
        // Keep what is known; fill the gaps.
        for (n, old) in entry.shards.iter_mut().enumerate() {
            let Some(new) = shards.get(n) else { break };
            if old.sha256.is_none() {
                old.sha256.clone_from(&new.sha256);
            }
            old.samples = old.samples.or(new.samples);
            old.bytes = old.bytes.or(new.bytes);
        }
        if entry.num_samples.is_none() {
            entry.num_samples = entry.shards.iter().map(|s| s.samples).sum();
        }
        // For an entry 0.7 wrote this also fixes its version: the number it has now.
        tx.update_shards(&entry)
    })
}
