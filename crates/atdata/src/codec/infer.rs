//! Inferring a schema from samples written without one: the one engine, over any number of
//! samples (`atdata inspect`, `atdata add`, [`Index::insert`](crate::Index::insert) without a
//! schema).
//!
//! msgpack says str, int, float, bool, bytes, list or map, but not "n-d array": arrays travel as
//! binaries. A binary that parses as a whole compact array (or `.npy`) counts as an array; any
//! other binary is bytes. Each field's values are sketched ([`Sketch`]) and the sketches merged
//! over every sample added ([`Inference`]); [`Inference::schema`] then reads a schema off them:
//!
//! - a field missing from some samples, or None in some, is optional; a field only ever None is
//!   an optional `str` (nothing tells its type, and `str` reads back whatever arrives as None);
//! - int and float in one field make a `float` (Python writes a whole float given to a float
//!   field as an int, and a `float` field accepts both);
//! - an array field is `ndarray[dtype]`, the dtype named as schema records spell it
//!   ([`DType::name`]: `<f4` -> `float32`); its shape may vary;
//! - a list's item type is merged over every item of every sample; lists only ever empty are
//!   `list[str]`, as Python would guess;
//! - a map is `dict`;
//! - a field that mixes kinds no schema type covers (str and int, arrays of two dtypes, lists
//!   holding None) is an error naming the field, its types and the sample where each type was
//!   first seen; arrays beside binaries that do not read as arrays are taken for an array
//!   field with damaged values, and the error names the first one and why it does not read.
//!
//! Why here and not in `schema`: telling arrays from bytes needs the array decoder, and the
//! codec already depends on `schema` (it decodes with one). So dependencies point one way:
//! `value` <- `schema` <- `codec` (this module included).

use std::collections::HashMap;
use std::fmt;

use crate::codec::array::decode_array_view;
use crate::error::{Error, Location, Result};
use crate::schema::{Field, FieldType, Primitive, Schema};
use crate::value::{DType, Sample, Value};

/// Most kinds one union holds; values of further kinds are not added (the field cannot have a
/// schema type by then, and hostile data must not grow a union without bound).
const MAX_UNION: usize = 16;

/// Most places a field remembers for its error message (where each type was first seen).
const MAX_SEEN: usize = 8;

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
    /// An encoded n-d array.
    Array {
        /// numpy dtype string as stored (`<f4`).
        dtype: String,
        /// Shape; a dimension is `None` where samples disagree on it, and the whole shape is
        /// `None` when they disagree on the number of dimensions.
        shape: Option<Vec<Option<usize>>>,
    },
    /// A list; the item sketch is `None` while only empty lists were seen.
    List(Option<Box<Sketch>>),
    /// A map.
    Map,
    /// Values of several kinds (never nested, never of one member, at most a few).
    Union(Vec<Sketch>),
}

