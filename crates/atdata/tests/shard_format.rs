//! The reader against tar files we did not write: PAX and GNU extensions, old headers, Python's
//! padding, the WebDataset grouping rule, and the real shards written by Python atdata 0.7.

use std::path::Path;

use atdata::shard::{read_shard_bytes, RawSample, ShardReader};

/// Builds tar files header by header, the way other writers do.
#[derive(Default)]
struct Tar {
    buf: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Magic {
    Posix,
    Gnu,
    V7,
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
}

fn header(name: &[u8], size: u64, typeflag: u8, magic: Magic) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 1000);
    octal(&mut h[116..124], 1000);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_795_501_624);
    h[156] = typeflag;
    match magic {
        Magic::Posix => {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[265..269].copy_from_slice(b"user");
        }
        Magic::Gnu => h[257..265].copy_from_slice(b"ustar  \0"),
        Magic::V7 => {}
    }
    set_checksum(&mut h);
    h
}

fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

impl Tar {
    fn raw(&mut self, h: [u8; 512], data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(
            header(name.as_bytes(), data.len() as u64, b'0', Magic::Posix),
            data,
        )
    }

    fn pax(&mut self, records: &[(&str, &str)]) -> &mut Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while format!("{len}").len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.raw(
            header(b"././@PaxHeader", body.len() as u64, b'x', Magic::Posix),
            &body,
        )
    }

    /// Python's layout: end blocks then zeros to a multiple of 10240.
    fn finish_python(&mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&[0u8; 1024]);
        let len = self.buf.len().div_ceil(10240) * 10240;
        self.buf.resize(len, 0);
        std::mem::take(&mut self.buf)
    }

    fn finish(&mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&[0u8; 1024]);
        std::mem::take(&mut self.buf)
    }
}

fn keys(samples: &[RawSample]) -> Vec<&str> {
    samples.iter().map(|s| s.key.as_str()).collect()
}

#[test]
fn python_style_pax_headers_and_record_padding() {
    let mut t = Tar::default();
    t.pax(&[("mtime", "1795501624.0775979")])
        .file("a1b2.msgpack", b"\x81\xa1a\x01")
        .pax(&[("mtime", "1795501624.0779078")])
        .file("c3.msgpack", b"\x80");
    let bytes = t.finish_python();
    assert_eq!(bytes.len(), 10240);
    let s = read_shard_bytes(&bytes, "py.tar").unwrap();
    assert_eq!(keys(&s), ["a1b2", "c3"]);
    assert_eq!(s[0].data, b"\x81\xa1a\x01");
    assert_eq!(
        s[0].offset, 0,
        "offset of the PAX header that starts the sample"
    );
    assert_eq!(s[1].offset, 2048);
    assert_eq!(s[1].data, b"\x80");
}

#[test]
fn pax_path_overrides_the_header_name() {
    let long = format!("{}/sample-7.msgpack", "deep/".repeat(40));
    let mut t = Tar::default();
    t.pax(&[("path", &long), ("mtime", "0")])
        .file("truncated-name", b"\x01");
    let s = read_shard_bytes(&t.finish(), "p.tar").unwrap();
    assert_eq!(
        keys(&s),
        [format!("{}/sample-7", "deep/".repeat(40)).as_str()]
    );
}

#[test]
fn pax_size_overrides_the_header_size() {
    let mut t = Tar::default();
    t.pax(&[("size", "3")]);
    // The ustar size field says 0 (as for members of more than 8 GiB); PAX says 3.
    t.buf
        .extend_from_slice(&header(b"k.msgpack", 0, b'0', Magic::Posix));
    t.buf.extend_from_slice(b"abc");
    t.buf.extend(std::iter::repeat_n(0u8, 509));
    let s = read_shard_bytes(&t.finish(), "p.tar").unwrap();
    assert_eq!(s[0].data, b"abc");
}

