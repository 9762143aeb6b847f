//! Guessing a schema from one sample, for shards indexed without one (`atdata insert`).
//!
//! msgpack says str, int, float, bool, bytes, list or map, but not "n-d array": arrays travel
//! as binaries. A binary that parses as a whole compact array (or `.npy`) is taken for one;
//! any other binary is bytes. A None value makes the field optional; its type is unknown from
//! one sample, so it is recorded as `str`.

use crate::codec::{decode_array, decode_sample};
use crate::error::Result;
use crate::schema::{Field, FieldType, Primitive, Schema};
use crate::value::{ByteOrder, DType, Sample, Value};

/// The schema of `sample`, named `name`, version `1.0.0`.
pub fn infer_schema(name: &str, sample: &Sample) -> Schema {
    let fields = sample
        .fields
        .iter()
        .map(|(n, v)| match v {
            Value::Nil => Field::optional(n.clone(), FieldType::Primitive(Primitive::Str)),
            v => Field::new(n.clone(), infer_type(v)),
        })
        .collect();
    let mut s = Schema::new(name, fields);
    s.description = Some("Inferred from the first sample.".to_string());
    s
}

/// The schema of the msgpack sample `bytes` (see [`infer_schema`]).
pub fn infer_schema_from_msgpack(name: &str, bytes: &[u8]) -> Result<Schema> {
    Ok(infer_schema(name, &decode_sample(bytes, None)?))
}

/// A schema type name for a dataset name: its letters and digits in CamelCase
/// (`docs-v1` -> `DocsV1`), so that Python can use it as a class name.
pub fn schema_name_for(dataset: &str) -> String {
    let mut out = String::new();
    for word in dataset.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Sample");
    }
    out
}

fn infer_type(v: &Value) -> FieldType {
    match v {
        Value::Nil | Value::Str(_) => FieldType::Primitive(Primitive::Str),
        Value::Bool(_) => FieldType::Primitive(Primitive::Bool),
        Value::Int(_) | Value::UInt(_) => FieldType::Primitive(Primitive::Int),
        Value::Float(_) => FieldType::Primitive(Primitive::Float),
        Value::Bytes(b) => match decode_array(b) {
            Ok(a) => FieldType::ndarray_of(&dtype_name(a.dtype())),
            Err(_) => FieldType::Primitive(Primitive::Bytes),
        },
        Value::Array(a) => FieldType::ndarray_of(&dtype_name(a.dtype())),
        Value::List(items) => FieldType::List(Box::new(
            items
                .iter()
                .find(|i| !matches!(i, Value::Nil))
                .map_or(FieldType::Primitive(Primitive::Str), infer_type),
        )),
        Value::Map(_) => FieldType::Other("dict".to_string()),
    }
}

/// numpy's name for a native-order dtype (`<f4` -> `float32`), as schema records spell it;
/// anything else keeps its `dtype.str` text.
fn dtype_name(d: &DType) -> String {
    let name = match (d.kind(), d.itemsize()) {
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
        _ => return d.as_str().to_string(),
    };
    if d.order() == ByteOrder::Big && d.itemsize() > 1 {
        d.as_str().to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_array, encode_sample};
    use crate::value::NdArray;

    #[test]
    fn every_kind() {
        let arr = NdArray::from_vec(vec![2], vec![1.0f32, 2.0]).unwrap();
        let mut arr_bytes = Vec::new();
        encode_array(&arr, &mut arr_bytes);
        let mut buf = Vec::new();
        encode_sample(
            &[
                ("text", Value::from("hi")),
                ("n", Value::Int(3)),
                ("x", Value::Float(0.5)),
                ("ok", Value::Bool(true)),
                ("raw", Value::Bytes(b"not an array".to_vec())),
                ("vec", Value::Array(arr)),
                ("vec_as_bin", Value::Bytes(arr_bytes)),
                ("ids", Value::List(vec![Value::Nil, Value::Int(1)])),
                ("empty", Value::List(vec![])),
                ("maybe", Value::Nil),
            ],
            &mut buf,
        );
        let s = infer_schema_from_msgpack("Docs", &buf).unwrap();
        let ty = |n: &str| s.field(n).unwrap().ty.clone();
        assert_eq!(ty("text"), FieldType::Primitive(Primitive::Str));
        assert_eq!(ty("n"), FieldType::Primitive(Primitive::Int));
        assert_eq!(ty("x"), FieldType::Primitive(Primitive::Float));
        assert_eq!(ty("ok"), FieldType::Primitive(Primitive::Bool));
        assert_eq!(ty("raw"), FieldType::Primitive(Primitive::Bytes));
        assert_eq!(ty("vec"), FieldType::ndarray_of("float32"));
        assert_eq!(ty("vec_as_bin"), FieldType::ndarray_of("float32"));
        assert_eq!(
            ty("ids"),
            FieldType::List(Box::new(FieldType::Primitive(Primitive::Int)))
        );
        assert_eq!(
            ty("empty"),
            FieldType::List(Box::new(FieldType::Primitive(Primitive::Str)))
        );
        assert!(s.field("maybe").unwrap().optional);
        assert!(!s.field("text").unwrap().optional);
        assert_eq!(s.fields.len(), 10);
        assert_eq!(s.fields[0].name, "text", "field order kept");
        // The record round-trips.
        assert!(Schema::from_json(&s.to_json()).unwrap().same_structure(&s));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(infer_schema_from_msgpack("X", &[0xc1]).is_err());
    }

    #[test]
    fn names_are_python_identifiers() {
        assert_eq!(schema_name_for("docs-v1"), "DocsV1");
        assert_eq!(schema_name_for("my_data.set"), "MyDataSet");
        assert_eq!(schema_name_for("3d-points"), "Sample3dPoints");
        assert_eq!(schema_name_for("数据"), "Sample");
    }

    #[test]
    fn dtype_names() {
        for (s, want) in [
            ("<f4", "float32"),
            ("|u1", "uint8"),
            ("|b1", "bool"),
            ("<i8", "int64"),
            (">i2", ">i2"),
            ("<U3", "<U3"),
        ] {
            assert_eq!(dtype_name(&DType::parse(s).unwrap()), want, "{s}");
        }
    }
}
