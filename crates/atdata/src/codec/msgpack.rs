//! A zero-copy msgpack pull reader over a byte slice.
//!
//! Markers are decoded in one place, `head`; the cursor adds what decoding hostile input
//! needs: the byte offset of every error, lengths checked against the remaining bytes before
//! any allocation, and limits on nesting. Strings and binaries are returned borrowed.

use crate::error::{Error, Result};

/// Deepest nesting of lists and maps accepted: a value inside more containers than this is
/// refused, by [`crate::codec::sample::decode_value`] and [`MsgReader::skip`] alike.
pub const MAX_DEPTH: usize = 128;

/// Most lists and maps one value skipped by [`MsgReader::skip`] may hold in all, however
/// shallow: skipping is never asked to walk more structure than this.
pub const MAX_CONTAINERS: usize = MAX_DEPTH * 1024;

/// A cursor over msgpack bytes.
#[derive(Debug, Clone)]
pub struct MsgReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// What the next value is, with its length for containers, strings and binaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    /// nil
    Nil,
    /// true / false
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// float32 or float64.
    Float(f64),
    /// A UTF-8 string.
    Str(&'a str),
    /// A binary.
    Bin(&'a [u8]),
    /// An array header with its item count.
    Array(usize),
    /// A map header with its pair count.
    Map(usize),
}

/// The head of a msgpack value: its marker, with the length or the scalar that follows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Head {
    /// nil
    Nil,
    /// true / false
    Bool(bool),
    /// A signed integer, or an unsigned one up to `i64::MAX`.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// float32 or float64.
    Float(f64),
    /// A string of this many bytes follows.
    Str(usize),
    /// A binary of this many bytes follows.
    Bin(usize),
    /// An array of this many items follows.
    Array(usize),
    /// A map of this many pairs follows.
    Map(usize),
    /// An ext type (fixext, ext 8/16/32), which atdata never uses.
    Ext,
    /// The reserved marker 0xc1.
    Reserved,
}

/// The `N` big-endian bytes after a marker, or `Err(1 + N)`: the bytes the head needs.
#[inline(always)]
fn after_marker<const N: usize>(buf: &[u8]) -> std::result::Result<[u8; N], usize> {
    buf.get(1..1 + N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or(1 + N)
}

/// Decodes the head of the value `buf` starts with: what it is and its size in bytes (the
/// marker and the length or scalar bytes after it), or `Err(n)` when the head takes `n` bytes
/// and `buf` holds fewer. The one decoder of msgpack markers: every reader here, and the
/// direct batch path, goes through it.
///
/// Inlined everywhere. A caller that wants one kind sends every other outcome to one cold
/// path (see [`MsgReader::read_str_bytes`]): the decoding of the other markers is then pruned
/// from it, which keeps such readers as small as hand-written ones.
#[inline(always)]
pub(crate) fn head(buf: &[u8]) -> std::result::Result<(Head, usize), usize> {
    let Some(&b) = buf.first() else {
        return Err(1);
    };
    let u8_ = |buf: &[u8]| after_marker::<1>(buf).map(|[v]| v);
    let u16_ = |buf: &[u8]| after_marker::<2>(buf).map(u16::from_be_bytes);
    let u32_ = |buf: &[u8]| after_marker::<4>(buf).map(u32::from_be_bytes);
    let len = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(match b {
        0x00..=0x7f => (Head::Int(i64::from(b)), 1),
        0x80..=0x8f => (Head::Map(usize::from(b & 0x0f)), 1),
        0x90..=0x9f => (Head::Array(usize::from(b & 0x0f)), 1),
        0xa0..=0xbf => (Head::Str(usize::from(b & 0x1f)), 1),
        0xc0 => (Head::Nil, 1),
        0xc1 => (Head::Reserved, 1),
        0xc2 => (Head::Bool(false), 1),
        0xc3 => (Head::Bool(true), 1),
        0xc4 => (Head::Bin(usize::from(u8_(buf)?)), 2),
        0xc5 => (Head::Bin(usize::from(u16_(buf)?)), 3),
        0xc6 => (Head::Bin(len(u32_(buf)?)), 5),
        0xc7..=0xc9 | 0xd4..=0xd8 => (Head::Ext, 1),
        0xca => {
            let v = f32::from_be_bytes(after_marker(buf)?);
            (Head::Float(f64::from(v)), 5)
        }
        0xcb => (Head::Float(f64::from_be_bytes(after_marker(buf)?)), 9),
        0xcc => (Head::Int(i64::from(u8_(buf)?)), 2),
        0xcd => (Head::Int(i64::from(u16_(buf)?)), 3),
        0xce => (Head::Int(i64::from(u32_(buf)?)), 5),
        0xcf => {
            let v = u64::from_be_bytes(after_marker(buf)?);
            (i64::try_from(v).map_or(Head::UInt(v), Head::Int), 9)
        }
        0xd0 => (
            Head::Int(i64::from(i8::from_be_bytes(after_marker(buf)?))),
            2,
        ),
        0xd1 => (
            Head::Int(i64::from(i16::from_be_bytes(after_marker(buf)?))),
            3,
        ),
        0xd2 => (
            Head::Int(i64::from(i32::from_be_bytes(after_marker(buf)?))),
            5,
        ),
        0xd3 => (Head::Int(i64::from_be_bytes(after_marker(buf)?)), 9),
        0xd9 => (Head::Str(usize::from(u8_(buf)?)), 2),
        0xda => (Head::Str(usize::from(u16_(buf)?)), 3),
        0xdb => (Head::Str(len(u32_(buf)?)), 5),
        0xdc => (Head::Array(usize::from(u16_(buf)?)), 3),
        0xdd => (Head::Array(len(u32_(buf)?)), 5),
        0xde => (Head::Map(usize::from(u16_(buf)?)), 3),
        0xdf => (Head::Map(len(u32_(buf)?)), 5),
        0xe0..=0xff => (Head::Int(i64::from(b as i8)), 1),
    })
}

/// A short name of a head's kind, for error messages (as [`token_kind`]).
fn head_kind(h: &Head) -> &'static str {
    match h {
        Head::Nil => "nil",
        Head::Bool(_) => "bool",
        Head::Int(_) | Head::UInt(_) => "int",
        Head::Float(_) => "float",
        Head::Str(_) => "str",
        Head::Bin(_) => "bytes",
        Head::Array(_) => "list",
        Head::Map(_) => "map",
        Head::Ext => "ext",
        Head::Reserved => "reserved marker",
    }
}

