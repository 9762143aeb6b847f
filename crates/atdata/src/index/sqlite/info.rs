//! Our per-entry facts, kept in one msgpack column (`atdata_info`) of 0.7's `dataset_entries`
//! row: what Python atdata 0.7 has no column for.
//!
//! One blob rather than a column per fact because listing reads every row, and SQLite's cost
//! per row grows with the number of columns fetched. The layout is a msgpack array read by
//! position; later releases append positions and readers ignore positions they do not know:
//!
//! `[num_samples, shards, description, tags, license, metadata, created_at]`
//!
//! - `num_samples`: uint or nil;
//! - `shards`: one `[sha256, samples, bytes]` per shard in `data_urls` order, `sha256` as 32
//!   bytes of bin (a hex str is accepted), each item nil when unknown;
//! - `description`, `license`: str or nil; `tags`: array of str;
//! - `metadata`: the caller's map (without 0.7's `checksums`) or nil;
//! - `created_at`: RFC 3339 str.

use crate::codec::msgpack::Token;
use crate::codec::{encode_value, MsgReader};
use crate::error::Result;
use crate::index::entry::{Entry, ShardInfo};
use crate::value::Value;

/// The facts [`encode`] writes, borrowed from wherever they are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Info<'a> {
    pub num_samples: Option<u64>,
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

