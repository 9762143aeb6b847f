//! The 512-byte tar header block.
//!
//! We build only one kind of header (deterministic ustar for a regular file) but must parse every
//! kind a reader may meet: POSIX ustar, GNU (`ustar  `, base-256 numbers) and old v7 headers. We
//! parse by hand rather than through the `tar` crate so that every failure becomes a precise,
//! non-panicking reason and the hot path (one header per small sample) stays allocation-free.
//! Parsers return `Err(String)` reasons; the reader adds shard URL and byte offset.

use crate::{Error, Result};

/// Size of a tar block: headers are one block, member data is padded to whole blocks.
pub const BLOCK: usize = 512;

/// Tar files are padded to a multiple of this (20 blocks), as Python's `tarfile` does.
pub const RECORD: u64 = 10240;

/// Largest member we write or accept: 1 GiB. Larger sizes in a header are treated as corruption
/// (an error naming the shard, the member's byte offset and its key), so a damaged size field can
/// never make the reader allocate or skip absurd amounts. The bound is on the bytes a member
/// really holds too: a sparse file or a gzip stream can supply gigabytes of zeros for a lying
/// header, and one sample is held in memory whole (once per reader thread), so the limit is
/// what one sample may cost in memory.
pub const MAX_MEMBER_SIZE: u64 = 1 << 30;

/// Zero bytes used for padding and the end-of-archive marker.
pub const ZEROS: [u8; BLOCK] = [0; BLOCK];

const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const UID: std::ops::Range<usize> = 108..116;
const GID: std::ops::Range<usize> = 116..124;
const SIZE: std::ops::Range<usize> = 124..136;
const MTIME: std::ops::Range<usize> = 136..148;
const CHKSUM: std::ops::Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const MAGIC: std::ops::Range<usize> = 257..263;
const VERSION: std::ops::Range<usize> = 263..265;
const PREFIX: std::ops::Range<usize> = 345..500;

/// Bytes of zero padding after `size` bytes of member data.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Bytes one member occupies: its header, its data and the data's padding.
pub fn member_len(size: u64) -> u64 {
    BLOCK as u64 + size + padding(size)
}

/// Size of a finished archive whose members occupy `content` bytes: content, the two
/// end-of-archive zero blocks, then zeros up to a whole record.
pub fn archive_len(content: u64) -> u64 {
    let with_trailer = content + 2 * BLOCK as u64;
    with_trailer.div_ceil(RECORD) * RECORD
}

