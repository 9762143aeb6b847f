//! Reading entries: one `dataset_entries` row becomes an [`Entry`], and entries 0.7 wrote
//! (no version of ours) get theirs from their place among their name's rows.

use std::collections::HashMap;
use std::sync::mpsc::sync_channel;

use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::index::columns::raw::{CheckedRows, RawRows};
use crate::index::columns::{next_version, read_row};
use crate::index::entry::Entry;
use crate::index::provider::{ListQuery, Listing, Page};
use crate::index::sqlite::select::{scan_listing, scan_row, select_entry, Scanned};

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
}

/// Rows per chunk handed from the scanning thread to the decoding one.
const CHUNK: usize = 128;

fn decode_chunk(chunk: CheckedRows) -> Result<Found> {
    let mut out = Found::with_capacity(chunk.rows().len());
    decode_into_found(chunk, &mut out)?;
    Ok(out)
}

fn decode_into_found(chunk: CheckedRows, out: &mut Found) -> Result<()> {
    for r in chunk.rows() {
        out.rows.push(RowMeta {
            rowid: r.rowid,
            version: r.version,
        });
        out.entries.push(read_row(&chunk, r)?);
    }
    Ok(())
}

/// Runs a `select_entry!` query on this thread: for lookups, which find a row or a few.
pub(super) fn query(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Found> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut raw = RawRows::with_capacity(1);
    while let Some(row) = rows.next()? {
        if let Scanned::NeedsColumns(rowid) = scan_row(conn, row, &mut raw)? {
            // `select_entry!` selects every column a row can need.
            return Err(Error::Database(format!(
                "index row {rowid}: the query did not select 0.7's columns"
            )));
        }
    }
    decode_chunk(raw.checked()?)
}

/// Reads every row of the table in rowid order (a listing). Past a few hundred rows, SQLite
/// steps through them on a second thread, which hands over chunks of parsed rows while this
/// thread builds entries from them: the two halves take about the same time, and every
/// string of the result is allocated by the thread that will most likely free it (freeing
/// memory another thread allocated costs several times more).
pub(super) fn query_many(conn: &mut Connection) -> Result<Found> {
    // SQLite counts rows page by page without reading them: cheap next to the listing.
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM dataset_entries")?
        .query_row([], |r| r.get(0))?;
    let mut out = Found::with_capacity(usize::try_from(count).unwrap_or(0));
    if count <= 2 * CHUNK as i64 {
        let mut decode = |chunk: RawRows| decode_into_found(chunk.checked()?, &mut out);
        let rest = scan_listing(conn, CHUNK, |chunk| decode(chunk).map(|()| true))?;
        decode(rest)?;
        return Ok(out);
    }
    let (tx, rx) = sync_channel::<Result<RawRows>>(8);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Stops at the first error, or when the decoder hangs up after one.
            match scan_listing(conn, CHUNK, |chunk| Ok(tx.send(Ok(chunk)).is_ok())) {
                Ok(rest) if rest.rows.is_empty() => {}
                last => {
                    let _ = tx.send(last);
                }
            }
        });
        // Ends when the scanner is done and has dropped its sender; returning early drops
        // the receiver, which ends the scanner at its next chunk. The text is checked here,
        // which balances the two threads' work.
        for chunk in rx {
            decode_into_found(chunk?.checked()?, &mut out)?;
        }
        Ok(out)
    })
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

/// Every entry of the table (a listing). The fast path reads them all at once; only when a
/// row cannot be read are they read again one by one, so that the error names that row's
/// dataset and CID and the other rows are still listed.
pub(super) fn listing(conn: &mut Connection) -> Result<Listing> {
    let fast = query_many(conn).and_then(|found| complete(conn, found, true));
    match fast {
        Ok(entries) => Ok(Listing {
            entries,
            skipped: Vec::new(),
        }),
        // Busy is about the database, not a row: the caller retries.
        Err(e) if e.is_retryable() => Err(e),
        Err(_) => listing_row_by_row(conn),
    }
}

