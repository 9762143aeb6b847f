//! Field types inferred from schema-less samples, for `inspect`.
//!
//! Shards carry no schema: a msgpack map says `str`, `int`, `bin`... and nothing more. We decode
//! each sample without one, recognise binaries that hold the compact array encoding as arrays,
//! and merge what every sample shows into one sketch per field (`str | None`, `ndarray[float32]`
//! with the dimensions that never vary, `list[int]`).

use std::collections::HashMap;
use std::fmt;

use atdata::codec::decode_array_view;
use atdata::{DType, Field, FieldType, Primitive, Sample, Schema, Value};

/// What the values of one field looked like, merged over samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Sketch {
    /// `None` / msgpack nil.
    Nil,
    /// Boolean.
    Bool,
    /// Integer.
    Int,
    /// Float.
    Float,
    /// Text.
    Str,
    /// Bytes that are not an encoded array.
    Bytes,
    /// An encoded n-d array: its dtype text and shape (`None` where samples differ).
    Array {
        /// numpy dtype string as stored (`<f4`).
        dtype: String,
        /// Shape; a dimension is `None` when samples disagree on it.
        shape: Vec<Option<usize>>,
    },
    /// A list; the item sketch is `None` while only empty lists were seen.
    List(Option<Box<Sketch>>),
    /// A map.
    Map,
    /// Values of several kinds (never nested, never of one member).
    Union(Vec<Sketch>),
}

impl Sketch {
    /// The sketch of one value. Binaries that decode as compact arrays count as arrays.
    pub fn of(value: &Value) -> Sketch {
        match value {
            Value::Nil => Sketch::Nil,
            Value::Bool(_) => Sketch::Bool,
            Value::Int(_) | Value::UInt(_) => Sketch::Int,
            Value::Float(_) => Sketch::Float,
            Value::Str(_) => Sketch::Str,
            Value::Bytes(b) => match decode_array_view(b) {
                Ok(view) => Sketch::Array {
                    dtype: view.dtype.to_string(),
                    shape: view.shape.iter().map(|&d| Some(d)).collect(),
                },
                Err(_) => Sketch::Bytes,
            },
            Value::Array(a) => Sketch::Array {
                dtype: a.dtype().as_str().to_string(),
                shape: a.shape().iter().map(|&d| Some(d)).collect(),
            },
            Value::List(items) => Sketch::List(
                items
                    .iter()
                    .map(Sketch::of)
                    .reduce(Sketch::merge)
                    .map(Box::new),
            ),
            Value::Map(_) => Sketch::Map,
        }
    }

    /// The sketch covering both `self` and `other`.
    pub fn merge(self, other: Sketch) -> Sketch {
        let mut members = Vec::new();
        absorb(&mut members, self);
        absorb(&mut members, other);
        if members.len() == 1 {
            members.pop().unwrap_or(Sketch::Nil)
        } else {
            Sketch::Union(members)
        }
    }

    /// The shape of an array sketch (an optional array counts too).
    pub fn shape(&self) -> Option<&[Option<usize>]> {
        match self {
            Sketch::Array { shape, .. } => Some(shape),
            Sketch::Union(members) => {
                let mut arrays = members.iter().filter_map(Sketch::shape);
                let first = arrays.next()?;
                arrays.next().is_none().then_some(first)
            }
            _ => None,
        }
    }

