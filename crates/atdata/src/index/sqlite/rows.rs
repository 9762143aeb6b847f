//! Reading entries: one `dataset_entries` row becomes an [`Entry`], and entries 0.7 wrote
//! (no version of ours) get theirs from their place among their name's rows.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::index::entry::{
    split_metadata, strings_from_msgpack, value_from_msgpack, Entry, ShardInfo,
};
use crate::index::sqlite::info;

/// `SELECT` of the columns [`read_row`] reads, completed by a `WHERE`/`ORDER BY` tail. 0.7's
/// `metadata` and `created_at` come last: they are read only for rows 0.7 wrote.
macro_rules! select_entry {
    ($tail:literal) => {
        concat!(
            "SELECT cid, name, schema_ref, data_urls, atdata_version, atdata_info, rowid, \
             metadata, created_at FROM dataset_entries ",
            $tail
        )
    };
}
pub(super) use select_entry;

/// Where an entry read came from: its row, and our version number (`None` for a row 0.7
/// wrote, whose version [`complete`] works out).
#[derive(Debug, Clone, Copy)]
pub(super) struct RowMeta {
    pub rowid: i64,
    pub version: Option<i64>,
}

/// The entries a query read, in row order, and beside them (kept apart so that completing
/// versions never moves the large entries) where each came from.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub entries: Vec<Entry>,
    pub rows: Vec<RowMeta>,
}

impl Found {
    fn with_capacity(n: usize) -> Self {
        Found {
            entries: Vec::with_capacity(n),
            rows: Vec::with_capacity(n),
        }
    }

    fn append(&mut self, mut other: Found) {
        self.entries.append(&mut other.entries);
        self.rows.append(&mut other.rows);
    }
}

/// What [`read_row`] needs of one row, copied out of SQLite into a buffer shared by all rows:
/// the scan (which SQLite runs on one thread) allocates nothing per row, and the decoding
/// (which allocates a dozen strings per entry) can then run on several threads.
struct RawRow {
    rowid: i64,
    version: Option<i64>,
    /// Byte spans in the shared buffer of the columns in [`RAW_COLUMNS`] order.
    spans: [Option<(usize, usize)>; 7],
}

/// The text and blob columns a [`RawRow`] keeps, with their index in `select_entry!`. 0.7's
/// `metadata` and `created_at` (the last two) are kept only for rows without our facts.
const RAW_COLUMNS: [(&str, usize); 7] = [
    ("cid", 0),
    ("name", 1),
    ("schema_ref", 2),
    ("data_urls", 3),
    ("atdata_info", 5),
    ("metadata", 7),
    ("created_at", 8),
];
const CID: usize = 0;
const NAME: usize = 1;
const SCHEMA_REF: usize = 2;
const DATA_URLS: usize = 3;
const INFO: usize = 4;
const METADATA: usize = 5;
const CREATED_AT: usize = 6;

/// Rows read by one query, or one chunk of them.
struct RawRows {
    buf: Vec<u8>,
    rows: Vec<RawRow>,
}

/// Rows per chunk handed to another thread for decoding while the scan goes on.
const CHUNK: usize = 512;

/// Copies what [`read_row`] needs of `row` into `out`.
fn scan_row(row: &rusqlite::Row<'_>, out: &mut RawRows) -> Result<()> {
    let rowid: i64 = row.get(6)?;
    let mut raw = RawRow {
        rowid,
        version: row.get(4)?,
        spans: [None; 7],
    };
    for (slot, (what, column)) in RAW_COLUMNS.iter().enumerate() {
        if slot >= METADATA && raw.spans[INFO].is_some() {
            break;
        }
        raw.spans[slot] = match row.get_ref(*column)? {
            ValueRef::Null => None,
            ValueRef::Text(b) | ValueRef::Blob(b) => {
                let start = out.buf.len();
                out.buf.extend_from_slice(b);
                Some((start, b.len()))
            }
            _ => {
                return Err(Error::corrupt(format!(
                    "index row {rowid}: column {what} holds a number, not text or bytes"
                )))
            }
        };
    }
    out.rows.push(raw);
    Ok(())
}

