//! Statically typed samples.
//!
//! A [`Packable`] type knows its schema and converts to and from the msgpack sample map.
//! `#[derive(Packable)]` (crate `atdata-derive`, re-exported here) writes the impl for structs
//! whose fields are `String`, integers, `f32`/`f64`, `bool`, `Vec<u8>`-like bytes,
//! [`NdArray`], `Option<T>` and `Vec<T>`.

use crate::error::{Error, Result};
use crate::schema::{FieldType, Primitive, Schema};
use crate::value::{NdArray, Sample, Value};

/// A sample type with a schema.
pub trait Packable: Sized {
    /// The schema of this type (version `1.0.0`; the index bumps it on structural change).
    fn schema() -> Schema;
    /// The sample's fields, in schema order.
    fn to_fields(&self) -> Vec<(String, Value)>;
    /// Rebuilds the type from a decoded sample.
    fn from_sample(sample: Sample) -> Result<Self>;

    /// Appends the msgpack encoding of this sample.
    fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::encode_sample(&self.to_fields(), out);
    }

    /// Decodes a sample of this type.
    fn decode(buf: &[u8]) -> Result<Self> {
        Self::from_sample(crate::codec::decode_sample(buf, Some(&Self::schema()))?)
    }
}

/// A Rust type usable as a field of a `#[derive(Packable)]` struct.
pub trait FieldValue: Sized {
    /// The schema type of the field.
    fn field_type() -> FieldType;
    /// Whether the field may be None.
    fn optional() -> bool {
        false
    }
    /// Converts to a dynamic value.
    fn to_value(&self) -> Value;
    /// Converts from a dynamic value; the error says what was expected.
    fn from_value(v: Value) -> Result<Self>;

    /// Appends the msgpack encoding of this value, byte-identical to
    /// `encode_value(&self.to_value(), out)`. Types that own heap data override it so the
    /// derived [`Packable::encode`] does not clone them.
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        crate::codec::encode_value(&self.to_value(), out);
    }
}

fn wrong(expected: &str, got: &Value) -> Error {
    Error::mismatch(format!("expected {expected}, got {}", got.kind()))
}

impl FieldValue for String {
    fn field_type() -> FieldType {
        FieldType::Primitive(Primitive::Str)
    }
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        rmp::encode::write_str(out, self).expect("vec write");
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Str(s) => Ok(s),
            other => Err(wrong("str", &other)),
        }
    }
}

impl FieldValue for bool {
    fn field_type() -> FieldType {
        FieldType::Primitive(Primitive::Bool)
    }
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(wrong("bool", &other)),
        }
    }
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn field_type() -> FieldType {
                FieldType::Primitive(Primitive::Int)
            }
            fn to_value(&self) -> Value {
                match i64::try_from(*self) {
                    Ok(i) => Value::Int(i),
                    #[allow(clippy::unnecessary_fallible_conversions)]
                    Err(_) => Value::UInt(u64::try_from(*self).unwrap_or(u64::MAX)),
                }
            }
            fn from_value(v: Value) -> Result<Self> {
                let out = match &v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    Value::UInt(u) => <$t>::try_from(*u).ok(),
                    _ => return Err(wrong("int", &v)),
                };
                out.ok_or_else(|| Error::mismatch(format!(
                    "integer {v:?} does not fit {}", stringify!($t)
                )))
            }
        }
    )*};
}

int_field!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

macro_rules! float_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn field_type() -> FieldType {
                FieldType::Primitive(Primitive::Float)
            }
            fn to_value(&self) -> Value {
                Value::Float(*self as f64)
            }
            fn from_value(v: Value) -> Result<Self> {
                match v {
                    Value::Float(f) => Ok(f as $t),
                    Value::Int(i) => Ok(i as $t),
                    other => Err(wrong("float", &other)),
                }
            }
        }
    )*};
}

float_field!(f32, f64);

/// Raw bytes as a field. `Vec<u8>` is a list of ints (msgpack array), as in Python's
/// `list[int]`; wrap bytes in this type to store a msgpack binary (Python `bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Bytes(pub Vec<u8>);

impl FieldValue for Bytes {
    fn field_type() -> FieldType {
        FieldType::Primitive(Primitive::Bytes)
    }
    fn to_value(&self) -> Value {
        Value::Bytes(self.0.clone())
    }
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        rmp::encode::write_bin(out, &self.0).expect("vec write");
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Bytes(b) => Ok(Bytes(b)),
            other => Err(wrong("bytes", &other)),
        }
    }
}

impl FieldValue for NdArray {
    fn field_type() -> FieldType {
        FieldType::ndarray()
    }
    fn to_value(&self) -> Value {
        Value::Array(self.clone())
    }
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        let len = crate::codec::encoded_array_len(self) as u32;
        rmp::encode::write_bin_len(out, len).expect("vec write");
        crate::codec::encode_array(self, out);
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Array(a) => Ok(a),
            Value::Bytes(b) => crate::codec::decode_array(&b),
            other => Err(wrong("ndarray", &other)),
        }
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn field_type() -> FieldType {
        T::field_type()
    }
    fn optional() -> bool {
        true
    }
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Nil,
        }
    }
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.encode_msgpack(out),
            None => rmp::encode::write_nil(out).expect("vec write"),
        }
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Nil => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl<T: FieldValue> FieldValue for Vec<T> {
    fn field_type() -> FieldType {
        FieldType::List(Box::new(T::field_type()))
    }
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(FieldValue::to_value).collect())
    }
    fn encode_msgpack(&self, out: &mut Vec<u8>) {
        rmp::encode::write_array_len(out, self.len() as u32).expect("vec write");
        for item in self {
            item.encode_msgpack(out);
        }
    }
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, it)| {
                    T::from_value(it).map_err(|e| match e {
                        Error::SchemaMismatch { location, reason } => Error::SchemaMismatch {
                            location,
                            reason: format!("item {i}: {reason}"),
                        },
                        other => other,
                    })
                })
                .collect(),
            other => Err(wrong("list", &other)),
        }
    }
}

/// Takes field `name` out of `sample` and converts it; used by the derive. A missing optional
/// field is None; a missing required one is an error naming it.
pub fn take_field<T: FieldValue>(sample: &mut Sample, name: &str) -> Result<T> {
    match sample.take(name) {
        Some(v) => T::from_value(v).map_err(|e| e.with_field(name)),
        None if T::optional() => T::from_value(Value::Nil),
        None => Err(Error::mismatch(format!("sample has no field '{name}'")).with_field(name)),
    }
}

/// The schema field for a Rust field of type `T`; used by the derive.
#[doc(hidden)]
pub fn __field<T: FieldValue>(name: &str) -> crate::schema::Field {
    let mut f = crate::schema::Field::new(name, T::field_type());
    f.optional = T::optional();
    f
}

/// Appends a msgpack map header for `n` fields; used by the derived `encode`.
#[doc(hidden)]
pub fn __encode_map_len(n: u32, out: &mut Vec<u8>) {
    rmp::encode::write_map_len(out, n).expect("vec write");
}

/// Appends one `name: value` pair of a sample map; used by the derived `encode`.
#[doc(hidden)]
pub fn __encode_field<T: FieldValue>(name: &str, value: &T, out: &mut Vec<u8>) {
    rmp::encode::write_str(out, name).expect("vec write");
    value.encode_msgpack(out);
}
