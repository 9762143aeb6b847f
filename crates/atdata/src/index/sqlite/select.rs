//! The `SELECT`s that read entries, and the reading of their rows into [`RawRows`]: the half
//! of reading an entry that runs where SQLite steps. (`rows` builds the entries.)

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::codec::MsgReader;
use crate::error::{Error, Result};
use crate::index::columns::info;
use crate::index::columns::raw::{corrupt_in, Origin, RawRow, RawRows};

/// `SELECT` of every column [`scan_row`] may read, completed by a `WHERE`/`ORDER BY` tail.
/// Our columns come first: [`LIST`] selects just those. The positions below name these
/// columns; the two change together.
macro_rules! select_entry {
    ($tail:literal) => {
        concat!(
            "SELECT rowid, atdata_version, atdata_info, cid, name, schema_ref, data_urls, \
             metadata, created_at FROM dataset_entries ",
            $tail
        )
    };
}
pub(super) use select_entry;

const ROWID: usize = 0;
const VERSION: usize = 1;
const INFO: usize = 2;
const CID: usize = 3;
const NAME: usize = 4;
const SCHEMA_REF: usize = 5;
const DATA_URLS: usize = 6;
const METADATA: usize = 7;
const CREATED_AT: usize = 8;

/// Every row with our columns only: enough for rows whose `atdata_info` copies 0.7's columns,
/// and SQLite's cost per row grows with the columns read (three cost half of seven).
const LIST: &str = "SELECT rowid, atdata_version, atdata_info FROM dataset_entries ORDER BY rowid";

/// The rest of a listing, from the first row [`LIST`] cannot read on.
const LIST_FROM: &str = select_entry!("WHERE rowid >= ?1 ORDER BY rowid");

/// What [`scan_row`] made of a row.
pub(super) enum Scanned {
    /// The row is in the [`RawRows`].
    Read,
    /// The row needs 0.7's columns, which the statement did not select; nothing was added.
    NeedsColumns(i64),
}

/// Copies what `rows::read_row` needs of `row` into `out`. Errors name the entry by CID
/// (looked up with `conn` when the statement did not select it).
pub(super) fn scan_row(conn: &Connection, row: &Row<'_>, out: &mut RawRows) -> Result<Scanned> {
    let rowid: i64 = row.get(ROWID)?;
    let version: Option<i64> = row.get(VERSION)?;
    let info = raw_column(row, rowid, INFO, "atdata_info")?;
    let all_columns = row.as_ref().column_count() > CID;
    if !all_columns && !info.is_some_and(info::has_columns) {
        return Ok(Scanned::NeedsColumns(rowid));
    }
    let (origin, copy) = match info {
        Some(blob) => {
            let (facts, copy) = info::read(blob, out)
                .map_err(|e| corrupt_in(&cid_for_error(conn, row, rowid), "atdata_info", e))?;
            (Origin::Ours(facts), Some(copy))
        }
        None => {
            // A row 0.7 wrote: the caller's metadata and the checksums share 0.7's map.
            let metadata = raw_column(row, rowid, METADATA, "metadata")?;
            let created_at = raw_column(row, rowid, CREATED_AT, "created_at")?;
            let origin = Origin::Py07 {
                metadata: metadata.map(|b| out.push_bytes(b)),
                created_at: created_at.map(|t| out.push_text(t)),
            };
            (origin, None)
        }
    };
    let columns_in_info = copy.is_some();
    let (cid, name, schema_ref, urls) = match copy {
        Some(c) => (c.cid, c.name, c.schema_ref, c.urls),
        None => {
            // Text is checked for the whole chunk at once (see `RawRows::checked`).
            let required = |column: usize, what: &str| -> Result<&[u8]> {
                raw_column(row, rowid, column, what)?.ok_or_else(|| {
                    Error::corrupt(format!("index row {rowid}: column {what} is NULL"))
                })
            };
            let cid_bytes = required(CID, "cid")?;
            let cid = out.push_text(cid_bytes);
            let name = out.push_text(required(NAME, "name")?);
            let schema_ref = out.push_text(required(SCHEMA_REF, "schema_ref")?);
            let urls = match raw_column(row, rowid, DATA_URLS, "data_urls")? {
                Some(b) => {
                    info::read_texts(&mut MsgReader::new(b), out, "data_urls", |o| &mut o.urls)
                        .map_err(|e| {
                            corrupt_in(&String::from_utf8_lossy(cid_bytes), "data_urls", e)
                        })?
                }
                None => out.urls.len()..out.urls.len(),
            };
            (cid, name, schema_ref, urls)
        }
    };
    out.rows.push(RawRow {
        rowid,
        version,
        cid,
        name,
        schema_ref,
        urls,
        columns_in_info,
        origin,
    });
    Ok(Scanned::Read)
}

/// Steps through every row in rowid order into chunks of `chunk` rows, handing each full one
/// to `emit` (which says whether to go on) and returning the last, partial one. Rows are read
/// with [`LIST`] up to the first that needs 0.7's columns (one 0.7 wrote, or one whose
/// `atdata_info` is too short to be ours), and from there on with all columns. One read transaction (a savepoint, so
/// that it also works inside the write transaction garbage collection holds) keeps the two
/// statements on one snapshot of the table.
pub(super) fn scan_listing(
    conn: &mut Connection,
    chunk: usize,
    mut emit: impl FnMut(RawRows) -> Result<bool>,
) -> Result<RawRows> {
    let tx = conn.savepoint()?;
    let mut out = RawRows::with_capacity(chunk);
    enum Next {
        Go,
        Stop,
        ResumeAt(i64),
    }
    let mut step = |row: &Row<'_>, out: &mut RawRows| -> Result<Next> {
        if let Scanned::NeedsColumns(rowid) = scan_row(&tx, row, out)? {
            return Ok(Next::ResumeAt(rowid));
        }
        if out.rows.len() == chunk {
            let full = std::mem::replace(out, RawRows::with_capacity(chunk));
            if !emit(full)? {
                return Ok(Next::Stop);
            }
        }
        Ok(Next::Go)
    };
    let mut next = Next::Go;
    {
        let mut stmt = tx.prepare_cached(LIST)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            next = step(row, &mut out)?;
            if !matches!(next, Next::Go) {
                break;
            }
        }
    }
    if let Next::ResumeAt(from) = next {
        let mut stmt = tx.prepare_cached(LIST_FROM)?;
        let mut rows = stmt.query([from])?;
        while let Some(row) = rows.next()? {
            // With every column selected no row needs more: only `Stop` ends this early.
            if !matches!(step(row, &mut out)?, Next::Go) {
                break;
            }
        }
    }
    Ok(out)
}

/// A row's CID for an error message, as well as it can be had.
#[cold]
fn cid_for_error(conn: &Connection, row: &Row<'_>, rowid: i64) -> String {
    let cid = match row.get_ref(CID) {
        Ok(ValueRef::Text(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => conn
            .query_row(
                "SELECT CAST(cid AS BLOB) FROM dataset_entries WHERE rowid = ?1",
                [rowid],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    };
    cid.unwrap_or_else(|| format!("(unreadable CID, row {rowid})"))
}

/// A text or blob column's bytes, `None` for NULL; a number is an error naming the row.
fn raw_column<'r>(
    row: &'r Row<'_>,
    rowid: i64,
    column: usize,
    what: &str,
) -> Result<Option<&'r [u8]>> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(b) | ValueRef::Blob(b) => Ok(Some(b)),
        _ => Err(Error::corrupt(format!(
            "index row {rowid}: column {what} holds a number, not text or bytes"
        ))),
    }
}
