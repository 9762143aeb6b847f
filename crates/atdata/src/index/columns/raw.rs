//! Rows copied out of SQLite: the text and blobs of many rows in a few shared buffers, so
//! that stepping through a table allocates nothing per row and its text is checked as UTF-8
//! in one pass per chunk, and whoever builds entries from them (often another thread) gets
//! plain data, already parsed.

use std::ops::Range;

use crate::error::{Error, Result};

/// A byte range `(start, len)` in one of a [`RawRows`]' buffers.
pub(crate) type Span = (usize, usize);

/// A shard's sha256 as stored: 32 bytes, or (0.7's checksums, old facts) text in `text`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawDigest {
    Bytes([u8; 32]),
    Text(Span),
}

/// One shard's facts from `atdata_info`, each `None` when unknown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawShard {
    pub sha256: Option<RawDigest>,
    pub samples: Option<u64>,
    pub bytes: Option<u64>,
}

/// Our facts of an entry as read from `atdata_info`: `shards` and `tags` index
/// [`RawRows::shards`] and [`RawRows::tags`], `metadata` is the caller's map as msgpack in
/// `bytes`, the rest is in `text`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OurFacts {
    pub num_samples: Option<u64>,
    pub shards: Range<usize>,
    pub description: Option<Span>,
    pub tags: Range<usize>,
    pub license: Option<Span>,
    pub metadata: Option<Span>,
    pub created_at: Option<Span>,
}

/// Where a row's entry facts came from.
#[derive(Debug)]
pub(crate) enum Origin {
    /// Our facts (`atdata_info`).
    Ours(OurFacts),
    /// A row 0.7 wrote: its `metadata` column (in `bytes`, holding the checksums too) and
    /// its `created_at` column (SQLite time, in `text`).
    Py07 {
        metadata: Option<Span>,
        created_at: Option<Span>,
    },
}

/// What `rows::read_row` needs of one row. The scan (on the thread SQLite steps on) parses
/// everything and allocates nothing per row; the decoding only copies pieces out.
pub(crate) struct RawRow {
    pub rowid: i64,
    pub version: Option<i64>,
    /// In `text`.
    pub cid: Span,
    pub name: Span,
    pub schema_ref: Span,
    /// Which of [`RawRows::urls`] are this row's shard URLs.
    pub urls: Range<usize>,
    /// Whether CID, name, schema reference and URLs were read from `atdata_info`'s copy of
    /// them rather than 0.7's columns (only error messages care).
    pub columns_in_info: bool,
    pub origin: Origin,
}

/// Rows read by one query, or one chunk of them, with their text not yet checked.
#[derive(Default)]
pub(crate) struct RawRows {
    /// Every text piece of the rows, checked as UTF-8 in one pass by [`RawRows::checked`]:
    /// one long check costs a fraction of many short ones.
    pub text: Vec<u8>,
    /// msgpack values read later (metadata maps).
    pub bytes: Vec<u8>,
    /// Spans in `text` of the shard URLs.
    pub urls: Vec<Span>,
    /// Spans in `text` of the tags.
    pub tags: Vec<Span>,
    pub shards: Vec<RawShard>,
    pub rows: Vec<RawRow>,
    /// Where the first text piece starting inside a character begins (see `push_text`).
    cut_at: Option<usize>,
}

/// [`RawRows`] whose text is known to be UTF-8.
pub(crate) struct CheckedRows {
    text: String,
    raw: RawRows,
}

impl CheckedRows {
    pub fn text(&self, (at, len): Span) -> &str {
        &self.text[at..at + len]
    }

    pub fn bytes(&self, (at, len): Span) -> &[u8] {
        &self.raw.bytes[at..at + len]
    }

    pub fn rows(&self) -> &[RawRow] {
        &self.raw.rows
    }

    pub fn urls(&self, row: &RawRow) -> &[Span] {
        &self.raw.urls[row.urls.clone()]
    }

    pub fn tags(&self, range: &Range<usize>) -> &[Span] {
        &self.raw.tags[range.clone()]
    }

    pub fn shards(&self, range: &Range<usize>) -> &[RawShard] {
        &self.raw.shards[range.clone()]
    }
}

impl RawRows {
    /// Room for `rows` typical rows: growing from empty reallocates and copies several
    /// times, which showed in the cost of a single lookup.
    pub fn with_capacity(rows: usize) -> Self {
        RawRows {
            text: Vec::with_capacity(rows * 320),
            bytes: Vec::new(),
            urls: Vec::with_capacity(rows * 2),
            tags: Vec::with_capacity(rows),
            shards: Vec::with_capacity(rows * 2),
            rows: Vec::with_capacity(rows),
            cut_at: None,
        }
    }

