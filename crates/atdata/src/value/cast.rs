//! The dtype rule: what happens to an array written to a field that declares a dtype.
//!
//! A sample type may fix an array field's dtype (Python `NDArray[np.float32]`). An array of
//! another dtype written to that field is **cast when numpy's `casting="same_kind"` allows it,
//! and refused otherwise**, with an error naming the field and the sample:
//!
//! - numeric kinds are ordered bool < unsigned < signed < float < complex; a cast to the same
//!   kind or a later one is allowed, whatever the sizes (float64 -> float32, int64 -> int8,
//!   uint8 -> float32, bool -> int64), with numpy's results (rounding to nearest, overflow to
//!   inf for floats, wrap-around for integers);
//! - a cast to an earlier kind is refused (float -> int, int -> uint, complex -> float);
//! - other kinds (str `U`, bytes `S`, datetime `M`, timedelta `m`, void `V`) are never
//!   converted: the array must be of the declared kind, and is stored as it is;
//! - a declared dtype of another byte order is the target too (`>f4` data in a float32 field is
//!   stored `<f4`), so that one field reads back with one dtype.
//!
//! A field that declares no dtype (Python's plain `NDArray`, Rust's [`NdArray`] fields) stores
//! every array as it is. The schema record's `dtype` is not a declaration: Python atdata 0.7
//! writes `"float32"` for every plain `NDArray`, so it cannot tell "float32" from "any".

use crate::error::{Error, Result};
use crate::value::dtype::{ByteOrder, DType};
use crate::value::NdArray;

/// numpy's kind order for `same_kind` casting; `None` for kinds that are never converted.
fn kind_rank(kind: char) -> Option<u8> {
    match kind {
        'b' => Some(0),
        'u' => Some(1),
        'i' => Some(2),
        'f' => Some(3),
        'c' => Some(4),
        _ => None,
    }
}

/// Whether numpy's `casting="same_kind"` allows casting `from` to `to`.
pub fn can_cast_same_kind(from: &DType, to: &DType) -> bool {
    match (kind_rank(from.kind()), kind_rank(to.kind())) {
        (Some(a), Some(b)) => a <= b,
        _ => from.kind() == to.kind(),
    }
}

/// `a` as it is stored in a field declaring `declared`: unchanged when it already has that
/// dtype (or, for kinds that are never converted, that kind), cast when `same_kind` allows it,
/// else an error saying what was declared and what was given.
pub fn conform(a: NdArray, declared: &DType) -> Result<NdArray> {
    let from = a.dtype().clone();
    if from.as_str() == declared.as_str() || same_layout(&from, declared) {
        return Ok(a);
    }
    if kind_rank(from.kind()).is_none() && from.kind() == declared.kind() {
        return Ok(a);
    }
    let refuse = |why: &str| {
        Error::mismatch(format!(
            "array of dtype {from} cannot be stored in a field declared {declared}: {why}"
        ))
    };
    if !can_cast_same_kind(&from, declared) {
        return Err(refuse(
            "numpy's same_kind casting does not allow it; convert the array explicitly",
        ));
    }
    let (Some(read), Some(write)) = (reader(&from), writer(declared)) else {
        return Err(refuse("casting between these sizes is not supported"));
    };
    let n = a.len();
    let mut out = Vec::with_capacity(n * declared.itemsize());
    let size = from.itemsize();
    let swap = from.order() == ByteOrder::Big;
    let mut tmp = [0u8; 16];
    for chunk in a.data().chunks_exact(size) {
        let le = &mut tmp[..size];
        le.copy_from_slice(chunk);
        if swap {
            // Complex numbers are two floats, each in the stated byte order.
            for part in le.chunks_exact_mut(if from.kind() == 'c' { size / 2 } else { size }) {
                part.reverse();
            }
        }
        write(read(le), &mut out);
    }
    let mut target = declared.clone();
    if target.order() == ByteOrder::Big {
        // We write little-endian bytes: say so.
        target = DType::parse(&format!("<{}", &declared.as_str()[1..]))?;
    }
    NdArray::new(target, a.shape().to_vec(), out)
}

/// Same kind and size, and both in little-endian (or order-free) layout.
fn same_layout(a: &DType, b: &DType) -> bool {
    let le = |d: &DType| d.order() != ByteOrder::Big || d.itemsize() == 1;
    a.kind() == b.kind() && a.itemsize() == b.itemsize() && le(a) && le(b)
}

/// One element, as read before it is written in the target dtype.
#[derive(Clone, Copy)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
    C(f64, f64),
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(a)
}

fn le_i64(b: &[u8]) -> i64 {
    // Sign-extend from the top byte.
    let shift = 64 - 8 * b.len() as u32;
    ((le_u64(b) << shift) as i64) >> shift
}

