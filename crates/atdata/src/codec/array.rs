//! The compact n-d array encoding (docs/FORMAT.md section 2), and `.npy` buffers on read.
//!
//! ```text
//! u8 n | n bytes dtype string | u8 ndim | ndim x i64 LE shape | raw C-order bytes
//! ```
//!
//! Decoding checks the one set of array limits ([`crate::value::limits`]): an array numpy
//! could not read back is refused here, with a reason the callers locate (field, sample key,
//! shard, dataset), not later with numpy's bare `ValueError`.

use crate::error::{Error, Result};
use crate::value::dtype::MAX_DTYPE_LEN;
use crate::value::limits::{check_array, MAX_NDIM};
use crate::value::{DType, NdArray};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// A decoded array header with its element bytes borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayView<'a> {
    /// numpy dtype string as stored.
    pub dtype: &'a str,
    /// Bytes per element.
    pub itemsize: usize,
    /// Shape.
    pub shape: Vec<usize>,
    /// Raw C-order element bytes (exactly `prod(shape) * itemsize`).
    pub data: &'a [u8],
}

/// Number of bytes [`encode_array`] writes for `a`.
pub fn encoded_array_len(a: &NdArray) -> usize {
    2 + a.dtype().as_str().len() + 8 * a.shape().len() + a.data().len()
}

/// Appends the compact encoding of `a` to `out`.
pub fn encode_array(a: &NdArray, out: &mut Vec<u8>) {
    let dtype = a.dtype().as_str().as_bytes();
    out.reserve(encoded_array_len(a));
    // DType::parse caps dtype strings at 64 bytes and NdArray::new checks the limits (ndim,
    // total size), so both lengths fit a u8 and the whole encoding a msgpack bin 32.
    out.push(dtype.len() as u8);
    out.extend_from_slice(dtype);
    out.push(a.shape().len() as u8);
    for &d in a.shape() {
        out.extend_from_slice(&(d as i64).to_le_bytes());
    }
    out.extend_from_slice(a.data());
}

/// Decodes a compact-encoded (or `.npy`) array into an owned [`NdArray`].
pub fn decode_array(buf: &[u8]) -> Result<NdArray> {
    let v = decode_array_view(buf)?;
    NdArray::new(DType::parse(v.dtype)?, v.shape, v.data.to_vec())
}

/// Decodes the header of a compact-encoded (or `.npy`) array, borrowing the element bytes.
pub fn decode_array_view(buf: &[u8]) -> Result<ArrayView<'_>> {
    if buf.starts_with(NPY_MAGIC) {
        return decode_npy(buf);
    }
    let h = decode_compact_header(buf)?;
    view(h.dtype, &h.parsed, h.shape, &buf[h.len..])
}

/// The header of a compact-encoded array: dtype, shape and where the element bytes start.
#[derive(Debug, Clone)]
pub struct ArrayHeader<'a> {
    /// numpy dtype string as stored.
    pub dtype: &'a str,
    parsed: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Bytes of header before the element bytes.
    pub len: usize,
}

impl ArrayHeader<'_> {
    /// Element bytes the header announces (`prod(shape) * itemsize`), once the shape is
    /// within the [limits](crate::value::limits).
    pub fn payload_len(&self) -> Result<usize> {
        check_array(&self.parsed, &self.shape)
    }
}

/// Parses only the header of a compact-encoded array (not `.npy`), so that its element bytes
/// can be read elsewhere.
pub fn decode_compact_header(buf: &[u8]) -> Result<ArrayHeader<'_>> {
    let n = *buf
        .first()
        .ok_or_else(|| Error::corrupt("array buffer is empty"))? as usize;
    if n == 0 || n > MAX_DTYPE_LEN {
        return Err(Error::corrupt(format!(
            "array dtype length {n} is out of range"
        )));
    }
    let dtype_bytes = buf
        .get(1..1 + n)
        .ok_or_else(|| Error::corrupt("array buffer ends inside the dtype"))?;
    let dtype =
        std::str::from_utf8(dtype_bytes).map_err(|_| Error::corrupt("array dtype is not ASCII"))?;
    let parsed = DType::parse(dtype)?;
    let ndim = *buf
        .get(1 + n)
        .ok_or_else(|| Error::corrupt("array buffer ends before ndim"))? as usize;
    if ndim > MAX_NDIM {
        return Err(Error::corrupt(format!(
            "array has {ndim} dimensions, more than the {MAX_NDIM} every numpy reads"
        )));
    }
    let shape_start = 2 + n;
    let shape_bytes = buf
        .get(shape_start..shape_start + 8 * ndim)
        .ok_or_else(|| Error::corrupt("array buffer ends inside the shape"))?;
    let mut shape = Vec::with_capacity(ndim);
    for chunk in shape_bytes.chunks_exact(8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let d = i64::from_le_bytes(a);
        if d < 0 {
            return Err(Error::corrupt(format!("array dimension {d} is negative")));
        }
        shape.push(d as usize);
    }
    Ok(ArrayHeader {
        dtype,
        parsed,
        shape,
        len: shape_start + 8 * ndim,
    })
}

/// An [`ArrayView`] once the element bytes are known to be exactly `prod(shape) * itemsize`.
fn view<'a>(
    dtype: &'a str,
    parsed: &DType,
    shape: Vec<usize>,
    data: &'a [u8],
) -> Result<ArrayView<'a>> {
    let want = check_array(parsed, &shape)?;
    if want != data.len() {
        return Err(Error::corrupt(format!(
            "array of dtype {dtype} and shape {shape:?} needs {want} data bytes, buffer has {}",
            data.len()
        )));
    }
    Ok(ArrayView {
        dtype,
        itemsize: parsed.itemsize(),
        shape,
        data,
    })
}

