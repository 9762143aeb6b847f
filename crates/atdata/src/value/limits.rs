//! The limits on n-d arrays: one set, checked on every way in and out.
//!
//! An array that passes [`check_array`] can be encoded (its msgpack `bin` length fits 32 bits)
//! and every numpy reads it back: numpy 1.x allows 32 dimensions (numpy 2 allows 64), and
//! numpy refuses a shape whose elements, ignoring zero-length dimensions, times the item size
//! overflow its index type (`(0, 2**62)` float32 is "array is too big"), even with no data.
//!
//! Who checks: [`NdArray::new`](super::NdArray::new) (so every array built in Rust or taken from
//! Python on a write), the array decoder ([`crate::codec::array`]: shard reads, `add`'s scan,
//! `head()`, iteration) and the batch builder before it stacks a column (a batch adds one
//! dimension and multiplies the shape by the batch size; a column that would break a limit is
//! given per sample instead). Errors are [`Error::Corrupt`] with the reason; the callers add the
//! field, sample key, shard and dataset.

use crate::error::{Error, Result};
use crate::value::dtype::{DType, MAX_DTYPE_LEN};

/// Most dimensions of an array (numpy 1.x's `NPY_MAXDIMS`; numpy 2 reads up to 64).
pub const MAX_NDIM: usize = 32;

/// Longest compact array header: dtype length byte, dtype, ndim byte, shape.
pub const MAX_ARRAY_HEADER: usize = 2 + MAX_DTYPE_LEN + 8 * MAX_NDIM;

/// Most bytes an array may describe: its encoding (header + elements) must fit a msgpack
/// `bin 32`, whose length is 32 bits. The same bound applies to the shape with zero-length
/// dimensions left out, which also keeps numpy's own size check (a signed 64-bit product)
/// from failing.
pub const MAX_ARRAY_BYTES: usize = u32::MAX as usize - MAX_ARRAY_HEADER;

/// Checks `dtype` and `shape` against the limits and returns the element bytes the array holds
/// (`prod(shape) * itemsize`). Overflow is checked at every step: a lying header cannot cause
/// a huge allocation or a wrap-around.
pub fn check_array(dtype: &DType, shape: &[usize]) -> Result<usize> {
    if shape.len() > MAX_NDIM {
        return Err(Error::corrupt(format!(
            "array has {} dimensions, more than the {MAX_NDIM} every numpy reads",
            shape.len()
        )));
    }
    if dtype.kind() == 'O' {
        return Err(Error::corrupt(format!(
            "array dtype {dtype} holds Python object pointers, which cannot be stored or read"
        )));
    }
    if dtype.itemsize() == 0 {
        return Err(Error::corrupt(format!(
            "array dtype {dtype} has items of zero bytes, which numpy cannot read from a buffer"
        )));
    }
    let too_big = || {
        Error::corrupt(format!(
            "array of dtype {dtype} and shape {shape:?} describes more than {MAX_ARRAY_BYTES} bytes"
        ))
    };
    // The size numpy checks: zero-length dimensions left out.
    let nominal = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(dtype.itemsize(), |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ARRAY_BYTES)
        .ok_or_else(too_big)?;
    Ok(if shape.contains(&0) { 0 } else { nominal })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f4() -> DType {
        DType::parse("<f4").unwrap()
    }

    #[test]
    fn array_limits_accept_what_numpy_reads() {
        assert_eq!(check_array(&f4(), &[2, 3]).unwrap(), 24);
        assert_eq!(check_array(&f4(), &[]).unwrap(), 4);
        assert_eq!(check_array(&f4(), &[0, 5]).unwrap(), 0);
        assert_eq!(check_array(&f4(), &vec![1; MAX_NDIM]).unwrap(), 4);
    }

    #[test]
    fn array_limits_refuse_what_numpy_cannot_read() {
        for (shape, why) in [
            (vec![1; MAX_NDIM + 1], "33 dimensions"),
            (vec![1; 64], "64 dimensions"),
            (vec![0, 1 << 62], "more than"),
            (vec![usize::MAX, 2], "more than"),
            (vec![1 << 31, 1 << 31], "more than"),
        ] {
            let e = check_array(&f4(), &shape).unwrap_err().to_string();
            assert!(e.contains(why), "{shape:?}: {e}");
        }
        for d in ["|O8", "|S0", "<U0"] {
            assert!(check_array(&DType::parse(d).unwrap(), &[1]).is_err(), "{d}");
        }
    }
}