impl<'a> MsgReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        MsgReader { buf, pos: 0 }
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// An error at the current offset.
    pub fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::corrupt(format!("msgpack at byte {}: {what}", self.pos))
    }

    /// The bytes not yet read.
    #[inline]
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.rest().get(..n) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.short(n)),
        }
    }

    #[cold]
    #[inline(never)]
    fn short(&self, n: usize) -> Error {
        self.error(format!(
            "needs {n} more bytes, only {} remain",
            self.remaining()
        ))
    }

    /// Reads the next value's head (see [`head`]).
    #[inline(always)]
    fn read_head(&mut self) -> Result<Head> {
        match head(self.rest()) {
            Ok((h, n)) => {
                self.pos += n;
                Ok(h)
            }
            Err(n) => Err(self.short(n)),
        }
    }

    /// Reads the head of the next value if `want` takes it (returns `Some`), else reads
    /// nothing: the shortcuts below, for callers that try one kind and fall back.
    #[inline(always)]
    fn take_head<T>(&mut self, want: impl FnOnce(Head, usize) -> Option<T>) -> Option<T> {
        let (h, n) = head(self.rest()).ok()?;
        let out = want(h, n)?;
        self.pos += n;
        Some(out)
    }

    /// The error for a value of the wrong kind at `at` (where the reader is put back); ext
    /// types and the reserved marker get their own.
    #[cold]
    #[inline(never)]
    fn unexpected(&mut self, at: usize, found: Head, expected: &str) -> Error {
        self.pos = at;
        match found {
            Head::Ext => self.error("msgpack ext types are not used by atdata"),
            Head::Reserved => self.error("reserved marker 0xc1"),
            h => self.error(format!("expected {expected}, found {}", head_kind(&h))),
        }
    }

    /// Containers announce their item count; each item needs at least one byte, so a count
    /// above the remaining bytes is a lie we refuse before allocating for it.
    #[inline]
    fn check_count(&self, n: usize, per_item: usize) -> Result<usize> {
        if n.saturating_mul(per_item) > self.remaining() {
            return Err(self.error(format!(
                "container claims {n} items but only {} bytes remain",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// Reads the next token.
    #[inline]
    pub fn next_token(&mut self) -> Result<Token<'a>> {
        let at = self.pos;
        Ok(match self.read_head()? {
            Head::Nil => Token::Nil,
            Head::Bool(b) => Token::Bool(b),
            Head::Int(v) => Token::Int(v),
            Head::UInt(v) => Token::UInt(v),
            Head::Float(v) => Token::Float(v),
            Head::Str(n) => Token::Str(self.str_of(n)?),
            Head::Bin(n) => Token::Bin(self.take(n)?),
            Head::Array(n) => Token::Array(self.check_count(n, 1)?),
            Head::Map(n) => Token::Map(self.check_count(n, 2)?),
            h @ (Head::Ext | Head::Reserved) => return Err(self.unexpected(at, h, "a value")),
        })
    }

    /// The `n` bytes of a string, checked to be UTF-8.
    #[inline]
    fn str_of(&mut self, n: usize) -> Result<&'a str> {
        let at = self.pos;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| not_utf8(at))
    }

    /// Reads a map header.
    #[inline]
    pub fn read_map_len(&mut self) -> Result<usize> {
        // Anything but a whole map head goes to one cold path: the decoding of other markers
        // is then left out where this is inlined.
        match head(self.rest()) {
            Ok((Head::Map(n), size)) => {
                self.pos += size;
                self.check_count(n, 2)
            }
            _ => Err(self.not_read("a map")),
        }
    }

    /// Reads a string.
    #[inline]
    pub fn read_str(&mut self) -> Result<&'a str> {
        let b = self.read_str_bytes()?;
        std::str::from_utf8(b).map_err(|_| not_utf8(self.pos - b.len()))
    }

    /// Reads a string's bytes without checking that they are UTF-8, for a caller that checks
    /// many strings in one pass afterwards (one long check costs far less than many short
    /// ones).
    // Always inlined: a handful of instructions once the other markers are pruned, on the hot
    // path of listings.
    #[inline(always)]
    pub fn read_str_bytes(&mut self) -> Result<&'a [u8]> {
        // As in `read_map_len`: one cold path for everything but a whole string.
        let rest = self.rest();
        if let Ok((Head::Str(n), size)) = head(rest) {
            if let Some(s) = rest.get(size..size + n) {
                self.pos += size + n;
                return Ok(s);
            }
        }
        Err(self.not_read("a string"))
    }

    /// The error of `read_map_len` or `read_str_bytes` (`expected` says which) at the current
    /// offset, where the reader stays.
    #[cold]
    #[inline(never)]
    fn not_read(&mut self, expected: &str) -> Error {
        let at = self.pos;
        let e = match self.read_head() {
            Err(e) => e,
            // A string whose bytes run past the end.
            Ok(Head::Str(n)) => self.short(n),
            Ok(h) => self.unexpected(at, h, expected),
        };
        self.pos = at;
        e
    }

    /// Reads a fixarray header (up to 15 items) if one comes next, else reads nothing: a
    /// shortcut past [`MsgReader::next_token`] for the small arrays of index rows.
    #[inline]
    pub fn take_fixarray(&mut self) -> Option<usize> {
        self.take_head(|h, size| match h {
            Head::Array(n) if size == 1 => Some(n),
            _ => None,
        })
    }

    /// Reads a bin8 value if one comes whole next, else reads nothing: a shortcut past
    /// [`MsgReader::next_token`] for digests.
    #[inline]
    pub fn take_bin8(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest();
        let b = match head(rest) {
            // bin 8: the marker and one length byte.
            Ok((Head::Bin(n), 2)) => rest.get(2..2 + n)?,
            _ => return None,
        };
        self.pos += 2 + b.len();
        Some(b)
    }

    /// Reads a non-negative integer below 2^32 if one comes whole next, else reads nothing:
    /// a shortcut past [`MsgReader::next_token`] for counts and sizes.
    #[inline]
    pub fn take_small_uint(&mut self) -> Option<u64> {
        self.take_head(|h, _| match h {
            Head::Int(v) => u32::try_from(v).ok().map(u64::from),
            _ => None,
        })
    }

    /// Reads a nil if one comes next, and says whether it did.
    #[inline]
    pub fn take_nil(&mut self) -> bool {
        self.take_head(|h, _| (h == Head::Nil).then_some(()))
            .is_some()
    }

    /// Whether a string comes next (its head whole).
    #[inline]
    pub fn next_is_str(&self) -> bool {
        matches!(head(self.rest()), Ok((Head::Str(_), _)))
    }

    /// Skips one whole value, containers included. A value nested in more than [`MAX_DEPTH`]
    /// lists and maps (as [`crate::codec::sample::decode_value`] refuses it), or holding more than
    /// [`MAX_CONTAINERS`] of them in all, is an error naming the limit and the offset of the
    /// container that broke it.
    pub fn skip(&mut self) -> Result<()> {
        let mut containers = 0;
        self.skip_at(0, &mut containers)
    }

    /// Skips one value inside `depth` containers; `containers` counts those seen so far.
    fn skip_at(&mut self, depth: usize, containers: &mut usize) -> Result<()> {
        let at = self.pos;
        let items = match self.next_token()? {
            Token::Array(n) => n,
            // check_count has bounded n by the bytes left: no overflow.
            Token::Map(n) => 2 * n,
            _ => return Ok(()),
        };
        *containers += 1;
        if *containers > MAX_CONTAINERS {
            self.pos = at;
            return Err(self.error(format!(
                "value holds more than {MAX_CONTAINERS} lists and maps in all (container limit)"
            )));
        }
        if items > 0 && depth >= MAX_DEPTH {
            self.pos = at;
            return Err(self.too_deep());
        }
        for _ in 0..items {
            self.skip_at(depth + 1, containers)?;
        }
        Ok(())
    }

    /// The error for a value nested in more than [`MAX_DEPTH`] lists and maps, at the
    /// current offset.
    #[cold]
    pub(crate) fn too_deep(&self) -> Error {
        self.error(format!(
            "value nests deeper than {MAX_DEPTH} lists and maps (nesting limit)"
        ))
    }
}