/// Parses a `.npy` buffer (versions 1-3) with a simple dtype, C order.
fn decode_npy(buf: &[u8]) -> Result<ArrayView<'_>> {
    let major = *buf
        .get(6)
        .ok_or_else(|| Error::corrupt(".npy buffer ends inside its preamble"))?;
    let (hlen, hstart): (usize, usize) = match major {
        1 => {
            let b = buf
                .get(8..10)
                .ok_or_else(|| Error::corrupt(".npy buffer ends inside its preamble"))?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
        }
        2 | 3 => {
            let b = buf
                .get(8..12)
                .ok_or_else(|| Error::corrupt(".npy buffer ends inside its preamble"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(Error::corrupt(format!(".npy version {v} is not supported"))),
    };
    let header = buf
        .get(hstart..hstart.saturating_add(hlen))
        .ok_or_else(|| Error::corrupt(".npy header is longer than the buffer"))?;
    let header =
        std::str::from_utf8(header).map_err(|_| Error::corrupt(".npy header is not text"))?;
    let descr = npy_value(header, "descr")?;
    let dtype = descr
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .ok_or_else(|| {
            Error::corrupt(format!(
                ".npy dtype {descr} is structured or not a plain dtype string; not supported"
            ))
        })?;
    if npy_value(header, "fortran_order")? != "False" {
        return Err(Error::corrupt(
            ".npy array in Fortran order is not supported",
        ));
    }
    let shape_text = npy_value(header, "shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| Error::corrupt(format!(".npy shape {shape_text} is malformed")))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        shape.push(
            part.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| Error::corrupt(format!(".npy shape {shape_text} is malformed")))?,
        );
    }
    let parsed = DType::parse(dtype)?;
    view(dtype, &parsed, shape, &buf[hstart + hlen..])
}

/// The raw text of `'key': value` in a `.npy` header dict (value up to its closing `)` for
/// tuples, else up to the next `,` or `}`).
fn npy_value<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let pat = format!("'{key}':");
    let start = header
        .find(&pat)
        .ok_or_else(|| Error::corrupt(format!(".npy header has no '{key}'")))?
        + pat.len();
    let rest = header[start..].trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else if rest.starts_with('[') {
        rest.find(']').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(|| Error::corrupt(format!(".npy header value of '{key}' is unterminated")))?;
    Ok(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::codec::test_hex as hex;

    #[test]
    fn golden_float32_2x3() {
        let a = NdArray::from_vec(vec![2, 3], (0..6).map(|i| i as f32).collect()).unwrap();
        let mut out = Vec::new();
        encode_array(&a, &mut out);
        let mut want = hex("03 3c 66 34 02 0200000000000000 0300000000000000");
        for i in 0..6 {
            want.extend_from_slice(&(i as f32).to_le_bytes());
        }
        assert_eq!(out, want);
        assert_eq!(
            &want[..24],
            &hex("03 3c 66 34 02 02 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00")[..]
        );
        assert_eq!(decode_array(&out).unwrap(), a);
    }

    #[test]
    fn golden_int64_scalar_and_bool() {
        let s = NdArray::from_vec::<i64>(vec![], vec![7]).unwrap();
        let mut out = Vec::new();
        encode_array(&s, &mut out);
        assert_eq!(out, hex("03 3c 69 38 00 07 00 00 00 00 00 00 00"));
        let b = NdArray::from_slice(&[true, false]);
        out.clear();
        encode_array(&b, &mut out);
        assert_eq!(out, hex("03 7c 62 31 01 02 00 00 00 00 00 00 00 01 00"));
        assert_eq!(decode_array(&out).unwrap(), b);
    }

    #[test]
    fn big_endian_kept() {
        let buf = hex("03 3e 69 32 01 0200000000000000 0001 0100");
        let a = decode_array(&buf).unwrap();
        assert_eq!(a.dtype().as_str(), ">i2");
        assert_eq!(a.to_vec::<i16>().unwrap(), vec![1, 256]);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![200, b'<'],
            hex("03 3c 66 34"),
            hex("03 3c 66 34 41"),
            hex("03 3c 66 34 01 ffffffffffffff7f"),
            hex("03 3c 66 34 02 ffffffffffffff0f ffffffffffffff0f"),
            hex("03 3c 66 34 01 ffffffffffffffff"),
            hex("03 3c 66 34 01 0200000000000000 00"),
            hex("03 3c 7a 34 00 00000000"),
        ];
        for c in cases {
            assert!(decode_array(&c).is_err(), "{c:02x?}");
        }
    }

    #[test]
    fn npy_v1() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        let mut h = header.to_string();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut buf = b"\x93NUMPY\x01\x00".to_vec();
        buf.extend_from_slice(&(h.len() as u16).to_le_bytes());
        buf.extend_from_slice(h.as_bytes());
        buf.extend_from_slice(&1.5f32.to_le_bytes());
        buf.extend_from_slice(&2.5f32.to_le_bytes());
        let a = decode_array(&buf).unwrap();
        assert_eq!(a.shape(), &[2]);
        assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.5, 2.5]);
        buf.pop();
        assert!(decode_array(&buf).is_err());
    }
}
