//! Damaged and hostile shards: never a panic, never a huge allocation, always an error that
//! names the shard and the byte offset (and the sample key when one is known).

use std::io::Read;

use atdata::shard::{read_shard_bytes, write_shards, ShardOptions, ShardReader};
use atdata::Error;

const URL: &str = "/data/bad.tar";

/// A valid shard of three samples written by our writer: headers at 0, 1024, 2048.
fn valid_shard() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let samples = vec![vec![0x80u8], vec![0x91, 0x01], vec![0xa1, b'x']];
    let shards = write_shards(dir.path(), "v", samples, ShardOptions::default()).unwrap();
    std::fs::read(&shards[0].path).unwrap()
}

fn set_checksum(h: &mut [u8]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h[..512].iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Asserts the shard fails with a corruption error at `offset` whose reason contains `reason`.
fn assert_corrupt(bytes: &[u8], offset: u64, reason: &str) -> String {
    let err = read_shard_bytes(bytes, URL).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains(&format!("shard '{URL}'")), "{msg}");
    assert!(msg.contains(&format!("byte offset {offset}")), "{msg}");
    assert!(msg.contains(reason), "expected {reason:?} in: {msg}");
    let loc = err.location().unwrap();
    assert_eq!(loc.shard.as_deref(), Some(URL));
    assert_eq!(loc.offset, Some(offset));
    msg
}

#[test]
fn empty_file_is_not_a_tar() {
    assert_corrupt(&[], 0, "not a tar file: empty");
}

#[test]
fn non_tar_input() {
    let text = b"{\"hello\": \"this is json, not a tar file\"}\n".repeat(30);
    assert_corrupt(&text, 0, "not a tar file");
    assert_corrupt(&[0x42; 511], 0, "truncated");
    let mut rand_bytes = vec![0u8; 4096];
    let mut x: u32 = 12345;
    for b in &mut rand_bytes {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    assert_corrupt(&rand_bytes, 0, "not a tar file");
}

#[test]
fn bad_checksum_names_the_header() {
    let mut bytes = valid_shard();
    bytes[1024 + 3] ^= 0x01; // the second member's name
    let msg = assert_corrupt(&bytes, 1024, "bad header checksum");
    assert!(!msg.contains("not a tar"), "{msg}");
}

#[test]
fn every_single_byte_flip_in_a_header_is_caught() {
    let bytes = valid_shard();
    for i in 0..512 {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[1024 + i] ^= flip;
            let result = read_shard_bytes(&bad, URL);
            let err = result.expect_err(&format!("flip {flip:#x} at header byte {i}"));
            assert!(err.to_string().contains("byte offset 1024"), "{err}");
        }
    }
}

#[test]
fn truncation_anywhere_is_an_error_or_a_complete_read() {
    let bytes = valid_shard();
    // The end-of-archive marker starts at 3072; any cut before it loses data.
    for cut in 0..bytes.len() {
        let result = read_shard_bytes(&bytes[..cut], URL);
        if cut <= 3072 {
            let err = result.expect_err(&format!("cut at {cut}"));
            let msg = err.to_string();
            assert!(msg.contains(&format!("shard '{URL}'")), "{msg}");
            assert!(msg.contains("byte offset"), "{msg}");
        } else {
            assert_eq!(result.unwrap().len(), 3, "cut at {cut}");
        }
    }
}

#[test]
fn truncated_member_data_names_offset_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let samples = vec![vec![1u8; 100], vec![2u8; 3000]];
    let shards = write_shards(dir.path(), "t", samples, ShardOptions::default()).unwrap();
    let bytes = std::fs::read(&shards[0].path).unwrap();
    let cut = &bytes[..1024 + 512 + 1000];
    let msg = assert_corrupt(cut, 1024, "truncated");
    assert!(msg.contains("sample key '000000001'"), "{msg}");
    // The sample completed before the damage still comes out first.
    let results: Vec<_> = ShardReader::new(cut, URL, None).collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().unwrap().key, "000000000");
    let streamed = results[1].as_ref().unwrap_err().to_string();
    assert!(
        streamed.contains("ends after 1000 of 3000 bytes"),
        "{streamed}"
    );
}

#[test]
fn missing_end_of_archive_marker_is_truncation() {
    let bytes = valid_shard();
    assert_corrupt(&bytes[..3072], 3072, "without its end-of-archive marker");
}

fn with_size_field(field: &[u8; 12]) -> Vec<u8> {
    let mut bytes = valid_shard();
    bytes[1024 + 124..1024 + 136].copy_from_slice(field);
    set_checksum(&mut bytes[1024..1536]);
    bytes
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    // 8 GiB - 1 and 4 GiB - 1: over the member cap.
    let bytes = with_size_field(b"77777777777\0");
    assert_corrupt(&bytes, 1024, "exceeds the 1073741824-byte limit");
    let bytes = with_size_field(b"37777777777\0");
    assert_corrupt(&bytes, 1024, "exceeds the 1073741824-byte limit");
    // Under the cap (1 GiB - 1) but past the end of the shard.
    let bytes = with_size_field(b"07777777777\0");
    let msg = assert_corrupt(&bytes, 1024, "runs past the end of the shard");
    assert!(msg.contains("sample key '000000001'"), "{msg}");
    // Base-256 with every bit set.
    let mut huge = [0xffu8; 12];
    huge[0] = 0x80 | 0x3f;
    let bytes = with_size_field(&huge);
    assert_corrupt(&bytes, 1024, "bad size field");
}

