//! Short, readable renderings of sample values for `preview`.
//!
//! A preview must fit a terminal whatever the data: long text is cut, long lists show their
//! first items and their length, and arrays show dtype, shape and their first few elements
//! rather than megabytes of numbers.

use atdata::codec::{decode_array_view, ArrayView};
use atdata::value::ByteOrder;
use atdata::{DType, Value};

use atdata::codec::infer::shape_text;

/// Characters of text shown before cutting.
const MAX_TEXT: usize = 80;
/// Items of a list or map shown.
const MAX_ITEMS: usize = 5;
/// Elements of an array shown.
const MAX_ELEMENTS: usize = 6;
/// Bytes of a binary shown.
const MAX_BYTES: usize = 24;

/// Renders one value on one line.
pub fn render(value: &Value) -> String {
    match value {
        Value::Nil => "None".to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Str(s) => quote(s),
        Value::Bytes(b) => match decode_array_view(b) {
            Ok(view) => render_array(&view),
            Err(_) => render_bytes(b),
        },
        Value::Array(a) => match DType::parse(a.dtype().as_str()) {
            Ok(d) => render_array(&ArrayView {
                dtype: a.dtype().as_str(),
                itemsize: d.itemsize(),
                shape: a.shape().to_vec(),
                data: a.data(),
            }),
            Err(_) => format!("ndarray[{}] shape {:?}", a.dtype(), a.shape()),
        },
        Value::List(items) => {
            let shown: Vec<String> = items.iter().take(MAX_ITEMS).map(render).collect();
            if items.len() > MAX_ITEMS {
                format!("[{}, ...] ({} items)", shown.join(", "), items.len())
            } else {
                format!("[{}]", shown.join(", "))
            }
        }
        Value::Map(pairs) => {
            let shown: Vec<String> = pairs
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| format!("{}: {}", quote(k), render(v)))
                .collect();
            if pairs.len() > MAX_ITEMS {
                format!("{{{}, ...}} ({} keys)", shown.join(", "), pairs.len())
            } else {
                format!("{{{}}}", shown.join(", "))
            }
        }
    }
}

/// Python-like float text: `1.0`, `0.25`, `nan`, `inf`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{f:?}")
    }
}

/// Shortest text that reads back as the same f32 (`0.1`, not `0.10000000149011612`).
fn float32_text(f: f32) -> String {
    if f.is_finite() {
        format!("{f:?}")
    } else {
        float_text(f64::from(f))
    }
}

fn quote(s: &str) -> String {
    let count = s.chars().count();
    if count <= MAX_TEXT {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_TEXT).collect();
        format!("{head:?}... ({count} chars)")
    }
}

fn render_bytes(b: &[u8]) -> String {
    let shown: String = b
        .iter()
        .take(MAX_BYTES)
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect();
    if b.len() > MAX_BYTES {
        format!("b\"{shown}\"... ({} bytes)", b.len())
    } else {
        format!("b\"{shown}\"")
    }
}

/// `ndarray[float32] shape (128,) [0.1, 0.2, ...]`.
fn render_array(view: &ArrayView<'_>) -> String {
    let dims: Vec<Option<usize>> = view.shape.iter().map(|&d| Some(d)).collect();
    let total: usize = view.shape.iter().product();
    let dtype = DType::parse(view.dtype).ok();
    let name = dtype
        .as_ref()
        .map_or_else(|| view.dtype.to_string(), DType::name);
    let mut text = format!("ndarray[{name}] shape {}", shape_text(&dims));
    let Some(dtype) = dtype else {
        return text;
    };
    let shown: Vec<String> = (0..total.min(MAX_ELEMENTS))
        .map_while(|i| element(&dtype, view.data, i))
        .collect();
    if shown.is_empty() {
        return text;
    }
    text.push_str(" [");
    text.push_str(&shown.join(", "));
    if total > shown.len() {
        text.push_str(", ...");
    }
    text.push(']');
    text
}

/// Element `i` of a C-order buffer as text, for the numeric and boolean dtypes.
fn element(dtype: &DType, data: &[u8], i: usize) -> Option<String> {
    let size = dtype.itemsize();
    let start = i.checked_mul(size)?;
    let raw = data.get(start..start.checked_add(size)?)?;
    let mut bytes = [0u8; 16];
    let slot = bytes.get_mut(..size)?;
    slot.copy_from_slice(raw);
    if dtype.order() == ByteOrder::Big {
        slot.reverse();
    }
    let le = |n: usize| -> Option<[u8; 8]> {
        let mut out = [0u8; 8];
        out.get_mut(..n)?.copy_from_slice(bytes.get(..n)?);
        Some(out)
    };
    let signed = |n: usize| -> Option<i64> {
        let raw = le(n)?;
        let v = u64::from_le_bytes(raw);
        let shift = 64 - 8 * n as u32;
        Some(((v << shift) as i64) >> shift)
    };
    Some(match (dtype.kind(), size) {
        ('b', 1) => if bytes[0] != 0 { "True" } else { "False" }.to_string(),
        ('i', 1 | 2 | 4 | 8) => signed(size)?.to_string(),
        ('u', 1 | 2 | 4 | 8) => u64::from_le_bytes(le(size)?).to_string(),
        ('f', 2) => float32_text(half_to_f32(u16::from_le_bytes([bytes[0], bytes[1]]))),
        ('f', 4) => float32_text(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        ('f', 8) => float_text(f64::from_le_bytes(le(8)?)),
        _ => return None,
    })
}

/// IEEE 754 half precision to single precision.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atdata::codec::encode_array;
    use atdata::NdArray;

    fn encoded(a: &NdArray) -> Value {
        let mut out = Vec::new();
        encode_array(a, &mut out);
        Value::Bytes(out)
    }

    #[test]
    fn scalars() {
        assert_eq!(render(&Value::Nil), "None");
        assert_eq!(render(&Value::Bool(true)), "True");
        assert_eq!(render(&Value::Float(1.0)), "1.0");
        assert_eq!(render(&Value::Str("hi".into())), "\"hi\"");
        assert_eq!(render(&Value::Bytes(b"ab\x00".to_vec())), "b\"ab\\x00\"");
    }

    #[test]
    fn long_things_are_cut() {
        let s = render(&Value::Str("x".repeat(200)));
        assert!(s.ends_with("... (200 chars)"), "{s}");
        let l = render(&Value::List((0..10).map(Value::Int).collect()));
        assert_eq!(l, "[0, 1, 2, 3, 4, ...] (10 items)");
    }

    #[test]
    fn arrays_show_dtype_shape_and_first_values() {
        let a = NdArray::from_vec(vec![2, 4], (0..8).map(|i| i as f32 * 0.5).collect()).unwrap();
        assert_eq!(
            render(&encoded(&a)),
            "ndarray[float32] shape (2, 4) [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, ...]"
        );
        assert_eq!(render(&Value::Array(a.clone())), render(&encoded(&a)));
        let b = NdArray::from_slice(&[-3i16, 7]);
        assert_eq!(render(&encoded(&b)), "ndarray[int16] shape (2,) [-3, 7]");
        let big = NdArray::new(DType::parse(">i2").unwrap(), vec![1], vec![0xff, 0xfe]).unwrap();
        assert_eq!(render(&encoded(&big)), "ndarray[>i2] shape (1,) [-2]");
        let half = NdArray::new(DType::parse("<f2").unwrap(), vec![1], vec![0x00, 0x3c]).unwrap();
        assert_eq!(render(&encoded(&half)), "ndarray[float16] shape (1,) [1.0]");
    }
}
