//! numpy dtype strings (`"<f4"`, `"|u1"`, `">i2"`, `"<U3"`, `"<M8[ns]"`).
//!
//! The dtype travels as the numpy `dtype.str` text in the compact array encoding, so it is kept
//! verbatim (big-endian stays big-endian) and only parsed enough to know the element size.

use std::fmt;

use crate::error::{Error, Result};

/// Longest dtype string accepted from input; real ones are under 16 bytes.
pub const MAX_DTYPE_LEN: usize = 64;

/// Byte order of a dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `<`
    Little,
    /// `>`
    Big,
    /// `|`: single-byte or not applicable.
    NotApplicable,
}

/// A parsed numpy dtype string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DType {
    text: String,
    order: ByteOrder,
    kind: char,
    itemsize: usize,
}

impl DType {
    /// Parses a numpy `dtype.str` such as `"<f4"`. Accepts `=` (native, read as little-endian on
    /// the machines we support) and a missing order character.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::corrupt(format!("bad dtype '{}': {why}", text.escape_debug()));
        if text.is_empty() || text.len() > MAX_DTYPE_LEN || !text.is_ascii() {
            return Err(bad("empty, too long or not ASCII"));
        }
        let bytes = text.as_bytes();
        let (order, rest) = match bytes[0] {
            b'<' | b'=' => (ByteOrder::Little, &text[1..]),
            b'>' => (ByteOrder::Big, &text[1..]),
            b'|' => (ByteOrder::NotApplicable, &text[1..]),
            _ => (ByteOrder::NotApplicable, text),
        };
        let mut chars = rest.chars();
        let kind = chars.next().ok_or_else(|| bad("no kind"))?;
        if !"biufcmMOSUV".contains(kind) {
            return Err(bad("unknown kind"));
        }
        let digits: String = chars
            .as_str()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let suffix = &chars.as_str()[digits.len()..];
        if !(suffix.is_empty() || (suffix.starts_with('[') && suffix.ends_with(']'))) {
            return Err(bad("unexpected suffix"));
        }
        let n: usize = digits.parse().map_err(|_| bad("missing or huge size"))?;
        // numpy counts `U` lengths in characters of 4 bytes each.
        let itemsize = if kind == 'U' {
            n.checked_mul(4).ok_or_else(|| bad("size overflows"))?
        } else {
            n
        };
        if itemsize == 0 && !matches!(kind, 'S' | 'U' | 'V') {
            return Err(bad("zero item size"));
        }
        Ok(DType {
            text: text.to_string(),
            order,
            kind,
            itemsize,
        })
    }

    /// The numpy `dtype.str` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Byte order.
    pub fn order(&self) -> ByteOrder {
        self.order
    }

    /// numpy kind character (`f`, `i`, `u`, `b`, `c`, `U`, `S`, `V`, `M`, `m`, `O`).
    pub fn kind(&self) -> char {
        self.kind
    }

    /// Bytes per element.
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// numpy's name for the dtype as schema records spell it: `<f4` -> `float32`, `|b1` ->
    /// `bool`, `|u1` -> `uint8`. Dtypes without such a name (big-endian multi-byte ones, text,
    /// bytes, datetimes, other sizes) keep their `dtype.str` text (`>i2`, `<U3`).
    pub fn name(&self) -> String {
        let name = match (self.kind, self.itemsize) {
            ('b', 1) => "bool",
            ('f', 2) => "float16",
            ('f', 4) => "float32",
            ('f', 8) => "float64",
            ('i', 1) => "int8",
            ('i', 2) => "int16",
            ('i', 4) => "int32",
            ('i', 8) => "int64",
            ('u', 1) => "uint8",
            ('u', 2) => "uint16",
            ('u', 4) => "uint32",
            ('u', 8) => "uint64",
            ('c', 8) => "complex64",
            ('c', 16) => "complex128",
            _ => return self.text.clone(),
        };
        if self.order == ByteOrder::Big && self.itemsize > 1 {
            self.text.clone()
        } else {
            name.to_string()
        }
    }

    /// The dtype of a Rust element type.
    pub fn of<T: Element>() -> Self {
        DType::parse(T::DTYPE).expect("Element::DTYPE constants are valid")
    }

    /// Whether this dtype holds `T` in native (little-endian) order.
    pub fn is<T: Element>(&self) -> bool {
        self.text == T::DTYPE
            || (self.order == ByteOrder::Little && self.text[1..] == T::DTYPE[1..])
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A Rust type that is an n-d array element, stored little-endian.
pub trait Element: Copy + Default + Send + Sync + 'static {
    /// numpy dtype string.
    const DTYPE: &'static str;
    /// Bytes per element.
    const SIZE: usize;
    /// Appends the little-endian bytes of `self`.
    fn write_le(self, out: &mut Vec<u8>);
    /// Reads one element from exactly `Self::SIZE` little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! element {
    ($t:ty, $d:literal) => {
        impl Element for $t {
            const DTYPE: &'static str = $d;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&bytes[..std::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(a)
            }
        }
    };
}

element!(f32, "<f4");
element!(f64, "<f8");
element!(i8, "|i1");
element!(i16, "<i2");
element!(i32, "<i4");
element!(i64, "<i8");
element!(u8, "|u1");
element!(u16, "<u2");
element!(u32, "<u4");
element!(u64, "<u8");

impl Element for bool {
    const DTYPE: &'static str = "|b1";
    const SIZE: usize = 1;
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn read_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_names_of_dtypes() {
        for (s, want) in [
            ("<f4", "float32"),
            ("=f8", "float64"),
            ("|u1", "uint8"),
            ("|b1", "bool"),
            ("<i8", "int64"),
            ("<c16", "complex128"),
            (">i2", ">i2"),
            (">f4", ">f4"),
            ("|i1", "int8"),
            ("<U3", "<U3"),
            ("<f16", "<f16"),
            ("<M8[ns]", "<M8[ns]"),
        ] {
            assert_eq!(DType::parse(s).unwrap().name(), want, "{s}");
        }
    }

    #[test]
    fn parses_common_dtypes() {
        for (s, k, n, o) in [
            ("<f4", 'f', 4, ByteOrder::Little),
            ("|u1", 'u', 1, ByteOrder::NotApplicable),
            (">i2", 'i', 2, ByteOrder::Big),
            ("|b1", 'b', 1, ByteOrder::NotApplicable),
            ("<c16", 'c', 16, ByteOrder::Little),
            ("<U3", 'U', 12, ByteOrder::Little),
            ("<M8[ns]", 'M', 8, ByteOrder::Little),
            ("|S0", 'S', 0, ByteOrder::NotApplicable),
        ] {
            let d = DType::parse(s).unwrap();
            assert_eq!((d.kind(), d.itemsize(), d.order()), (k, n, o), "{s}");
            assert_eq!(d.as_str(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "<",
            "<x4",
            "<f",
            "<f4junk",
            "<f99999999999999999999999",
            "<f0",
        ] {
            assert!(DType::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn element_identity() {
        assert!(DType::parse("<f4").unwrap().is::<f32>());
        assert!(!DType::parse(">f4").unwrap().is::<f32>());
        assert!(DType::parse("|u1").unwrap().is::<u8>());
    }
}
