//! A zero-copy msgpack pull reader over a byte slice.
//!
//! `rmp` classifies markers; this cursor adds what decoding hostile input needs: the byte
//! offset of every error, lengths checked against the remaining bytes before any allocation,
//! and a nesting limit. Strings and binaries are returned borrowed.

use rmp::Marker;

use crate::error::{Error, Result};

/// Deepest nesting of lists and maps accepted.
pub const MAX_DEPTH: usize = 128;

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

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
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

    #[inline]
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    fn len_of(&mut self, bytes: usize) -> Result<usize> {
        Ok(match bytes {
            1 => self.u8()? as usize,
            2 => u16::from_be_bytes(self.be()?) as usize,
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
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
        // The markers most index rows and samples are made of, decoded here without the
        // general path below (a listing reads about twenty tokens per entry).
        if let Some(&b) = self.buf.get(self.pos) {
            match b {
                0x00..=0x7f => {
                    self.pos += 1;
                    return Ok(Token::Int(i64::from(b)));
                }
                0x90..=0x9f => {
                    self.pos += 1;
                    return self.check_count(usize::from(b & 0x0f), 1).map(Token::Array);
                }
                0xa0..=0xbf => {
                    self.pos += 1;
                    return self.str_token(usize::from(b & 0x1f));
                }
                0xc0 => {
                    self.pos += 1;
                    return Ok(Token::Nil);
                }
                0xc4 | 0xd9 => {
                    // bin8, str8: a one-byte length follows.
                    let Some(&n) = self.buf.get(self.pos + 1) else {
                        return self.any_token();
                    };
                    self.pos += 2;
                    return if b == 0xd9 {
                        self.str_token(usize::from(n))
                    } else {
                        self.take(usize::from(n)).map(Token::Bin)
                    };
                }
                0xcc => {
                    if let Some(&v) = self.buf.get(self.pos + 1) {
                        self.pos += 2;
                        return Ok(Token::Int(i64::from(v)));
                    }
                }
                0xcd => {
                    if let Some(&[h, l]) = self.buf.get(self.pos + 1..self.pos + 3) {
                        self.pos += 3;
                        return Ok(Token::Int(i64::from(u16::from_be_bytes([h, l]))));
                    }
                }
                0xce => {
                    if let Some(&[a, b, c, d]) = self.buf.get(self.pos + 1..self.pos + 5) {
                        self.pos += 5;
                        return Ok(Token::Int(i64::from(u32::from_be_bytes([a, b, c, d]))));
                    }
                }
                _ => {}
            }
        }
        self.any_token()
    }

    fn any_token(&mut self) -> Result<Token<'a>> {
        let start = self.pos;
        let m = Marker::from_u8(self.u8()?);
        let t = match m {
            Marker::Null => Token::Nil,
            Marker::True => Token::Bool(true),
            Marker::False => Token::Bool(false),
            Marker::FixPos(v) => Token::Int(v as i64),
            Marker::FixNeg(v) => Token::Int(v as i64),
            Marker::U8 => Token::Int(self.u8()? as i64),
            Marker::U16 => Token::Int(u16::from_be_bytes(self.be()?) as i64),
            Marker::U32 => Token::Int(u32::from_be_bytes(self.be()?) as i64),
            Marker::U64 => {
                let v = u64::from_be_bytes(self.be()?);
                i64::try_from(v).map_or(Token::UInt(v), Token::Int)
            }
            Marker::I8 => Token::Int(i8::from_be_bytes(self.be()?) as i64),
            Marker::I16 => Token::Int(i16::from_be_bytes(self.be()?) as i64),
            Marker::I32 => Token::Int(i32::from_be_bytes(self.be()?) as i64),
            Marker::I64 => Token::Int(i64::from_be_bytes(self.be()?)),
            Marker::F32 => Token::Float(f32::from_be_bytes(self.be()?) as f64),
            Marker::F64 => Token::Float(f64::from_be_bytes(self.be()?)),
            Marker::FixStr(n) => self.str_token(n as usize)?,
            Marker::Str8 => {
                let n = self.len_of(1)?;
                self.str_token(n)?
            }
            Marker::Str16 => {
                let n = self.len_of(2)?;
                self.str_token(n)?
            }
            Marker::Str32 => {
                let n = self.len_of(4)?;
                self.str_token(n)?
            }
            Marker::Bin8 => {
                let n = self.len_of(1)?;
                Token::Bin(self.take(n)?)
            }
            Marker::Bin16 => {
                let n = self.len_of(2)?;
                Token::Bin(self.take(n)?)
            }
            Marker::Bin32 => {
                let n = self.len_of(4)?;
                Token::Bin(self.take(n)?)
            }
            Marker::FixArray(n) => Token::Array(self.check_count(n as usize, 1)?),
            Marker::Array16 => {
                let n = self.len_of(2)?;
                Token::Array(self.check_count(n, 1)?)
            }
            Marker::Array32 => {
                let n = self.len_of(4)?;
                Token::Array(self.check_count(n, 1)?)
            }
            Marker::FixMap(n) => Token::Map(self.check_count(n as usize, 2)?),
            Marker::Map16 => {
                let n = self.len_of(2)?;
                Token::Map(self.check_count(n, 2)?)
            }
            Marker::Map32 => {
                let n = self.len_of(4)?;
                Token::Map(self.check_count(n, 2)?)
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                self.pos = start;
                return Err(self.error("msgpack ext types are not used by atdata"));
            }
            Marker::Reserved => {
                self.pos = start;
                return Err(self.error("reserved marker 0xc1"));
            }
        };
        Ok(t)
    }

    #[inline]
    fn str_token(&mut self, n: usize) -> Result<Token<'a>> {
        let at = self.pos;
        let b = self.take(n)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Token::Str(s)),
            Err(_) => Err(not_utf8(at)),
        }
    }

    /// Reads a map header.
    pub fn read_map_len(&mut self) -> Result<usize> {
        let at = self.pos;
        match self.next_token()? {
            Token::Map(n) => Ok(n),
            t => Err(Error::corrupt(format!(
                "msgpack at byte {at}: expected a map, found {}",
                token_kind(&t)
            ))),
        }
    }

    /// Reads a string.
    pub fn read_str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        match self.next_token()? {
            Token::Str(s) => Ok(s),
            t => Err(Error::corrupt(format!(
                "msgpack at byte {at}: expected a string, found {}",
                token_kind(&t)
            ))),
        }
    }

    /// Reads a string's bytes without checking that they are UTF-8, for a caller that checks
    /// many strings in one pass afterwards (one long check costs far less than many short
    /// ones).
    #[inline]
    pub fn read_str_bytes(&mut self) -> Result<&'a [u8]> {
        // fixstr and str8 inline; the rest, and every error, out of line.
        let (head, n) = match self.buf.get(self.pos) {
            Some(&b @ 0xa0..=0xbf) => (1, usize::from(b & 0x1f)),
            Some(0xd9) => match self.buf.get(self.pos + 1) {
                Some(&n) => (2, usize::from(n)),
                None => (0, 0),
            },
            _ => (0, 0),
        };
        if head > 0 {
            let start = self.pos + head;
            if let Some(s) = self.buf.get(start..start + n) {
                self.pos = start + n;
                return Ok(s);
            }
        }
        self.read_str_bytes_general()
    }

    #[inline(never)]
    fn read_str_bytes_general(&mut self) -> Result<&'a [u8]> {
        let at = self.pos;
        let n = match self.u8()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.len_of(1)?,
            0xda => self.len_of(2)?,
            0xdb => self.len_of(4)?,
            _ => {
                self.pos = at;
                let t = self.next_token()?;
                return Err(Error::corrupt(format!(
                    "msgpack at byte {at}: expected a string, found {}",
                    token_kind(&t)
                )));
            }
        };
        self.take(n)
    }

    /// Reads a fixarray header (up to 15 items) if one comes next, else reads nothing: a
    /// shortcut past [`MsgReader::next_token`] for the small arrays of index rows.
    #[inline]
    pub fn take_fixarray(&mut self) -> Option<usize> {
        match self.buf.get(self.pos) {
            Some(&b @ 0x90..=0x9f) => {
                self.pos += 1;
                Some(usize::from(b & 0x0f))
            }
            _ => None,
        }
    }

    /// Reads a bin8 value if one comes whole next, else reads nothing: a shortcut past
    /// [`MsgReader::next_token`] for digests.
    #[inline]
    pub fn take_bin8(&mut self) -> Option<&'a [u8]> {
        let at = self.pos;
        if *self.buf.get(at)? != 0xc4 {
            return None;
        }
        let n = usize::from(*self.buf.get(at + 1)?);
        let b = self.buf.get(at + 2..at + 2 + n)?;
        self.pos = at + 2 + n;
        Some(b)
    }

    /// Reads a positive fixint, uint8, uint16 or uint32 if one comes whole next, else reads
    /// nothing: a shortcut past [`MsgReader::next_token`] for counts and sizes.
    #[inline]
    pub fn take_small_uint(&mut self) -> Option<u64> {
        let at = self.pos;
        let (len, v) = match *self.buf.get(at)? {
            b @ 0x00..=0x7f => (1, u64::from(b)),
            0xcc => (2, u64::from(*self.buf.get(at + 1)?)),
            0xcd => {
                let &[h, l] = self.buf.get(at + 1..at + 3)? else {
                    return None;
                };
                (3, u64::from(u16::from_be_bytes([h, l])))
            }
            0xce => {
                let &[a, b, c, d] = self.buf.get(at + 1..at + 5)? else {
                    return None;
                };
                (5, u64::from(u32::from_be_bytes([a, b, c, d])))
            }
            _ => return None,
        };
        self.pos += len;
        Some(v)
    }

    /// Reads a nil if one comes next, and says whether it did.
    #[inline]
    pub fn take_nil(&mut self) -> bool {
        let nil = self.buf.get(self.pos) == Some(&0xc0);
        self.pos += usize::from(nil);
        nil
    }

    /// Whether a string comes next.
    #[inline]
    pub fn next_is_str(&self) -> bool {
        matches!(self.buf.get(self.pos), Some(0xa0..=0xbf | 0xd9..=0xdb))
    }

    /// Skips one whole value, containers included.
    pub fn skip(&mut self) -> Result<()> {
        let mut pending: usize = 1;
        let mut depth = 0usize;
        while pending > 0 {
            pending -= 1;
            match self.next_token()? {
                Token::Array(n) => {
                    depth += 1;
                    pending += n;
                }
                Token::Map(n) => {
                    depth += 1;
                    pending += 2 * n;
                }
                _ => {}
            }
            if depth > MAX_DEPTH * 1024 {
                return Err(self.error("value nests too deeply"));
            }
        }
        Ok(())
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
    fn skip_walks_nested_values() {
        let buf = [0x92, 0x81, 0xa1, b'k', 0x90, 0xc0, 0x07];
        let mut r = MsgReader::new(&buf);
        r.skip().unwrap();
        assert_eq!(r.next_token().unwrap(), Token::Int(7));
    }
}
