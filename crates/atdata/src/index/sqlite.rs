//! [`SqliteProvider`]: the default index backend, an SQLite database in memory or in a file.
//!
//! The file keeps the four tables of Python atdata 0.7 (FORMAT.md section 6) with their exact
//! columns, so each side opens what the other wrote. What 0.7 has no column for (versions,
//! per-shard counts, description, tags, license, the caller's metadata apart from checksums)
//! lives in a table of ours, `atdata_entry_info`, one row per entry, keyed by the entry's rowid
//! in `dataset_entries` so that listing joins the two tables in one ordered pass (the row also
//! holds the CID, which is checked, and looked up by name and CID should a row have moved, e.g.
//! after a `VACUUM`). It has no index on the CID: random keys are the most expensive part of a
//! bulk commit, and lookups by CID go through `dataset_entries`. 0.7 never reads our table;
//! entries 0.7 writes have no row there, and their versions are their order of insertion.
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
    compat_metadata_msgpack, decide_schema_version, entry_cid, split_metadata,
    strings_from_msgpack, strings_to_msgpack, to_msgpack, value_from_msgpack, Committed, Entry,
    NewEntry, SchemaDecision, ShardInfo,
};
use crate::index::provider::Provider;
use crate::schema::{Schema, SchemaRef};
use crate::value::Value;

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
    entry_rowid INTEGER PRIMARY KEY,
    cid         TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    num_samples INTEGER,
    shards      BLOB,
    description TEXT,
    tags        TEXT,
    license     TEXT,
    metadata    BLOB,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS atdata_entry_info_version ON atdata_entry_info(name, version);
";

/// Our columns, in the order [`apply_info`] reads them.
macro_rules! info_columns {
    ($i:literal) => {
        concat!(
            $i,
            ".version, ",
            $i,
            ".num_samples, ",
            $i,
            ".shards, ",
            $i,
            ".description, ",
            $i,
            ".tags, ",
            $i,
            ".license, ",
            $i,
            ".metadata, ",
            $i,
            ".created_at"
        )
    };
}

/// The columns [`read_row`] reads: the 0.7 entry, its rowid, then ours (joined by rowid).
macro_rules! select_entry {
    ($tail:literal) => {
        concat!(
            "SELECT e.cid, e.name, e.schema_ref, e.data_urls, e.metadata, e.created_at, e.rowid, \
             i.cid, ",
            info_columns!("i"),
            " FROM dataset_entries e LEFT JOIN atdata_entry_info i ON i.entry_rowid = e.rowid ",
            $tail
        )
    };
}

/// Index of the first of our columns in `select_entry!`.
const INFO_AT: usize = 8;

/// How long a writer waits for another's lock before giving up with a retryable conflict.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts for an operation that keeps failing with a busy database (e.g. WAL recovery after a
/// crashed writer, which does not wait on the busy timeout).
const ATTEMPTS: u32 = 20;

/// Page cache per connection (KiB): enough to keep an index of ~100k entries in memory.
const CACHE_KIB: i64 = 64 * 1024;

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
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
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
            migrate_early_layout(&conn)?;
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

    fn query_entries(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Entry>> {
        let conn = self.lock();
        query_entries(&conn, sql, params)
    }

    fn query_entry(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Entry>> {
        Ok(self.query_entries(sql, params)?.pop())
    }
}

/// Files written by early development builds keyed our table by CID; move such a table to the
/// current layout (keyed by entry rowid), keeping every row whose entry still exists.
fn migrate_early_layout(conn: &Connection) -> Result<()> {
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('atdata_entry_info')")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if columns.is_empty() || columns.iter().any(|c| c == "entry_rowid") {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "ALTER TABLE atdata_entry_info RENAME TO atdata_entry_info_early;
         DROP INDEX IF EXISTS atdata_entry_info_version;",
    )?;
    tx.execute_batch(CREATE_TABLES)?;
    tx.execute_batch(
        "INSERT OR IGNORE INTO atdata_entry_info \
         (entry_rowid, cid, name, version, num_samples, shards, description, license, created_at) \
         SELECT e.rowid, o.cid, o.name, o.version, o.num_samples, o.shards, o.description, \
         o.license, o.created_at FROM atdata_entry_info_early o \
         JOIN dataset_entries e ON e.cid = o.cid;
         DROP TABLE atdata_entry_info_early;",
    )?;
    tx.commit()?;
    Ok(())
}

