//! The fuzz seed corpus (`fuzz/seeds/<target>/`) through the checks its targets make, so that
//! the seeds stay meaningful without a nightly toolchain: every seed named `*_refused` is an
//! error, every other array and schema seed decodes and survives a round trip.

use std::path::{Path, PathBuf};

use atdata::codec::{decode_array, decode_sample, encode_array, encode_sample};
use atdata::Schema;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn array_seeds_decode_or_are_refused_as_named() {
    for (name, bytes) in seeds("decode_array") {
        let got = decode_array(&bytes);
        if name.ends_with("_refused") || name == "truncated" {
            assert!(got.is_err(), "{name} decoded");
            continue;
        }
        let a = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        encode_array(&a, &mut out);
        assert_eq!(decode_array(&out).unwrap(), a, "{name}");
    }
}

#[test]
fn sample_seeds_round_trip_or_fail_cleanly() {
    for (name, bytes) in seeds("decode_sample") {
        match decode_sample(&bytes, None) {
            Ok(s) => {
                let mut out = Vec::new();
                encode_sample(&s.fields, &mut out);
                assert_eq!(decode_sample(&out, None).unwrap(), s, "{name}");
            }
            Err(e) => assert_eq!(name, "trailing_byte", "{e}"),
        }
    }
}

#[test]
fn schema_seeds_parse_and_write_stable_json() {
    for (name, bytes) in seeds("parse_schema") {
        let text = String::from_utf8(bytes).unwrap();
        let s = Schema::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = s.to_json();
        assert_eq!(Schema::from_json(&json).unwrap().to_json(), json, "{name}");
    }
}