fn le_float(b: &[u8]) -> f64 {
    match b.len() {
        2 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
        4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        _ => f64::from_bits(le_u64(b)),
    }
}

type Read = fn(&[u8]) -> Num;
type Write = Box<dyn Fn(Num, &mut Vec<u8>)>;

/// How to read one little-endian element of `d`, for the sizes numpy's numeric kinds have.
fn reader(d: &DType) -> Option<Read> {
    Some(match (d.kind(), d.itemsize()) {
        ('b', 1) => |b| Num::U(u64::from(b[0] != 0)),
        ('u', 1 | 2 | 4 | 8) => |b| Num::U(le_u64(b)),
        ('i', 1 | 2 | 4 | 8) => |b| Num::I(le_i64(b)),
        ('f', 2 | 4 | 8) => |b| Num::F(le_float(b)),
        ('c', 8 | 16) => |b| {
            let h = b.len() / 2;
            Num::C(le_float(&b[..h]), le_float(&b[h..]))
        },
        _ => return None,
    })
}

/// How to write one element as `d`, little-endian. Only the casts `same_kind` allows reach
/// here, so a value's kind is never later than the target's.
fn writer(d: &DType) -> Option<Write> {
    let size = d.itemsize();
    Some(match d.kind() {
        'b' if size == 1 => Box::new(|v, out| {
            out.push(u8::from(matches!(v, Num::U(x) if x != 0)));
        }),
        // Integers wrap to the target width, as numpy's C casts do.
        'u' | 'i' if matches!(size, 1 | 2 | 4 | 8) => Box::new(move |v, out| {
            let bits = match v {
                Num::U(x) => x,
                Num::I(x) => x as u64,
                Num::F(_) | Num::C(..) => 0,
            };
            out.extend_from_slice(&bits.to_le_bytes()[..size]);
        }),
        'f' if matches!(size, 2 | 4 | 8) => Box::new(move |v, out| put_float(v, size, out)),
        'c' if matches!(size, 8 | 16) => Box::new(move |v, out| {
            let (re, im) = match v {
                Num::C(re, im) => (Num::F(re), Num::F(im)),
                other => (other, Num::F(0.0)),
            };
            put_float(re, size / 2, out);
            put_float(im, size / 2, out);
        }),
        _ => return None,
    })
}

/// Writes a real value as a float of `size` bytes. Integers go straight to the target width
/// (as C's `(float)int64` does) rather than through float64, which could round twice.
fn put_float(v: Num, size: usize, out: &mut Vec<u8>) {
    match size {
        4 => {
            let f = match v {
                Num::U(x) => x as f32,
                Num::I(x) => x as f32,
                Num::F(x) | Num::C(x, _) => x as f32,
            };
            out.extend_from_slice(&f.to_le_bytes());
        }
        2 | 8 => {
            let f = match v {
                Num::U(x) => x as f64,
                Num::I(x) => x as f64,
                Num::F(x) | Num::C(x, _) => x,
            };
            if size == 2 {
                out.extend_from_slice(&f64_to_f16(f).to_le_bytes());
            } else {
                out.extend_from_slice(&f.to_le_bytes());
            }
        }
        _ => unreachable!("writer() only builds float writers of 2, 4 or 8 bytes"),
    }
}