    /// Whether two sketches can merge into one member of a union.
    fn compatible(&self, other: &Sketch) -> bool {
        match (self, other) {
            (
                Sketch::Array {
                    dtype: a,
                    shape: sa,
                },
                Sketch::Array {
                    dtype: b,
                    shape: sb,
                },
            ) => a == b && sa.len() == sb.len(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

/// Adds `s` to a list of union members, merging it into a compatible member when there is one.
fn absorb(members: &mut Vec<Sketch>, s: Sketch) {
    if let Sketch::Union(inner) = s {
        for m in inner {
            absorb(members, m);
        }
        return;
    }
    let Some(slot) = members.iter_mut().find(|m| m.compatible(&s)) else {
        members.push(s);
        return;
    };
    let current = std::mem::replace(slot, Sketch::Nil);
    *slot = match (current, s) {
        (Sketch::Array { dtype, shape: a }, Sketch::Array { shape: b, .. }) => Sketch::Array {
            dtype,
            shape: a
                .iter()
                .zip(&b)
                .map(|(x, y)| if x == y { *x } else { None })
                .collect(),
        },
        (Sketch::List(a), Sketch::List(b)) => Sketch::List(match (a, b) {
            (Some(a), Some(b)) => Some(Box::new(a.merge(*b))),
            (a, b) => a.or(b),
        }),
        (same, _) => same,
    };
}

/// numpy's name for a dtype string: `<f4` -> `float32`, `|b1` -> `bool`. Dtypes without a
/// simple name (big-endian, strings, datetimes) keep their text.
pub fn dtype_name(text: &str) -> String {
    let Ok(d) = DType::parse(text) else {
        return text.to_string();
    };
    if d.order() == atdata::value::ByteOrder::Big && d.itemsize() > 1 {
        return text.to_string();
    }
    let bits = d.itemsize() * 8;
    match d.kind() {
        'f' => format!("float{bits}"),
        'i' => format!("int{bits}"),
        'u' => format!("uint{bits}"),
        'c' => format!("complex{bits}"),
        'b' => "bool".to_string(),
        _ => text.to_string(),
    }
}

/// A shape as Python prints it: `(128,)`, `(2, 3)`, `()`; unknown dimensions are `?`.
pub fn shape_text(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "?".to_string(), |n| n.to_string()))
        .collect();
    match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    }
}

impl fmt::Display for Sketch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sketch::Nil => f.write_str("None"),
            Sketch::Bool => f.write_str("bool"),
            Sketch::Int => f.write_str("int"),
            Sketch::Float => f.write_str("float"),
            Sketch::Str => f.write_str("str"),
            Sketch::Bytes => f.write_str("bytes"),
            Sketch::Map => f.write_str("map"),
            Sketch::Array { dtype, .. } => write!(f, "ndarray[{}]", dtype_name(dtype)),
            Sketch::List(None) => f.write_str("list"),
            Sketch::List(Some(item)) => write!(f, "list[{item}]"),
            Sketch::Union(members) => {
                // None goes last, as in `str | None`.
                let mut parts: Vec<String> = members
                    .iter()
                    .filter(|m| **m != Sketch::Nil)
                    .map(|m| m.to_string())
                    .collect();
                if members.contains(&Sketch::Nil) {
                    parts.push("None".to_string());
                }
                f.write_str(&parts.join(" | "))
            }
        }
    }
}

/// What one field looked like over the samples seen.
#[derive(Debug, Clone)]
pub struct FieldStats {
    /// Field name.
    pub name: String,
    /// Merged sketch of its values.
    pub sketch: Sketch,
    /// Samples that had the field.
    pub present: u64,
}

/// Field statistics over many samples, fields in order of first appearance.
#[derive(Debug, Default)]
pub struct Inference {
    fields: Vec<FieldStats>,
    position: HashMap<String, usize>,
    samples: u64,
}

impl Inference {
    /// Adds one sample.
    pub fn add(&mut self, sample: &Sample) {
        self.samples += 1;
        for (name, value) in &sample.fields {
            let sketch = Sketch::of(value);
            match self
                .position
                .get(name)
                .and_then(|&i| self.fields.get_mut(i))
            {
                Some(stats) => {
                    let old = std::mem::replace(&mut stats.sketch, Sketch::Nil);
                    stats.sketch = old.merge(sketch);
                    stats.present += 1;
                }
                None => {
                    self.position.insert(name.clone(), self.fields.len());
                    self.fields.push(FieldStats {
                        name: name.clone(),
                        sketch,
                        present: 1,
                    });
                }
            }
        }
    }

