//! Committing entries: schema records, CIDs, version numbers and 0.7's labels, inside the
//! caller's write transaction.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use crate::error::{Error, Result};
use crate::index::entry::{
    compat_metadata_msgpack, decide_schema_version, entry_cid, strings_to_msgpack, Committed,
    Entry, NewEntry, SchemaDecision,
};
use crate::index::sqlite::info::{self, user_metadata, Info};
use crate::index::sqlite::rows;
use crate::index::sqlite::select::select_entry;
use crate::schema::{Schema, SchemaRef};

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// Now as SQLite's `datetime('now')` writes it, the form 0.7's `created_at` columns hold (and
/// compare as text, to find the newest label).
fn now_sqlite() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
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
    names: HashMap<String, (i64, usize)>,
    /// Commit time, RFC 3339 (our column) and SQLite text (0.7's columns).
    now: String,
    now_sql: String,
}

impl TxCache {
    fn new() -> Self {
        TxCache {
            schemas: HashMap::new(),
            decided: Vec::new(),
            names: HashMap::new(),
            now: now_rfc3339(),
            now_sql: now_sqlite(),
        }
    }

    /// Points each name's unversioned label (how 0.7 resolves a bare name) at its newest entry.
    fn finish(self, tx: &Transaction<'_>, out: &[Committed]) -> Result<()> {
        let mut label = tx.prepare_cached(
            "INSERT OR REPLACE INTO labels (name, cid, version, description, created_at) \
             VALUES (?1, ?2, '', ?3, ?4)",
        )?;
        for (name, (_, at)) in &self.names {
            if let Some(newest) = out.get(*at) {
                let e = &newest.entry;
                label.execute(params![name, e.cid, e.description, self.now_sql])?;
            }
        }
        Ok(())
    }
}

fn stored_schemas(tx: &Transaction<'_>, name: &str) -> Result<Vec<Schema>> {
    let mut stmt = tx.prepare_cached("SELECT version, schema_json FROM schemas WHERE name = ?1")?;
    let mut rows = stmt.query([name])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let version: String = row.get(0)?;
        let json: String = row.get(1)?;
        // A record we cannot parse still holds its version: keep a placeholder with no fields
        // so that version is never handed out again.
        let mut s = Schema::from_json(&json).unwrap_or_else(|_| Schema::new(name, Vec::new()));
        s.name = name.to_string();
        s.version = version;
        out.push(s);
    }
    Ok(out)
}

/// The highest version of `name`. Versions grow with the row order, so it is the version of
/// the name's last row (counted through the rows before it if 0.7 wrote that one).
fn highest_version(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let last: Option<(i64, Option<i64>)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT rowid, atdata_version FROM dataset_entries \
             WHERE name = ?1 ORDER BY rowid DESC LIMIT 1",
        )?;
        let mut rows = stmt.query([name])?;
        match rows.next()? {
            Some(row) => Some((row.get(0)?, row.get(1)?)),
            None => None,
        }
    };
    Ok(match last {
        None => 0,
        Some((_, Some(v))) => v,
        Some((rowid, None)) => rows::versions_of(tx, name, rowid)?
            .last()
            .map_or(0, |(_, v)| *v),
    })
}

/// The schema reference for `schema` (deciding and storing a record once per transaction).
fn schema_ref_for(tx: &Transaction<'_>, schema: &Schema, cache: &mut TxCache) -> Result<String> {
    if let Some((_, v)) = cache.decided.iter().find(|(s, _)| s == schema) {
        return Ok(v.clone());
    }
    if !cache.schemas.contains_key(&schema.name) {
        let stored = stored_schemas(tx, &schema.name)?;
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
        tx.prepare_cached(
            "INSERT INTO schemas (name, version, schema_json, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            schema.name,
            version,
            record.to_json(),
            cache.now_sql
        ])?;
        stored.push(record);
    }
    let r = SchemaRef::local(&schema.name, decision.version()).to_string();
    cache.decided.push((schema.clone(), r.clone()));
    Ok(r)
}

/// An entry made ready to insert: everything that needs no database, so a bulk commit can
/// compute it on several threads while the inserts stay in order on one.
struct Prepared {
    /// The entry as it will be committed; its version is set at insert time.
    entry: Entry,
    data_urls: Vec<u8>,
    metadata: Vec<u8>,
    facts: Vec<u8>,
}

/// The CID, 0.7's columns and our facts for `new` under `schema_ref`.
fn prepare(new: &NewEntry, schema_ref: String, now: &str) -> Result<Prepared> {
    let digests = new.digests()?;
    let cid = entry_cid(&new.name, &schema_ref, &digests)?;
    let metadata = compat_metadata_msgpack(new.metadata.as_ref(), &new.shards)?;
    let num_samples = new.num_samples();
    let facts = info::encode(&Info {
        cid: &cid,
        name: &new.name,
        schema_ref: &schema_ref,
        num_samples: Some(num_samples),
        shards: &new.shards,
        description: new.description.as_deref(),
        tags: &new.tags,
        license: new.license.as_deref(),
        metadata: new.metadata.as_ref(),
        created_at: now,
    });
    Ok(Prepared {
        data_urls: strings_to_msgpack(new.shards.iter().map(|s| s.url.as_str())),
        metadata,
        facts,
        entry: Entry {
            name: new.name.clone(),
            version: String::new(),
            cid,
            schema_ref,
            shards: new.shards.clone(),
            num_samples: Some(num_samples),
            description: new.description.clone(),
            tags: new.tags.clone(),
            license: new.license.clone(),
            metadata: user_metadata(new.metadata.as_ref()).cloned(),
            created_at: now.to_string(),
        },
    })
}