/// Builds the ustar header of a regular file: mode 0644, uid/gid 0, mtime 0, empty user and
/// group names, so that the same members always give the same bytes. The bytes are exactly
/// those of Python's `tarfile` (USTAR format) for such a member: device fields left empty, the
/// checksum as six octal digits, NUL, space. Names longer than 100
/// bytes are split into the ustar prefix field at a `/`.
pub fn ustar_header(name: &str, size: u64) -> Result<[u8; BLOCK]> {
    let mut h = [0u8; BLOCK];
    let bytes = name.as_bytes();
    if bytes.contains(&0) {
        return Err(Error::invalid(format!(
            "tar member name {name:?} contains NUL"
        )));
    }
    if bytes.len() <= NAME.len() {
        put(&mut h, NAME, bytes);
    } else {
        let (prefix, rest) = split_long_name(bytes).ok_or_else(|| {
            Error::invalid(format!(
                "tar member name {name:?} is too long for a ustar header ({} bytes)",
                bytes.len()
            ))
        })?;
        put(&mut h, NAME, rest);
        put(&mut h, PREFIX, prefix);
    }
    if size > MAX_MEMBER_SIZE {
        return Err(Error::invalid(format!(
            "sample of {size} bytes exceeds the {MAX_MEMBER_SIZE}-byte member limit"
        )));
    }
    put(&mut h, MODE, b"0000644\0");
    put(&mut h, UID, b"0000000\0");
    put(&mut h, GID, b"0000000\0");
    put(&mut h, SIZE, format!("{size:011o}\0").as_bytes());
    put(&mut h, MTIME, b"00000000000\0");
    h[TYPEFLAG] = b'0';
    put(&mut h, MAGIC, b"ustar\0");
    put(&mut h, VERSION, b"00");
    let sum = unsigned_checksum(&h);
    put(&mut h, CHKSUM, format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

fn put(h: &mut [u8; BLOCK], range: std::ops::Range<usize>, bytes: &[u8]) {
    if let Some(dst) = h.get_mut(range.start..range.start + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Splits a long name at a `/` so that the part before fits the 155-byte prefix field and the
/// part after fits the 100-byte name field.
fn split_long_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    name.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .map(|(i, _)| i)
        .find(|&i| i <= PREFIX.len() && name.len() - i - 1 <= NAME.len() && i + 1 < name.len())
        .map(|i| (&name[..i], &name[i + 1..]))
}

/// Sum of the header bytes with the checksum field counted as spaces (the POSIX definition).
fn unsigned_checksum(h: &[u8; BLOCK]) -> u32 {
    let all: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let field: u32 = h[CHKSUM].iter().map(|&b| u32::from(b)).sum();
    all - field + 8 * u32::from(b' ')
}

/// The same with bytes taken as signed, which some historical tar implementations wrote.
fn signed_checksum(h: &[u8; BLOCK]) -> i64 {
    let all: i64 = h.iter().map(|&b| i64::from(b as i8)).sum();
    let field: i64 = h[CHKSUM].iter().map(|&b| i64::from(b as i8)).sum();
    all - field + 8 * i64::from(b' ')
}

/// True for the all-zero block that marks the end of an archive.
pub fn is_zero_block(h: &[u8; BLOCK]) -> bool {
    h.iter().all(|&b| b == 0)
}

/// What a header describes, as far as the reader cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (`0`, NUL, or contiguous `7`): a candidate sample member.
    Regular,
    /// A PAX extended header for the next member (`x`).
    PaxLocal,
    /// A PAX global header (`g`): read and ignored.
    PaxGlobal,
    /// A GNU long name for the next member (`L`).
    GnuLongName,
    /// A GNU long link name (`K`): ignored.
    GnuLongLink,
    /// A GNU sparse file (`S`): its data layout is not the plain size; we refuse it.
    GnuSparse,
    /// Anything else (directories, links, devices, fifos): skipped with its data.
    Other,
}

/// The fields of a verified header the reader needs.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    block: &'a [u8; BLOCK],
    /// What the header describes.
    pub kind: Kind,
    /// Size of the member data that follows, from the size field.
    pub size: u64,
}

impl<'a> Header<'a> {
    /// Verifies the checksum and decodes type and size. Accepts ustar, GNU and v7 headers.
    pub fn parse(block: &'a [u8; BLOCK]) -> std::result::Result<Self, String> {
        let stored =
            parse_octal(&block[CHKSUM]).map_err(|e| format!("bad header checksum field: {e}"))?;
        let unsigned = u64::from(unsigned_checksum(block));
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed_checksum(block)) {
            return Err(format!(
                "bad header checksum (stored {stored:o}, computed {unsigned:o})"
            ));
        }
        let size = parse_numeric(&block[SIZE]).map_err(|e| format!("bad size field: {e}"))?;
        let kind = match block[TYPEFLAG] {
            b'0' | 0 | b'7' => Kind::Regular,
            b'x' => Kind::PaxLocal,
            b'g' => Kind::PaxGlobal,
            b'L' => Kind::GnuLongName,
            b'K' => Kind::GnuLongLink,
            b'S' => Kind::GnuSparse,
            _ => Kind::Other,
        };
        Ok(Header { block, kind, size })
    }

    /// Appends the member path stored in the header itself to `out`: the name field, preceded by
    /// the prefix field and a `/` for POSIX ustar headers (GNU headers use that area otherwise).
    pub fn path_into(&self, out: &mut Vec<u8>) {
        let is_posix_ustar = &self.block[MAGIC] == b"ustar\0";
        if is_posix_ustar {
            let prefix = until_nul(&self.block[PREFIX]);
            if !prefix.is_empty() {
                out.extend_from_slice(prefix);
                out.push(b'/');
            }
        }
        out.extend_from_slice(until_nul(&self.block[NAME]));
    }
}