/// Runs a `select_entry!` query and completes the entries our table did not describe.
fn query_entries(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Entry>> {
    // Listing everything: size the result once (rowids are dense unless entries were removed).
    let hint: i64 = if sql.contains("WHERE") {
        1
    } else {
        conn.prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM dataset_entries")?
            .query_row([], |r| r.get(0))?
    };
    let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).min(1 << 20));
    let mut incomplete = Vec::new();
    {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        while let Some(row) = rows.next()? {
            let (entry, rowid, complete) = read_row(row)?;
            if !complete {
                incomplete.push((out.len(), rowid));
            }
            out.push(entry);
        }
    }
    for (at, rowid) in incomplete {
        if let Some(e) = out.get_mut(at) {
            complete_entry(conn, e, rowid)?;
        }
    }
    Ok(out)
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

/// Now as SQLite's `datetime('now')` writes it, the form 0.7's `created_at` columns hold (and
/// compare as text, to find the newest label).
fn now_sqlite() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2026-01-02 03:04:05` (SQLite `datetime('now')`, what 0.7 rows hold) as RFC 3339.
fn sqlite_time_to_rfc3339(t: &str) -> String {
    match t.split_once(' ') {
        Some((d, h)) if !t.contains('T') => format!("{d}T{h}+00:00"),
        _ => t.to_string(),
    }
}

fn bytes_col<'a>(row: &'a Row<'_>, i: usize, cid: &str, what: &str) -> Result<Option<&'a [u8]>> {
    match row.get_ref(i)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => Ok(Some(b)),
        ValueRef::Text(t) => Ok(Some(t)),
        _ => Err(Error::corrupt(format!(
            "index entry '{cid}': column {what} is not a blob"
        ))),
    }
}

fn corrupt_in(cid: &str, what: &str, e: Error) -> Error {
    match e {
        Error::Corrupt { reason, .. } => {
            Error::corrupt(format!("index entry '{cid}': {what}: {reason}"))
        }
        other => other,
    }
}

/// Decodes a `select_entry!` row: the entry, its rowid, and whether our table described it.
/// An entry it did not describe has the 0.7 columns only (version still unknown: `""`).
fn read_row(row: &Row<'_>) -> Result<(Entry, i64, bool)> {
    let cid: String = row.get(0)?;
    let data_urls = match bytes_col(row, 3, &cid, "data_urls")? {
        Some(b) => strings_from_msgpack(b).map_err(|e| corrupt_in(&cid, "data_urls", e))?,
        None => Vec::new(),
    };
    let rowid: i64 = row.get(6)?;
    let described = matches!(row.get_ref(7)?, ValueRef::Text(t) if t == cid.as_bytes());
    let mut entry = Entry {
        name: row.get(1)?,
        version: String::new(),
        schema_ref: row.get(2)?,
        shards: Vec::new(),
        num_samples: None,
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
        created_at: String::new(),
        data_urls,
        cid,
    };
    if described {
        apply_info(&mut entry, row, INFO_AT)?;
    } else {
        // Only 0.7's columns: the caller's metadata and checksums share one map.
        let metadata = match bytes_col(row, 4, &entry.cid, "metadata")? {
            Some(b) => {
                Some(value_from_msgpack(b).map_err(|e| corrupt_in(&entry.cid, "metadata", e))?)
            }
            None => None,
        };
        let (user, checksums) = split_metadata(metadata);
        entry.metadata = user;
        entry.shards = entry
            .data_urls
            .iter()
            .map(|url| ShardInfo {
                url: url.clone(),
                sha256: checksums
                    .iter()
                    .find(|(u, _)| u == url)
                    .map(|(_, d)| d.clone()),
                samples: None,
                bytes: None,
            })
            .collect();
        let time: Option<String> = row.get(5)?;
        entry.created_at = time
            .as_deref()
            .map(sqlite_time_to_rfc3339)
            .unwrap_or_default();
    }
    Ok((entry, rowid, described))
}

/// Fills `entry` from our columns starting at `at` (see `info_columns!`). Digests already known
/// (from 0.7's checksums) are kept where our row has none.
fn apply_info(entry: &mut Entry, row: &Row<'_>, at: usize) -> Result<()> {
    let cid = entry.cid.as_str();
    let version: i64 = row.get(at)?;
    let num_samples: Option<i64> = row.get(at + 1)?;
    let mut shards = match bytes_col(row, at + 2, cid, "shards")? {
        Some(b) => decode_shards(b, &entry.data_urls).map_err(|e| corrupt_in(cid, "shards", e))?,
        None => decode_shards(&[0x90], &entry.data_urls)?,
    };
    for (s, k) in shards.iter_mut().zip(&entry.shards) {
        if s.sha256.is_none() {
            s.sha256.clone_from(&k.sha256);
        }
    }
    let tags = match bytes_col(row, at + 4, cid, "tags")? {
        Some(b) => strings_from_msgpack(b).map_err(|e| corrupt_in(cid, "tags", e))?,
        None => Vec::new(),
    };
    let metadata = match bytes_col(row, at + 6, cid, "metadata")? {
        Some(b) => Some(value_from_msgpack(b).map_err(|e| corrupt_in(cid, "metadata", e))?),
        None => None,
    };
    entry.version = version.to_string();
    entry.num_samples = num_samples.and_then(|n| u64::try_from(n).ok());
    entry.shards = shards;
    entry.description = row.get(at + 3)?;
    entry.tags = tags;
    entry.license = row.get(at + 5)?;
    entry.metadata = metadata;
    entry.created_at = row.get(at + 7)?;
    Ok(())
}

/// Completes an entry our table did not describe at its rowid: our row found by CID (the entry
/// moved), else a 0.7 entry whose version is its position among its name's entries.
fn complete_entry(conn: &Connection, entry: &mut Entry, rowid: i64) -> Result<()> {
    const BY_CID: &str = concat!(
        "SELECT ",
        info_columns!("i"),
        " FROM atdata_entry_info i WHERE i.name = ?1 AND i.cid = ?2"
    );
    let mut stmt = conn.prepare_cached(BY_CID)?;
    let mut rows = stmt.query([&entry.name, &entry.cid])?;
    if let Some(row) = rows.next()? {
        return apply_info(entry, row, 0);
    }
    let position: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM dataset_entries WHERE name = ?1 AND rowid <= ?2")?
        .query_row(params![entry.name, rowid], |r| r.get(0))?;
    entry.version = position.to_string();
    Ok(())
}

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

/// Reads our `shards` column into one [`ShardInfo`] per URL (facts missing -> unknown).
fn decode_shards(buf: &[u8], urls: &[String]) -> Result<Vec<ShardInfo>> {
    let mut r = MsgReader::new(buf);
    let n = match r.next_token()? {
        Token::Array(n) => n,
        _ => return Err(r.error("expected an array of shards")),
    };
    let mut out = Vec::with_capacity(urls.len());
    for i in 0..n {
        if r.next_token()? != Token::Array(3) {
            return Err(r.error("expected [sha256, samples, bytes]"));
        }
        let sha256 = match r.next_token()? {
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
        if let Some(url) = urls.get(i) {
            out.push(ShardInfo {
                url: url.clone(),
                sha256,
                samples: nums[0],
                bytes: nums[1],
            });
        }
    }
    for url in urls.iter().skip(out.len()) {
        out.push(ShardInfo {
            url: url.clone(),
            sha256: None,
            samples: None,
            bytes: None,
        });
    }
    Ok(out)
}

/// The caller's metadata as our column stores it (`None` when there is none).
fn user_metadata_blob(metadata: Option<&Value>) -> Option<Vec<u8>> {
    match metadata {
        None | Some(Value::Nil) => None,
        Some(Value::Map(pairs)) if pairs.is_empty() => None,
        Some(v) => Some(to_msgpack(v)),
    }
}

/// Tags as our column stores them: a msgpack array of strings, `None` when there are none.
fn tags_blob(tags: &[String]) -> Option<Vec<u8>> {
    (!tags.is_empty()).then(|| strings_to_msgpack(tags))
}

/// What one transaction has learned so far, so a bulk commit reads each schema name and each
/// dataset name's highest version once, decides each distinct schema once, and moves each
/// name's unversioned label once.
struct TxCache {
    schemas: HashMap<String, Vec<Schema>>,
    /// Each distinct schema of this transaction with its schema reference.
    decided: Vec<(Schema, String)>,
    next_version: HashMap<String, i64>,
    /// name -> (cid, description) of the newest entry committed in this transaction.
    newest: HashMap<String, (String, Option<String>)>,
    /// Commit time, RFC 3339 (our column) and SQLite text (0.7's columns).
    now: String,
    now_sql: String,
}

impl TxCache {
    fn new() -> Self {
        TxCache {
            schemas: HashMap::new(),
            decided: Vec::new(),
            next_version: HashMap::new(),
            newest: HashMap::new(),
            now: now_rfc3339(),
            now_sql: now_sqlite(),
        }
    }

    /// Points each name's unversioned label (how 0.7 resolves a bare name) at its newest entry.
    fn finish(self, tx: &Transaction<'_>) -> Result<()> {
        let mut label = tx.prepare_cached(
            "INSERT OR REPLACE INTO labels (name, cid, version, description, created_at) \
             VALUES (?1, ?2, '', ?3, ?4)",
        )?;
        for (name, (cid, description)) in &self.newest {
            label.execute(params![name, cid, description, self.now_sql])?;
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

/// The highest version of `name`: the larger of our highest number and the count of its
/// entries (0.7's are numbered by position), so no number is ever given twice.
fn highest_version(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let ours: Option<i64> = tx
        .prepare_cached("SELECT MAX(version) FROM atdata_entry_info WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    let count: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM dataset_entries WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    Ok(ours.unwrap_or(0).max(count))
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

fn commit_one(tx: &Transaction<'_>, new: &NewEntry, cache: &mut TxCache) -> Result<Committed> {
    let digests = new.digests()?;
    let schema_ref = schema_ref_for(tx, &new.schema, cache)?;
    let cid = entry_cid(&new.name, &schema_ref, &digests)?;
    let data_urls: Vec<String> = new.shards.iter().map(|s| s.url.clone()).collect();
    let metadata = compat_metadata_msgpack(new.metadata.as_ref(), &new.shards)?;
    // The transaction holds the write lock: no other writer can take this number meanwhile.
    let version = match cache.next_version.get(&new.name) {
        Some(v) => *v,
        None => highest_version(tx, &new.name)? + 1,
    };
    // Inserting first and looking only when nothing was inserted saves a lookup per entry.
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO dataset_entries \
             (cid, name, schema_ref, data_urls, metadata, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            cid,
            new.name,
            schema_ref,
            strings_to_msgpack(&data_urls),
            metadata,
            cache.now_sql
        ])?;
    if inserted == 0 {
        let existing = query_entries(tx, select_entry!("WHERE e.cid = ?1"), [&cid])?
            .pop()
            .ok_or_else(|| {
                Error::Database(format!("entry '{cid}' vanished inside a transaction"))
            })?;
        return Ok(Committed {
            entry: existing,
            created: false,
        });
    }
    let rowid = tx.last_insert_rowid();
    cache.next_version.insert(new.name.clone(), version + 1);
    let num_samples = new.num_samples();
    let num_samples_sql = i64::try_from(num_samples)
        .map_err(|_| Error::invalid(format!("dataset '{}' has too many samples", new.name)))?;
    tx.prepare_cached(
        "INSERT INTO atdata_entry_info (entry_rowid, cid, name, version, num_samples, shards, \
         description, tags, license, metadata, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        rowid,
        cid,
        new.name,
        version,
        num_samples_sql,
        encode_shard_facts(&new.shards),
        new.description,
        tags_blob(&new.tags),
        new.license,
        user_metadata_blob(new.metadata.as_ref()),
        cache.now
    ])?;
    // Labels are how 0.7 resolves names: a row per version here, and the unversioned row
    // (see `TxCache::finish`) pointing at the newest.
    tx.prepare_cached(
        "INSERT OR REPLACE INTO labels (name, cid, version, description, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        new.name,
        cid,
        version.to_string(),
        new.description,
        cache.now_sql
    ])?;
    cache
        .newest
        .insert(new.name.clone(), (cid.clone(), new.description.clone()));
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
            metadata: match &new.metadata {
                Some(Value::Map(m)) if m.is_empty() => None,
                Some(Value::Nil) => None,
                other => other.clone(),
            },
            created_at: cache.now.clone(),
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
            let mut cache = TxCache::new();
            let mut out = Vec::with_capacity(entries.len());
            for new in entries {
                out.push(commit_one(&tx, new, &mut cache)?);
            }
            cache.finish(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>> {
        self.query_entry(select_entry!("WHERE e.cid = ?1"), [cid])
    }

    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>> {
        if let Ok(n) = version.parse::<i64>() {
            if n.to_string() == version {
                // Ours, through the (name, version) index; else 0.7's by position.
                const OURS: &str = concat!(
                    "SELECT e.cid, e.name, e.schema_ref, e.data_urls, e.metadata, e.created_at, \
                     e.rowid, i.cid, ",
                    info_columns!("i"),
                    " FROM atdata_entry_info i JOIN dataset_entries e ON e.cid = i.cid \
                     WHERE i.name = ?1 AND i.version = ?2"
                );
                if let Some(e) = self.query_entry(OURS, params![name, n])? {
                    return Ok(Some(e));
                }
                if n < 1 {
                    return Ok(None);
                }
                const NTH: &str =
                    select_entry!("WHERE e.name = ?1 ORDER BY e.rowid LIMIT 1 OFFSET ?2");
                return Ok(self
                    .query_entry(NTH, params![name, n - 1])?
                    .filter(|e| e.version == version));
            }
        }
        // Python 0.7 labels carry free-form versions (`index.label(name, cid, version=...)`).
        let cid: Option<String> = self
            .lock()
            .prepare_cached("SELECT cid FROM labels WHERE name = ?1 AND version = ?2")?
            .query_row([name, version], |r| r.get(0))
            .optional()?;
        match cid {
            Some(cid) => Ok(self.entry_by_cid(&cid)?.filter(|e| e.name == name)),
            None => Ok(None),
        }
    }

    fn latest_entry(&self, name: &str) -> Result<Option<Entry>> {
        // Within a name, versions grow with rowid (a commit numbers its entry one above the
        // newest and inserts it last; 0.7's are numbered by position), so the newest is the
        // last row. Only a row moved since (0.7 re-adding an entry with INSERT OR REPLACE) can
        // break that; then our highest number wins.
        let newest = self.query_entry(
            select_entry!("WHERE e.name = ?1 ORDER BY e.rowid DESC LIMIT 1"),
            [name],
        )?;
        let Some(newest) = newest else {
            return Ok(None);
        };
        let ours: Option<i64> = self
            .lock()
            .prepare_cached("SELECT MAX(version) FROM atdata_entry_info WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?;
        match ours {
            Some(v) if newest.version.parse::<i64>().is_ok_and(|n| n < v) => Ok(self
                .entry_by_version(name, &v.to_string())?
                .or(Some(newest))),
            _ => Ok(Some(newest)),
        }
    }

    fn versions(&self, name: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut found: Vec<(i64, Option<String>)> = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT e.cid, i.cid, i.version FROM dataset_entries e \
                 LEFT JOIN atdata_entry_info i ON i.entry_rowid = e.rowid \
                 WHERE e.name = ?1 ORDER BY e.rowid",
            )?;
            let mut rows = stmt.query([name])?;
            while let Some(row) = rows.next()? {
                let (cid, info_cid, v): (String, Option<String>, Option<i64>) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                let position = found.len() as i64 + 1;
                found.push(match (info_cid, v) {
                    (Some(c), Some(v)) if c == cid => (v, None),
                    // Not described at its rowid: ours moved, or one of 0.7's.
                    _ => (position, Some(cid)),
                });
            }
        }
        for (v, cid) in &mut found {
            if let Some(cid) = cid.take() {
                let ours: Option<i64> = conn
                    .prepare_cached(
                        "SELECT version FROM atdata_entry_info WHERE name = ?1 AND cid = ?2",
                    )?
                    .query_row(params![name, cid], |r| r.get(0))
                    .optional()?;
                if let Some(o) = ours {
                    *v = o;
                }
            }
        }
        let mut versions: Vec<i64> = found.into_iter().map(|(v, _)| v).collect();
        versions.sort_unstable();
        Ok(versions.into_iter().map(|v| v.to_string()).collect())
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
        self.query_entries(select_entry!("ORDER BY e.rowid"), [])
    }

    fn schemas(&self) -> Result<Vec<Schema>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT name, version, schema_json FROM schemas ORDER BY rowid")?;
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
            let current = query_entries(&tx, select_entry!("WHERE e.cid = ?1"), [cid])?
                .pop()
                .ok_or_else(|| Error::not_found(format!("index entry '{cid}'")))?;
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
            let updated = tx
                .prepare_cached(
                    "UPDATE atdata_entry_info SET num_samples = ?3, shards = ?4 \
                     WHERE name = ?1 AND cid = ?2",
                )?
                .execute(params![
                    current.name,
                    cid,
                    num_samples_sql,
                    encode_shard_facts(&merged)
                ])?;
            if updated == 0 {
                // An entry 0.7 wrote: freeze its version and keep its metadata with it. Should
                // its rowid or number be taken already (the file was edited by other means),
                // skip the cache rather than fail the load.
                let version: i64 = current.version.parse().map_err(|_| {
                    Error::Database(format!("entry '{cid}' has version '{}'", current.version))
                })?;
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO atdata_entry_info \
                     (entry_rowid, cid, name, version, num_samples, shards, metadata, created_at) \
                     SELECT rowid, ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM dataset_entries WHERE cid = ?1",
                )?
                .execute(params![
                    cid,
                    current.name,
                    version,
                    num_samples_sql,
                    encode_shard_facts(&merged),
                    user_metadata_blob(current.metadata.as_ref()),
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
    fn a_row_moved_by_insert_or_replace_keeps_its_version() {
        let p = SqliteProvider::in_memory().unwrap();
        let first = p
            .commit(&conformance::sample_entry("d", 1, "x"))
            .unwrap()
            .entry;
        let second = p
            .commit(&conformance::sample_entry("d", 1, "y"))
            .unwrap()
            .entry;
        // What Python 0.7 does when an entry with the same CID is stored again.
        p.lock()
            .execute(
                "INSERT OR REPLACE INTO dataset_entries \
                 (cid, name, schema_ref, data_urls, metadata) \
                 SELECT cid, name, schema_ref, data_urls, metadata FROM dataset_entries \
                 WHERE cid = ?1",
                [&first.cid],
            )
            .unwrap();
        assert_eq!(p.entry_by_cid(&first.cid).unwrap(), Some(first.clone()));
        assert_eq!(p.versions("d").unwrap(), vec!["1", "2"]);
        assert_eq!(p.latest_entry("d").unwrap(), Some(second.clone()));
        assert_eq!(p.entry_by_version("d", "1").unwrap(), Some(first.clone()));
        let listed = p.entries().unwrap();
        assert_eq!(listed, vec![second, first]);
        let third = p
            .commit(&conformance::sample_entry("d", 1, "z"))
            .unwrap()
            .entry;
        assert_eq!(third.version, "3");
    }

    #[test]
    fn early_layout_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        let cid = {
            let p = SqliteProvider::open(&path).unwrap();
            let c = p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
            p.lock()
                .execute_batch(
                    "DROP TABLE atdata_entry_info;
                     CREATE TABLE atdata_entry_info (cid TEXT PRIMARY KEY, name TEXT NOT NULL,
                       version INTEGER NOT NULL, num_samples INTEGER, shards BLOB,
                       description TEXT, tags TEXT, license TEXT, created_at TEXT NOT NULL)
                       WITHOUT ROWID;
                     CREATE UNIQUE INDEX atdata_entry_info_version ON atdata_entry_info(name, version);",
                )
                .unwrap();
            p.lock()
                .execute(
                    "INSERT INTO atdata_entry_info VALUES (?1, 'd', 7, 10, NULL, 'old', '[]', NULL, 't')",
                    [&c.entry.cid],
                )
                .unwrap();
            c.entry.cid
        };
        let p = SqliteProvider::open(&path).unwrap();
        let e = p.entry_by_cid(&cid).unwrap().unwrap();
        assert_eq!((e.version.as_str(), e.num_samples), ("7", Some(10)));
        assert_eq!(e.description.as_deref(), Some("old"));
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
        let urls = vec!["/a".to_string(), "/b".to_string(), "/c".to_string()];
        let back = decode_shards(&encode_shard_facts(&shards), &urls).unwrap();
        assert_eq!(back[..2], shards[..]);
        assert_eq!(back[2].url, "/c");
        assert_eq!(back[2].sha256, None);
        assert!(decode_shards(&[0x91, 0x01], &urls).is_err());
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