#[cold]
fn not_utf8(at: usize) -> Error {
    Error::corrupt(format!("msgpack at byte {at}: string is not UTF-8"))
}

/// A short name of a token's kind, for error messages.
pub fn token_kind(t: &Token<'_>) -> &'static str {
    match t {
        Token::Nil => "nil",
        Token::Bool(_) => "bool",
        Token::Int(_) | Token::UInt(_) => "int",
        Token::Float(_) => "float",
        Token::Str(_) => "str",
        Token::Bin(_) => "bytes",
        Token::Array(_) => "list",
        Token::Map(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tokens_and_refuses_lies() {
        let buf = [0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc4, 0x02, 9, 8];
        let mut r = MsgReader::new(&buf);
        assert_eq!(r.read_map_len().unwrap(), 2);
        assert_eq!(r.read_str().unwrap(), "a");
        assert_eq!(r.next_token().unwrap(), Token::Int(1));
        assert_eq!(r.read_str().unwrap(), "b");
        assert_eq!(r.next_token().unwrap(), Token::Bin(&[9, 8]));
        assert_eq!(r.remaining(), 0);

        // array32 claiming 4 billion items in a 5-byte buffer
        let mut r = MsgReader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
        assert!(r.next_token().is_err());
        // str8 longer than the buffer
        assert!(MsgReader::new(&[0xd9, 0x10, b'a']).next_token().is_err());
        // invalid UTF-8
        assert!(MsgReader::new(&[0xa1, 0xff]).next_token().is_err());
        assert!(MsgReader::new(&[0xc1]).next_token().is_err());
        assert!(MsgReader::new(&[]).next_token().is_err());
    }

    #[test]
    fn peeks_at_nil_and_strings() {
        let buf = [0xc0, 0xa1, b'a', 0xd9, 1, b'b', 0xc4, 1, 0, 0x01];
        let mut r = MsgReader::new(&buf);
        assert!(r.take_nil());
        assert_eq!(r.position(), 1);
        assert!(!r.take_nil() && r.next_is_str());
        assert_eq!(r.read_str_bytes().unwrap(), b"a");
        assert!(r.next_is_str());
        assert_eq!(r.read_str_bytes().unwrap(), b"b");
        // bin and int are neither, and nothing is consumed asking.
        for _ in 0..2 {
            assert!(!r.take_nil() && !r.next_is_str());
            r.skip().unwrap();
        }
        assert!(!r.take_nil() && !r.next_is_str() && r.remaining() == 0);
        // bin8 whole, cut, and not bin8 at all.
        let mut r = MsgReader::new(&[0xc4, 2, 7, 8, 0xc4, 2, 9]);
        assert_eq!(r.take_bin8(), Some(&[7u8, 8][..]));
        assert_eq!((r.take_bin8(), r.position()), (None, 4));
        let mut r = MsgReader::new(&[0xa1, b'a']);
        assert_eq!((r.take_bin8(), r.position()), (None, 0));
    }

    #[test]
    fn every_length_form_reads_the_same_and_truncations_fail() {
        let uints = [
            0u64,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            1 << 20,
            u32::MAX as u64,
        ];
        let big = [u32::MAX as u64 + 1, i64::MAX as u64, u64::MAX];
        for v in uints.into_iter().chain(big) {
            let mut buf = Vec::new();
            rmp::encode::write_uint(&mut buf, v).unwrap();
            let want = i64::try_from(v).map_or(Token::UInt(v), Token::Int);
            let mut r = MsgReader::new(&buf);
            assert_eq!(r.next_token().unwrap(), want, "{v}");
            assert_eq!(r.remaining(), 0);
            // The shortcut reads what fits in 32 bits and leaves the rest to `next_token`.
            let mut r = MsgReader::new(&buf);
            let small = u32::try_from(v).is_ok();
            assert_eq!(r.take_small_uint(), small.then_some(v), "{v}");
            assert_eq!(r.remaining(), if small { 0 } else { buf.len() });
            for cut in 0..buf.len() {
                assert!(
                    MsgReader::new(&buf[..cut]).next_token().is_err(),
                    "{v} cut {cut}"
                );
                let mut r = MsgReader::new(&buf[..cut]);
                assert_eq!(
                    (r.take_small_uint(), r.position()),
                    (None, 0),
                    "{v} cut {cut}"
                );
            }
        }
        for n in [0u32, 1, 15, 16, 65_536] {
            let mut buf = Vec::new();
            rmp::encode::write_array_len(&mut buf, n).unwrap();
            let mut r = MsgReader::new(&buf);
            let fix = (n < 16).then_some(n as usize);
            assert_eq!(r.take_fixarray(), fix, "{n}");
            assert_eq!(r.position(), usize::from(fix.is_some()));
        }
        for len in [0usize, 1, 31, 32, 255, 256, 70_000] {
            let text = "é".repeat(len / 2) + &"a".repeat(len % 2);
            let data = vec![7u8; len];
            let mut buf = Vec::new();
            rmp::encode::write_str(&mut buf, &text).unwrap();
            let str_end = buf.len();
            rmp::encode::write_bin(&mut buf, &data).unwrap();
            let mut r = MsgReader::new(&buf);
            assert_eq!(r.next_token().unwrap(), Token::Str(&text));
            assert_eq!(r.next_token().unwrap(), Token::Bin(&data));
            let mut r = MsgReader::new(&buf);
            assert_eq!(r.read_str_bytes().unwrap(), text.as_bytes());
            assert!(r.read_str_bytes().is_err(), "a bin is not a string");
            for cut in 0..str_end {
                assert!(
                    MsgReader::new(&buf[..cut]).next_token().is_err(),
                    "{len} {cut}"
                );
                assert!(
                    MsgReader::new(&buf[..cut]).read_str_bytes().is_err(),
                    "{len} {cut}"
                );
            }
            let bin = &buf[str_end..];
            let mut r = MsgReader::new(bin);
            assert_eq!(r.take_bin8(), (len < 256).then_some(&data[..]), "{len}");
            for cut in 0..bin.len() {
                assert!(
                    MsgReader::new(&bin[..cut]).next_token().is_err(),
                    "{len} {cut}"
                );
                let mut r = MsgReader::new(&bin[..cut]);
                assert_eq!((r.take_bin8(), r.position()), (None, 0), "{len} {cut}");
            }
        }
        // Not checked here: the caller checks.
        assert_eq!(
            MsgReader::new(&[0xa1, 0xff]).read_str_bytes().unwrap(),
            &[0xff]
        );
    }

    #[test]
    fn every_marker_byte_decodes_as_rmp_classifies_it() {
        use rmp::Marker as M;
        for b in 0..=255u8 {
            // The marker, then zeros: every length and scalar after it reads as 0.
            let mut buf = vec![b];
            buf.extend_from_slice(&[0; 8]);
            let want = match M::from_u8(b) {
                M::FixPos(v) => (Head::Int(i64::from(v)), 1),
                M::FixNeg(v) => (Head::Int(i64::from(v)), 1),
                M::FixMap(n) => (Head::Map(usize::from(n)), 1),
                M::FixArray(n) => (Head::Array(usize::from(n)), 1),
                M::FixStr(n) => (Head::Str(usize::from(n)), 1),
                M::Null => (Head::Nil, 1),
                M::True => (Head::Bool(true), 1),
                M::False => (Head::Bool(false), 1),
                M::Reserved => (Head::Reserved, 1),
                M::FixExt1
                | M::FixExt2
                | M::FixExt4
                | M::FixExt8
                | M::FixExt16
                | M::Ext8
                | M::Ext16
                | M::Ext32 => (Head::Ext, 1),
                M::U8 | M::I8 => (Head::Int(0), 2),
                M::U16 | M::I16 => (Head::Int(0), 3),
                M::U32 | M::I32 => (Head::Int(0), 5),
                M::U64 | M::I64 => (Head::Int(0), 9),
                M::F32 => (Head::Float(0.0), 5),
                M::F64 => (Head::Float(0.0), 9),
                M::Str8 => (Head::Str(0), 2),
                M::Str16 => (Head::Str(0), 3),
                M::Str32 => (Head::Str(0), 5),
                M::Bin8 => (Head::Bin(0), 2),
                M::Bin16 => (Head::Bin(0), 3),
                M::Bin32 => (Head::Bin(0), 5),
                M::Array16 => (Head::Array(0), 3),
                M::Array32 => (Head::Array(0), 5),
                M::Map16 => (Head::Map(0), 3),
                M::Map32 => (Head::Map(0), 5),
            };
            assert_eq!(head(&buf), Ok(want), "marker {b:#04x}");
            // A head cut short says how many bytes it takes.
            for cut in 1..want.1 {
                assert_eq!(head(&buf[..cut]), Err(want.1), "marker {b:#04x} cut {cut}");
            }
        }
        assert_eq!(head(&[]), Err(1));
    }

    /// `depth` single-item lists around the int 1.
    fn nested(depth: usize) -> Vec<u8> {
        let mut v = vec![0x91; depth];
        v.push(0x01);
        v
    }

    #[test]
    fn skip_refuses_nesting_past_the_limit_as_decoding_does_naming_the_limit_and_offset() {
        use crate::codec::sample::decode_value;
        let at_limit = nested(MAX_DEPTH);
        let mut r = MsgReader::new(&at_limit);
        r.skip().unwrap();
        assert_eq!(r.remaining(), 0);
        assert!(decode_value(&mut MsgReader::new(&at_limit), None, 0).is_ok());
        // One list more: refused at the list that is one too deep.
        let deeper = nested(MAX_DEPTH + 1);
        let mut r = MsgReader::new(&deeper);
        let e = r.skip().unwrap_err().to_string();
        assert!(
            e.contains(&format!("msgpack at byte {MAX_DEPTH}:")) && e.contains("nesting limit"),
            "{e}"
        );
        assert!(decode_value(&mut MsgReader::new(&deeper), None, 0).is_err());
        // An empty list at the limit holds nothing deeper: fine for both.
        let mut empty = vec![0x91; MAX_DEPTH];
        empty.push(0x90);
        MsgReader::new(&empty).skip().unwrap();
        assert!(decode_value(&mut MsgReader::new(&empty), None, 0).is_ok());
        // Depth is nesting, not a count: many deep lists side by side are fine.
        let mut wide = vec![0xdc, 0x01, 0x00];
        for _ in 0..256 {
            wide.extend_from_slice(&nested(MAX_DEPTH - 1));
        }
        let mut r = MsgReader::new(&wide);
        r.skip().unwrap();
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn skip_refuses_more_containers_than_the_limit_naming_the_limit_and_offset() {
        // A list of `n` empty lists is n + 1 containers.
        let list_of_empty = |n: usize| {
            let mut v = vec![0xdd];
            v.extend_from_slice(&u32::try_from(n).unwrap().to_be_bytes());
            v.resize(5 + n, 0x90);
            v
        };
        let fits = list_of_empty(MAX_CONTAINERS - 1);
        let mut r = MsgReader::new(&fits);
        r.skip().unwrap();
        assert_eq!(r.remaining(), 0);
        let over = list_of_empty(MAX_CONTAINERS);
        let e = MsgReader::new(&over).skip().unwrap_err().to_string();
        // The container one past the limit is the last empty list.
        let at = 5 + MAX_CONTAINERS - 1;
        assert!(
            e.contains(&format!("msgpack at byte {at}:")) && e.contains("container limit"),
            "{e}"
        );
        assert!(!e.contains("nesting"), "{e}");
    }

    #[test]
    fn skip_walks_nested_values() {
        let buf = [0x92, 0x81, 0xa1, b'k', 0x90, 0xc0, 0x07];
        let mut r = MsgReader::new(&buf);
        r.skip().unwrap();
        assert_eq!(r.next_token().unwrap(), Token::Int(7));
    }
}
