//! What the index records about one dataset version, and the pure rules every provider shares:
//! the entry CID recipe, the 0.7-compatible metadata map and the schema version decision.
//!
//! These live here, not in a backend, so that SQLite, PostgreSQL and Redis providers compute the
//! same CID and the same schema versions for the same input.

use serde::Serialize;

use crate::codec::{cid_of, encode_value, MsgReader};
use crate::error::{Error, Result};
use crate::schema::{next_major_version, Schema};
use crate::value::Value;

/// Key of the per-shard digest map that Python atdata 0.7 keeps in an entry's metadata
/// (`{absolute shard path: sha256 hex}`); we write it too so 0.7 can verify our shards.
pub const CHECKSUMS_KEY: &str = "checksums";

/// One shard of a dataset version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// Where the shard is: an absolute path for local stores.
    pub url: String,
    /// Lower-case hex sha256 of the whole shard file. Entries written by Python atdata 0.7 know
    /// it only when their metadata holds `checksums`.
    pub sha256: Option<String>,
    /// Samples in the shard, when known (always for entries we wrote).
    pub samples: Option<u64>,
    /// File size in bytes, when known (always for entries we wrote).
    pub bytes: Option<u64>,
}

impl ShardInfo {
    /// A shard whose digest, sample count and size are all known.
    pub fn new(
        url: impl Into<String>,
        sha256: impl Into<String>,
        samples: u64,
        bytes: u64,
    ) -> Self {
        ShardInfo {
            url: url.into(),
            sha256: Some(sha256.into()),
            samples: Some(samples),
            bytes: Some(bytes),
        }
    }
}

/// One immutable version of a named dataset, as the index records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Dataset name (`docs-v1`).
    pub name: String,
    /// Version of this name: `"1"`, `"2"`, ... in commit order.
    pub version: String,
    /// Content identifier (see [`entry_cid`]); for entries written by Python atdata 0.7, the CID
    /// that package computed.
    pub cid: String,
    /// Reference of the schema record (`atdata://local/schema/TextSample@1.0.0`).
    pub schema_ref: String,
    /// The shards in order: URL, digest, sample count and size. (Each URL is kept here
    /// only; [`Entry::data_urls`] lists them.)
    pub shards: Vec<ShardInfo>,
    /// Total samples, when known without scanning.
    pub num_samples: Option<u64>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags for discovery.
    pub tags: Vec<String>,
    /// License identifier.
    pub license: Option<String>,
    /// The caller's metadata map ([`Value::Map`]), without the `checksums` key we keep for 0.7.
    pub metadata: Option<Value>,
    /// When the version was committed, RFC 3339 in UTC.
    pub created_at: String,
}

impl Entry {
    /// The reference that pins this version: `@local/{name}@{version}`.
    pub fn reference(&self) -> String {
        format!("@local/{}@{}", self.name, self.version)
    }

    /// The shard URLs in order (0.7's `data_urls`).
    pub fn data_urls(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.shards.iter().map(|s| s.url.as_str())
    }
}

/// What a writer asks the index to commit: the commit (`index/commit.rs`) decides the schema
/// version, the CID and the dataset version inside one provider transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Dataset name.
    pub name: String,
    /// The schema of the samples; its version is a proposal the provider may change (see
    /// [`decide_schema_version`]).
    pub schema: Schema,
    /// The published shards, every field known.
    pub shards: Vec<ShardInfo>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// License identifier.
    pub license: Option<String>,
    /// The caller's metadata map, if any.
    pub metadata: Option<Value>,
}

impl NewEntry {
    /// The sum of the shards' sample counts.
    pub fn num_samples(&self) -> u64 {
        self.shards.iter().filter_map(|s| s.samples).sum()
    }

    /// The shard digests, in order; an error names a shard without one.
    ///
    /// Each must be a sha256 as we write them (64 lower-case hex digits): the CID covers
    /// these texts, so `ABC...` and `abc...` would give one content two identities, and a
    /// digest that is no digest would make every later verify fail.
    pub fn digests(&self) -> Result<Vec<&str>> {
        self.shards
            .iter()
            .map(|s| {
                let d = s.sha256.as_deref().ok_or_else(|| {
                    Error::invalid(format!(
                        "shard '{}' of dataset '{}' has no sha256",
                        s.url, self.name
                    ))
                })?;
                if d.len() != 64 || !d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(Error::invalid(format!(
                        "shard '{}' of dataset '{}': sha256 '{d}' is not 64 lower-case hex \
                         digits",
                        s.url, self.name
                    )));
                }
                Ok(d)
            })
            .collect()
    }
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The entry now in the index.
    pub entry: Entry,
    /// False when an entry with the same CID existed already and was returned unchanged.
    pub created: bool,
}

