//! Dynamic values: what one field of a sample holds when its type is only known at run time.
//!
//! This is the model for schema-less data (`DictSample`), for the Python binding and for the
//! derive macro. The columnar batch path does not go through it: it decodes msgpack straight
//! into column buffers (see `dataset::batch`).
//!
//! Two rules about arrays live here, each in one place: [`limits`] (what any array may be, so
//! that every numpy reads it) and [`cast`] (what a write does with an array whose dtype is not
//! the one its field declares). `docs/values.md` describes both.

pub mod cast;
pub mod dtype;
pub mod limits;
pub mod ndarray;

pub use dtype::{ByteOrder, DType, Element};
pub use ndarray::NdArray;

/// One dynamically typed value, as msgpack (plus n-d arrays) can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// msgpack nil / Python `None`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float (always stored as float64).
    Float(f64),
    /// UTF-8 text.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An n-d array.
    Array(NdArray),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys, in insertion order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// Short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "ndarray",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }
}

/// A sample without a static type: field names and values in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// The fields, in the order they were written.
    pub fields: Vec<(String, Value)>,
}

impl Sample {
    /// A sample from `(name, value)` pairs.
    pub fn new(fields: Vec<(String, Value)>) -> Self {
        Sample { fields }
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Removes and returns field `name`.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(i).1)
    }
}

macro_rules! from_value {
    ($($t:ty => $e:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                let f: fn($t) -> Value = $e;
                f(v)
            }
        }
    )*};
}

from_value! {
    bool => Value::Bool,
    i64 => Value::Int,
    i32 => |v| Value::Int(v.into()),
    u32 => |v| Value::Int(v.into()),
    f64 => Value::Float,
    f32 => |v| Value::Float(v.into()),
    String => Value::Str,
    &str => |v| Value::Str(v.to_string()),
    Vec<u8> => Value::Bytes,
    NdArray => Value::Array,
}
