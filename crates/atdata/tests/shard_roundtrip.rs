//! Shard writer -> reader round trips: rolling, determinism, publishing.

use std::fs;
use std::path::Path;

use atdata::shard::{
    read_shard_bytes, sample_key, write_shards, ShardOptions, ShardReader, ShardWriter,
};
use atdata::Error;
use sha2::{Digest, Sha256};

fn samples(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = (i * 37) % 1500;
            (0..len).map(|j| (i * 7 + j) as u8).collect()
        })
        .collect()
}

fn read_all(path: &Path) -> Vec<atdata::shard::RawSample> {
    ShardReader::open(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn round_trip_keeps_keys_bytes_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let input = samples(100);
    let shards = write_shards(dir.path(), "data", input.clone(), ShardOptions::default()).unwrap();
    assert_eq!(shards.len(), 1);
    assert_eq!(shards[0].path, dir.path().join("data-000000.tar"));
    assert_eq!(shards[0].samples, 100);
    let read = read_all(&shards[0].path);
    assert_eq!(read.len(), 100);
    let mut expected_offset = 0u64;
    for (n, (got, want)) in read.iter().zip(&input).enumerate() {
        assert_eq!(got.key, sample_key(n as u64));
        assert_eq!(&got.data, want);
        assert_eq!(got.offset, expected_offset, "sample {n}");
        expected_offset += 512 + (want.len() as u64).div_ceil(512) * 512;
    }
}

#[test]
fn digest_size_and_padding_describe_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), "d", samples(30), ShardOptions::default()).unwrap();
    for s in &shards {
        let bytes = fs::read(&s.path).unwrap();
        assert_eq!(s.bytes, bytes.len() as u64);
        assert_eq!(s.bytes % 10240, 0);
        assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
        assert_eq!(s.sha256, hex::encode(Sha256::digest(&bytes)));
    }
}

#[test]
fn rolls_at_maxcount() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ShardOptions {
        maxcount: Some(3),
        maxsize: None,
    };
    let shards = write_shards(dir.path(), "c", samples(10), opts).unwrap();
    let counts: Vec<u64> = shards.iter().map(|s| s.samples).collect();
    assert_eq!(counts, [3, 3, 3, 1]);
    let names: Vec<String> = shards
        .iter()
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "c-000000.tar",
            "c-000001.tar",
            "c-000002.tar",
            "c-000003.tar"
        ]
    );
    // Keys continue across shards.
    let keys: Vec<String> = shards
        .iter()
        .flat_map(|s| read_all(&s.path))
        .map(|s| s.key)
        .collect();
    let want: Vec<String> = (0..10).map(sample_key).collect();
    assert_eq!(keys, want);
}

#[test]
fn rolls_at_maxsize_before_the_sample_that_would_overflow() {
    let dir = tempfile::tempdir().unwrap();
    // Each member is 512 + 1024 bytes; 6 members + the 1024-byte trailer fill 10240 exactly.
    let input = vec![vec![7u8; 1000]; 13];
    let opts = ShardOptions {
        maxcount: None,
        maxsize: Some(10240),
    };
    let shards = write_shards(dir.path(), "s", input, opts).unwrap();
    let counts: Vec<u64> = shards.iter().map(|s| s.samples).collect();
    assert_eq!(counts, [6, 6, 1]);
    for s in &shards {
        assert!(s.bytes <= 10240, "{} bytes", s.bytes);
    }
}

#[test]
fn a_sample_larger_than_maxsize_gets_a_shard_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let input = vec![vec![1u8; 10], vec![2u8; 50_000], vec![3u8; 10]];
    let opts = ShardOptions {
        maxcount: None,
        maxsize: Some(20_000),
    };
    let shards = write_shards(dir.path(), "big", input, opts).unwrap();
    let counts: Vec<u64> = shards.iter().map(|s| s.samples).collect();
    assert_eq!(counts, [1, 1, 1]);
    assert_eq!(read_all(&shards[1].path)[0].data.len(), 50_000);
}

#[test]
fn both_limits_apply_together() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ShardOptions {
        maxcount: Some(4),
        maxsize: Some(10240),
    };
    let small = write_shards(dir.path(), "a", vec![vec![0u8; 10]; 9], opts.clone()).unwrap();
    assert_eq!(
        small.iter().map(|s| s.samples).collect::<Vec<_>>(),
        [4, 4, 1]
    );
    let large = write_shards(dir.path(), "b", vec![vec![0u8; 3000]; 5], opts).unwrap();
    assert_eq!(
        large.iter().map(|s| s.samples).collect::<Vec<_>>(),
        [2, 2, 1]
    );
}

#[test]
fn same_samples_give_the_same_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let opts = ShardOptions {
        maxcount: Some(7),
        maxsize: None,
    };
    let sa = write_shards(a.path(), "x", samples(20), opts.clone()).unwrap();
    let sb = write_shards(b.path(), "x", samples(20), opts).unwrap();
    assert_eq!(sa.len(), sb.len());
    for (x, y) in sa.iter().zip(&sb) {
        assert_eq!(x.sha256, y.sha256);
        assert_eq!(fs::read(&x.path).unwrap(), fs::read(&y.path).unwrap());
    }
    let mut changed = samples(20);
    changed[3][0] ^= 1;
    let c = tempfile::tempdir().unwrap();
    let sc = write_shards(c.path(), "x", changed, ShardOptions::default()).unwrap();
    let whole = write_shards(b.path(), "w", samples(20), ShardOptions::default()).unwrap();
    assert_ne!(sc[0].sha256, whole[0].sha256);
}