/// IEEE half -> double (exact).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let man = f64::from(h & 0x3ff);
    match exp {
        0 => sign * man * 2f64.powi(-24),
        0x1f if man == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        e => sign * (1.0 + man / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Shifts `m` right by `shift` bits, rounding to nearest, ties to even.
fn round_shift(m: u64, shift: u32) -> u64 {
    if shift == 0 {
        return m;
    }
    if shift > 63 {
        return 0;
    }
    let q = m >> shift;
    let rem = m & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// IEEE double -> half, rounding to nearest even, overflow to infinity (as numpy's
/// `npy_double_to_half`).
fn f64_to_f16(x: f64) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let man = bits & ((1u64 << 52) - 1);
    if exp == 0x7ff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 1023 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // A half subnormal (or zero): the implicit bit joins the mantissa. Rounding up may
        // reach the smallest normal, which the bit pattern expresses by itself.
        let m = man | (1u64 << 52);
        return sign | round_shift(m, (42 + 1 - e) as u32) as u16;
    }
    // A carry out of the mantissa moves into the exponent; past the largest it becomes inf.
    sign | (((e as u64) << 10) + round_shift(man, 42)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DType {
        DType::parse(s).unwrap()
    }

    #[test]
    fn same_kind_matches_numpy_table() {
        // numpy 2.4: np.can_cast(a, b, "same_kind") for every pair of these.
        let ts = [
            "|b1", "|u1", "<u2", "<u4", "<u8", "|i1", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8",
            "<c8", "<c16",
        ];
        let first_allowed = [0, 1, 1, 1, 1, 5, 5, 5, 5, 9, 9, 9, 12, 12];
        for (i, a) in ts.iter().enumerate() {
            for (j, b) in ts.iter().enumerate() {
                assert_eq!(
                    can_cast_same_kind(&dt(a), &dt(b)),
                    j >= first_allowed[i],
                    "{a} -> {b}"
                );
            }
        }
        assert!(can_cast_same_kind(&dt("<U3"), &dt("<U5")));
        assert!(!can_cast_same_kind(&dt("<U3"), &dt("|S5")));
    }

    #[test]
    fn float64_in_a_float32_field_is_cast() {
        let a = NdArray::from_vec(vec![3], vec![1.5f64, 1e300, -0.1]).unwrap();
        let c = conform(a, &dt("<f4")).unwrap();
        assert_eq!(c.dtype().as_str(), "<f4");
        assert_eq!(c.shape(), &[3]);
        assert_eq!(
            c.to_vec::<f32>().unwrap(),
            vec![1.5, f32::INFINITY, -0.1f64 as f32]
        );
    }

    #[test]
    fn float_in_an_int_field_is_refused() {
        let a = NdArray::from_slice(&[1.0f32]);
        let e = conform(a, &dt("<i8")).unwrap_err().to_string();
        assert!(
            e.contains("<f4") && e.contains("<i8") && e.contains("same_kind"),
            "{e}"
        );
        assert!(conform(NdArray::from_slice(&[1i64]), &dt("|u1")).is_err());
    }

    #[test]
    fn integer_and_bool_casts_follow_numpy() {
        let big = NdArray::from_slice(&[u64::MAX, 300]);
        let c = conform(big, &dt("|i1")).unwrap();
        assert_eq!(c.to_vec::<i8>().unwrap(), vec![-1, 44]);
        let neg = NdArray::from_slice(&[-2i16]);
        assert_eq!(
            conform(neg, &dt("<i8")).unwrap().to_vec::<i64>().unwrap(),
            vec![-2]
        );
        let b = NdArray::from_slice(&[true, false]);
        assert_eq!(
            conform(b, &dt("<f8")).unwrap().to_vec::<f64>().unwrap(),
            vec![1.0, 0.0]
        );
        let i = NdArray::from_slice(&[16_777_217i64]);
        // Straight to float32 (round to nearest even), as numpy: 16777216.
        assert_eq!(
            conform(i, &dt("<f4")).unwrap().to_vec::<f32>().unwrap(),
            vec![16_777_216.0]
        );
    }

    #[test]
    fn big_endian_is_stored_in_the_declared_order() {
        let be = NdArray::new(dt(">f4"), vec![1], 1.5f32.to_be_bytes().to_vec()).unwrap();
        let c = conform(be, &dt("<f4")).unwrap();
        assert_eq!(c.dtype().as_str(), "<f4");
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![1.5]);
        // A declared big-endian dtype: the values are kept, the bytes say little-endian.
        let c = conform(NdArray::from_slice(&[2i32]), &dt(">i8")).unwrap();
        assert_eq!(c.dtype().as_str(), "<i8");
        assert_eq!(c.to_vec::<i64>().unwrap(), vec![2]);
    }

    #[test]
    fn float16_conversions_round_like_numpy() {
        for (x, want) in [
            (1.0, 0x3c00u16),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (70000.0, 0x7c00),
            (5.960464477539063e-8, 0x0001),
            (2.9e-8, 0x0000),
            (6.103515625e-5, 0x0400),
            (0.1, 0x2e66),
        ] {
            assert_eq!(f64_to_f16(x), want, "{x}");
        }
        assert!(f16_to_f64(f64_to_f16(f64::NAN)).is_nan());
        for h in [0x3c00u16, 0x0001, 0x7bff, 0x2e66, 0x8400] {
            assert_eq!(f64_to_f16(f16_to_f64(h)), h);
        }
        let c = conform(NdArray::from_slice(&[0.5f64]), &dt("<f2")).unwrap();
        assert_eq!(c.data(), &0x3800u16.to_le_bytes());
    }

    #[test]
    fn complex_and_other_kinds() {
        let c = conform(NdArray::from_slice(&[3i8]), &dt("<c8")).unwrap();
        assert_eq!(c.dtype().as_str(), "<c8");
        let mut want = 3.0f32.to_le_bytes().to_vec();
        want.extend_from_slice(&0.0f32.to_le_bytes());
        assert_eq!(c.data(), &want[..]);
        // Strings are stored as they are when the kind matches, refused when it does not.
        let u = NdArray::new(dt("<U2"), vec![1], vec![0; 8]).unwrap();
        assert_eq!(conform(u.clone(), &dt("<U5")).unwrap(), u);
        assert!(conform(u, &dt("<f4")).is_err());
    }
}
