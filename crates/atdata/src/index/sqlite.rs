//! [`SqliteProvider`]: the default index backend, an SQLite database in memory or in a file.
//!
//! The file keeps the four tables of Python atdata 0.7 (FORMAT.md section 6) with their exact
//! columns, so each side opens what the other wrote. What 0.7 has no column for (versions,
//! per-shard counts, description, tags, license) lives in a table of ours,
//! `atdata_entry_info`, keyed by CID; 0.7 never reads it, and entries 0.7 writes simply have no
//! row there (their versions are their order of insertion).
//!
//! Writes take the write lock at `BEGIN IMMEDIATE`, so the version a commit computes cannot be
//! taken by another process before it commits; WAL lets readers go on meanwhile, and a busy
//! timeout makes writers queue instead of failing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::codec::msgpack::Token;
use crate::codec::MsgReader;
use crate::error::{Error, Result};
use crate::index::entry::{
    compat_metadata, decide_schema_version, entry_cid, split_metadata, strings_from_msgpack,
    strings_to_msgpack, to_msgpack, value_from_msgpack, Committed, Entry, NewEntry, SchemaDecision,
    ShardInfo,
};
use crate::index::provider::Provider;
use crate::schema::{Schema, SchemaRef};

/// The tables of Python atdata 0.7, verbatim in meaning, then ours.
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS dataset_entries (
    cid         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    schema_ref  TEXT NOT NULL,
    data_urls   BLOB NOT NULL,
    metadata    BLOB,
    legacy_uuid TEXT,
    created_at  TEXT DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_entries_name ON dataset_entries(name);
CREATE TABLE IF NOT EXISTS schemas (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS lenses (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    lens_json   TEXT NOT NULL,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS labels (
    name        TEXT NOT NULL,
    cid         TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    description TEXT,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS idx_labels_cid ON labels(cid);
CREATE TABLE IF NOT EXISTS atdata_entry_info (
    cid         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    num_samples INTEGER,
    shards      BLOB,
    description TEXT,
    tags        TEXT,
    license     TEXT,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS atdata_entry_info_version ON atdata_entry_info(name, version);
";

/// An entry's version: ours from `atdata_entry_info`, else (an entry Python 0.7 wrote) its
/// position among the entries of its name in insertion order.
const VERSION_EXPR: &str = "COALESCE(i.version, (SELECT COUNT(*) FROM dataset_entries x \
     WHERE x.name = e.name AND x.rowid <= e.rowid))";

/// How long a writer waits for another's lock before giving up with a retryable conflict.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts for an operation that keeps failing with a busy database (e.g. WAL recovery after a
/// crashed writer, which does not wait on the busy timeout).
const ATTEMPTS: u32 = 20;

fn select_entry(tail: &str) -> String {
    format!(
        "SELECT e.cid, e.name, e.schema_ref, e.data_urls, e.metadata, e.created_at, {VERSION_EXPR}, \
         i.num_samples, i.shards, i.description, i.tags, i.license, i.created_at \
         FROM dataset_entries e LEFT JOIN atdata_entry_info i ON i.cid = e.cid {tail}"
    )
}

/// The index in an SQLite database (Python atdata 0.7 layout plus our own table).
#[derive(Debug)]
pub struct SqliteProvider {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl SqliteProvider {
    /// An index that lives in memory and disappears with this value.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(CREATE_TABLES)?;
        Ok(SqliteProvider {
            conn: Mutex::new(conn),
            path: None,
        })
    }

    /// Opens (creating if needed, with its parent directories) the index file at `path`.
    /// Several processes may open the same file and write to it at once.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(parent.display().to_string(), e))?;
        }
        let conn = Connection::open(&path).map_err(|e| in_file(&shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| in_file(&shown, e))?;
        retry(|| {
            // Switching to WAL and creating tables take the write lock; other processes may be
            // opening the same file right now.
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
                return Err(Error::Database(format!(
                    "index '{shown}': cannot enable WAL journal mode (got '{mode}')"
                )));
            }
            conn.execute_batch(CREATE_TABLES)?;
            Ok(())
        })
        .map_err(|e| match e {
            Error::Database(m) if !m.contains(&shown) => {
                Error::Database(format!("index '{shown}': {m}"))
            }
            other => other,
        })?;
        Ok(SqliteProvider {
            conn: Mutex::new(conn),
            path: Some(path),
        })
    }

    /// The database file, or `None` for an in-memory index.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite in a half state (an open
        // transaction rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn query_entries(&self, tail: &str, params: impl rusqlite::Params) -> Result<Vec<Entry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&select_entry(tail))?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(entry_from_row(row)?);
        }
        Ok(out)
    }

    fn query_entry(&self, tail: &str, params: impl rusqlite::Params) -> Result<Option<Entry>> {
        Ok(self.query_entries(tail, params)?.into_iter().next())
    }
}

fn in_file(path: &str, e: rusqlite::Error) -> Error {
    match Error::from(e) {
        Error::Database(m) => Error::Database(format!("index '{path}': {m}")),
        other => other,
    }
}

/// Runs `f` again while it fails with a busy database, backing off a little each time.
fn retry<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_retryable() && attempt + 1 < ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
            }
            other => return other,
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// `2026-01-02 03:04:05` (SQLite `datetime('now')`, what 0.7 rows hold) as RFC 3339.
fn sqlite_time_to_rfc3339(t: &str) -> String {
    match t.split_once(' ') {
        Some((d, h)) if !t.contains('T') => format!("{d}T{h}+00:00"),
        _ => t.to_string(),
    }
}