/// The caller's metadata as we keep it: an empty map or nil is no metadata.
pub(super) fn user_metadata(metadata: Option<&Value>) -> Option<&Value> {
    match metadata {
        None | Some(Value::Nil) => None,
        Some(Value::Map(pairs)) if pairs.is_empty() => None,
        Some(v) => Some(v),
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
pub(super) fn encode(info: &Info<'_>) -> Vec<u8> {
    let text = info.description.map_or(0, str::len)
        + info.license.map_or(0, str::len)
        + info.tags.iter().map(|t| t.len() + 5).sum::<usize>()
        + info.created_at.len();
    let mut out = Vec::with_capacity(32 + info.shards.len() * 48 + text);
    rmp::encode::write_array_len(&mut out, 7).expect("vec write");
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
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

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
fn digest_hex(bytes: &[u8; 32]) -> String {
    // Into a fixed buffer, then one check: pushing `char`s encodes each as UTF-8 on the way.
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_string()
}

fn read_opt_str(r: &mut MsgReader<'_>, what: &str) -> Result<Option<String>> {
    match r.next_token()? {
        Token::Str(s) => Ok(Some(s.to_string())),
        Token::Nil => Ok(None),
        _ => Err(r.error(format!("{what} is not a string"))),
    }
}

fn read_opt_uint(r: &mut MsgReader<'_>, what: &str) -> Result<Option<u64>> {
    match r.next_token()? {
        Token::Int(i) => Ok(u64::try_from(i).ok()),
        Token::UInt(u) => Ok(Some(u)),
        Token::Nil => Ok(None),
        _ => Err(r.error(format!("{what} is not an integer"))),
    }
}

fn read_len(r: &mut MsgReader<'_>, what: &str) -> Result<usize> {
    match r.next_token()? {
        Token::Array(n) => Ok(n),
        _ => Err(r.error(format!("{what} is not an array"))),
    }
}

/// Reads `atdata_info` into `entry`, whose shards already hold their URLs (from `data_urls`);
/// facts of shards the blob does not cover stay unknown, and the blob's facts for shards the
/// entry does not have are ignored. Digests already on the entry (from 0.7's checksums) are
/// kept where the blob has none.
pub(super) fn decode_into(buf: &[u8], entry: &mut Entry) -> Result<()> {
    let mut r = MsgReader::new(buf);
    let n = read_len(&mut r, "atdata_info")?;
    if n < 7 {
        return Err(r.error(format!("atdata_info has {n} items, expected at least 7")));
    }
    entry.num_samples = read_opt_uint(&mut r, "num_samples")?;
    let count = read_len(&mut r, "shards")?;
    for i in 0..count {
        if read_len(&mut r, "a shard's facts")? != 3 {
            return Err(r.error("a shard's facts are not [sha256, samples, bytes]"));
        }
        let sha256 = match r.next_token()? {
            Token::Str(s) => Some(s.to_string()),
            Token::Nil => None,
            Token::Bin(b) if b.len() == 32 => {
                let mut digest = [0u8; 32];
                digest.copy_from_slice(b);
                Some(digest_hex(&digest))
            }
            _ => return Err(r.error("a shard's sha256 is neither 32 bytes nor text")),
        };
        let samples = read_opt_uint(&mut r, "a shard's sample count")?;
        let bytes = read_opt_uint(&mut r, "a shard's size")?;
        if let Some(shard) = entry.shards.get_mut(i) {
            if sha256.is_some() {
                shard.sha256 = sha256;
            }
            shard.samples = samples;
            shard.bytes = bytes;
        }
    }
    entry.description = read_opt_str(&mut r, "description")?;
    let tags = read_len(&mut r, "tags")?;
    entry.tags = Vec::with_capacity(tags);
    for _ in 0..tags {
        entry.tags.push(r.read_str()?.to_string());
    }
    entry.license = read_opt_str(&mut r, "license")?;
    entry.metadata = match crate::codec::sample::decode_value(&mut r, None, 0)? {
        Value::Nil => None,
        v => Some(v),
    };
    entry.created_at = read_opt_str(&mut r, "created_at")?.unwrap_or_default();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(urls: &[&str]) -> Entry {
        Entry {
            name: "d".into(),
            version: "1".into(),
            cid: "c".into(),
            schema_ref: "s".into(),
            shards: urls
                .iter()
                .map(|u| ShardInfo {
                    url: u.to_string(),
                    sha256: None,
                    samples: None,
                    bytes: None,
                })
                .collect(),
            num_samples: None,
            description: None,
            tags: Vec::new(),
            license: None,
            metadata: None,
            created_at: String::new(),
        }
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
    fn round_trips_every_fact() {
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
        let blob = encode(&Info {
            num_samples: Some(3),
            shards: &shards,
            description: Some("desc"),
            tags: &tags,
            license: Some("MIT"),
            metadata: Some(&meta),
            created_at: "2026-01-01T00:00:00+00:00",
        });
        let mut e = entry(&["/a", "/b", "/c"]);
        decode_into(&blob, &mut e).unwrap();
        assert_eq!(e.shards[..2], shards[..]);
        assert_eq!(e.shards[2].url, "/c");
        assert_eq!(e.shards[2].sha256, None);
        assert_eq!(e.num_samples, Some(3));
        assert_eq!(e.description.as_deref(), Some("desc"));
        assert_eq!(e.tags, tags);
        assert_eq!(e.license.as_deref(), Some("MIT"));
        assert_eq!(e.metadata, Some(meta));
        assert_eq!(e.created_at, "2026-01-01T00:00:00+00:00");
        // The digest went in as 32 raw bytes.
        assert!(blob.windows(32).any(|w| hex::encode(w) == digest));
    }

    #[test]
    fn empty_metadata_is_none_and_known_digests_are_kept() {
        let shards = vec![ShardInfo {
            url: "/a".into(),
            sha256: None,
            samples: Some(2),
            bytes: None,
        }];
        let empty = Value::Map(Vec::new());
        let blob = encode(&Info {
            num_samples: Some(2),
            shards: &shards,
            description: None,
            tags: &[],
            license: None,
            metadata: Some(&empty),
            created_at: "t",
        });
        let mut e = entry(&["/a"]);
        e.shards = vec![ShardInfo {
            url: "/a".into(),
            sha256: Some("ab".into()),
            samples: None,
            bytes: None,
        }];
        decode_into(&blob, &mut e).unwrap();
        assert_eq!(e.metadata, None);
        assert_eq!(e.shards[0].sha256.as_deref(), Some("ab"));
        assert_eq!(e.shards[0].samples, Some(2));
    }

    #[test]
    fn later_positions_are_ignored_and_bad_blobs_are_errors() {
        let mut blob = encode(&Info {
            num_samples: None,
            shards: &[],
            description: None,
            tags: &[],
            license: None,
            metadata: None,
            created_at: "t",
        });
        // An eighth position from a later release.
        blob[0] = 0x98;
        blob.push(0xc0);
        let mut e = entry(&[]);
        decode_into(&blob, &mut e).unwrap();
        assert_eq!(e.created_at, "t");
        for bad in [&[0x91, 0x01][..], &[0xff], &[], &[0x97, 0xc0, 0x91, 0x01]] {
            assert!(decode_into(bad, &mut entry(&[])).is_err(), "{bad:?}");
        }
        // A digest of 31 bytes, or a number, where a shard's sha256 goes.
        for digest in [&[0xc4, 31][..], &[0x05]] {
            let mut bad = vec![0x97, 0xc0, 0x91, 0x93];
            bad.extend_from_slice(digest);
            if digest.len() == 2 {
                bad.extend_from_slice(&[7; 31]);
            }
            // samples, bytes; then description, tags, license, metadata, created_at.
            bad.extend_from_slice(&[0xc0, 0xc0, 0xc0, 0x90, 0xc0, 0xc0, 0xa1, b't']);
            let e = decode_into(&bad, &mut entry(&["/a"])).unwrap_err();
            assert!(e.to_string().contains("neither 32 bytes nor text"), "{e}");
        }
    }
}
