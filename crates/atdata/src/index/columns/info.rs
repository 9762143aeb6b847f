//! Our per-entry facts, kept in one msgpack column (`atdata_info`) of 0.7's `dataset_entries`
//! row: what Python atdata 0.7 has no column for. The Redis backend stores the same bytes in an
//! `atdata_info` hash field (docs/FORMAT.md section 6).
//!
//! One blob rather than a column per fact because listing reads every row, and SQLite's cost
//! per row grows with the number of columns fetched. The layout is a msgpack array read by
//! position; later releases append positions and readers ignore positions they do not know:
//!
//! `[num_samples, shards, description, tags, license, metadata, created_at,
//!   cid, name, schema_ref, data_urls]`
//!
//! - `num_samples`: uint or nil;
//! - `shards`: one `[sha256, samples, bytes]` per shard in `data_urls` order, `sha256` as 32
//!   bytes of bin (a hex str is accepted), each item nil when unknown;
//! - `description`, `license`: str or nil; `tags`: array of str;
//! - `metadata`: the caller's map (without 0.7's `checksums`) or nil;
//! - `created_at`: RFC 3339 str;
//! - `cid`, `name`, `schema_ref` (str) and `data_urls` (array of str): a copy of the row's
//!   0.7 columns. A listing then reads three columns per row instead of seven, which halves
//!   SQLite's share of its time. The copy is what we read; 0.7's columns are written for 0.7
//!   (and are what lookups by name and CID search).

use std::ops::Range;

use crate::codec::msgpack::Token;
use crate::codec::{encode_value, MsgReader};
use crate::error::Result;
use crate::index::columns::raw::{OurFacts, RawDigest, RawRows, RawShard, Span};
use crate::index::entry::user_metadata;
use crate::index::entry::{Entry, ShardInfo};
use crate::value::Value;

/// Positions of our facts and the copy of 0.7's columns: blobs with fewer are corrupt.
const WITH_COLUMNS: usize = 11;

/// The facts [`encode`] writes, borrowed from wherever they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Info<'a> {
    pub cid: &'a str,
    pub name: &'a str,
    pub schema_ref: &'a str,
    pub num_samples: Option<u64>,
    /// The shards in order; their URLs are the copy of `data_urls`.
    pub shards: &'a [ShardInfo],
    pub description: Option<&'a str>,
    pub tags: &'a [String],
    pub license: Option<&'a str>,
    pub metadata: Option<&'a Value>,
    pub created_at: &'a str,
}

impl<'a> Info<'a> {
    /// The facts of an entry as it stands.
    pub fn of(entry: &'a Entry) -> Self {
        Info {
            cid: &entry.cid,
            name: &entry.name,
            schema_ref: &entry.schema_ref,
            num_samples: entry.num_samples,
            shards: &entry.shards,
            description: entry.description.as_deref(),
            tags: &entry.tags,
            license: entry.license.as_deref(),
            metadata: entry.metadata.as_ref(),
            created_at: &entry.created_at,
        }
    }
}

// Writes into a Vec cannot fail; these wrappers say so once.
fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => rmp::encode::write_str(out, s).expect("vec write"),
        None => rmp::encode::write_nil(out).expect("vec write"),
    }
}

fn opt_uint(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => {
            rmp::encode::write_uint(out, n).expect("vec write");
        }
        None => rmp::encode::write_nil(out).expect("vec write"),
    }
}