/// The CID of a dataset version: DAG-CBOR `{name, schema, shards}` where `schema` is the schema
/// reference and `shards` the list of shard sha256 hex digests. It covers content, never
/// location: the same samples under the same name and schema give the same CID wherever stored.
pub fn entry_cid(name: &str, schema_ref: &str, shard_digests: &[&str]) -> Result<String> {
    // Field order is DAG-CBOR key order: "name" (4) < "schema" (6) < "shards" (6, "sc" < "sh").
    #[derive(Serialize)]
    struct Recipe<'a> {
        name: &'a str,
        schema: &'a str,
        shards: &'a [&'a str],
    }
    cid_of(&Recipe {
        name,
        schema: schema_ref,
        shards: shard_digests,
    })
}

/// The eight hex characters that name a shard file (`data--{tag}--000000.tar`): the start of
/// its sha256. The same bytes get the same file name, so they are stored once, also when a new
/// version of a dataset shares shards with an older one.
pub fn content_tag(sha256: &str) -> String {
    sha256.chars().take(8).collect()
}

/// How a provider stores a schema for a new entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaDecision {
    /// A stored record has the same structure: point at it.
    Reuse(String),
    /// No stored record fits: store the schema under this version.
    Create(String),
}

impl SchemaDecision {
    /// The chosen version.
    pub fn version(&self) -> &str {
        match self {
            SchemaDecision::Reuse(v) | SchemaDecision::Create(v) => v,
        }
    }
}

/// Chooses the schema version for `candidate` given the records stored under its name. The
/// lowest version with the same structure is reused (adding versions later never changes it, so
/// CIDs stay stable); a new structure gets the candidate's own version if free, else the next
/// major version above every stored one. The commit (`index/commit.rs`) calls this inside its transaction so
/// that concurrent writers of different structures get different versions.
pub fn decide_schema_version(candidate: &Schema, stored: &[Schema]) -> SchemaDecision {
    let normal = normalize_schema(candidate);
    let same = stored
        .iter()
        .filter(|s| normalize_schema(s).same_structure(&normal))
        .min_by_key(|s| semver_key(&s.version));
    if let Some(s) = same {
        return SchemaDecision::Reuse(s.version.clone());
    }
    if stored.iter().all(|s| s.version != candidate.version) {
        return SchemaDecision::Create(candidate.version.clone());
    }
    let highest = stored
        .iter()
        .max_by_key(|s| semver_key(&s.version))
        .map_or("0.0.0", |s| s.version.as_str());
    SchemaDecision::Create(next_major_version(highest))
}

/// A schema as it reads back from its JSON record, so that a record written by another program
/// (Python writes `float32` for an array without dtype) compares equal to ours.
fn normalize_schema(s: &Schema) -> Schema {
    Schema::from_json(&s.to_json()).unwrap_or_else(|_| s.clone())
}

/// Orders semantic versions numerically; text that is not a number sorts first.
pub fn semver_key(version: &str) -> (Vec<u64>, String) {
    let nums = version
        .split(['.', '-', '+'])
        .map_while(|p| p.parse::<u64>().ok())
        .collect();
    (nums, version.to_string())
}

/// The caller's metadata as an entry keeps it: nothing for no map, nil or an empty map.
pub fn user_metadata(metadata: Option<&Value>) -> Option<&Value> {
    match metadata {
        None | Some(Value::Nil) => None,
        Some(Value::Map(pairs)) if pairs.is_empty() => None,
        Some(v) => Some(v),
    }
}

