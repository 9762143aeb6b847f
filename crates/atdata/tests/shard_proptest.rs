//! Property tests: any samples round-trip through any rolling options, and no input makes the
//! reader panic.

use atdata::shard::{read_shard_bytes, sample_key, write_shards, ShardOptions};
use proptest::prelude::*;

fn options() -> impl Strategy<Value = ShardOptions> {
    (
        proptest::option::of(1usize..8),
        proptest::option::of(0u64..40_000),
    )
        .prop_map(|(maxcount, maxsize)| ShardOptions { maxcount, maxsize })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn write_then_read_round_trips(
        samples in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 0..30),
        opts in options(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let shards = write_shards(dir.path(), "p", samples.clone(), opts.clone()).unwrap();
        let mut read = Vec::new();
        for shard in &shards {
            let bytes = std::fs::read(&shard.path).unwrap();
            prop_assert_eq!(bytes.len() as u64, shard.bytes);
            prop_assert!(shard.samples >= 1);
            if let Some(max) = opts.maxcount {
                prop_assert!(shard.samples <= max as u64);
            }
            if let Some(max) = opts.maxsize {
                prop_assert!(shard.bytes <= max || shard.samples == 1);
            }
            let got = read_shard_bytes(&bytes, "p").unwrap();
            prop_assert_eq!(got.len() as u64, shard.samples);
            read.extend(got);
        }
        prop_assert_eq!(read.len(), samples.len());
        for (n, (got, want)) in read.iter().zip(&samples).enumerate() {
            prop_assert_eq!(&got.key, &sample_key(n as u64));
            prop_assert_eq!(&got.data, want);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_shard_bytes(&bytes, "fuzz");
    }

    #[test]
    fn damaged_shards_never_panic(
        edits in proptest::collection::vec((0usize..12288, any::<u8>()), 1..8),
        cut in proptest::option::of(0usize..12288),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let samples = vec![vec![0x80u8; 10], vec![0x81u8; 700], vec![0x82u8; 1]];
        let shards = write_shards(dir.path(), "d", samples, ShardOptions::default()).unwrap();
        let mut bytes = std::fs::read(&shards[0].path).unwrap();
        for (at, value) in edits {
            if let Some(b) = bytes.get_mut(at % 10240) {
                *b = value;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        match read_shard_bytes(&bytes, "d.tar") {
            Ok(samples) => prop_assert!(samples.len() <= 3 + 8),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains("shard 'd.tar'"), "{}", msg);
                prop_assert!(msg.contains("byte offset"), "{}", msg);
            }
        }
    }
}