/// From this many entries on, a commit prepares entries on a second thread while this one
/// inserts; below it, starting a thread costs more than it saves.
const PIPELINE_FROM: usize = 256;

/// Entries per message between the preparing thread and the inserting one.
const CHUNK: usize = 128;

/// Commits `entries` in order inside `tx` (the [`Provider`](crate::index::Provider) contract,
/// steps 1-4, for each), then points 0.7's unversioned labels at the newest.
pub(super) fn commit_all(tx: &Transaction<'_>, entries: &[NewEntry]) -> Result<Vec<Committed>> {
    let mut cache = TxCache::new();
    // Schema versions are decided in order (an entry may create the record a later one reuses).
    let mut refs = Vec::with_capacity(entries.len());
    for new in entries {
        refs.push(schema_ref_for(tx, &new.schema, &mut cache)?);
    }
    let now = cache.now.clone();
    let mut inserter = Inserter::new(tx, cache, entries.len())?;
    if entries.len() < PIPELINE_FROM {
        for (new, r) in entries.iter().zip(refs) {
            inserter.insert(prepare(new, r, &now)?)?;
        }
    } else {
        // SQLite inserts one row at a time on this thread; computing CIDs and encoding
        // columns (a third of the work) happens meanwhile on another, in order.
        std::thread::scope(|scope| -> Result<()> {
            let (sender, chunks) = std::sync::mpsc::sync_channel::<Vec<Result<Prepared>>>(8);
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
                for p in part {
                    inserter.insert(p?)?;
                }
            }
            Ok(())
        })?;
    }
    inserter.finish()
}

/// Inserts prepared entries in order, with statements prepared once per commit.
struct Inserter<'t> {
    tx: &'t Transaction<'t>,
    cache: TxCache,
    insert_entry: rusqlite::CachedStatement<'t>,
    insert_label: rusqlite::CachedStatement<'t>,
    out: Vec<Committed>,
}

impl<'t> Inserter<'t> {
    fn new(tx: &'t Transaction<'t>, cache: TxCache, capacity: usize) -> Result<Self> {
        Ok(Inserter {
            tx,
            cache,
            insert_entry: tx.prepare_cached(
                "INSERT OR IGNORE INTO dataset_entries \
                 (cid, name, schema_ref, data_urls, metadata, created_at, atdata_version, \
                 atdata_info) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            // Labels are how 0.7 resolves names: a row per version here (`@local/name@2` in
            // 0.7, and our lookups of a pinned version), and the unversioned row (see
            // `TxCache::finish`) pointing at the newest.
            insert_label: tx.prepare_cached(
                "INSERT OR REPLACE INTO labels (name, cid, version, description, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            out: Vec::with_capacity(capacity),
        })
    }

    fn insert(&mut self, mut p: Prepared) -> Result<()> {
        let (tx, cache) = (self.tx, &mut self.cache);
        let name = &p.entry.name;
        // The transaction holds the write lock: no other writer can take this number meanwhile.
        let version = match cache.names.get(name) {
            Some((v, _)) => *v,
            None => highest_version(tx, name)? + 1,
        };
        // Inserting first and looking only when nothing was inserted saves a lookup per entry.
        let inserted = self.insert_entry.execute(params![
            p.entry.cid,
            name,
            p.entry.schema_ref,
            p.data_urls,
            p.metadata,
            cache.now_sql,
            version,
            p.facts
        ])?;
        if inserted == 0 {
            let cid = &p.entry.cid;
            let existing = rows::query_one(tx, select_entry!("WHERE cid = ?1"), [cid])?
                .ok_or_else(|| {
                    Error::Database(format!("entry '{cid}' vanished inside a transaction"))
                })?;
            self.out.push(Committed {
                entry: existing,
                created: false,
            });
            return Ok(());
        }
        let version_text = version.to_string();
        self.insert_label.execute(params![
            name,
            p.entry.cid,
            version_text,
            p.entry.description,
            cache.now_sql
        ])?;
        let at = self.out.len();
        match cache.names.get_mut(name) {
            Some(slot) => *slot = (version + 1, at),
            None => {
                cache.names.insert(name.clone(), (version + 1, at));
            }
        }
        p.entry.version = version_text;
        self.out.push(Committed {
            entry: p.entry,
            created: true,
        });
        Ok(())
    }

    fn finish(self) -> Result<Vec<Committed>> {
        let Inserter {
            tx,
            cache,
            insert_entry,
            insert_label,
            out,
        } = self;
        drop((insert_entry, insert_label));
        cache.finish(tx, &out)?;
        Ok(out)
    }
}
