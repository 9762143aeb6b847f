//! Content identifiers (docs/FORMAT.md section 7): CIDv1, dag-cbor codec, sha2-256, base32.

use cid::Cid;
use multihash::Multihash;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const DAG_CBOR: u64 = 0x71;
const SHA2_256: u64 = 0x12;

/// The CID of any serde value, encoded as DAG-CBOR. Struct fields must be declared in DAG-CBOR
/// key order (shorter keys first, then bytewise) since the encoder keeps declaration order.
pub fn cid_of<T: Serialize>(value: &T) -> Result<String> {
    let bytes = serde_ipld_dagcbor::to_vec(value)
        .map_err(|e| Error::invalid(format!("cannot encode value as DAG-CBOR: {e}")))?;
    let digest = Sha256::digest(&bytes);
    let mh = Multihash::<64>::wrap(SHA2_256, &digest).expect("32-byte digest fits");
    Ok(Cid::new_v1(DAG_CBOR, mh).to_string())
}

/// The entry CID recipe of the Python atdata 0.7 package: over `{schema_ref, data_urls}`.
/// We use it only to recognise entries that package wrote.
pub fn python_entry_cid(schema_ref: &str, data_urls: &[String]) -> Result<String> {
    #[derive(Serialize)]
    struct Recipe<'a> {
        data_urls: &'a [String],
        schema_ref: &'a str,
    }
    cid_of(&Recipe {
        data_urls,
        schema_ref,
    })
}

/// A dynamically typed value as DAG-CBOR holds it, for the CID of data that has no Rust type
/// (what atdata 0.7's `generate_cid` takes from Python). Unlike [`Value`](crate::Value) it
/// has CBOR's full integer range and no arrays, and maps are written in DAG-CBOR's canonical
/// key order whatever order they were built in.
#[derive(Debug, Clone, PartialEq)]
pub enum CidValue {
    /// null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer; CBOR holds -2^64 ..= 2^64-1 (anything else fails to encode).
    Int(i128),
    /// A float, always written as float64; NaN and infinities fail to encode.
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<CidValue>),
    /// A map with text keys (each once).
    Map(Vec<(String, CidValue)>),
}

impl Serialize for CidValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap, SerializeSeq};
        match self {
            CidValue::Null => s.serialize_none(),
            CidValue::Bool(b) => s.serialize_bool(*b),
            CidValue::Int(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    s.serialize_u64(u)
                } else if let Ok(i) = i64::try_from(*i) {
                    s.serialize_i64(i)
                } else if *i >= -(1i128 << 64) {
                    s.serialize_i128(*i)
                } else {
                    Err(S::Error::custom(format!(
                        "integer {i} is outside CBOR's range"
                    )))
                }
            }
            CidValue::Float(f) if !f.is_finite() => Err(S::Error::custom(format!(
                "{f} has no DAG-CBOR form (NaN and infinities are not allowed)"
            ))),
            // -0.0 is written as 0.0, as atdata 0.7 (libipld) writes it: one value, one CID.
            CidValue::Float(f) if *f == 0.0 => s.serialize_f64(0.0),
            CidValue::Float(f) => s.serialize_f64(*f),
            CidValue::Text(t) => s.serialize_str(t),
            CidValue::Bytes(b) => s.serialize_bytes(b),
            CidValue::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for it in items {
                    seq.serialize_element(it)?;
                }
                seq.end()
            }
            CidValue::Map(pairs) => {
                // DAG-CBOR's canonical order: shorter keys first, then bytewise.
                let mut sorted: Vec<&(String, CidValue)> = pairs.iter().collect();
                sorted.sort_by(|(a, _), (b, _)| {
                    a.len()
                        .cmp(&b.len())
                        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
                });
                let mut map = s.serialize_map(Some(sorted.len()))?;
                for (k, v) in sorted {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_values_match_atdata_07() {
        // Vectors from atdata 0.7's generate_cid (libipld).
        let m = CidValue::Map(vec![
            ("value".into(), CidValue::Int(42)),
            ("name".into(), CidValue::Text("test".into())),
        ]);
        assert_eq!(
            cid_of(&m).unwrap(),
            "bafyreidnzhwcbncg3avwjjao5o6wx4zhnksmxhdo6w5iaqupexnmzdlb54"
        );
        assert_eq!(
            cid_of(&CidValue::Int(-(1i128 << 64))).unwrap(),
            "bafyreih6reecglriqubgaf4s4eemhvs7fkr3fmrgbeefdmrev3sboxycbq"
        );
        assert_eq!(
            cid_of(&CidValue::Float(-0.0)).unwrap(),
            "bafyreihyqkjmzcn7bsaqmdlacjri7uzj5thdkiuzs6se6o7vlapgqs2p6i"
        );
        assert!(cid_of(&CidValue::Float(f64::NAN)).is_err());
        assert!(cid_of(&CidValue::Int(-(1i128 << 64) - 1)).is_err());
    }

    #[test]
    fn golden_vectors() {
        assert_eq!(
            python_entry_cid(
                "atdata://local/schema/TextSample@1.0.0",
                &["/data/texts/data--00000000--000000.tar".to_string()]
            )
            .unwrap(),
            "bafyreid4bbr6l53yy67eda4l5b46kfjtqmwamby7v2t3hxqd6ek2nskbdy"
        );
        assert_eq!(
            python_entry_cid(
                "atdata://local/schema/TextSample@1.0.0",
                &["/a.tar".to_string(), "/b.tar".to_string()]
            )
            .unwrap(),
            "bafyreigqq6ciaewwdo3wi7nhwuadomzce4h3amsf6i65us365xbu7dsmbi"
        );
    }
}