    /// Adds everything another inference saw (samples of a later shard).
    pub fn absorb(&mut self, other: Inference) {
        self.samples += other.samples;
        for stats in other.fields {
            match self
                .position
                .get(&stats.name)
                .and_then(|&i| self.fields.get_mut(i))
            {
                Some(mine) => {
                    let old = std::mem::replace(&mut mine.sketch, Sketch::Nil);
                    mine.sketch = old.merge(stats.sketch);
                    mine.present += stats.present;
                }
                None => {
                    self.position.insert(stats.name.clone(), self.fields.len());
                    self.fields.push(stats);
                }
            }
        }
    }

    /// Samples seen.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The fields, in order of first appearance.
    pub fn fields(&self) -> &[FieldStats] {
        &self.fields
    }

    /// A schema every sample seen fits, named `name`: a field missing from some samples or
    /// ever None is optional. `None` when a field mixes kinds no schema type covers (say str
    /// and int), or when no sample was seen.
    pub fn schema(&self, name: &str) -> Option<Schema> {
        if self.samples == 0 {
            return None;
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let (ty, nullable) = field_type(&f.sketch)?;
            fields.push(Field {
                name: f.name.clone(),
                ty,
                optional: nullable || f.present < self.samples,
            });
        }
        let mut schema = Schema::new(name, fields);
        schema.description = Some(format!("Inferred from {} samples.", self.samples));
        Some(schema)
    }
}

/// The schema type of a sketch and whether None was seen. A field only ever None is an
/// optional `str`: nothing tells its type, and `str` reads back whatever arrives as None.
fn field_type(s: &Sketch) -> Option<(FieldType, bool)> {
    match s {
        Sketch::Nil => Some((FieldType::Primitive(Primitive::Str), true)),
        Sketch::Union(members) => {
            let nullable = members.contains(&Sketch::Nil);
            let rest: Vec<&Sketch> = members.iter().filter(|m| **m != Sketch::Nil).collect();
            let ty = match rest.as_slice() {
                [one] => base_type(one)?,
                // Python writes a whole float such as `2` given to a float field as an int;
                // a `float` field accepts both.
                [a, b] if is_number_pair(a, b) => FieldType::Primitive(Primitive::Float),
                _ => return None,
            };
            Some((ty, nullable))
        }
        other => Some((base_type(other)?, false)),
    }
}

fn is_number_pair(a: &Sketch, b: &Sketch) -> bool {
    matches!(
        (a, b),
        (Sketch::Int, Sketch::Float) | (Sketch::Float, Sketch::Int)
    )
}