#[test]
fn gnu_long_names() {
    let long = format!("{}.msgpack", "n".repeat(300));
    let mut t = Tar::default();
    let mut name = long.clone().into_bytes();
    name.push(0);
    t.raw(
        header(b"././@LongLink", name.len() as u64, b'L', Magic::Gnu),
        &name,
    );
    t.raw(
        header(&long.as_bytes()[..100], 2, b'0', Magic::Gnu),
        b"\x92\x01",
    );
    t.raw(header(b"short.msgpack", 1, b'0', Magic::Gnu), b"\x80");
    let s = read_shard_bytes(&t.finish(), "gnu.tar").unwrap();
    assert_eq!(keys(&s), ["n".repeat(300).as_str(), "short"]);
    assert_eq!(s[0].data, b"\x92\x01");
}

#[test]
fn ustar_prefix_field() {
    let mut h = header(b"key.msgpack", 1, b'0', Magic::Posix);
    h[345..353].copy_from_slice(b"some/dir");
    set_checksum(&mut h);
    let mut t = Tar::default();
    t.raw(h, b"\x80");
    let s = read_shard_bytes(&t.finish(), "u.tar").unwrap();
    assert_eq!(keys(&s), ["some/dir/key"]);
}

#[test]
fn gnu_headers_ignore_the_prefix_area() {
    // GNU headers keep atime/ctime where ustar has the prefix.
    let mut h = header(b"key.msgpack", 1, b'0', Magic::Gnu);
    h[345..356].copy_from_slice(b"14703134112");
    set_checksum(&mut h);
    let mut t = Tar::default();
    t.raw(h, b"\x80");
    let s = read_shard_bytes(&t.finish(), "g.tar").unwrap();
    assert_eq!(keys(&s), ["key"]);
}

#[test]
fn old_v7_headers() {
    let mut t = Tar::default();
    t.raw(header(b"old.msgpack", 2, 0, Magic::V7), b"\x92\x01")
        .raw(header(b"dir/", 0, 0, Magic::V7), b"");
    let s = read_shard_bytes(&t.finish(), "v7.tar").unwrap();
    assert_eq!(keys(&s), ["old"]);
    assert_eq!(s[0].data, b"\x92\x01");
}

#[test]
fn blank_padded_numeric_fields() {
    // Some writers right-align numbers with leading spaces.
    let mut h = header(b"k.msgpack", 0, b'0', Magic::Posix);
    h[124..136].copy_from_slice(b"         3 \0");
    set_checksum(&mut h);
    let mut t = Tar::default();
    t.raw(h, b"xyz");
    assert_eq!(
        read_shard_bytes(&t.finish(), "b.tar").unwrap()[0].data,
        b"xyz"
    );
}

#[test]
fn base256_sizes() {
    let mut h = header(b"k.msgpack", 0, b'0', Magic::Gnu);
    h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    set_checksum(&mut h);
    let mut t = Tar::default();
    t.raw(h, b"abcd");
    assert_eq!(
        read_shard_bytes(&t.finish(), "b.tar").unwrap()[0].data,
        b"abcd"
    );
}

#[test]
fn valid_tar_without_members_yields_nothing() {
    assert!(read_shard_bytes(&[0u8; 10240], "e.tar").unwrap().is_empty());
    assert!(read_shard_bytes(&[0u8; 1024], "e.tar").unwrap().is_empty());
    // A lone end block is enough, as for Python's tarfile.
    assert!(read_shard_bytes(&[0u8; 512], "e.tar").unwrap().is_empty());
}

#[test]
fn extra_trailing_padding_is_accepted() {
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x80");
    let mut bytes = t.finish_python();
    bytes.extend_from_slice(&[0u8; 10240 * 3]);
    assert_eq!(keys(&read_shard_bytes(&bytes, "p.tar").unwrap()), ["a"]);
}

