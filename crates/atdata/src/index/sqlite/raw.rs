//! Rows copied out of SQLite: the text and blobs of many rows in a few shared buffers, so
//! that stepping through a table allocates nothing per row and its text is checked as UTF-8
//! in one pass per chunk, and whoever decodes them (often another thread) gets plain data.
//! The `SELECT` and the positions its columns are read by live here together.

use rusqlite::types::ValueRef;

use crate::codec::msgpack::Token;
use crate::codec::MsgReader;
use crate::error::{Error, Result};

/// `SELECT` of the columns [`scan_row`] copies, completed by a `WHERE`/`ORDER BY` tail. 0.7's
/// `metadata` and `created_at` come last: they are read only for rows 0.7 wrote. The
/// positions below name these columns; the two change together.
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

const CID: usize = 0;
const NAME: usize = 1;
const SCHEMA_REF: usize = 2;
const DATA_URLS: usize = 3;
const VERSION: usize = 4;
const INFO: usize = 5;
const ROWID: usize = 6;
const METADATA: usize = 7;
const CREATED_AT: usize = 8;

/// A byte range `(start, len)` in one of a [`RawRows`]' buffers.
pub(super) type Span = (usize, usize);

/// What `rows::read_row` needs of one row, copied out of SQLite into buffers shared by all
/// rows. The split of work between the two threads of a listing follows from it: the scan (on the
/// thread SQLite steps on) allocates nothing per row but checks the text columns and the
/// URLs, while the decoding (which allocates a dozen strings per entry) copies those out
/// without checking them again and reads `atdata_info`.
pub(super) struct RawRow {
    pub rowid: i64,
    pub version: Option<i64>,
    /// In `text`.
    pub cid: Span,
    pub name: Span,
    pub schema_ref: Span,
    /// Which of `urls` are this row's.
    pub urls: std::ops::Range<usize>,
    /// In `bytes`: our facts, or for a row 0.7 wrote its `metadata` (and `created_at` in
    /// `text`).
    pub info: Option<Span>,
    pub metadata: Option<Span>,
    pub created_at: Option<Span>,
}

/// Rows read by one query, or one chunk of them, with their text not yet checked.
pub(super) struct RawRows {
    /// Every text piece of the rows, checked as UTF-8 in one pass by [`RawRows::checked`]:
    /// one long check costs a fraction of many short ones.
    pub text: Vec<u8>,
    /// msgpack blobs, read by the decoding.
    pub bytes: Vec<u8>,
    /// Spans in `text` of the shard URLs.
    pub urls: Vec<Span>,
    pub rows: Vec<RawRow>,
}

/// [`RawRows`] whose text is known to be UTF-8.
pub(super) struct CheckedRows {
    pub text: String,
    pub bytes: Vec<u8>,
    pub urls: Vec<Span>,
    pub rows: Vec<RawRow>,
}

impl CheckedRows {
    pub fn text(&self, (at, len): Span) -> &str {
        &self.text[at..at + len]
    }

    pub fn bytes(&self, (at, len): Span) -> &[u8] {
        &self.bytes[at..at + len]
    }
}

impl RawRows {
    /// Room for `rows` typical rows: growing from empty reallocates and copies several
    /// times, which showed in the cost of a single lookup.
    pub fn with_capacity(rows: usize) -> Self {
        RawRows {
            text: Vec::with_capacity(rows * 320),
            bytes: Vec::with_capacity(rows * 128),
            urls: Vec::with_capacity(rows * 2),
            rows: Vec::with_capacity(rows),
        }
    }

    pub fn push_text(&mut self, s: &[u8]) -> Span {
        let at = self.text.len();
        self.text.extend_from_slice(s);
        (at, s.len())
    }

    pub fn push_bytes(&mut self, b: &[u8]) -> Span {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(b);
        (at, b.len())
    }

    /// The rows once their text is checked; an error names the first piece that is not
    /// UTF-8.
    pub fn checked(self) -> Result<CheckedRows> {
        let RawRows {
            text,
            bytes,
            urls,
            rows,
        } = self;
        match String::from_utf8(text) {
            Ok(text) => {
                // The whole is UTF-8, yet one piece may end inside a character that the next
                // piece completes: slicing there would panic. Pieces are contiguous, so a
                // start that is no character boundary means the piece before it is cut.
                let starts = rows.iter().flat_map(|r| {
                    [Some(r.cid), Some(r.name), Some(r.schema_ref), r.created_at]
                        .into_iter()
                        .flatten()
                        .chain(urls[r.urls.clone()].iter().copied())
                        .map(|(at, _)| at)
                });
                if let Some(at) = starts.into_iter().find(|&at| !text.is_char_boundary(at)) {
                    return Err(not_utf8(text.as_bytes(), at - 1, &urls, &rows));
                }
                Ok(CheckedRows {
                    text,
                    bytes,
                    urls,
                    rows,
                })
            }
            Err(e) => Err(not_utf8(
                e.as_bytes(),
                e.utf8_error().valid_up_to(),
                &urls,
                &rows,
            )),
        }
    }
}