fn base_type(s: &Sketch) -> Option<FieldType> {
    Some(match s {
        Sketch::Bool => FieldType::Primitive(Primitive::Bool),
        Sketch::Int => FieldType::Primitive(Primitive::Int),
        Sketch::Float => FieldType::Primitive(Primitive::Float),
        Sketch::Str => FieldType::Primitive(Primitive::Str),
        Sketch::Bytes => FieldType::Primitive(Primitive::Bytes),
        Sketch::Array { dtype, .. } => FieldType::ndarray_of(&dtype_name(dtype)),
        // Only empty lists seen: any item type fits; `str` is what Python would guess.
        Sketch::List(None) => FieldType::List(Box::new(FieldType::Primitive(Primitive::Str))),
        Sketch::List(Some(item)) => match field_type(item)? {
            // A list item cannot be None in a schema.
            (_, true) => return None,
            (ty, false) => FieldType::List(Box::new(ty)),
        },
        Sketch::Map => FieldType::Other("dict".to_string()),
        Sketch::Nil | Sketch::Union(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atdata::codec::encode_array;
    use atdata::NdArray;

    fn array_bytes(shape: Vec<usize>, values: Vec<f32>) -> Value {
        let mut out = Vec::new();
        encode_array(&NdArray::from_vec(shape, values).unwrap(), &mut out);
        Value::Bytes(out)
    }

    #[test]
    fn scalars_and_optional() {
        let s = Sketch::of(&Value::Str("a".into())).merge(Sketch::of(&Value::Nil));
        assert_eq!(s.to_string(), "str | None");
        let s = Sketch::of(&Value::Nil).merge(Sketch::of(&Value::Int(1)));
        assert_eq!(s.to_string(), "int | None");
        let s = Sketch::of(&Value::Int(1)).merge(Sketch::of(&Value::UInt(u64::MAX)));
        assert_eq!(s.to_string(), "int");
    }

    #[test]
    fn arrays_keep_the_dimensions_that_agree() {
        let a = Sketch::of(&array_bytes(vec![2, 3], vec![0.0; 6]));
        let b = Sketch::of(&array_bytes(vec![4, 3], vec![0.0; 12]));
        let m = a.merge(b);
        assert_eq!(m.to_string(), "ndarray[float32]");
        assert_eq!(m.shape(), Some(&[None, Some(3)][..]));
        assert_eq!(shape_text(m.shape().unwrap()), "(?, 3)");
    }

    #[test]
    fn plain_bytes_stay_bytes() {
        assert_eq!(Sketch::of(&Value::Bytes(b"hello".to_vec())), Sketch::Bytes);
        assert_eq!(Sketch::of(&Value::Bytes(Vec::new())), Sketch::Bytes);
    }

    #[test]
    fn lists_merge_their_items() {
        let a = Sketch::of(&Value::List(vec![Value::Int(1), Value::Int(2)]));
        let b = Sketch::of(&Value::List(vec![]));
        assert_eq!(a.clone().merge(b).to_string(), "list[int]");
        let c = Sketch::of(&Value::List(vec![Value::Str("x".into())]));
        assert_eq!(a.merge(c).to_string(), "list[int | str]");
    }

    #[test]
    fn dtype_names() {
        assert_eq!(dtype_name("<f4"), "float32");
        assert_eq!(dtype_name("|u1"), "uint8");
        assert_eq!(dtype_name("|b1"), "bool");
        assert_eq!(dtype_name(">i2"), ">i2");
        assert_eq!(dtype_name("<U3"), "<U3");
        assert_eq!(shape_text(&[Some(128)]), "(128,)");
        assert_eq!(shape_text(&[]), "()");
    }

    #[test]
    fn inference_counts_presence() {
        let mut inf = Inference::default();
        inf.add(&Sample::new(vec![("a".into(), Value::Int(1))]));
        inf.add(&Sample::new(vec![
            ("a".into(), Value::Int(2)),
            ("b".into(), Value::Str("x".into())),
        ]));
        let fields = inf.fields();
        assert_eq!(inf.samples(), 2);
        assert_eq!((fields[0].name.as_str(), fields[0].present), ("a", 2));
        assert_eq!((fields[1].name.as_str(), fields[1].present), ("b", 1));
    }

    #[test]
    fn schema_from_every_sample() {
        let mut inf = Inference::default();
        inf.add(&Sample::new(vec![
            ("ids".into(), Value::List(vec![])),
            ("x".into(), Value::Int(1)),
            ("maybe".into(), Value::Nil),
            ("vec".into(), array_bytes(vec![2], vec![0.0; 2])),
        ]));
        inf.add(&Sample::new(vec![
            ("ids".into(), Value::List(vec![Value::Int(3)])),
            ("x".into(), Value::Float(0.5)),
            ("maybe".into(), Value::Str("s".into())),
            ("vec".into(), array_bytes(vec![3], vec![0.0; 3])),
            ("late".into(), Value::Bool(true)),
        ]));
        let s = inf.schema("T").unwrap();
        let shown: Vec<String> = s
            .fields
            .iter()
            .map(|f| format!("{}:{}:{}", f.name, f.ty, f.optional))
            .collect();
        assert_eq!(
            shown,
            [
                "ids:list[int]:false",
                "x:float:false",
                "maybe:str:true",
                "vec:ndarray[float32]:false",
                "late:bool:true"
            ]
        );
        inf.add(&Sample::new(vec![("x".into(), Value::Str("no".into()))]));
        assert!(inf.schema("T").is_none(), "str and numbers do not mix");
        assert!(Inference::default().schema("T").is_none());
    }
}