impl Sketch {
    /// The sketch of one value. Binaries that decode as compact arrays (or `.npy`) count as
    /// arrays.
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
                    shape: Some(view.shape.iter().map(|&d| Some(d)).collect()),
                },
                Err(_) => Sketch::Bytes,
            },
            Value::Array(a) => Sketch::Array {
                dtype: a.dtype().as_str().to_string(),
                shape: Some(a.shape().iter().map(|&d| Some(d)).collect()),
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

    /// The shape of an array sketch (an optional array counts too), when every sample had
    /// the same number of dimensions.
    pub fn shape(&self) -> Option<&[Option<usize>]> {
        match self {
            Sketch::Array { shape, .. } => shape.as_deref(),
            Sketch::Union(members) => {
                let mut arrays = members.iter().filter(|m| matches!(m, Sketch::Array { .. }));
                let first = arrays.next()?;
                arrays.next().is_none().then(|| first.shape()).flatten()
            }
            _ => None,
        }
    }

    /// The stored dtype text of an array sketch (an optional array counts too; with arrays of
    /// several dtypes, the first seen).
    pub fn dtype(&self) -> Option<&str> {
        match self {
            Sketch::Array { dtype, .. } => Some(dtype),
            Sketch::Union(members) => members.iter().find_map(Sketch::dtype),
            _ => None,
        }
    }

    /// Whether merging `other` into `self` leaves its kinds as they are (shapes aside): when
    /// it does not, the sample showed the field with a type not seen before.
    fn covers(&self, other: &Sketch) -> bool {
        match (self, other) {
            (_, Sketch::Union(ms)) => ms.iter().all(|m| self.covers(m)),
            (Sketch::Union(ms), o) => ms.iter().any(|m| m.covers(o)),
            (Sketch::Array { dtype: a, .. }, Sketch::Array { dtype: b, .. }) => a == b,
            (Sketch::List(_), Sketch::List(None)) => true,
            (Sketch::List(Some(a)), Sketch::List(Some(b))) => a.covers(b),
            (Sketch::List(None), Sketch::List(Some(_))) => false,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// Whether two sketches merge into one member of a union.
    fn compatible(&self, other: &Sketch) -> bool {
        match (self, other) {
            (Sketch::Array { dtype: a, .. }, Sketch::Array { dtype: b, .. }) => a == b,
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
        if members.len() < MAX_UNION {
            members.push(s);
        }
        return;
    };
    let current = std::mem::replace(slot, Sketch::Nil);
    *slot = match (current, s) {
        (Sketch::Array { dtype, shape: a }, Sketch::Array { shape: b, .. }) => Sketch::Array {
            dtype,
            shape: match (a, b) {
                (Some(a), Some(b)) if a.len() == b.len() => Some(
                    a.iter()
                        .zip(&b)
                        .map(|(x, y)| if x == y { *x } else { None })
                        .collect(),
                ),
                _ => None,
            },
        },
        (Sketch::List(a), Sketch::List(b)) => Sketch::List(match (a, b) {
            (Some(a), Some(b)) => Some(Box::new(a.merge(*b))),
            (a, b) => a.or(b),
        }),
        (same, _) => same,
    };
}

/// The schema-record name of a stored dtype text ([`DType::name`]); text that does not parse
/// stays as it is.
fn dtype_name(text: &str) -> String {
    DType::parse(text).map_or_else(|_| text.to_string(), |d| d.name())
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
    /// The type as the schema would write it, with the kinds a union mixes joined by `|` and
    /// None last (`str | None`, `ndarray[float32]`, `list[int]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sketch::Nil => f.write_str("None"),
            Sketch::Bool => f.write_str("bool"),
            Sketch::Int => f.write_str("int"),
            Sketch::Float => f.write_str("float"),
            Sketch::Str => f.write_str("str"),
            Sketch::Bytes => f.write_str("bytes"),
            Sketch::Map => f.write_str("dict"),
            Sketch::Array { dtype, .. } => write!(f, "ndarray[{}]", dtype_name(dtype)),
            Sketch::List(None) => f.write_str("list"),
            Sketch::List(Some(item)) => write!(f, "list[{item}]"),
            Sketch::Union(members) => {
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
    /// Each type the field showed, with where it was first seen (the first few).
    seen: Vec<(String, Location)>,
    /// The first binary that did not read as an array: why, and where. Beside arrays in the
    /// same field, it is a damaged array rather than bytes.
    not_array: Option<(String, Location)>,
}

impl FieldStats {
    /// A field first seen at `at` holding `value`, sketched `sketch`.
    fn new(name: &str, value: &Value, sketch: Sketch, at: impl Fn() -> Location) -> Self {
        let mut stats = FieldStats {
            name: name.to_string(),
            seen: vec![(sketch.to_string(), at())],
            sketch: Sketch::Nil,
            present: 1,
            not_array: None,
        };
        stats.note_binary(value, &sketch, at);
        stats.sketch = sketch;
        stats
    }

    /// Remembers why the first binary that is not an array is not one (decoding it again:
    /// once per field at most).
    fn note_binary(&mut self, value: &Value, sketch: &Sketch, at: impl Fn() -> Location) {
        if self.not_array.is_some() || *sketch != Sketch::Bytes {
            return;
        }
        if let Value::Bytes(b) = value {
            if let Err(e) = decode_array_view(b) {
                let why = match e {
                    Error::Corrupt { reason, .. } | Error::SchemaMismatch { reason, .. } => reason,
                    other => other.to_string(),
                };
                self.not_array = Some((why, at()));
            }
        }
    }

    /// For a field of arrays and other binaries (and None), the error of the first binary
    /// that is not a readable array, located: such a field is an array field with a damaged
    /// value, which says more than "no schema type covers ndarray | bytes".
    fn damaged_array(&self) -> Option<Error> {
        let Sketch::Union(members) = &self.sketch else {
            return None;
        };
        let mut kinds = members.iter().filter(|m| **m != Sketch::Nil);
        let arrays = match (kinds.next(), kinds.next(), kinds.next()) {
            (Some(a @ Sketch::Array { .. }), Some(Sketch::Bytes), None)
            | (Some(Sketch::Bytes), Some(a @ Sketch::Array { .. }), None) => a,
            _ => return None,
        };
        let (why, at) = self.not_array.as_ref()?;
        let mut e = Error::corrupt(format!(
            "not a readable array ({why}), where other samples hold {arrays}"
        ));
        if let Some(shard) = &at.shard {
            e = e.with_shard(shard, at.offset.unwrap_or(0));
        }
        if let Some(key) = &at.key {
            e = e.with_key(key);
        }
        if let Some(i) = at.sample {
            e = e.with_sample(i);
        }
        Some(e.with_field(&self.name))
    }

    /// Merges `sketch`, seen at `at`, remembering where a type new to the field appeared.
    fn merge(&mut self, sketch: Sketch, at: impl FnOnce() -> Location) {
        if !self.sketch.covers(&sketch) && self.seen.len() < MAX_SEEN {
            self.seen.push((sketch.to_string(), at()));
        }
        let old = std::mem::replace(&mut self.sketch, Sketch::Nil);
        self.sketch = old.merge(sketch);
    }

    /// Where each type the field showed was first seen, in order, as "T at LOCATION".
    fn seen_text(&self) -> String {
        self.seen
            .iter()
            .map(|(ty, at)| format!("{ty} first at {at}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Field types merged over any number of samples, fields in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    fields: Vec<FieldStats>,
    position: HashMap<String, usize>,
    samples: u64,
}

impl Inference {
    /// An inference that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample; errors name it by its position among the samples added (`sample #3`).
    pub fn add(&mut self, sample: &Sample) {
        let index = usize::try_from(self.samples).unwrap_or(usize::MAX);
        self.add_at(sample, || Location {
            sample: Some(index),
            ..Location::default()
        });
    }

    /// Adds one sample found at `at` (a shard, byte offset and key), which errors name.
    pub fn add_at(&mut self, sample: &Sample, at: impl Fn() -> Location) {
        self.samples += 1;
        for (name, value) in &sample.fields {
            let sketch = Sketch::of(value);
            match self
                .position
                .get(name)
                .and_then(|&i| self.fields.get_mut(i))
            {
                Some(stats) => {
                    stats.note_binary(value, &sketch, &at);
                    stats.merge(sketch, &at);
                    stats.present += 1;
                }
                None => {
                    self.position.insert(name.clone(), self.fields.len());
                    self.fields.push(FieldStats::new(name, value, sketch, &at));
                }
            }
        }
    }

    /// Adds everything another inference saw (the samples of a later shard).
    pub fn absorb(&mut self, other: Inference) {
        self.samples += other.samples;
        for stats in other.fields {
            match self
                .position
                .get(&stats.name)
                .and_then(|&i| self.fields.get_mut(i))
            {
                Some(mine) => {
                    // Types this field already showed keep their earlier place.
                    for (ty, at) in stats.seen {
                        if mine.seen.len() < MAX_SEEN && !mine.seen.iter().any(|(t, _)| *t == ty) {
                            mine.seen.push((ty, at));
                        }
                    }
                    let old = std::mem::replace(&mut mine.sketch, Sketch::Nil);
                    mine.sketch = old.merge(stats.sketch);
                    mine.present += stats.present;
                    mine.not_array = mine.not_array.take().or(stats.not_array);
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

    /// Whether `field` is optional in the schema: missing from some sample, or ever None.
    pub fn optional(&self, field: &FieldStats) -> bool {
        let none_seen = match &field.sketch {
            Sketch::Nil => true,
            Sketch::Union(members) => members.contains(&Sketch::Nil),
            _ => false,
        };
        none_seen || field.present < self.samples
    }

    /// A schema named `name` (version `1.0.0`) that every sample seen fits: a field missing
    /// from some samples or ever None is optional (see the module docs for the types). A
    /// field that mixes kinds no schema type covers is a [`Error::SchemaMismatch`] naming the
    /// field, its types and where each was first seen, except arrays beside binaries that are
    /// not readable arrays: an [`Error::Corrupt`] naming the first such value and why it
    /// does not read. No samples at all is an [`Error::InvalidArgument`].
    pub fn schema(&self, name: &str) -> Result<Schema> {
        if self.samples == 0 {
            return Err(Error::invalid(format!(
                "cannot infer a schema for {name} from no samples"
            )));
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            if let Some(e) = f.damaged_array() {
                return Err(e);
            }
            let (ty, _) = field_type(&f.sketch).map_err(|why| {
                Error::mismatch(format!(
                    "cannot infer one schema type: {why} ({})",
                    f.seen_text()
                ))
                .with_field(&f.name)
            })?;
            fields.push(Field {
                name: f.name.clone(),
                ty,
                optional: self.optional(f),
            });
        }
        let mut schema = Schema::new(name, fields);
        let plural = if self.samples == 1 { "" } else { "s" };
        schema.description = Some(format!("Inferred from {} sample{plural}.", self.samples));
        Ok(schema)
    }
}

/// The schema, named `name`, that every one of `samples` fits (see [`Inference::schema`]).
pub fn infer_schema<'a>(
    name: &str,
    samples: impl IntoIterator<Item = &'a Sample>,
) -> Result<Schema> {
    let mut inference = Inference::new();
    for s in samples {
        inference.add(s);
    }
    inference.schema(name)
}

/// The schema type of a sketch and whether None was seen, or why there is none.
fn field_type(s: &Sketch) -> std::result::Result<(FieldType, bool), String> {
    match s {
        Sketch::Nil => Ok((FieldType::Primitive(Primitive::Str), true)),
        Sketch::Union(members) => {
            let nullable = members.contains(&Sketch::Nil);
            let rest: Vec<&Sketch> = members.iter().filter(|m| **m != Sketch::Nil).collect();
            let ty = match rest.as_slice() {
                [one] => base_type(one)?,
                [a, b] if is_number_pair(a, b) => FieldType::Primitive(Primitive::Float),
                _ => return Err(format!("no schema type covers {s}")),
            };
            Ok((ty, nullable))
        }
        other => Ok((base_type(other)?, false)),
    }
}

fn is_number_pair(a: &Sketch, b: &Sketch) -> bool {
    matches!(
        (a, b),
        (Sketch::Int, Sketch::Float) | (Sketch::Float, Sketch::Int)
    )
}

fn base_type(s: &Sketch) -> std::result::Result<FieldType, String> {
    Ok(match s {
        Sketch::Bool => FieldType::Primitive(Primitive::Bool),
        Sketch::Int => FieldType::Primitive(Primitive::Int),
        Sketch::Float => FieldType::Primitive(Primitive::Float),
        Sketch::Str => FieldType::Primitive(Primitive::Str),
        Sketch::Bytes => FieldType::Primitive(Primitive::Bytes),
        Sketch::Array { dtype, .. } => FieldType::ndarray_of(&dtype_name(dtype)),
        Sketch::List(None) => FieldType::List(Box::new(FieldType::Primitive(Primitive::Str))),
        Sketch::List(Some(item)) => {
            match field_type(item).map_err(|why| format!("{why}, in {s}"))? {
                (_, true) => return Err(format!("{s} holds None items, which no schema list can")),
                (ty, false) => FieldType::List(Box::new(ty)),
            }
        }
        Sketch::Map => FieldType::dict(),
        Sketch::Nil | Sketch::Union(_) => return Err(format!("no schema type covers {s}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_sample, encode_array, encode_sample};
    use crate::value::NdArray;

    fn array_bytes(shape: Vec<usize>, values: Vec<f32>) -> Value {
        let mut out = Vec::new();
        encode_array(&NdArray::from_vec(shape, values).unwrap(), &mut out);
        Value::Bytes(out)
    }

    fn sample(fields: Vec<(&str, Value)>) -> Sample {
        Sample::new(
            fields
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
        )
    }

    #[test]
    fn every_kind_from_one_encoded_sample() {
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
                ("ids", Value::List(vec![Value::Int(2), Value::Int(1)])),
                ("empty", Value::List(vec![])),
                ("maybe", Value::Nil),
                ("meta", Value::Map(vec![("k".into(), Value::Int(1))])),
            ],
            &mut buf,
        );
        let s = infer_schema("Docs", [&decode_sample(&buf, None).unwrap()]).unwrap();
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
        assert_eq!(ty("meta"), FieldType::dict());
        assert!(s.field("maybe").unwrap().optional);
        assert!(!s.field("text").unwrap().optional);
        assert_eq!(s.fields.len(), 11);
        assert_eq!(s.fields[0].name, "text", "field order kept");
        assert_eq!(s.description.as_deref(), Some("Inferred from 1 sample."));
        // The record round-trips.
        assert!(Schema::from_json(&s.to_json()).unwrap().same_structure(&s));
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
        assert_eq!(m.dtype(), Some("<f4"));
        assert_eq!(shape_text(m.shape().unwrap()), "(?, 3)");
        // Another number of dimensions: still one array type, of no one shape.
        let c = m.merge(Sketch::of(&array_bytes(vec![2], vec![0.0; 2])));
        assert_eq!(c.to_string(), "ndarray[float32]");
        assert_eq!(c.shape(), None);
        assert_eq!(shape_text(&[Some(128)]), "(128,)");
        assert_eq!(shape_text(&[]), "()");
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
    fn inference_counts_presence() {
        let mut inf = Inference::new();
        inf.add(&sample(vec![("a", Value::Int(1))]));
        inf.add(&sample(vec![("a", Value::Int(2)), ("b", Value::from("x"))]));
        let fields = inf.fields();
        assert_eq!(inf.samples(), 2);
        assert_eq!((fields[0].name.as_str(), fields[0].present), ("a", 2));
        assert_eq!((fields[1].name.as_str(), fields[1].present), ("b", 1));
    }

    #[test]
    fn a_first_sample_unlike_the_others_does_not_decide_the_schema() {
        let samples = [
            sample(vec![
                ("ids", Value::List(vec![])),
                ("x", Value::Int(1)),
                ("maybe", Value::Nil),
                ("vec", array_bytes(vec![2], vec![0.0; 2])),
            ]),
            sample(vec![
                ("ids", Value::List(vec![Value::Int(3)])),
                ("x", Value::Float(0.5)),
                ("maybe", Value::from("s")),
                ("vec", array_bytes(vec![3], vec![0.0; 3])),
                ("late", Value::Bool(true)),
            ]),
        ];
        let s = infer_schema("T", &samples).unwrap();
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
        assert_eq!(s.description.as_deref(), Some("Inferred from 2 samples."));
        // Every sample fits the schema it gave.
        for smp in &samples {
            let mut buf = Vec::new();
            encode_sample(&smp.fields, &mut buf);
            let back = decode_sample(&buf, Some(&s)).unwrap();
            crate::codec::validate_sample(&back.fields, &s).unwrap();
        }
    }

    #[test]
    fn mixed_kinds_name_the_field_its_types_and_where_each_was_first_seen() {
        let mut inf = Inference::new();
        inf.add(&sample(vec![("label", Value::from("cat"))]));
        inf.add(&sample(vec![("label", Value::from("dog"))]));
        inf.add_at(&sample(vec![("label", Value::Int(3))]), || Location {
            shard: Some("/d/b.tar".into()),
            offset: Some(1536),
            key: Some("s7".into()),
            ..Location::default()
        });
        let e = inf.schema("T").unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
        let msg = e.to_string();
        for part in [
            "field 'label'",
            "str | int",
            "str first at sample #0",
            "int first at shard '/d/b.tar', byte offset 1536, sample key 's7'",
        ] {
            assert!(msg.contains(part), "{part} in {msg}");
        }
    }

    #[test]
    fn what_no_schema_type_covers() {
        let cases: Vec<(Vec<Value>, &str)> = vec![
            (
                vec![Value::Bytes(b"x".to_vec()), array_bytes(vec![1], vec![0.0])],
                "not a readable array",
            ),
            (
                vec![Value::List(vec![Value::Nil, Value::Int(1)])],
                "holds None items",
            ),
            (
                vec![
                    Value::List(vec![Value::Int(1)]),
                    Value::List(vec![Value::from("a")]),
                ],
                "list[int | str]",
            ),
        ];
        for (values, want) in cases {
            let samples: Vec<Sample> = values.into_iter().map(|v| sample(vec![("f", v)])).collect();
            let e = infer_schema("T", &samples).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("field 'f'"), "{want}: {e}");
        }
        let e = Inference::new().schema("T").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }

    #[test]
    fn unions_stay_small_whatever_the_input() {
        let mut inf = Inference::new();
        for i in 0..100 {
            // A new dtype each time: bytes-sized arrays of distinct string widths.
            let a = NdArray::new(
                DType::parse(&format!("|S{}", i + 1)).unwrap(),
                vec![1],
                vec![b'a'; i + 1],
            )
            .unwrap();
            inf.add(&sample(vec![("f", Value::Array(a))]));
        }
        match &inf.fields()[0].sketch {
            Sketch::Union(m) => assert_eq!(m.len(), MAX_UNION),
            other => panic!("{other:?}"),
        }
        assert!(inf.fields()[0].seen.len() <= MAX_SEEN);
        assert!(inf.schema("T").is_err());
    }

    #[test]
    fn absorbing_a_later_shard_is_adding_its_samples() {
        let all = [
            sample(vec![("a", Value::Int(1))]),
            sample(vec![("a", Value::Nil), ("b", Value::Float(1.0))]),
            sample(vec![("a", Value::Int(2)), ("b", Value::Int(1))]),
        ];
        let mut one = Inference::new();
        all.iter().for_each(|s| one.add(s));
        let mut first = Inference::new();
        first.add(&all[0]);
        let mut rest = Inference::new();
        all[1..].iter().for_each(|s| rest.add(s));
        first.absorb(rest);
        assert_eq!(first.samples(), 3);
        assert_eq!(first.schema("T").unwrap(), one.schema("T").unwrap());
    }
}