fn decode_chunk(chunk: RawRows) -> Result<Found> {
    let RawRows { buf, rows } = chunk;
    let mut out = Found::with_capacity(rows.len());
    for r in rows {
        out.rows.push(RowMeta {
            rowid: r.rowid,
            version: r.version,
        });
        out.entries.push(read_row(&buf, r)?);
    }
    Ok(out)
}

fn corrupt_in(cid: &str, what: &str, e: Error) -> Error {
    match e {
        Error::Corrupt { reason, .. } => {
            Error::corrupt(format!("index entry '{cid}': {what}: {reason}"))
        }
        other => other,
    }
}

/// `2026-01-02 03:04:05` (SQLite `datetime('now')`, what 0.7 rows hold) as RFC 3339.
pub(super) fn sqlite_time_to_rfc3339(t: &str) -> String {
    match t.split_once(' ') {
        Some((d, h)) if !t.contains('T') => format!("{d}T{h}+00:00"),
        _ => t.to_string(),
    }
}

/// Decodes one scanned row.
fn read_row(buf: &[u8], raw: RawRow) -> Result<Entry> {
    let bytes = |slot: usize| raw.spans[slot].map(|(at, len)| &buf[at..at + len]);
    let rowid = raw.rowid;
    let text = |slot: usize| -> Result<Option<&str>> {
        bytes(slot)
            .map(|b| {
                std::str::from_utf8(b).map_err(|_| {
                    Error::corrupt(format!(
                        "index row {rowid}: column {} is not UTF-8",
                        RAW_COLUMNS[slot].0
                    ))
                })
            })
            .transpose()
    };
    let required = |slot: usize| -> Result<String> {
        text(slot)?.map(str::to_string).ok_or_else(|| {
            Error::corrupt(format!(
                "index row {rowid}: column {} is NULL",
                RAW_COLUMNS[slot].0
            ))
        })
    };
    let cid = required(CID)?;
    let data_urls = match bytes(DATA_URLS) {
        Some(b) => strings_from_msgpack(b).map_err(|e| corrupt_in(&cid, "data_urls", e))?,
        None => Vec::new(),
    };
    let mut entry = Entry {
        name: required(NAME)?,
        version: raw.version.map(|v| v.to_string()).unwrap_or_default(),
        schema_ref: required(SCHEMA_REF)?,
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
    match bytes(INFO) {
        Some(b) => info::decode_into(b, &mut entry)
            .map_err(|e| corrupt_in(&entry.cid, "atdata_info", e))?,
        None => {
            // An entry 0.7 wrote: the caller's metadata and the checksums share 0.7's map.
            let metadata = match bytes(METADATA) {
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
            entry.created_at = text(CREATED_AT)?
                .map(sqlite_time_to_rfc3339)
                .unwrap_or_default();
        }
    }
    Ok(entry)
}

/// Runs a `select_entry!` query. Up to [`CHUNK`] rows, everything happens on this thread.
/// Beyond, a second thread decodes chunks of rows while SQLite steps through the rest here
/// (a listing of 10k entries spends more time building entries than SQLite spends finding
/// them), and this thread joins the decoding when the scan ends.
pub(super) fn query(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Found> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    // Sized for a typical row up front: growing from empty reallocates and copies several
    // times, which showed in the cost of a single lookup.
    let mut chunk = RawRows {
        buf: Vec::with_capacity(1024),
        rows: Vec::with_capacity(1),
    };
    while chunk.rows.len() < CHUNK {
        match rows.next()? {
            Some(row) => scan_row(row, &mut chunk)?,
            None => return decode_chunk(chunk),
        }
    }
    type Decoded = (usize, Result<Found>);
    let (todo_tx, todo_rx) = channel::<(usize, RawRows)>();
    let (done_tx, done_rx) = channel::<Decoded>();
    let todo = Mutex::new(todo_rx);
    // Takes chunks until none are left; both threads run it.
    let decode_all = |done: Sender<Decoded>| loop {
        let next = todo.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok((at, part)) = next else { break };
        if done.send((at, decode_chunk(part))).is_err() {
            break;
        }
    };
    let mut sent = 0usize;
    let scanned = std::thread::scope(|scope| -> Result<()> {
        let helper_done = done_tx.clone();
        scope.spawn(|| decode_all(helper_done));
        // Returning early drops `todo_tx`, which ends the helper.
        let todo_tx = todo_tx;
        let mut chunk = chunk;
        loop {
            let row = rows.next()?;
            if row.is_none() || chunk.rows.len() == CHUNK {
                let next = RawRows {
                    buf: Vec::with_capacity(chunk.buf.len() + chunk.buf.len() / 8),
                    rows: Vec::with_capacity(CHUNK),
                };
                let full = std::mem::replace(&mut chunk, next);
                if !full.rows.is_empty() {
                    // The helper only stops once `todo_tx` is dropped.
                    let _ = todo_tx.send((sent, full));
                    sent += 1;
                }
            }
            match row {
                Some(row) => scan_row(row, &mut chunk)?,
                None => break,
            }
        }
        drop(todo_tx);
        decode_all(done_tx);
        Ok(())
    });
    scanned?;
    let mut decoded: Vec<Decoded> = done_rx.iter().collect();
    if decoded.len() != sent {
        return Err(Error::Database(format!(
            "{} of {sent} chunks of rows were not decoded",
            sent - decoded.len()
        )));
    }
    decoded.sort_unstable_by_key(|(at, _)| *at);
    let mut out = Found::with_capacity(sent * CHUNK);
    for (_, part) in decoded {
        out.append(part?);
    }
    Ok(out)
}

/// The version of a name's row given the one before it: ours as recorded; a row 0.7 wrote is
/// one above the previous row of its name (so `1..n` in an index only 0.7 wrote), which never
/// repeats a number since ours grow with the row order too.
pub(super) fn next_version(recorded: Option<i64>, previous: i64) -> i64 {
    recorded.unwrap_or(previous + 1)
}

/// The versions of `name`'s rows, oldest first, as `(rowid, version)`; rows after `upto` (a
/// rowid) are not read.
pub(super) fn versions_of(conn: &Connection, name: &str, upto: i64) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, atdata_version FROM dataset_entries \
         WHERE name = ?1 AND rowid <= ?2 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![name, upto])?;
    let mut out: Vec<(i64, i64)> = Vec::new();
    while let Some(row) = rows.next()? {
        let previous = out.last().map_or(0, |(_, v)| *v);
        out.push((row.get(0)?, next_version(row.get(1)?, previous)));
    }
    Ok(out)
}