/// The error for text whose first invalid byte is at `bad`, naming the row and column.
fn not_utf8(text: &[u8], bad: usize, urls: &[Span], rows: &[RawRow]) -> Error {
    let covers = |(at, len): Span| at <= bad && bad < at + len;
    for r in rows {
        let column = [
            ("cid", Some(r.cid)),
            ("name", Some(r.name)),
            ("schema_ref", Some(r.schema_ref)),
            ("created_at", r.created_at),
        ]
        .into_iter()
        .find(|(_, span)| span.is_some_and(covers));
        if let Some((what, _)) = column {
            return Error::corrupt(format!("index row {}: column {what} is not UTF-8", r.rowid));
        }
        if let Some(n) = urls[r.urls.clone()].iter().position(|&s| covers(s)) {
            // Everything before `bad` is UTF-8, so this row's CID is readable.
            let cid = String::from_utf8_lossy(&text[r.cid.0..r.cid.0 + r.cid.1]);
            return Error::corrupt(format!(
                "index entry '{cid}': data_urls: URL {n} is not UTF-8"
            ));
        }
    }
    Error::corrupt(format!(
        "index text at byte {bad} of a chunk of rows is not UTF-8"
    ))
}

/// Copies what `rows::read_row` needs of `row` into `out`.
pub(super) fn scan_row(row: &rusqlite::Row<'_>, out: &mut RawRows) -> Result<()> {
    let rowid: i64 = row.get(ROWID)?;
    let version: Option<i64> = row.get(VERSION)?;
    let raw_column = |column: usize, what: &str| -> Result<Option<&[u8]>> {
        match row.get_ref(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) | ValueRef::Blob(b) => Ok(Some(b)),
            _ => Err(Error::corrupt(format!(
                "index row {rowid}: column {what} holds a number, not text or bytes"
            ))),
        }
    };
    // Text is checked for the whole chunk at once (see `RawRows::checked`).
    let required = |column: usize, what: &str| -> Result<&[u8]> {
        raw_column(column, what)?
            .ok_or_else(|| Error::corrupt(format!("index row {rowid}: column {what} is NULL")))
    };
    let cid_bytes = required(CID, "cid")?;
    let cid = out.push_text(cid_bytes);
    let name = out.push_text(required(NAME, "name")?);
    let schema_ref = out.push_text(required(SCHEMA_REF, "schema_ref")?);
    let first_url = out.urls.len();
    if let Some(b) = raw_column(DATA_URLS, "data_urls")? {
        push_urls(b, out)
            .map_err(|e| corrupt_in(&String::from_utf8_lossy(cid_bytes), "data_urls", e))?;
    }
    let urls = first_url..out.urls.len();
    let info = raw_column(INFO, "atdata_info")?.map(|b| out.push_bytes(b));
    // 0.7's own columns matter only for rows without our facts.
    let (metadata, created_at) = if info.is_some() {
        (None, None)
    } else {
        let metadata = raw_column(METADATA, "metadata")?.map(|b| out.push_bytes(b));
        let created_at = raw_column(CREATED_AT, "created_at")?.map(|t| out.push_text(t));
        (metadata, created_at)
    };
    out.rows.push(RawRow {
        rowid,
        version,
        cid,
        name,
        schema_ref,
        urls,
        info,
        metadata,
        created_at,
    });
    Ok(())
}

/// A corrupt-data error about one column of the entry `cid`.
pub(super) fn corrupt_in(cid: &str, what: &str, e: Error) -> Error {
    match e {
        Error::Corrupt { reason, .. } => {
            Error::corrupt(format!("index entry '{cid}': {what}: {reason}"))
        }
        other => other,
    }
}

/// Appends the URLs of a `data_urls` column (a msgpack array of strings) to `out`.
fn push_urls(buf: &[u8], out: &mut RawRows) -> Result<()> {
    let mut r = MsgReader::new(buf);
    let n = match r.next_token()? {
        Token::Array(n) => n,
        _ => return Err(r.error("expected an array of strings")),
    };
    for _ in 0..n {
        let span = out.push_text(r.read_str_bytes()?);
        out.urls.push(span);
    }
    Ok(())
}