/// A reader that counts what it hands out, to show a lying size in a stream of unknown length
/// does not make the reader ask for (or allocate) gigabytes up front.
struct Counting<'a> {
    inner: &'a [u8],
    largest_request: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest_request = self.largest_request.max(buf.len());
        self.inner.read(buf)
    }
}

#[test]
fn lying_size_in_a_stream_of_unknown_length() {
    let bytes = with_size_field(b"07777777777\0"); // 1 GiB - 1
    let mut src = Counting {
        inner: &bytes,
        largest_request: 0,
    };
    let results: Vec<_> = ShardReader::new(&mut src, URL, None).collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("byte offset 1024"), "{err}");
    assert!(
        src.largest_request <= 64 << 20,
        "asked for {} bytes at once",
        src.largest_request
    );
}

#[test]
fn bad_octal_digits() {
    let bytes = with_size_field(b"0000000009a\0");
    assert_corrupt(&bytes, 1024, "bad size field: invalid octal digit '9'");
    let mut bytes = valid_shard();
    bytes[148..156].copy_from_slice(b"0x1234\0 ");
    assert_corrupt(&bytes, 0, "not a tar file: bad header checksum field");
}

fn pax_shard(body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..14].copy_from_slice(b"././@PaxHeader");
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    h[156] = b'x';
    h[257..263].copy_from_slice(b"ustar\0");
    set_checksum(&mut h);
    let mut out = valid_shard();
    // Insert the PAX header (and its data) before the second member.
    let mut pax = h.to_vec();
    pax.extend_from_slice(body);
    pax.resize(512 + body.len().div_ceil(512) * 512, 0);
    out.splice(1024..1024, pax);
    out
}

#[test]
fn pax_records_with_lying_lengths() {
    assert_corrupt(&pax_shard(b"99 path=a\n"), 1024, "bad PAX header");
    assert_corrupt(&pax_shard(b"5 path=abc\n"), 1024, "bad PAX header");
    assert_corrupt(
        &pax_shard(b"18446744073709551617 a=b\n"),
        1024,
        "bad PAX header",
    );
    assert_corrupt(&pax_shard(b"path=abc\n"), 1024, "bad PAX header");
    // A well-formed one is fine and renames the member.
    let ok = read_shard_bytes(&pax_shard(b"18 path=x.msgpack\n"), URL).unwrap();
    assert_eq!(ok[1].key, "x");
    assert_eq!(ok[1].offset, 1024);
}

#[test]
fn pax_size_records_are_capped_too() {
    assert_corrupt(
        &pax_shard(b"26 size=99999999999999999\n"),
        2048,
        "exceeds the 1073741824-byte limit",
    );
    assert_corrupt(&pax_shard(b"16 size=1000000\n"), 2048, "runs past the end");
}

#[test]
fn oversized_extended_headers_are_refused() {
    let mut bytes = valid_shard();
    let mut h = [0u8; 512];
    h[..14].copy_from_slice(b"././@PaxHeader");
    h[124..136].copy_from_slice(format!("{:011o}\0", 2u64 << 20).as_bytes());
    h[156] = b'x';
    set_checksum(&mut h);
    bytes.splice(0..0, h);
    bytes.resize(bytes.len() + (3 << 20), 0);
    assert_corrupt(&bytes, 0, "extended header of 2097152 bytes exceeds");
}

#[test]
fn an_extended_header_must_be_followed_by_a_member() {
    let bytes = pax_shard(b"18 path=x.msgpack\n");
    // Cut right after the PAX header and its data.
    assert_corrupt(&bytes[..2048], 2048, "ends after an extended header");
    let mut ended = bytes[..2048].to_vec();
    ended.extend_from_slice(&[0u8; 1024]);
    assert_corrupt(
        &ended,
        2048,
        "end-of-archive marker right after an extended header",
    );
}

#[test]
fn gnu_sparse_members_are_refused() {
    let mut bytes = valid_shard();
    bytes[1024 + 156] = b'S';
    set_checksum(&mut bytes[1024..1536]);
    assert_corrupt(&bytes, 1024, "sparse");
}

#[test]
fn iteration_ends_after_a_structural_error() {
    let mut bytes = valid_shard();
    bytes[1024 + 3] ^= 1;
    let mut reader = ShardReader::new(&bytes[..], URL, Some(bytes.len() as u64));
    assert!(reader.next().unwrap().is_ok());
    assert!(reader.next().unwrap().is_err());
    assert!(reader.next().is_none());
    assert!(reader.next().is_none());
}

#[test]
fn total_len_smaller_than_claimed_members_is_caught() {
    let bytes = valid_shard();
    // The caller says the shard is shorter than the member data claims to be.
    let results: Vec<_> = ShardReader::new(&bytes[..], URL, Some(500)).collect();
    let err = results[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("runs past the end of the shard (500 bytes)"),
        "{err}"
    );
}