/// The same archive Python's `tarfile` writes in USTAR format for these members with mtime 0,
/// mode 0644, uid/gid 0 and empty owner names (digest computed with CPython 3.12's tarfile).
#[test]
fn bytes_match_python_tarfile_ustar() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    w.write_sample(
        "000000000",
        &hex::decode("82a474657874a26869a56c6162656c03").unwrap(),
    )
    .unwrap();
    w.write_sample("000000001", b"\x80").unwrap();
    let big: Vec<u8> = (0..3).flat_map(|_| 0..=255u8).collect();
    w.write_sample("000000002", &big).unwrap();
    let staged = w.finish().unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].bytes, 10240);
    assert_eq!(
        staged[0].sha256,
        "5d2f9604eb8e61039cfba2a089c3f47142498f8d98ff483966f7c0c4c5f776c8"
    );
}

#[test]
fn the_tar_crate_reads_our_shards() {
    let dir = tempfile::tempdir().unwrap();
    let input = samples(12);
    let shards = write_shards(dir.path(), "t", input.clone(), ShardOptions::default()).unwrap();
    let file = fs::File::open(&shards[0].path).unwrap();
    let mut archive = tar::Archive::new(file);
    let mut n = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("{}.msgpack", sample_key(n as u64)));
        assert_eq!(entry.header().mtime().unwrap(), 0);
        assert_eq!(entry.header().mode().unwrap(), 0o644);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        assert_eq!(data, input[n]);
        n += 1;
    }
    assert_eq!(n, 12);
}

#[test]
fn no_samples_no_shards() {
    let dir = tempfile::tempdir().unwrap();
    let w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    assert!(w.finish().unwrap().is_empty());
    let none = write_shards(
        dir.path(),
        "e",
        Vec::<Vec<u8>>::new(),
        ShardOptions::default(),
    );
    assert!(none.unwrap().is_empty());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn take_staged_hands_out_closed_shards_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ShardOptions {
        maxcount: Some(2),
        maxsize: None,
    };
    let mut w = ShardWriter::new(dir.path(), opts).unwrap();
    for n in 0..2 {
        w.write_sample(&sample_key(n), b"\x80").unwrap();
    }
    assert!(w.take_staged().is_empty());
    w.write_sample(&sample_key(2), b"\x80").unwrap();
    let first = w.take_staged();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].samples, 2);
    assert!(first[0].path().starts_with(dir.path()));
    let rest = w.finish().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].samples, 1);
}

#[test]
fn publish_moves_the_file_and_creates_parents() {
    let staging = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::new(staging.path(), ShardOptions::default()).unwrap();
    w.write_sample("a", b"\x80").unwrap();
    let shard = w.finish().unwrap().pop().unwrap();
    let temp = shard.path().to_path_buf();
    let dest = staging.path().join("x/y/a.tar");
    let sha = shard.sha256.clone();
    shard.publish(&dest).unwrap();
    assert!(!temp.exists());
    assert_eq!(hex::encode(Sha256::digest(fs::read(&dest).unwrap())), sha);
    assert_eq!(
        read_shard_bytes(&fs::read(&dest).unwrap(), "a")
            .unwrap()
            .len(),
        1
    );
}

fn stage(dir: &Path, data: &[u8]) -> atdata::shard::StagedShard {
    let mut w = ShardWriter::new(dir, ShardOptions::default()).unwrap();
    w.write_sample("k", data).unwrap();
    w.finish().unwrap().pop().unwrap()
}

#[test]
fn publishing_identical_content_again_is_a_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s.tar");
    stage(dir.path(), b"same").publish(&dest).unwrap();
    let again = stage(dir.path(), b"same");
    let temp = again.path().to_path_buf();
    again.publish(&dest).unwrap();
    assert!(!temp.exists(), "the duplicate temp file is removed");
    // Only the published shard is left in the directory.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn publishing_over_different_content_is_already_exists() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s.tar");
    stage(dir.path(), b"one").publish(&dest).unwrap();
    let before = fs::read(&dest).unwrap();
    let other = stage(dir.path(), b"two");
    let temp = other.path().to_path_buf();
    let err = other.publish(&dest).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("s.tar"), "{err}");
    assert_eq!(fs::read(&dest).unwrap(), before, "never clobbered");
    assert!(!temp.exists());
}

#[test]
fn write_shards_refuses_to_overwrite_a_different_shard() {
    let dir = tempfile::tempdir().unwrap();
    write_shards(dir.path(), "p", samples(3), ShardOptions::default()).unwrap();
    // Same content again: dedup, fine.
    write_shards(dir.path(), "p", samples(3), ShardOptions::default()).unwrap();
    let err = write_shards(dir.path(), "p", samples(4), ShardOptions::default()).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
}

#[test]
fn bad_keys_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    for key in ["", "a.b", "__key__", "dir/"] {
        let err = w.write_sample(key, b"\x80").unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{key:?}: {err}");
    }
    // The writer is still usable after refusing a key.
    w.write_sample("ok", b"\x80").unwrap();
    assert_eq!(w.finish().unwrap()[0].samples, 1);
}

#[test]
fn keys_with_directories_and_long_names_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}/{}", "d".repeat(140), "k".repeat(90));
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    w.write_sample("train/000001", b"\x01").unwrap();
    w.write_sample(&long, b"\x02").unwrap();
    let shard = w.finish().unwrap().pop().unwrap();
    let read = read_all(shard.path());
    assert_eq!(read[0].key, "train/000001");
    assert_eq!(read[1].key, long);
    let too_long = "x".repeat(200);
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    assert!(w.write_sample(&too_long, b"\x80").is_err());
}

#[test]
fn sample_keys_are_fixed_width() {
    assert_eq!(sample_key(0), "000000000");
    assert_eq!(sample_key(42), "000000042");
    assert!(sample_key(5) < sample_key(40));
}