/// [`listing`]'s slow path: each row on its own, on one snapshot.
#[cold]
fn listing_row_by_row(conn: &mut Connection) -> Result<Listing> {
    let sp = conn.savepoint()?;
    let rowids: Vec<i64> = {
        let mut stmt = sp.prepare("SELECT rowid FROM dataset_entries ORDER BY rowid")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids
    };
    rows_by_id(&sp, rowids)
}

/// The entries of these rows, each read on its own, and an error for each that cannot be.
fn rows_by_id(conn: &Connection, rowids: Vec<i64>) -> Result<Listing> {
    let mut found = Found::with_capacity(rowids.len());
    let mut skipped = Vec::new();
    for rowid in rowids {
        match query(conn, select_entry!("WHERE rowid = ?1"), [rowid]) {
            Ok(f) => {
                found.entries.extend(f.entries);
                found.rows.extend(f.rows);
            }
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => skipped.push(unreadable_row(conn, rowid, e)),
        }
    }
    // Versions of 0.7's rows come from their name's rows, which a skipped row does not hide.
    let entries = complete(conn, found, false)?;
    Ok(Listing { entries, skipped })
}

/// One page of a listing. With no filter but tags it is the whole [`listing`] (its fast
/// path), tags applied to what it read; otherwise the name prefix, the schema reference,
/// the cursor (a rowid) and the limit go into the query, and tags are applied to its rows.
pub(super) fn list(conn: &mut Connection, q: &ListQuery) -> Result<Page> {
    let pushed = q.name_prefix.is_some()
        || q.schema_ref.is_some()
        || q.cursor.is_some()
        || q.limit.is_some();
    if !pushed {
        let Listing {
            mut entries,
            skipped,
        } = listing(conn)?;
        if !q.tags.is_empty() {
            entries.retain(|e| q.matches(e));
        }
        return Ok(Page {
            entries,
            skipped,
            next: None,
        });
    }
    let after: i64 = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse().map_err(|_| {
            Error::invalid(format!("listing cursor '{c}' is not one this index gave"))
        })?,
    };
    let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let sp = conn.savepoint()?;
    let rowids: Vec<i64> = {
        let mut stmt = sp.prepare_cached(
            "SELECT rowid FROM dataset_entries WHERE rowid > ?1 \
             AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2) \
             AND (?3 IS NULL OR schema_ref = ?3) ORDER BY rowid LIMIT ?4",
        )?;
        let ids = stmt
            .query_map(params![after, q.name_prefix, q.schema_ref, limit], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        ids
    };
    let full = limit >= 0 && rowids.len() as i64 == limit;
    let next = rowids.last().filter(|_| full).map(|r| r.to_string());
    let Listing {
        mut entries,
        skipped,
    } = rows_by_id(&sp, rowids)?;
    if !q.tags.is_empty() {
        entries.retain(|e| q.matches(e));
    }
    Ok(Page {
        entries,
        skipped,
        next,
    })
}

/// The error of a row that cannot be read, naming its dataset and CID (as well as they can be
/// had: the damage may be in them).
#[cold]
fn unreadable_row(conn: &Connection, rowid: i64, e: Error) -> Error {
    let text = |column: &str| -> String {
        conn.query_row(
            &format!("SELECT CAST({column} AS BLOB) FROM dataset_entries WHERE rowid = ?1"),
            [rowid],
            |r| r.get::<_, Option<Vec<u8>>>(0),
        )
        .ok()
        .flatten()
        .map_or_else(
            || format!("(unreadable {column})"),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )
    };
    let (name, cid) = (text("name"), text("cid"));
    let reason = match e {
        Error::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    };
    // The dataset goes in the location; the CID in the reason, unless it names it already.
    let reason = if reason.contains(&format!("'{cid}'")) {
        reason
    } else {
        format!("index entry '{cid}' (row {rowid}): {reason}")
    };
    Error::corrupt(reason).with_dataset(&name)
}