/// The bytes of a NUL-terminated field, without the terminator.
pub fn until_nul(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(n) => field.get(..n).unwrap_or(field),
        None => field,
    }
}

/// Parses a numeric field: octal ASCII (leading spaces allowed, ended by NUL or space), or the
/// GNU base-256 form marked by the high bit of the first byte.
pub fn parse_numeric(field: &[u8]) -> std::result::Result<u64, String> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            if first & 0x40 != 0 {
                return Err("negative base-256 number".into());
            }
            let mut value: u64 = u64::from(first & 0x3f);
            for &b in field.get(1..).unwrap_or(&[]) {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or_else(|| "base-256 number overflows 64 bits".to_string())?;
            }
            Ok(value)
        }
        _ => parse_octal(field),
    }
}

/// Parses an octal ASCII field. An all-blank field is 0 (old tars leave unused fields so).
pub fn parse_octal(field: &[u8]) -> std::result::Result<u64, String> {
    let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let mut value: u64 = 0;
    let mut rest = field.get(start..).unwrap_or(&[]).iter();
    for &b in rest.by_ref() {
        match b {
            b'0'..=b'7' => {
                value = value
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .ok_or_else(|| "octal number overflows 64 bits".to_string())?;
            }
            0 | b' ' => break,
            _ => return Err(format!("invalid octal digit {:?}", char::from(b))),
        }
    }
    // After the terminator only NULs and spaces may follow.
    if rest.any(|&b| b != 0 && b != b' ') {
        return Err("garbage after octal number".into());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_header_parses_back_and_matches_tar_crate() {
        let h = ustar_header("000000001.msgpack", 60).unwrap();
        let parsed = Header::parse(&h).unwrap();
        assert_eq!(parsed.kind, Kind::Regular);
        assert_eq!(parsed.size, 60);
        let mut name = Vec::new();
        parsed.path_into(&mut name);
        assert_eq!(name, b"000000001.msgpack");
        // Checksum field as Python's tarfile writes it: six octal digits, NUL, space.
        assert_eq!(&h[148..156], b"010255\0 ");
        let theirs = tar::Header::from_byte_slice(&h);
        assert_eq!(theirs.cksum().unwrap(), 0o10255);
        assert!(theirs.as_ustar().is_some());
        assert_eq!(theirs.size().unwrap(), 60);
        assert_eq!(theirs.mode().unwrap(), 0o644);
        assert_eq!(theirs.mtime().unwrap(), 0);
    }

    #[test]
    fn long_names_use_the_prefix_field() {
        let dir = "d".repeat(120);
        let name = format!("{dir}/key.msgpack");
        let h = ustar_header(&name, 0).unwrap();
        let mut out = Vec::new();
        Header::parse(&h).unwrap().path_into(&mut out);
        assert_eq!(out, name.as_bytes());
        assert!(ustar_header(&"x".repeat(101), 0).is_err());
    }

    #[test]
    fn octal_and_base256() {
        assert_eq!(parse_octal(b"0000644\0").unwrap(), 0o644);
        assert_eq!(parse_octal(b"   644 \0").unwrap(), 0o644);
        assert_eq!(parse_octal(b"\0\0\0\0").unwrap(), 0);
        assert!(parse_octal(b"00009\0").is_err());
        assert!(parse_octal(b"12 34").is_err());
        assert!(parse_octal(b"77777777777777777777777").is_err());
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 5;
        assert_eq!(parse_numeric(&f).unwrap(), 5);
        f[0] = 0xff;
        assert!(parse_numeric(&f).is_err());
    }

    #[test]
    fn checksum_is_verified() {
        let mut h = ustar_header("a.msgpack", 1).unwrap();
        h[0] = b'b';
        assert!(Header::parse(&h).unwrap_err().contains("checksum"));
    }

    #[test]
    fn archive_len_pads_to_records() {
        assert_eq!(archive_len(0), RECORD);
        assert_eq!(archive_len(1024), RECORD);
        assert_eq!(archive_len(9 * 1024), RECORD);
        assert_eq!(archive_len(9 * 1024 + 512), 2 * RECORD);
        assert_eq!(member_len(60), 1024);
        assert_eq!(member_len(0), 512);
        assert_eq!(member_len(512), 1024);
    }
}