#[test]
fn grouping_collects_consecutive_members_by_prefix() {
    let mut t = Tar::default();
    t.file("a.json", b"{}")
        .file("a.msgpack", b"\x01")
        .file("a.cls", b"3")
        .file("b.msgpack", b"\x02")
        .file("B.msgpack", b"\x03")
        .file("dir/c.msgpack", b"\x04")
        .file("dir.x/c.MSGPACK", b"\x05");
    let s = read_shard_bytes(&t.finish(), "g.tar").unwrap();
    assert_eq!(keys(&s), ["a", "b", "B", "dir/c", "dir.x/c"]);
    let data: Vec<u8> = s.iter().map(|x| x.data[0]).collect();
    assert_eq!(data, [1, 2, 3, 4, 5]);
    assert_eq!(s[0].offset, 0);
    assert_eq!(s[1].offset, 3 * 1024);
}

#[test]
fn members_without_keys_and_non_files_are_skipped() {
    let mut t = Tar::default();
    t.file("__key__", b"x")
        .file("d/__meta__.json", b"{}")
        .raw(header(b"d/", 0, b'5', Magic::Posix), b"")
        .file("noext", b"zz")
        .file(".hidden", b"zz")
        .raw(header(b"link.msgpack", 0, b'2', Magic::Posix), b"")
        .file("a.msgpack", b"\x80");
    let s = read_shard_bytes(&t.finish(), "s.tar").unwrap();
    assert_eq!(keys(&s), ["a"]);
    assert_eq!(s[0].offset, 5120);
}

#[test]
fn the_key_is_the_prefix_before_the_first_dot() {
    let mut t = Tar::default();
    t.file("x.y.msgpack", b"\x80");
    let err = read_shard_bytes(&t.finish(), "dots.tar").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("sample key 'x'"), "{msg}");
    assert!(msg.contains(".y.msgpack"), "{msg}");
}

#[test]
fn a_sample_without_msgpack_is_an_error_with_shard_offset_and_key() {
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x01")
        .file("b.jpg", b"...")
        .file("b.cls", b"1")
        .file("c.msgpack", b"\x03");
    let bytes = t.finish();
    let results: Vec<_> = ShardReader::new(&bytes[..], "m.tar", None).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().key, "a");
    let msg = results[1].as_ref().unwrap_err().to_string();
    assert!(msg.contains("shard 'm.tar'"), "{msg}");
    assert!(msg.contains("byte offset 1024"), "{msg}");
    assert!(msg.contains("sample key 'b'"), "{msg}");
    assert!(
        msg.contains("no .msgpack member (found: .jpg, .cls)"),
        "{msg}"
    );
    // Reading goes on after a sample-level error.
    assert_eq!(results[2].as_ref().unwrap().key, "c");
    assert!(read_shard_bytes(&bytes, "m.tar").is_err());
}

#[test]
fn two_msgpack_members_in_one_sample_is_an_error() {
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x01").file("a.MsgPack", b"\x02");
    let msg = read_shard_bytes(&t.finish(), "d.tar")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("two .msgpack members"), "{msg}");
    assert!(msg.contains("byte offset 1024"), "{msg}");
    assert!(msg.contains("sample key 'a'"), "{msg}");
}

/// Every sample `next_msgpack_into` yields (key, offset, data), or the error that ended it.
fn streamed(bytes: &[u8]) -> Vec<atdata::Result<(String, u64, Vec<u8>)>> {
    let mut reader = ShardReader::new(bytes, "d.tar", None);
    let mut out = Vec::new();
    while let Some(item) = reader.next_msgpack_into(|key, offset, _size, input| {
        let mut data = Vec::new();
        input.read_to_end(&mut data).unwrap();
        Ok((key.to_string(), offset, data))
    }) {
        out.push(item);
    }
    out
}