/// The metadata map stored in the `metadata` column Python atdata 0.7 reads: the caller's map
/// plus `checksums: {url: sha256}`. A caller map that already has `checksums` is refused, since
/// it would be silently replaced.
pub fn compat_metadata(metadata: Option<&Value>, shards: &[ShardInfo]) -> Result<Value> {
    let mut pairs = match metadata {
        None | Some(Value::Nil) => Vec::new(),
        Some(Value::Map(pairs)) => pairs.clone(),
        Some(other) => {
            return Err(Error::invalid(format!(
                "metadata must be a map, got {}",
                other.kind()
            )))
        }
    };
    if pairs.iter().any(|(k, _)| k == CHECKSUMS_KEY) {
        return Err(Error::invalid(
            "metadata key 'checksums' is reserved for shard digests",
        ));
    }
    let checksums = shards
        .iter()
        .filter_map(|s| {
            s.sha256
                .as_ref()
                .map(|d| (s.url.clone(), Value::Str(d.clone())))
        })
        .collect();
    pairs.push((CHECKSUMS_KEY.to_string(), Value::Map(checksums)));
    Ok(Value::Map(pairs))
}

/// [`compat_metadata`] encoded as msgpack, written directly (no intermediate map): what the
/// `metadata` column holds.
pub fn compat_metadata_msgpack(metadata: Option<&Value>, shards: &[ShardInfo]) -> Result<Vec<u8>> {
    let pairs: &[(String, Value)] = match metadata {
        None | Some(Value::Nil) => &[],
        Some(Value::Map(pairs)) => pairs,
        Some(other) => {
            return Err(Error::invalid(format!(
                "metadata must be a map, got {}",
                other.kind()
            )))
        }
    };
    if pairs.iter().any(|(k, _)| k == CHECKSUMS_KEY) {
        return Err(Error::invalid(
            "metadata key 'checksums' is reserved for shard digests",
        ));
    }
    let mut out = Vec::with_capacity(16 + shards.len() * 160);
    // Writes into a Vec cannot fail.
    rmp::encode::write_map_len(&mut out, pairs.len() as u32 + 1).expect("vec write");
    for (k, v) in pairs {
        rmp::encode::write_str(&mut out, k).expect("vec write");
        encode_value(v, &mut out);
    }
    rmp::encode::write_str(&mut out, CHECKSUMS_KEY).expect("vec write");
    let known: Vec<(&str, &str)> = shards
        .iter()
        .filter_map(|s| s.sha256.as_deref().map(|d| (s.url.as_str(), d)))
        .collect();
    rmp::encode::write_map_len(&mut out, known.len() as u32).expect("vec write");
    for (url, digest) in known {
        rmp::encode::write_str(&mut out, url).expect("vec write");
        rmp::encode::write_str(&mut out, digest).expect("vec write");
    }
    Ok(out)
}

/// Splits a stored metadata map into the caller's part and the `checksums` map.
pub fn split_metadata(stored: Option<Value>) -> (Option<Value>, Vec<(String, String)>) {
    let pairs = match stored {
        Some(Value::Map(pairs)) => pairs,
        Some(Value::Nil) | None => return (None, Vec::new()),
        Some(other) => return (Some(other), Vec::new()),
    };
    let mut checksums = Vec::new();
    let mut rest = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match (k.as_str(), v) {
            (CHECKSUMS_KEY, Value::Map(sums)) => {
                checksums.extend(sums.into_iter().filter_map(|(url, d)| match d {
                    Value::Str(d) => Some((url, d)),
                    _ => None,
                }));
            }
            (_, v) => rest.push((k, v)),
        }
    }
    let rest = if rest.is_empty() {
        None
    } else {
        Some(Value::Map(rest))
    };
    (rest, checksums)
}

/// msgpack bytes of a value (the encoding of the `metadata` and `data_urls` columns).
pub fn to_msgpack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(v, &mut out);
    out
}

/// msgpack bytes of a list of strings.
pub fn strings_to_msgpack<I, S>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    let items = items.into_iter();
    // A shard path is about this long; a short guess only costs a reallocation.
    let mut out = Vec::with_capacity(items.len() * 80 + 5);
    // Writes into a Vec cannot fail.
    rmp::encode::write_array_len(&mut out, items.len() as u32).expect("vec write");
    for s in items {
        rmp::encode::write_str(&mut out, s.as_ref()).expect("vec write");
    }
    out
}

