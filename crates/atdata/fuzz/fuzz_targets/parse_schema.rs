//! Any text as a schema record: a schema or an error. What parses must survive to_json: our
//! JSON parses back, and writing it again gives the same text (to_json normalises, e.g. a
//! missing ndarray dtype is written as "float32" like Python does, so the first write may differ
//! from the input but the second may not).
#![no_main]

use atdata::Schema;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(schema) = Schema::from_json(text) {
        let json = schema.to_json();
        let again = Schema::from_json(&json).expect("our own schema JSON parses");
        assert_eq!(again.to_json(), json);
        assert_eq!(again.name, schema.name);
        assert_eq!(again.fields.len(), schema.fields.len());
    }
});
