//! Byte-level encodings (docs/FORMAT.md sections 1, 2 and 7): msgpack samples, the compact n-d
//! array encoding (and `.npy` on read), and content identifiers; and the inverse of decoding
//! with a schema, inferring one from samples that came without ([`infer`]).
//!
//! Everything here works on `&[u8]` and `Vec<u8>`: no I/O. Decoders treat input as hostile:
//! every length is checked against the bytes that remain before anything is allocated, and
//! every failure is an [`Error::Corrupt`](crate::Error) or
//! [`Error::SchemaMismatch`](crate::Error) whose location the callers complete.

pub mod array;
pub mod cid;
pub mod infer;
pub mod msgpack;
pub mod sample;

pub use array::{
    decode_array, decode_array_view, decode_compact_header, encode_array, encoded_array_len,
    ArrayHeader, ArrayView,
};
pub use cid::{cid_of, python_entry_cid, sha256_hex, CidValue};
pub use infer::{infer_schema, Inference, Sketch};
pub use msgpack::MsgReader;
pub use sample::{decode_sample, encode_sample, encode_value, validate_sample};

/// Bytes from spaced hex text, for the golden vectors of docs/FORMAT.md in tests.
#[cfg(test)]
pub(crate) fn test_hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}