fn assert_located(err: &atdata::Error, offset: u64, key: &str, reason: &str) {
    let msg = err.to_string();
    assert!(matches!(err, atdata::Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains("shard 'd.tar'"), "{msg}");
    assert!(msg.contains(&format!("byte offset {offset}")), "{msg}");
    assert!(msg.contains(&format!("sample key '{key}'")), "{msg}");
    assert!(msg.contains(reason), "expected {reason:?} in: {msg}");
}

#[test]
fn a_key_split_across_non_adjacent_members_is_an_error_naming_it() {
    for other in ["a.msgpack", "a.json"] {
        let mut t = Tar::default();
        t.file("a.msgpack", b"\x01")
            .file("b.msgpack", b"\x02")
            .file(other, b"\x03");
        let bytes = t.finish();
        let results: Vec<_> = ShardReader::new(&bytes[..], "d.tar", None).collect();
        assert_eq!(results.len(), 3, "{other}");
        assert_eq!(results[0].as_ref().unwrap().key, "a");
        assert_eq!(results[1].as_ref().unwrap().key, "b");
        let err = results[2].as_ref().unwrap_err();
        assert_located(err, 2048, "a", "appears again after other samples");
        let streamed = streamed(&bytes);
        assert_eq!(streamed.len(), 3, "{other}");
        assert_eq!(streamed[1].as_ref().unwrap().0, "b");
        let err = streamed[2].as_ref().unwrap_err();
        assert_located(err, 2048, "a", "appears again after other samples");
    }
    // The same key in two shards is two samples, not an error (keys are unique per shard).
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x01");
    let bytes = t.finish();
    assert_eq!(read_shard_bytes(&bytes, "1.tar").unwrap()[0].key, "a");
    assert_eq!(read_shard_bytes(&bytes, "2.tar").unwrap()[0].key, "a");
}

/// One item a reader yields: a sample as (key, offset, data), or the error's text.
type Item = Result<(String, u64, Vec<u8>), String>;

/// What both reading styles make of `bytes`.
fn both_styles(bytes: &[u8]) -> [Vec<Item>; 2] {
    let iterated = ShardReader::new(bytes, "d.tar", None)
        .map(|r| {
            r.map(|s| (s.key, s.offset, s.data))
                .map_err(|e| e.to_string())
        })
        .collect();
    let streamed = streamed(bytes)
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    [iterated, streamed]
}

#[test]
fn both_reading_styles_report_a_sample_without_msgpack_and_read_on() {
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x01")
        .file("b.jpg", b"...")
        .file("c.msgpack", b"\x03");
    let [iterated, streamed] = both_styles(&t.finish());
    assert_eq!(iterated, streamed);
    assert_eq!(iterated.len(), 3);
    assert_eq!(iterated[0].as_ref().unwrap().0, "a");
    let msg = iterated[1].as_ref().unwrap_err();
    assert!(
        msg.contains("sample key 'b'") && msg.contains("no .msgpack member (found: .jpg)"),
        "{msg}"
    );
    assert_eq!(iterated[2].as_ref().unwrap().0, "c");
}

#[test]
fn a_bad_member_after_the_msgpack_member_fails_the_sample_in_both_reading_styles() {
    // The sample is handed over when it ends, so a fault in its later members is its error
    // (the streaming sink has run by then; its caller discards what it did).
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x01")
        .file("a.json", b"{}")
        .file("a.json", b"[]")
        .file("b.msgpack", b"\x02");
    let [iterated, streamed] = both_styles(&t.finish());
    assert_eq!(iterated, streamed);
    assert_eq!(iterated.len(), 1, "{iterated:?}");
    let msg = iterated[0].as_ref().unwrap_err();
    assert!(
        msg.contains("sample has two .json members") && msg.contains("byte offset 2048"),
        "{msg}"
    );
}

#[test]
fn the_two_reading_styles_can_take_turns_on_one_reader() {
    let mut t = Tar::default();
    for k in ["a", "b", "c", "d"] {
        t.file(&format!("{k}.msgpack"), k.as_bytes());
    }
    let bytes = t.finish();
    let mut reader = ShardReader::new(&bytes[..], "d.tar", None);
    let mut keys = Vec::new();
    for turn in 0.. {
        let key = if turn % 2 == 0 {
            reader.next().map(|s| s.unwrap().key)
        } else {
            reader
                .next_msgpack_into(|key, _, _, _| Ok(key.to_string()))
                .map(Result::unwrap)
        };
        match key {
            Some(k) => keys.push(k),
            None => break,
        }
    }
    assert_eq!(keys, ["a", "b", "c", "d"]);
}

#[test]
fn two_members_with_the_same_key_and_suffix_are_an_error() {
    let mut t = Tar::default();
    t.file("z.msgpack", b"\x00")
        .file("a.json", b"{}")
        .file("a.cls", b"1")
        .file("a.json", b"[]")
        .file("a.msgpack", b"\x01");
    let bytes = t.finish();
    let results: Vec<_> = ShardReader::new(&bytes[..], "d.tar", None).collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().unwrap().key, "z");
    assert_located(
        results[1].as_ref().unwrap_err(),
        3072,
        "a",
        "sample has two .json members",
    );
    let streamed = streamed(&bytes);
    assert_eq!(streamed.len(), 2);
    assert_located(
        streamed[1].as_ref().unwrap_err(),
        3072,
        "a",
        "sample has two .json members",
    );
    // Suffixes are compared exactly: .json and .JSON are two members (only msgpack, the one we
    // read, is matched case-insensitively).
    let mut t = Tar::default();
    t.file("a.json", b"{}")
        .file("a.JSON", b"{}")
        .file("a.msgpack", b"\x01");
    assert_eq!(read_shard_bytes(&t.finish(), "d.tar").unwrap().len(), 1);
}

