//! Any bytes as a msgpack sample, without and with a schema. What decodes must re-encode and
//! decode again.
#![no_main]

use std::sync::OnceLock;

use atdata::codec::{decode_sample, encode_sample};
use atdata::Schema;
use libfuzzer_sys::fuzz_target;

const SCHEMA: &str = r#"{"name": "Fuzz", "version": "1.0.0", "fields": [
  {"name": "text", "fieldType": {"$type": "local#primitive", "primitive": "str"}},
  {"name": "n", "fieldType": {"$type": "local#primitive", "primitive": "int"}},
  {"name": "x", "fieldType": {"$type": "local#primitive", "primitive": "float"}},
  {"name": "b", "fieldType": {"$type": "local#primitive", "primitive": "bytes"}, "optional": true},
  {"name": "arr", "fieldType": {"$type": "local#ndarray", "dtype": "float32"}},
  {"name": "items", "fieldType": {"$type": "local#array", "items": {"$type": "local#primitive", "primitive": "int"}}}
]}"#;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::from_json(SCHEMA).expect("fuzz schema parses"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(sample) = decode_sample(data, None) {
        let mut out = Vec::new();
        encode_sample(&sample.fields, &mut out);
        decode_sample(&out, None).expect("a decoded sample re-encodes to something decodable");
    }
    let _ = decode_sample(data, Some(schema()));
});