fn bytes_col<'a>(row: &'a Row<'_>, i: usize, cid: &str, what: &str) -> Result<Option<&'a [u8]>> {
    let v = row.get_ref(i)?;
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => Ok(Some(b)),
        ValueRef::Text(t) => Ok(Some(t)),
        _ => Err(Error::corrupt(format!(
            "index entry '{cid}': column {what} is not a blob"
        ))),
    }
}

fn entry_from_row(row: &Row<'_>) -> Result<Entry> {
    let cid: String = row.get(0)?;
    let bad = |what: &str, e: Error| match e {
        Error::Corrupt { reason, .. } => {
            Error::corrupt(format!("index entry '{cid}': {what}: {reason}"))
        }
        other => other,
    };
    let name: String = row.get(1)?;
    let schema_ref: String = row.get(2)?;
    let data_urls = match bytes_col(row, 3, &cid, "data_urls")? {
        Some(b) => strings_from_msgpack(b).map_err(|e| bad("data_urls", e))?,
        None => Vec::new(),
    };
    let metadata = match bytes_col(row, 4, &cid, "metadata")? {
        Some(b) => Some(value_from_msgpack(b).map_err(|e| bad("metadata", e))?),
        None => None,
    };
    let (metadata, checksums) = split_metadata(metadata);
    let entry_time: Option<String> = row.get(5)?;
    let version: i64 = row.get(6)?;
    let num_samples: Option<i64> = row.get(7)?;
    let shard_facts = match bytes_col(row, 8, &cid, "shards")? {
        Some(b) => decode_shard_facts(b).map_err(|e| bad("shards", e))?,
        None => Vec::new(),
    };
    let description: Option<String> = row.get(9)?;
    let tags: Option<String> = row.get(10)?;
    let license: Option<String> = row.get(11)?;
    let info_time: Option<String> = row.get(12)?;

    let tags = match tags {
        Some(t) => serde_json::from_str::<Vec<String>>(&t)
            .map_err(|e| Error::corrupt(format!("index entry '{cid}': tags: {e}")))?,
        None => Vec::new(),
    };
    let shards = data_urls
        .iter()
        .enumerate()
        .map(|(n, url)| {
            let facts = shard_facts.get(n);
            let sha256 = facts.and_then(|f| f.0.clone()).or_else(|| {
                checksums
                    .iter()
                    .find(|(u, _)| u == url)
                    .map(|(_, d)| d.clone())
            });
            ShardInfo {
                url: url.clone(),
                sha256,
                samples: facts.and_then(|f| f.1),
                bytes: facts.and_then(|f| f.2),
            }
        })
        .collect();
    Ok(Entry {
        name,
        version: version.to_string(),
        cid,
        schema_ref,
        data_urls,
        shards,
        num_samples: num_samples.and_then(|n| u64::try_from(n).ok()),
        description,
        tags,
        license,
        metadata,
        created_at: info_time
            .or_else(|| entry_time.as_deref().map(sqlite_time_to_rfc3339))
            .unwrap_or_default(),
    })
}

/// (sha256, samples, bytes) per shard, each possibly unknown.
type ShardFacts = (Option<String>, Option<u64>, Option<u64>);

