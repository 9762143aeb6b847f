//! Any bytes as a shard: both the in-memory path (length known) and the streaming path
//! (length unknown) must return samples or an error naming the shard and offset, never panic.
#![no_main]

use atdata::shard::{read_shard_bytes, ShardReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = read_shard_bytes(data, "fuzz.tar");
    if let Err(e) = &whole {
        let msg = e.to_string();
        assert!(msg.contains("shard 'fuzz.tar'"), "{msg}");
        assert!(msg.contains("byte offset"), "{msg}");
    }
    let streamed: Vec<_> = ShardReader::new(data, "fuzz.tar", None).collect();
    // Both paths agree on the samples read before any error.
    let ok_streamed: Vec<_> = streamed.iter().filter_map(|r| r.as_ref().ok()).collect();
    if let Ok(samples) = &whole {
        assert_eq!(samples.len(), ok_streamed.len());
        for (a, b) in samples.iter().zip(ok_streamed) {
            assert_eq!(a, b);
        }
    }
});