    pub fn push_text(&mut self, s: &[u8]) -> Span {
        let at = self.text.len();
        // A piece may be cut inside a character that the next piece completes: the whole
        // would pass the check yet slicing there would panic. The next piece then starts
        // with a continuation byte (10xxxxxx), which costs one comparison to notice here.
        if self.cut_at.is_none() && s.first().is_some_and(|&b| (b as i8) < -64) {
            self.cut_at = Some(at);
        }
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
    pub fn checked(mut self) -> Result<CheckedRows> {
        let text = std::mem::take(&mut self.text);
        match String::from_utf8(text) {
            Ok(text) => match self.cut_at {
                // The piece before this start ends inside a character.
                Some(at) => Err(self.not_utf8(text.as_bytes(), at.saturating_sub(1))),
                None => Ok(CheckedRows { text, raw: self }),
            },
            Err(e) => {
                let bad = e.utf8_error().valid_up_to();
                let text = e.into_bytes();
                Err(self.not_utf8(&text, bad))
            }
        }
    }

    /// The error for text whose first invalid byte is at `bad`, naming the row and column.
    #[cold]
    fn not_utf8(&self, text: &[u8], bad: usize) -> Error {
        let covers = |(at, len): Span| at <= bad && bad < at + len;
        for r in &self.rows {
            let Some((piece, _)) = self.pieces(r).into_iter().find(|&(_, s)| covers(s)) else {
                continue;
            };
            // Where 0.7's columns were read from: the columns, or our copy of them.
            let (column, urls) = if r.columns_in_info {
                ("atdata_info: ", "atdata_info")
            } else {
                ("column ", "data_urls")
            };
            let cid = String::from_utf8_lossy(text.get(r.cid.0..r.cid.0 + r.cid.1).unwrap_or(b""));
            let message = match piece {
                Piece::Column(what) => format!("index row {}: {column}{what}", r.rowid),
                Piece::Url(n) => format!("index entry '{cid}': {urls}: URL {n}"),
                Piece::Fact(what) => format!("index entry '{cid}': atdata_info: {what}"),
                Piece::Digest(n) => {
                    format!("index entry '{cid}': atdata_info: the sha256 of shard {n}")
                }
            };
            return Error::corrupt(format!("{message} is not UTF-8"));
        }
        Error::corrupt(format!(
            "index text at byte {bad} of a chunk of rows is not UTF-8"
        ))
    }

    /// Every text piece of `row` with what it is (for error messages only).
    fn pieces(&self, row: &RawRow) -> Vec<(Piece, Span)> {
        let mut out = vec![
            (Piece::Column("cid"), row.cid),
            (Piece::Column("name"), row.name),
            (Piece::Column("schema_ref"), row.schema_ref),
        ];
        out.extend(
            self.urls[row.urls.clone()]
                .iter()
                .enumerate()
                .map(|(n, &s)| (Piece::Url(n), s)),
        );
        match &row.origin {
            Origin::Ours(facts) => {
                for (n, s) in self.shards[facts.shards.clone()].iter().enumerate() {
                    if let Some(RawDigest::Text(span)) = s.sha256 {
                        out.push((Piece::Digest(n), span));
                    }
                }
                out.extend(facts.description.map(|s| (Piece::Fact("description"), s)));
                out.extend(
                    self.tags[facts.tags.clone()]
                        .iter()
                        .map(|&s| (Piece::Fact("tags"), s)),
                );
                out.extend(facts.license.map(|s| (Piece::Fact("license"), s)));
                out.extend(facts.created_at.map(|s| (Piece::Fact("created_at"), s)));
            }
            Origin::Py07 { created_at, .. } => {
                out.extend(created_at.map(|s| (Piece::Column("created_at"), s)));
            }
        }
        out
    }
}

/// What a text piece of a row is.
#[derive(Clone, Copy)]
enum Piece {
    /// One of 0.7's columns (or its copy in `atdata_info`).
    Column(&'static str),
    /// One of our facts.
    Fact(&'static str),
    Url(usize),
    Digest(usize),
}

/// A corrupt-data error about one column of the entry `cid` (the field it names, if any,
/// is kept).
pub(crate) fn corrupt_in(cid: &str, what: &str, e: Error) -> Error {
    match e {
        Error::Corrupt { location, reason } => Error::Corrupt {
            location,
            reason: format!("index entry '{cid}': {what}: {reason}"),
        },
        other => other,
    }
}
