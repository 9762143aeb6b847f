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

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
