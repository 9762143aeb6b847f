//! The encodings of an entry's row that every SQL backend shares: Python atdata 0.7's
//! columns and our `atdata_info` blob ([`info`]), and the reading of a row's bytes into an
//! [`Entry`] ([`raw`], then [`read_row`]). SQLite (index/sqlite/) and PostgreSQL
//! (index/postgres.rs) store the same bytes, so one reader and one encoder serve both.

pub(crate) mod info;
pub(crate) mod raw;

use crate::error::Result;
use crate::index::entry::{split_metadata, value_from_msgpack, Entry, ShardInfo};
use crate::value::Value;
use info::digest_hex;
use raw::{corrupt_in, CheckedRows, Origin, RawDigest, RawRow};

/// `2026-01-02 03:04:05` (SQLite `datetime('now')`, what 0.7 rows hold) as RFC 3339; text
/// that is RFC 3339 already (PostgreSQL rows, read as such) stays as it is.
pub(crate) fn sqlite_time_to_rfc3339(t: &str) -> String {
    match t.split_once(' ') {
        Some((d, h)) if !t.contains('T') => format!("{d}T{h}+00:00"),
        _ => t.to_string(),
    }
}

/// Builds the entry of one scanned row.
pub(crate) fn read_row(chunk: &CheckedRows, raw: &RawRow) -> Result<Entry> {
    let text = |span| chunk.text(span).to_string();
    let urls = chunk.urls(raw);
    let mut entry = Entry {
        name: text(raw.name),
        // itoa: `to_string` goes through the formatting machinery, several times the cost.
        version: raw
            .version
            .map(|v| itoa::Buffer::new().format(v).to_string())
            .unwrap_or_default(),
        cid: text(raw.cid),
        schema_ref: text(raw.schema_ref),
        shards: Vec::new(),
        num_samples: None,
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
        created_at: String::new(),
    };
    match &raw.origin {
        Origin::Ours(f) => {
            // Facts of shards the blob does not cover stay unknown; facts for shards the
            // entry does not have are ignored.
            let facts = chunk.shards(&f.shards);
            entry.shards = urls
                .iter()
                .enumerate()
                .map(|(n, &url)| {
                    let f = facts.get(n);
                    ShardInfo {
                        url: text(url),
                        sha256: f.and_then(|f| f.sha256).map(|d| match d {
                            RawDigest::Bytes(b) => digest_hex(&b),
                            RawDigest::Text(span) => text(span),
                        }),
                        samples: f.and_then(|f| f.samples),
                        bytes: f.and_then(|f| f.bytes),
                    }
                })
                .collect();
            entry.num_samples = f.num_samples;
            entry.description = f.description.map(text);
            entry.tags = chunk.tags(&f.tags).iter().map(|&t| text(t)).collect();
            entry.license = f.license.map(text);
            entry.metadata = match f.metadata {
                Some(span) => match value_from_msgpack(chunk.bytes(span))
                    .map_err(|e| corrupt_in(&entry.cid, "atdata_info", e))?
                {
                    Value::Nil => None,
                    v => Some(v),
                },
                None => None,
            };
            entry.created_at = f.created_at.map(text).unwrap_or_default();
        }
        Origin::Py07 {
            metadata,
            created_at,
        } => {
            // The caller's metadata and the checksums share 0.7's map.
            let metadata = match metadata {
                Some(span) => Some(
                    value_from_msgpack(chunk.bytes(*span))
                        .map_err(|e| corrupt_in(&entry.cid, "metadata", e))?,
                ),
                None => None,
            };
            let (user, checksums) = split_metadata(metadata);
            entry.metadata = user;
            entry.shards = urls
                .iter()
                .map(|&span| {
                    let url = chunk.text(span);
                    ShardInfo {
                        url: url.to_string(),
                        sha256: checksums
                            .iter()
                            .find(|(u, _)| u == url)
                            .map(|(_, d)| d.clone()),
                        samples: None,
                        bytes: None,
                    }
                })
                .collect();
            entry.created_at = created_at
                .map(|span| sqlite_time_to_rfc3339(chunk.text(span)))
                .unwrap_or_default();
        }
    }
    Ok(entry)
}

/// The version of a name's row given the one before it: ours as recorded; a row 0.7 wrote is
/// one above the previous row of its name (so `1..n` in an index only 0.7 wrote), which never
/// repeats a number since ours grow with the row order too.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn next_version(recorded: Option<i64>, previous: i64) -> i64 {
    recorded.unwrap_or(previous + 1)
}

/// What an SQL backend stores for a new entry beside its text columns: our version number,
/// 0.7's `data_urls` and `metadata` (checksums included) and our `atdata_info` blob.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct NewRow {
    pub version: i64,
    pub data_urls: Vec<u8>,
    pub metadata: Vec<u8>,
    pub facts: Vec<u8>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl NewRow {
    /// The columns of `entry`, whose version the commit has set; a version that is not one
    /// of our numbers is an invalid argument naming it.
    pub(crate) fn of(entry: &Entry) -> Result<NewRow> {
        use crate::error::Error;
        use crate::index::entry::{compat_metadata_msgpack, strings_to_msgpack, version_number};
        let version = version_number(&entry.version)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "entry '{}' of '{}' has version '{}', not a version number",
                    entry.cid, entry.name, entry.version
                ))
            })?;
        Ok(NewRow {
            version,
            data_urls: strings_to_msgpack(entry.data_urls()),
            metadata: compat_metadata_msgpack(entry.metadata.as_ref(), &entry.shards)?,
            facts: info::encode(&info::Info::of(entry)),
        })
    }
}
