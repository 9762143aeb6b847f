//! Any bytes as a shard: both the in-memory path (length known) and the streaming path
//! (length unknown) must return samples or an error naming the shard and offset, never panic;
//! streaming each sample to a callback (`next_msgpack_into`) gives what iterating gives.
//! Input starting with the gzip magic is read decompressed; and every input is also read
//! gzip-compressed, which must give what reading it plain in a stream gives.
#![no_main]

use std::io::Write;

use atdata::shard::{read_shard_bytes, RawSample, ShardReader};
use libfuzzer_sys::fuzz_target;

/// Samples read before the first error, and whether there was one.
fn stream(data: &[u8], url: &str) -> (Vec<RawSample>, bool) {
    let mut ok = Vec::new();
    for r in ShardReader::new(data, url, None) {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(&format!("shard '{url}'")), "{msg}");
                assert!(msg.contains("byte offset"), "{msg}");
                // Sample-level errors (a key without .msgpack) let reading go on.
                if !msg.contains("no .msgpack member") {
                    return (ok, true);
                }
            }
        }
    }
    (ok, false)
}

/// Every item of both reading styles, in order: the samples, and where errors come (their
/// wording may differ: a member cut short is found by a different reader of its bytes).
type Items = Vec<Result<RawSample, ()>>;

fn both_styles(data: &[u8]) -> (Items, Items) {
    let iterated = ShardReader::new(data, "fuzz.tar", None)
        .map(|r| r.map_err(|_| ()))
        .collect();
    let mut reader = ShardReader::new(data, "fuzz.tar", None);
    let mut streamed = Vec::new();
    while let Some(r) = reader.next_msgpack_into(|key, offset, _size, input| {
        let mut data = Vec::new();
        input.read_to_end(&mut data).map_err(|e| atdata::Error::io("sink", e))?;
        Ok(RawSample { key: key.to_string(), offset, data })
    }) {
        streamed.push(r.map_err(|_| ()));
    }
    (iterated, streamed)
}

fuzz_target!(|data: &[u8]| {
    let (iterated, streamed) = both_styles(data);
    assert_eq!(iterated, streamed);
    let whole = read_shard_bytes(data, "fuzz.tar");
    if let Err(e) = &whole {
        let msg = e.to_string();
        assert!(msg.contains("shard 'fuzz.tar'"), "{msg}");
        assert!(msg.contains("byte offset"), "{msg}");
    }
    let (ok_streamed, _) = stream(data, "fuzz.tar");
    // Both paths agree on the samples read before any error.
    if let Ok(samples) = &whole {
        assert_eq!(samples.len(), ok_streamed.len());
        for (a, b) in samples.iter().zip(&ok_streamed) {
            assert_eq!(a, b);
        }
    }
    // The same tar bytes gzip-compressed read the same (input that is gzip already would be
    // decompressed once only, so it is not compared).
    if !data.starts_with(&[0x1f, 0x8b]) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("gzip into memory");
        let gz = enc.finish().expect("gzip into memory");
        let (ok_gz, failed_gz) = stream(&gz, "fuzz.tar.gz");
        let (ok_plain, failed_plain) = stream(data, "fuzz.tar.gz");
        assert_eq!(ok_gz, ok_plain);
        assert_eq!(failed_gz, failed_plain);
    }
});