/// The `atdata_info` bytes for `info`.
pub(crate) fn encode(info: &Info<'_>) -> Vec<u8> {
    let text = info.description.map_or(0, str::len)
        + info.license.map_or(0, str::len)
        + info.tags.iter().map(|t| t.len() + 5).sum::<usize>()
        + info.created_at.len()
        + info.cid.len()
        + info.name.len()
        + info.schema_ref.len()
        + info.shards.iter().map(|s| s.url.len() + 5).sum::<usize>();
    let mut out = Vec::with_capacity(48 + info.shards.len() * 48 + text);
    rmp::encode::write_array_len(&mut out, WITH_COLUMNS as u32).expect("vec write");
    opt_uint(&mut out, info.num_samples);
    rmp::encode::write_array_len(&mut out, info.shards.len() as u32).expect("vec write");
    for s in info.shards {
        rmp::encode::write_array_len(&mut out, 3).expect("vec write");
        match s.sha256.as_deref().map(|h| (h, digest_bytes(h))) {
            // Lower-case hex of 32 bytes: stored as the bytes (half the size, nothing to
            // validate on read). Anything else is kept as the text it is.
            Some((_, Some(raw))) => rmp::encode::write_bin(&mut out, &raw).expect("vec write"),
            Some((h, None)) => rmp::encode::write_str(&mut out, h).expect("vec write"),
            None => rmp::encode::write_nil(&mut out).expect("vec write"),
        }
        opt_uint(&mut out, s.samples);
        opt_uint(&mut out, s.bytes);
    }
    opt_str(&mut out, info.description);
    rmp::encode::write_array_len(&mut out, info.tags.len() as u32).expect("vec write");
    for t in info.tags {
        rmp::encode::write_str(&mut out, t).expect("vec write");
    }
    opt_str(&mut out, info.license);
    match user_metadata(info.metadata) {
        Some(m) => encode_value(m, &mut out),
        None => rmp::encode::write_nil(&mut out).expect("vec write"),
    }
    rmp::encode::write_str(&mut out, info.created_at).expect("vec write");
    for column in [info.cid, info.name, info.schema_ref] {
        rmp::encode::write_str(&mut out, column).expect("vec write");
    }
    rmp::encode::write_array_len(&mut out, info.shards.len() as u32).expect("vec write");
    for s in info.shards {
        rmp::encode::write_str(&mut out, &s.url).expect("vec write");
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two lower-case hex digits of every byte value: one lookup per byte when listing, where
/// every shard's digest is turned into text.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        pairs[b] = [HEX[b >> 4], HEX[b & 15]];
        b += 1;
    }
    pairs
};