#[test]
fn open_reads_files_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.tar");
    let mut t = Tar::default();
    t.file("a.msgpack", b"\x80").file("b.txt", b"t");
    std::fs::write(&path, t.finish()).unwrap();
    let results: Vec<_> = ShardReader::open(&path).unwrap().collect();
    assert_eq!(results.len(), 2);
    let msg = results[1].as_ref().unwrap_err().to_string();
    assert!(
        msg.contains(&format!("shard '{}'", path.display())),
        "{msg}"
    );
    let missing = ShardReader::open(&dir.path().join("nope.tar"))
        .err()
        .unwrap();
    assert!(matches!(missing, atdata::Error::Io { .. }), "{missing}");
}

/// Shards written by the real Python atdata 0.7.0b1 (scripts/py07_make_fixtures.py): every
/// key and every msgpack byte must come back as `expected.json` lists them.
#[test]
fn reads_python_atdata_07_shards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py07");
    let expected_path = root.join("expected.json");
    let Ok(text) = std::fs::read_to_string(&expected_path) else {
        eprintln!("no Python fixtures at {}; skipping", root.display());
        return;
    };
    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
    let datasets = expected["datasets"].as_object().unwrap();
    let mut total = 0;
    for (name, ds) in datasets {
        let want: Vec<&serde_json::Value> = ds["samples"].as_array().unwrap().iter().collect();
        let mut got = Vec::new();
        for shard in ds["shards"].as_array().unwrap() {
            let rel = shard.as_str().unwrap();
            let bytes = std::fs::read(root.join(rel)).unwrap();
            assert_eq!(bytes.len() % 10240, 0, "{rel}: Python pads to records");
            assert_eq!(&bytes[156..157], b"x", "{rel}: Python writes PAX headers");
            for s in read_shard_bytes(&bytes, rel).unwrap() {
                got.push((rel.to_string(), s));
            }
        }
        assert_eq!(got.len(), want.len(), "{name}");
        for ((shard, s), w) in got.iter().zip(&want) {
            assert_eq!(shard, w["shard"].as_str().unwrap(), "{name}");
            assert_eq!(s.key, w["key"].as_str().unwrap(), "{name}");
            assert_eq!(
                hex::encode(&s.data),
                w["msgpack_hex"].as_str().unwrap(),
                "{name}"
            );
        }
        total += got.len();
    }
    assert!(total > 0);
}