/// Gives every entry read its version, in place. `all_rows` says the rows are the whole table
/// in rowid order (a listing), so the versions of 0.7's rows follow from the list itself;
/// otherwise each such row looks at the rows of its name before it.
pub(super) fn complete(conn: &Connection, found: Found, all_rows: bool) -> Result<Vec<Entry>> {
    let Found { mut entries, rows } = found;
    if rows.iter().all(|r| r.version.is_some()) {
        return Ok(entries);
    }
    if all_rows {
        let mut last: HashMap<&str, i64> = HashMap::new();
        let mut versions = Vec::with_capacity(rows.len());
        for (e, r) in entries.iter().zip(&rows) {
            let slot = last.entry(e.name.as_str()).or_insert(0);
            *slot = next_version(r.version, *slot);
            versions.push(r.version.is_none().then_some(*slot));
        }
        for (e, v) in entries.iter_mut().zip(versions) {
            if let Some(v) = v {
                e.version = v.to_string();
            }
        }
        return Ok(entries);
    }
    for (e, r) in entries.iter_mut().zip(&rows) {
        if r.version.is_none() {
            let v = versions_of(conn, &e.name, r.rowid)?
                .last()
                .map_or(1, |(_, v)| *v);
            e.version = v.to_string();
        }
    }
    Ok(entries)
}

/// The one entry a `select_entry!` query finds, with its version.
pub(super) fn query_one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<Entry>> {
    let rows = query(conn, sql, params)?;
    Ok(complete(conn, rows, false)?.pop())
}