/// The 32 bytes of a sha256 written as 64 lower-case hex digits, else `None`. (Hand-written:
/// the `hex` crate's iterator costs ~2k instructions per digest, and every listed shard has one.)
fn digest_bytes(h: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let h = h.as_bytes();
    if h.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(h.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Lower-case hex of a 32-byte digest.
pub(crate) fn digest_hex(bytes: &[u8; 32]) -> String {
    // Into a fixed buffer, then one check: pushing `char`s encodes each as UTF-8 on the way.
    let mut out = [0u8; 64];
    for (i, &b) in bytes.iter().enumerate() {
        let [hi, lo] = HEX_PAIRS[usize::from(b)];
        out[2 * i] = hi;
        out[2 * i + 1] = lo;
    }
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_string()
}

#[inline]
fn read_opt_uint(r: &mut MsgReader<'_>, what: &str) -> Result<Option<u64>> {
    if let Some(n) = r.take_small_uint() {
        return Ok(Some(n));
    }
    if r.take_nil() {
        return Ok(None);
    }
    match r.next_token()? {
        Token::Int(i) => Ok(u64::try_from(i).ok()),
        Token::UInt(u) => Ok(Some(u)),
        Token::Nil => Ok(None),
        _ => Err(r.error(format!("{what} is not an integer"))),
    }
}

#[inline]
fn read_len(r: &mut MsgReader<'_>, what: &str) -> Result<usize> {
    if let Some(n) = r.take_fixarray() {
        return Ok(n);
    }
    match r.next_token()? {
        Token::Array(n) => Ok(n),
        _ => Err(r.error(format!("{what} is not an array"))),
    }
}

/// A str into `out`'s text (checked later, with the rest of the chunk); an error names
/// `what`.
#[inline]
fn read_text(r: &mut MsgReader<'_>, out: &mut RawRows, what: &str) -> Result<Span> {
    match r.read_str_bytes() {
        Ok(s) => Ok(out.push_text(s)),
        Err(e) => Err(e.with_field(what)),
    }
}

#[inline]
fn read_opt_text(r: &mut MsgReader<'_>, out: &mut RawRows, what: &str) -> Result<Option<Span>> {
    if r.take_nil() {
        return Ok(None);
    }
    read_text(r, out, what).map(Some)
}

/// An array of str into `out`'s text, each span pushed to `list` (one of `out`'s). Also
/// reads 0.7's `data_urls` column.
pub(crate) fn read_texts(
    r: &mut MsgReader<'_>,
    out: &mut RawRows,
    what: &str,
    list: fn(&mut RawRows) -> &mut Vec<Span>,
) -> Result<Range<usize>> {
    let n = read_len(r, what)?;
    let first = list(out).len();
    for _ in 0..n {
        let span = read_text(r, out, what)?;
        list(out).push(span);
    }
    Ok(first..list(out).len())
}

/// A shard's sha256: 32 bytes of bin (what we write), text, or nil.
#[inline]
fn read_digest(r: &mut MsgReader<'_>, out: &mut RawRows) -> Result<Option<RawDigest>> {
    if r.take_nil() {
        return Ok(None);
    }
    if r.next_is_str() {
        return read_text(r, out, "sha256").map(|span| Some(RawDigest::Text(span)));
    }
    let bin = match r.take_bin8() {
        Some(b) => Some(b),
        None => match r.next_token()? {
            Token::Bin(b) => Some(b),
            _ => None,
        },
    };
    match bin.map(<[u8; 32]>::try_from) {
        Some(Ok(digest)) => Ok(Some(RawDigest::Bytes(digest))),
        _ => Err(r.error("a shard's sha256 is neither 32 bytes nor text")),
    }
}

/// Whether `buf` (an `atdata_info` value) has the positions of the copy of 0.7's columns:
/// whether it can be read without them (SQLite's listing reads only our columns when so).
#[cfg(any(feature = "sqlite", feature = "redis", test))]
pub(crate) fn has_columns(buf: &[u8]) -> bool {
    read_len(&mut MsgReader::new(buf), "atdata_info").is_ok_and(|n| n >= WITH_COLUMNS)
}

/// The copy of 0.7's columns read from `atdata_info`, as spans of a [`RawRows`].
#[derive(Debug)]
pub(crate) struct Columns {
    pub cid: Span,
    pub name: Span,
    pub schema_ref: Span,
    /// In [`RawRows::urls`].
    pub urls: Range<usize>,
}

/// Reads an `atdata_info` value into `out` (text unchecked): our facts and the copy of 0.7's
/// columns. Positions past those this build knows are ignored.
// Once per listed row; inlined into the scan, which measured 5% fewer instructions there.
#[inline]
pub(crate) fn read(buf: &[u8], out: &mut RawRows) -> Result<(OurFacts, Columns)> {
    let mut r = MsgReader::new(buf);
    let n = read_len(&mut r, "atdata_info")?;
    if n < WITH_COLUMNS {
        return Err(r.error(format!(
            "atdata_info has {n} items, expected at least {WITH_COLUMNS}"
        )));
    }
    let num_samples = read_opt_uint(&mut r, "num_samples")?;
    let count = read_len(&mut r, "shards")?;
    let first = out.shards.len();
    for _ in 0..count {
        if read_len(&mut r, "a shard's facts")? != 3 {
            return Err(r.error("a shard's facts are not [sha256, samples, bytes]"));
        }
        let sha256 = read_digest(&mut r, out)?;
        let samples = read_opt_uint(&mut r, "a shard's sample count")?;
        let bytes = read_opt_uint(&mut r, "a shard's size")?;
        out.shards.push(RawShard {
            sha256,
            samples,
            bytes,
        });
    }
    let shards = first..out.shards.len();
    let description = read_opt_text(&mut r, out, "description")?;
    let tags = read_texts(&mut r, out, "tags", |o| &mut o.tags)?;
    let license = read_opt_text(&mut r, out, "license")?;
    // Kept as msgpack; the decoding turns it into a value.
    let metadata = if r.take_nil() {
        None
    } else {
        let at = r.position();
        r.skip()?;
        Some(out.push_bytes(&buf[at..r.position()]))
    };
    let created_at = read_opt_text(&mut r, out, "created_at")?;
    let facts = OurFacts {
        num_samples,
        shards,
        description,
        tags,
        license,
        metadata,
        created_at,
    };
    let cid = read_text(&mut r, out, "cid")?;
    let name = read_text(&mut r, out, "name")?;
    let schema_ref = read_text(&mut r, out, "schema_ref")?;
    let urls = read_texts(&mut r, out, "data_urls", |o| &mut o.urls)?;
    Ok((
        facts,
        Columns {
            cid,
            name,
            schema_ref,
            urls,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::columns::raw::CheckedRows;

    fn info<'a>(shards: &'a [ShardInfo], tags: &'a [String], meta: Option<&'a Value>) -> Info<'a> {
        Info {
            cid: "bafy-cid",
            name: "docs",
            schema_ref: "atdata://local/schema/T@1.0.0",
            num_samples: Some(3),
            shards,
            description: Some("desc"),
            tags,
            license: Some("MIT"),
            metadata: meta,
            created_at: "2026-01-01T00:00:00+00:00",
        }
    }

    /// Reads `blob` as a listing would: into a chunk whose text is then checked.
    fn read_checked(blob: &[u8]) -> Result<(OurFacts, Columns, CheckedRows)> {
        let mut rows = RawRows::with_capacity(1);
        let (origin, columns) = read(blob, &mut rows)?;
        Ok((origin, columns, rows.checked()?))
    }

    #[test]
    fn digests_convert_both_ways() {
        let d = crate::codec::sha256_hex(b"abc");
        assert_eq!(digest_hex(&digest_bytes(&d).unwrap()), d);
        assert_eq!(
            digest_bytes(&d.to_uppercase()),
            None,
            "upper case stays text"
        );
        assert_eq!(digest_bytes("ab"), None);
        assert_eq!(digest_bytes(&"g".repeat(64)), None);
    }

    #[test]
    fn round_trips_every_fact_and_the_copy_of_the_columns() {
        let digest = crate::codec::sha256_hex(b"x");
        let shards = vec![
            ShardInfo::new("/a", digest.clone(), 3, 10240),
            ShardInfo {
                url: "/b".into(),
                sha256: Some("not-hex".into()),
                samples: None,
                bytes: Some(1),
            },
        ];
        let meta = Value::Map(vec![("k".into(), Value::Int(1))]);
        let tags = vec!["t1".to_string(), "t2".to_string()];
        let blob = encode(&info(&shards, &tags, Some(&meta)));
        assert!(has_columns(&blob));
        let (read_facts, columns, c) = read_checked(&blob).unwrap();
        let OurFacts {
            num_samples,
            shards: facts,
            description,
            tags: tag_spans,
            license,
            metadata,
            created_at,
        } = read_facts;
        assert_eq!(num_samples, Some(3));
        let facts = c.shards(&facts);
        assert_eq!(facts.len(), 2);
        // The hex digest went in as 32 raw bytes; other text stays text.
        assert!(matches!(facts[0].sha256, Some(RawDigest::Bytes(b)) if digest_hex(&b) == digest));
        assert!(matches!(facts[1].sha256, Some(RawDigest::Text(t)) if c.text(t) == "not-hex"));
        assert_eq!((facts[0].samples, facts[0].bytes), (Some(3), Some(10240)));
        assert_eq!((facts[1].samples, facts[1].bytes), (None, Some(1)));
        assert_eq!(description.map(|s| c.text(s)), Some("desc"));
        let tag_text: Vec<&str> = c.tags(&tag_spans).iter().map(|&t| c.text(t)).collect();
        assert_eq!(tag_text, tags);
        assert_eq!(license.map(|s| c.text(s)), Some("MIT"));
        let metadata = metadata.map(|s| crate::index::entry::value_from_msgpack(c.bytes(s)));
        assert_eq!(metadata.unwrap().unwrap(), meta);
        assert_eq!(
            created_at.map(|s| c.text(s)),
            Some("2026-01-01T00:00:00+00:00")
        );
        assert_eq!(c.text(columns.cid), "bafy-cid");
        assert_eq!(c.text(columns.name), "docs");
        assert_eq!(c.text(columns.schema_ref), "atdata://local/schema/T@1.0.0");
        assert_eq!(columns.urls, 0..2);
    }

    #[test]
    fn empty_metadata_is_stored_as_nil() {
        let empty = Value::Map(Vec::new());
        let blob = encode(&info(&[], &[], Some(&empty)));
        let (facts, _, _) = read_checked(&blob).unwrap();
        assert_eq!(facts.metadata, None);
    }

    /// An `atdata_info` blob of eleven positions: `facts` (the first seven, encoded) and a
    /// copy of 0.7's columns.
    fn with_copy(facts: &[u8]) -> Vec<u8> {
        let mut blob = vec![0x9b];
        blob.extend_from_slice(facts);
        blob.extend_from_slice(&[0xa1, b'c', 0xa1, b'n', 0xa1, b's', 0x90]);
        blob
    }

    #[test]
    fn other_layouts_and_bad_blobs() {
        let blob = encode(&info(&[], &[], None));
        // A twelfth position from a later release is ignored.
        let mut later = blob.clone();
        later[0] = 0x9c;
        later.push(0xc0);
        let (_, columns, c) = read_checked(&later).unwrap();
        assert_eq!(c.text(columns.cid), "bafy-cid");
        // Eleven positions written by hand read the same way.
        let facts = [0x03, 0x90, 0xc0, 0x90, 0xc0, 0xc0, 0xa1, b't'];
        let (read_facts, columns, c) = read_checked(&with_copy(&facts)).unwrap();
        assert_eq!(read_facts.num_samples, Some(3));
        assert_eq!(c.text(columns.schema_ref), "s");
        // Fewer positions than ours (seven: our facts without the copy) are corrupt.
        let mut seven = vec![0x97];
        seven.extend_from_slice(&facts);
        assert!(!has_columns(&seven));
        let e = read(&seven, &mut RawRows::default()).unwrap_err();
        assert!(e.to_string().contains("expected at least 11"), "{e}");
        for bad in [&[0x91, 0x01][..], &[0xff], &[], &[0x97, 0xc0, 0x91, 0x01]] {
            assert!(!has_columns(bad));
            assert!(read(bad, &mut RawRows::default()).is_err(), "{bad:?}");
        }
        // Eleven positions, cut short inside the copy of the columns: the error names the
        // field, as does a number where text goes.
        let cut = &blob[..blob.len() - 3];
        assert!(has_columns(cut));
        let e = read(cut, &mut RawRows::default()).unwrap_err();
        assert!(e.to_string().contains("field 'schema_ref'"), "{e}");
        let mut number = with_copy(&facts);
        number[3] = 0x05;
        let e = read(&number, &mut RawRows::default()).unwrap_err();
        assert!(
            e.to_string().contains("field 'description'") && e.to_string().contains("found"),
            "{e}"
        );
        // A digest of 31 bytes, or a number, where a shard's sha256 goes.
        for digest in [&[0xc4, 31][..], &[0x05]] {
            let mut bad = vec![0xc0, 0x91, 0x93];
            bad.extend_from_slice(digest);
            if digest.len() == 2 {
                bad.extend_from_slice(&[7; 31]);
            }
            // samples, bytes; then description, tags, license, metadata, created_at.
            bad.extend_from_slice(&[0xc0, 0xc0, 0xc0, 0x90, 0xc0, 0xc0, 0xa1, b't']);
            let e = read(&with_copy(&bad), &mut RawRows::default()).unwrap_err();
            assert!(e.to_string().contains("neither 32 bytes nor text"), "{e}");
        }
    }
}