/// Reads a msgpack array of strings (the `data_urls` column).
pub fn strings_from_msgpack(buf: &[u8]) -> Result<Vec<String>> {
    use crate::codec::msgpack::Token;
    let mut r = MsgReader::new(buf);
    let n = match r.next_token()? {
        Token::Array(n) => n,
        _ => return Err(r.error("expected an array of strings")),
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.read_str()?.to_string());
    }
    Ok(out)
}

/// Reads one msgpack value (the `metadata` column).
pub fn value_from_msgpack(buf: &[u8]) -> Result<Value> {
    let mut r = MsgReader::new(buf);
    crate::codec::sample::decode_value(&mut r, None, 0)
}

/// A stored version text as one of our version numbers (`"3"`; not `"03"`, `"1.0.0"` or
/// `"-1"`): how every backend tells our numbered versions from 0.7's label texts.
pub fn version_number(version: &str) -> Option<u64> {
    version
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1 && n.to_string() == version)
}

/// The schema record stored as `name@version` with text `json`, named by where it is stored
/// (the name and version its key or row give win over what the JSON says). A record that
/// cannot be read is [`Error::Corrupt`] naming `name@version`.
pub fn stored_schema(name: &str, version: &str, json: &str) -> Result<Schema> {
    let mut s = Schema::from_json(json).map_err(|e| match e {
        Error::Corrupt { reason, .. } => {
            Error::corrupt(format!("schema record '{name}@{version}': {reason}"))
        }
        other => other,
    })?;
    s.name = name.to_string();
    s.version = version.to_string();
    Ok(s)
}