/// Our `shards` column: a msgpack array with one `[sha256 | nil, samples | nil, bytes | nil]`
/// per shard, in `data_urls` order (the URLs are not repeated).
fn encode_shard_facts(shards: &[ShardInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(shards.len() * 84 + 5);
    // Writes into a Vec cannot fail.
    rmp::encode::write_array_len(&mut out, shards.len() as u32).expect("vec write");
    for s in shards {
        rmp::encode::write_array_len(&mut out, 3).expect("vec write");
        match &s.sha256 {
            Some(d) => rmp::encode::write_str(&mut out, d).expect("vec write"),
            None => rmp::encode::write_nil(&mut out).expect("vec write"),
        }
        for n in [s.samples, s.bytes] {
            match n {
                Some(n) => {
                    rmp::encode::write_uint(&mut out, n).expect("vec write");
                }
                None => rmp::encode::write_nil(&mut out).expect("vec write"),
            }
        }
    }
    out
}

fn decode_shard_facts(buf: &[u8]) -> Result<Vec<ShardFacts>> {
    let mut r = MsgReader::new(buf);
    let n = match r.next_token()? {
        Token::Array(n) => n,
        _ => return Err(r.error("expected an array of shards")),
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if r.next_token()? != Token::Array(3) {
            return Err(r.error("expected [sha256, samples, bytes]"));
        }
        let sha = match r.next_token()? {
            Token::Str(s) => Some(s.to_string()),
            Token::Nil => None,
            _ => return Err(r.error("sha256 is not a string")),
        };
        let mut nums = [None, None];
        for slot in &mut nums {
            *slot = match r.next_token()? {
                Token::Int(i) => u64::try_from(i).ok(),
                Token::UInt(u) => Some(u),
                Token::Nil => None,
                _ => return Err(r.error("count is not an integer")),
            };
        }
        out.push((sha, nums[0], nums[1]));
    }
    Ok(out)
}

/// What one transaction has learned so far, so a bulk commit reads each schema name and each
/// dataset name's highest version once.
#[derive(Default)]
struct TxCache {
    schemas: HashMap<String, Vec<Schema>>,
    next_version: HashMap<String, i64>,
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

fn highest_version(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let sql = format!(
        "SELECT COALESCE(MAX({VERSION_EXPR}), 0) FROM dataset_entries e \
         LEFT JOIN atdata_entry_info i ON i.cid = e.cid WHERE e.name = ?1"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    Ok(stmt.query_row([name], |r| r.get(0))?)
}

fn commit_one(tx: &Transaction<'_>, new: &NewEntry, cache: &mut TxCache) -> Result<Committed> {
    let digests = new.digests()?;
    let schema_name = new.schema.name.clone();
    if !cache.schemas.contains_key(&schema_name) {
        let stored = stored_schemas(tx, &schema_name)?;
        cache.schemas.insert(schema_name.clone(), stored);
    }
    let stored = cache.schemas.entry(schema_name.clone()).or_default();
    let decision = decide_schema_version(&new.schema, stored);
    if let SchemaDecision::Create(version) = &decision {
        let mut record = new.schema.clone();
        record.version = version.clone();
        if record.created_at.is_none() {
            record.created_at = Some(now_rfc3339());
        }
        tx.prepare_cached("INSERT INTO schemas (name, version, schema_json) VALUES (?1, ?2, ?3)")?
            .execute(params![schema_name, version, record.to_json()])?;
        stored.push(record);
    }
    let schema_ref = SchemaRef::local(&schema_name, decision.version()).to_string();
    let cid = entry_cid(&new.name, &schema_ref, &digests)?;

    let exists = tx
        .prepare_cached("SELECT 1 FROM dataset_entries WHERE cid = ?1")?
        .query_row([&cid], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        let mut stmt = tx.prepare_cached(&select_entry("WHERE e.cid = ?1"))?;
        let mut rows = stmt.query([&cid])?;
        let row = rows.next()?.ok_or_else(|| {
            Error::Database(format!("entry '{cid}' vanished inside a transaction"))
        })?;
        return Ok(Committed {
            entry: entry_from_row(row)?,
            created: false,
        });
    }

    let version = match cache.next_version.get(&new.name) {
        Some(v) => *v,
        None => highest_version(tx, &new.name)? + 1,
    };
    cache.next_version.insert(new.name.clone(), version + 1);

    let data_urls: Vec<String> = new.shards.iter().map(|s| s.url.clone()).collect();
    let metadata = compat_metadata(new.metadata.as_ref(), &new.shards)?;
    let num_samples = new.num_samples();
    let created_at = now_rfc3339();
    let tags = serde_json::to_string(&new.tags)
        .map_err(|e| Error::invalid(format!("tags cannot be stored: {e}")))?;
    let num_samples_sql = i64::try_from(num_samples)
        .map_err(|_| Error::invalid(format!("dataset '{}' has too many samples", new.name)))?;

    tx.prepare_cached(
        "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        cid,
        new.name,
        schema_ref,
        strings_to_msgpack(&data_urls),
        to_msgpack(&metadata)
    ])?;
    tx.prepare_cached(
        "INSERT INTO atdata_entry_info \
         (cid, name, version, num_samples, shards, description, tags, license, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        cid,
        new.name,
        version,
        num_samples_sql,
        encode_shard_facts(&new.shards),
        new.description,
        tags,
        new.license,
        created_at
    ])?;
    // Labels are how 0.7 resolves names: a row per version, and the unversioned row (the
    // newest wins there by created_at, then rowid) pointing at this entry.
    let mut label = tx.prepare_cached(
        "INSERT OR REPLACE INTO labels (name, cid, version, description) VALUES (?1, ?2, ?3, ?4)",
    )?;
    label.execute(params![new.name, cid, version.to_string(), new.description])?;
    label.execute(params![new.name, cid, "", new.description])?;

    let (user_metadata, _) = split_metadata(Some(metadata));
    Ok(Committed {
        entry: Entry {
            name: new.name.clone(),
            version: version.to_string(),
            cid,
            schema_ref,
            data_urls,
            shards: new.shards.clone(),
            num_samples: Some(num_samples),
            description: new.description.clone(),
            tags: new.tags.clone(),
            license: new.license.clone(),
            metadata: user_metadata,
            created_at,
        },
        created: true,
    })
}

impl Provider for SqliteProvider {
    fn kind(&self) -> &'static str {
        "SqliteProvider"
    }

    fn commit_many(&self, entries: &[NewEntry]) -> Result<Vec<Committed>> {
        retry(|| {
            let mut conn = self.lock();
            // Rolls back on drop: an error below leaves nothing behind.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut cache = TxCache::default();
            let mut out = Vec::with_capacity(entries.len());
            for new in entries {
                out.push(commit_one(&tx, new, &mut cache)?);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>> {
        self.query_entry("WHERE e.cid = ?1", [cid])
    }

    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>> {
        if let Ok(n) = version.parse::<i64>() {
            if n.to_string() == version {
                let tail = format!("WHERE e.name = ?1 AND {VERSION_EXPR} = ?2");
                return self.query_entry(&tail, params![name, n]);
            }
        }
        // Python 0.7 labels carry free-form versions (`index.label(name, cid, version=...)`).
        let cid: Option<String> = self
            .lock()
            .prepare_cached("SELECT cid FROM labels WHERE name = ?1 AND version = ?2")?
            .query_row([name, version], |r| r.get(0))
            .optional()?;
        match cid {
            Some(cid) => self.entry_by_cid(&cid),
            None => Ok(None),
        }
    }

    fn latest_entry(&self, name: &str) -> Result<Option<Entry>> {
        let tail = format!("WHERE e.name = ?1 ORDER BY {VERSION_EXPR} DESC, e.rowid DESC LIMIT 1");
        self.query_entry(&tail, [name])
    }

    fn versions(&self, name: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {VERSION_EXPR} AS v FROM dataset_entries e \
             LEFT JOIN atdata_entry_info i ON i.cid = e.cid WHERE e.name = ?1 ORDER BY v"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([name], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for v in rows {
            out.push(v?.to_string());
        }
        Ok(out)
    }

    fn names(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT name FROM dataset_entries ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for n in rows {
            out.push(n?);
        }
        Ok(out)
    }

    fn entries(&self) -> Result<Vec<Entry>> {
        self.query_entries("ORDER BY e.rowid", [])
    }

    fn schemas(&self) -> Result<Vec<Schema>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, version, schema_json FROM schemas ORDER BY rowid",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<Schema> = Vec::new();
        while let Some(row) = rows.next()? {
            let (name, version, json): (String, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            // Listing skips records no reader could use; `schema()` reports them.
            if let Ok(mut s) = Schema::from_json(&json) {
                s.name = name;
                s.version = version;
                out.push(s);
            }
        }
        Ok(out)
    }

    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>> {
        let json: Option<String> = self
            .lock()
            .prepare_cached("SELECT schema_json FROM schemas WHERE name = ?1 AND version = ?2")?
            .query_row([name, version], |r| r.get(0))
            .optional()?;
        match json {
            None => Ok(None),
            Some(json) => {
                let mut s = Schema::from_json(&json).map_err(|e| match e {
                    Error::Corrupt { reason, .. } => {
                        Error::corrupt(format!("schema record '{name}@{version}': {reason}"))
                    }
                    other => other,
                })?;
                s.name = name.to_string();
                s.version = version.to_string();
                Ok(Some(s))
            }
        }
    }

    fn record_shard_info(&self, cid: &str, shards: &[ShardInfo]) -> Result<()> {
        retry(|| {
            let mut conn = self.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = {
                let mut stmt = tx.prepare_cached(&select_entry("WHERE e.cid = ?1"))?;
                let mut rows = stmt.query([cid])?;
                match rows.next()? {
                    Some(row) => entry_from_row(row)?,
                    None => return Err(Error::not_found(format!("index entry '{cid}'"))),
                }
            };
            // Keep what is known; fill the gaps.
            let merged: Vec<ShardInfo> = current
                .shards
                .iter()
                .enumerate()
                .map(|(n, old)| {
                    let new = shards.get(n);
                    ShardInfo {
                        url: old.url.clone(),
                        sha256: old
                            .sha256
                            .clone()
                            .or_else(|| new.and_then(|s| s.sha256.clone())),
                        samples: old.samples.or_else(|| new.and_then(|s| s.samples)),
                        bytes: old.bytes.or_else(|| new.and_then(|s| s.bytes)),
                    }
                })
                .collect();
            let total: Option<u64> = merged.iter().map(|s| s.samples).sum();
            let num_samples = current.num_samples.or(total);
            let num_samples_sql = num_samples.and_then(|n| i64::try_from(n).ok());
            let version: i64 = current.version.parse().map_err(|_| {
                Error::Database(format!("entry '{cid}' has version '{}'", current.version))
            })?;
            let updated = tx
                .prepare_cached(
                    "UPDATE atdata_entry_info SET num_samples = ?2, shards = ?3 WHERE cid = ?1",
                )?
                .execute(params![cid, num_samples_sql, encode_shard_facts(&merged)])?;
            if updated == 0 {
                // An entry 0.7 wrote: freeze its version. Should that number already be taken
                // (the file was edited by hand), skip the cache rather than fail the load.
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO atdata_entry_info \
                     (cid, name, version, num_samples, shards, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    cid,
                    current.name,
                    version,
                    num_samples_sql,
                    encode_shard_facts(&merged),
                    current.created_at
                ])?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::conformance;

    fn file_provider(dir: &tempfile::TempDir) -> SqliteProvider {
        SqliteProvider::open(dir.path().join("index.db")).unwrap()
    }

    macro_rules! conformance_tests {
        ($($name:ident),* $(,)?) => {
            mod in_memory {
                use super::*;
                $(#[test] fn $name() { crate::index::conformance::$name(&SqliteProvider::in_memory().unwrap()); })*
            }
            mod in_file {
                use super::*;
                $(#[test] fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    crate::index::conformance::$name(&file_provider(&dir));
                })*
            }
        };
    }

    conformance_tests!(
        empty_index_lists_nothing,
        commit_assigns_versions_in_order,
        commit_is_visible_by_cid_name_and_version,
        same_content_dedups_to_the_same_entry,
        entry_fields_round_trip,
        schema_reused_for_same_structure,
        schema_changed_structure_gets_next_major,
        commit_many_is_one_batch,
        commit_many_dedups_within_the_batch,
        failed_batch_leaves_nothing,
        record_shard_info_fills_gaps,
        lookups_of_missing_things_are_none,
        threads_writing_at_once_lose_nothing,
    );

    #[test]
    fn many_handles_on_one_file_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        let handles: Vec<SqliteProvider> = (0..4)
            .map(|_| SqliteProvider::open(&path).unwrap())
            .collect();
        let refs: Vec<&dyn Provider> = handles.iter().map(|h| h as &dyn Provider).collect();
        conformance::many_writers(&refs, 25);
    }

    #[test]
    fn reopened_file_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let first = file_provider(&dir);
        let c = first
            .commit(&conformance::sample_entry("docs", 3, "a"))
            .unwrap();
        drop(first);
        let again = file_provider(&dir);
        assert_eq!(again.entry_by_cid(&c.entry.cid).unwrap(), Some(c.entry));
    }

    #[test]
    fn python_rows_get_versions_by_insertion_order() {
        let p = SqliteProvider::in_memory().unwrap();
        {
            let conn = p.lock();
            for (cid, url) in [("bafy1", "/d/a.tar"), ("bafy2", "/d/b.tar")] {
                let meta = to_msgpack(&crate::Value::Map(vec![(
                    "checksums".into(),
                    crate::Value::Map(vec![(url.into(), crate::Value::from("ab12"))]),
                )]));
                conn.execute(
                    "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, metadata) \
                     VALUES (?1, 'py', 'atdata://local/schema/T@1.0.0', ?2, ?3)",
                    params![cid, strings_to_msgpack(&[url.to_string()]), meta],
                )
                .unwrap();
            }
        }
        assert_eq!(p.versions("py").unwrap(), vec!["1", "2"]);
        let latest = p.latest_entry("py").unwrap().unwrap();
        assert_eq!(latest.cid, "bafy2");
        assert_eq!(latest.shards[0].sha256.as_deref(), Some("ab12"));
        assert_eq!(latest.num_samples, None);
        assert!(latest.created_at.contains('T'), "{}", latest.created_at);
        // A write after them continues the numbering.
        let c = p.commit(&conformance::sample_entry("py", 1, "x")).unwrap();
        assert_eq!(c.entry.version, "3");
        // Learned counts are cached and keep the version.
        p.record_shard_info("bafy1", &[ShardInfo::new("/d/a.tar", "ffff", 7, 10240)])
            .unwrap();
        let first = p.entry_by_version("py", "1").unwrap().unwrap();
        assert_eq!(first.cid, "bafy1");
        assert_eq!(first.num_samples, Some(7));
        assert_eq!(
            first.shards[0].sha256.as_deref(),
            Some("ab12"),
            "known digest kept"
        );
        assert_eq!(p.versions("py").unwrap(), vec!["1", "2", "3"]);
    }

    #[test]
    fn python_labels_resolve_as_versions() {
        let p = SqliteProvider::in_memory().unwrap();
        let c = p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
        p.lock()
            .execute(
                "INSERT INTO labels (name, cid, version) VALUES ('d', ?1, '1.0.0')",
                [&c.entry.cid],
            )
            .unwrap();
        assert_eq!(
            p.entry_by_version("d", "1.0.0").unwrap().map(|e| e.cid),
            Some(c.entry.cid)
        );
        assert!(p.entry_by_version("d", "01").unwrap().is_none());
    }

    #[test]
    fn labels_point_at_the_newest_for_python() {
        let p = SqliteProvider::in_memory().unwrap();
        p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
        let second = p.commit(&conformance::sample_entry("d", 1, "y")).unwrap();
        let conn = p.lock();
        // The query Python atdata 0.7 uses to resolve a bare name.
        let cid: String = conn
            .query_row(
                "SELECT cid FROM labels WHERE name = 'd' ORDER BY created_at DESC, rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cid, second.entry.cid);
        let versions: Vec<String> = conn
            .prepare("SELECT version FROM labels WHERE name = 'd' ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(versions, vec!["", "1", "2"]);
    }

    #[test]
    fn corrupt_rows_are_errors_naming_the_entry() {
        let p = SqliteProvider::in_memory().unwrap();
        p.lock()
            .execute(
                "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
                 VALUES ('bad', 'n', 's', x'ff')",
                [],
            )
            .unwrap();
        let e = p.entry_by_cid("bad").unwrap_err();
        assert!(e.to_string().contains("'bad'"), "{e}");
    }

    #[test]
    fn shard_facts_round_trip() {
        let shards = vec![
            ShardInfo::new("/a", "ab", 3, 10240),
            ShardInfo {
                url: "/b".into(),
                sha256: None,
                samples: None,
                bytes: Some(1),
            },
        ];
        let facts = decode_shard_facts(&encode_shard_facts(&shards)).unwrap();
        assert_eq!(facts[0], (Some("ab".into()), Some(3), Some(10240)));
        assert_eq!(facts[1], (None, None, Some(1)));
        assert!(decode_shard_facts(&[0x91, 0x01]).is_err());
    }

    #[test]
    fn times_convert() {
        assert_eq!(
            sqlite_time_to_rfc3339("2026-01-02 03:04:05"),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(
            sqlite_time_to_rfc3339("2026-01-02T03:04:05Z"),
            "2026-01-02T03:04:05Z"
        );
    }
}
