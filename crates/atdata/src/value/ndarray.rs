//! n-dimensional arrays: a dtype, a shape and contiguous C-order bytes.

use crate::error::{Error, Result};
use crate::value::dtype::{ByteOrder, DType, Element};
use crate::value::limits::check_array;

/// An n-d array as numpy would hold it: dtype, shape and raw C-order element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    dtype: DType,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl NdArray {
    /// Builds an array, checking the [limits](crate::value::limits) and that `data` holds
    /// exactly `prod(shape) * itemsize` bytes.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let want = check_array(&dtype, &shape)?;
        if want != data.len() {
            return Err(Error::corrupt(format!(
                "array of dtype {dtype} and shape {shape:?} needs {want} bytes, got {}",
                data.len()
            )));
        }
        Ok(NdArray { dtype, shape, data })
    }

    /// Builds an array of a Rust element type from its values in C order.
    pub fn from_vec<T: Element>(shape: Vec<usize>, values: Vec<T>) -> Result<Self> {
        let mut data = Vec::with_capacity(values.len() * T::SIZE);
        for v in values {
            v.write_le(&mut data);
        }
        NdArray::new(DType::of::<T>(), shape, data)
    }

    /// A 1-d array of `values`.
    pub fn from_slice<T: Element>(values: &[T]) -> Self {
        NdArray::from_vec(vec![values.len()], values.to_vec()).expect("1-d shape matches length")
    }

    /// The dtype.
    pub fn dtype(&self) -> &DType {
        &self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw C-order element bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the array, returning its raw bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Copies the elements out as `T`, which must be the array's dtype (either byte order).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        let want = DType::of::<T>();
        let same_kind =
            self.dtype.kind() == want.kind() && self.dtype.itemsize() == want.itemsize();
        if !same_kind {
            return Err(Error::mismatch(format!(
                "array has dtype {}, not {}",
                self.dtype,
                want.as_str()
            )));
        }
        let swap = self.dtype.order() == ByteOrder::Big && T::SIZE > 1;
        let mut out = Vec::with_capacity(self.len());
        let mut tmp = vec![0u8; T::SIZE];
        for chunk in self.data.chunks_exact(T::SIZE) {
            if swap {
                tmp.copy_from_slice(chunk);
                tmp.reverse();
                out.push(T::read_le(&tmp));
            } else {
                out.push(T::read_le(chunk));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_byte_length() {
        let d = DType::of::<f32>();
        assert!(NdArray::new(d.clone(), vec![2, 3], vec![0; 24]).is_ok());
        assert!(NdArray::new(d.clone(), vec![2, 3], vec![0; 23]).is_err());
        assert!(NdArray::new(d, vec![usize::MAX, 2], vec![]).is_err());
    }

    #[test]
    fn typed_round_trip_and_big_endian() {
        let a = NdArray::from_vec(vec![3], vec![1.0f32, -2.5, 3.25]).unwrap();
        assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.0, -2.5, 3.25]);
        assert!(a.to_vec::<f64>().is_err());
        let be = NdArray::new(DType::parse(">i2").unwrap(), vec![2], vec![0, 1, 1, 0]).unwrap();
        assert_eq!(be.to_vec::<i16>().unwrap(), vec![1, 256]);
    }
}