/// [`stored_schema`] for deciding the next schema version: a record that cannot be read
/// still holds its version, so it comes back with no fields and that version is never
/// handed out again.
pub fn stored_schema_or_placeholder(name: &str, version: &str, json: &str) -> Schema {
    stored_schema(name, version, json).unwrap_or_else(|_| {
        let mut s = Schema::new(name, Vec::new());
        s.version = version.to_string();
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_must_be_lower_case_hex_sha256() {
        let d = crate::codec::sha256_hex(b"x");
        let mut new = NewEntry {
            name: "n".into(),
            schema: crate::schema::Schema::new("T", Vec::new()),
            shards: vec![ShardInfo::new("/a.tar", d.clone(), 1, 10240)],
            description: None,
            tags: Vec::new(),
            license: None,
            metadata: None,
        };
        assert_eq!(new.digests().unwrap(), vec![d.as_str()]);
        for bad in [d.to_uppercase(), "ab".into(), "g".repeat(64), String::new()] {
            new.shards[0].sha256 = Some(bad.clone());
            let e = new.digests().unwrap_err().to_string();
            assert!(
                e.contains("/a.tar") && e.contains("lower-case hex"),
                "{bad}: {e}"
            );
        }
    }
    use crate::schema::{Field, FieldType, Primitive};

    fn text_schema() -> Schema {
        Schema::new(
            "TextSample",
            vec![Field::new("text", FieldType::Primitive(Primitive::Str))],
        )
    }

    #[test]
    fn cid_covers_name_schema_and_digests_only() {
        let a = entry_cid("docs", "atdata://local/schema/T@1.0.0", &["aa", "bb"]).unwrap();
        assert!(a.starts_with("bafyrei") && a.len() == 59, "{a}");
        assert_eq!(
            a,
            entry_cid("docs", "atdata://local/schema/T@1.0.0", &["aa", "bb"]).unwrap()
        );
        assert_ne!(
            a,
            entry_cid("docs2", "atdata://local/schema/T@1.0.0", &["aa", "bb"]).unwrap()
        );
        assert_ne!(
            a,
            entry_cid("docs", "atdata://local/schema/T@2.0.0", &["aa", "bb"]).unwrap()
        );
        assert_ne!(
            a,
            entry_cid("docs", "atdata://local/schema/T@1.0.0", &["bb", "aa"]).unwrap()
        );
    }

    #[test]
    fn cid_is_the_dag_cbor_of_the_sorted_map() {
        // Hand-built DAG-CBOR: map(3) "name" "n" "schema" "s" "shards" ["d"].
        let mut cbor = vec![0xa3, 0x64];
        cbor.extend_from_slice(b"name");
        cbor.extend_from_slice(&[0x61, b'n', 0x66]);
        cbor.extend_from_slice(b"schema");
        cbor.extend_from_slice(&[0x61, b's', 0x66]);
        cbor.extend_from_slice(b"shards");
        cbor.extend_from_slice(&[0x81, 0x61, b'd']);
        let digest = crate::codec::sha256_hex(&cbor);
        let mut raw = vec![0x01, 0x71, 0x12, 0x20];
        raw.extend(hex::decode(digest).unwrap());
        let want = cid::Cid::try_from(raw.as_slice()).unwrap().to_string();
        assert_eq!(entry_cid("n", "s", &["d"]).unwrap(), want);
    }

    #[test]
    fn tags_depend_on_content() {
        let d = crate::codec::sha256_hex(b"x");
        assert_eq!(content_tag(&d), d[..8]);
        assert_eq!(content_tag("ab"), "ab");
    }

    #[test]
    fn schema_versions() {
        let s1 = text_schema();
        assert_eq!(
            decide_schema_version(&s1, &[]),
            SchemaDecision::Create("1.0.0".into())
        );
        let mut stored = s1.clone();
        stored.description = Some("doc".into());
        assert_eq!(
            decide_schema_version(&s1, std::slice::from_ref(&stored)),
            SchemaDecision::Reuse("1.0.0".into())
        );
        let mut s2 = s1.clone();
        s2.fields
            .push(Field::new("n", FieldType::Primitive(Primitive::Int)));
        let mut v3 = s1.clone();
        v3.version = "3.1.0".into();
        v3.fields.clear();
        assert_eq!(
            decide_schema_version(&s2, &[stored.clone(), v3.clone()]),
            SchemaDecision::Create("4.0.0".into())
        );
        // The lowest same-structure version wins.
        let mut again = s1.clone();
        again.version = "10.0.0".into();
        assert_eq!(
            decide_schema_version(&s1, &[again, stored]),
            SchemaDecision::Reuse("1.0.0".into())
        );
    }

    #[test]
    fn python_ndarray_records_match_ours() {
        let ours = Schema::new("E", vec![Field::new("v", FieldType::ndarray())]);
        let py = Schema::new("E", vec![Field::new("v", FieldType::ndarray_of("float32"))]);
        assert_eq!(
            decide_schema_version(&ours, &[py]),
            SchemaDecision::Reuse("1.0.0".into())
        );
    }

    #[test]
    fn semver_orders_numerically() {
        assert!(semver_key("10.0.0") > semver_key("9.9.9"));
        assert!(semver_key("1.0.1") > semver_key("1.0.0"));
    }

    #[test]
    fn metadata_round_trip() {
        let shards = vec![ShardInfo::new("/a.tar", "ab", 1, 2)];
        let user = Value::Map(vec![("k".into(), Value::Int(1))]);
        let stored = compat_metadata(Some(&user), &shards).unwrap();
        let bytes = to_msgpack(&stored);
        let (back, sums) = split_metadata(Some(value_from_msgpack(&bytes).unwrap()));
        assert_eq!(back, Some(user.clone()));
        assert_eq!(sums, vec![("/a.tar".to_string(), "ab".to_string())]);
        let (none, _) = split_metadata(Some(compat_metadata(None, &shards).unwrap()));
        assert_eq!(none, None);
        assert_eq!(
            compat_metadata_msgpack(Some(&user), &shards).unwrap(),
            to_msgpack(&compat_metadata(Some(&user), &shards).unwrap())
        );
        let bad = Value::Map(vec![("checksums".into(), Value::Nil)]);
        assert!(compat_metadata(Some(&bad), &shards).is_err());
        assert!(compat_metadata_msgpack(Some(&bad), &shards).is_err());
        assert!(compat_metadata_msgpack(Some(&Value::Int(1)), &shards).is_err());
        assert!(compat_metadata(Some(&Value::Int(1)), &shards).is_err());
    }

    #[test]
    fn url_lists_round_trip() {
        let urls = vec!["/a/b.tar".to_string(), "é".to_string()];
        assert_eq!(
            strings_from_msgpack(&strings_to_msgpack(&urls)).unwrap(),
            urls
        );
        assert!(strings_from_msgpack(&[0x91, 0x01]).is_err());
        assert!(strings_from_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
