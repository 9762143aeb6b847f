//! Sample schemas: field types, schema records (docs/FORMAT.md section 5) and schema references.
//!
//! A schema is what lets a reader rebuild a sample type it has never seen: the index stores one
//! record per (name, version) and every dataset entry points at one by reference.
//!
//! This layer depends on nothing but `value` and `error`: the codec decodes with a schema, so
//! inferring a schema from encoded samples lives above it, in [`crate::codec::infer`].

mod record;
mod reference;

pub use reference::SchemaRef;

use std::fmt;

/// A primitive field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// UTF-8 text.
    Str,
    /// Integer.
    Int,
    /// Float (stored as float64).
    Float,
    /// Boolean.
    Bool,
    /// Raw bytes.
    Bytes,
}

impl Primitive {
    /// The schema-record spelling (`str`, `int`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Primitive::Str => "str",
            Primitive::Int => "int",
            Primitive::Float => "float",
            Primitive::Bool => "bool",
            Primitive::Bytes => "bytes",
        }
    }

    /// Parses the schema-record spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "str" => Primitive::Str,
            "int" => Primitive::Int,
            "float" => Primitive::Float,
            "bool" => Primitive::Bool,
            "bytes" => Primitive::Bytes,
            _ => return None,
        })
    }
}

/// The type of one field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A primitive.
    Primitive(Primitive),
    /// An n-d array. `dtype` is the record's dtype text when the schema fixes one.
    NdArray {
        /// Element dtype as written in the record (`float32`, `<f4`), if fixed.
        dtype: Option<String>,
        /// Fixed shape, if the schema gives one (`None` entries are free dimensions).
        shape: Option<Vec<Option<u64>>>,
        /// Names of the dimensions, if given.
        dimension_names: Option<Vec<String>>,
    },
    /// A list of items of one type.
    List(Box<FieldType>),
    /// A reference to another schema (nested sample), kept as its reference text.
    Ref(String),
    /// A kind this version does not interpret (`dataframe`, `sparse`, ...): values of it are
    /// read and written as they are.
    Other(String),
}

impl FieldType {
    /// An n-d array field with no fixed dtype or shape.
    pub fn ndarray() -> Self {
        FieldType::NdArray {
            dtype: None,
            shape: None,
            dimension_names: None,
        }
    }

    /// An n-d array field with a fixed dtype.
    pub fn ndarray_of(dtype: &str) -> Self {
        FieldType::NdArray {
            dtype: Some(dtype.to_string()),
            shape: None,
            dimension_names: None,
        }
    }

    /// True for n-d array fields.
    pub fn is_ndarray(&self) -> bool {
        matches!(self, FieldType::NdArray { .. })
    }

    /// The kind name of a map field (`{"$type": "local#dict"}`): a msgpack map with string
    /// keys and values of any kind. Python atdata 0.7 has no schema kind for `dict` fields (it
    /// refuses them in a schema record, and its readers refuse a kind they do not know), so
    /// this is ours; it is an [`FieldType::Other`] kind so that every reader that predates it
    /// keeps passing its values through untouched.
    pub const DICT: &'static str = "dict";

    /// A map field (see [`FieldType::DICT`]).
    pub fn dict() -> Self {
        FieldType::Other(Self::DICT.to_string())
    }

    /// True for map fields.
    pub fn is_dict(&self) -> bool {
        matches!(self, FieldType::Other(k) if k == Self::DICT)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::Primitive(p) => f.write_str(p.as_str()),
            FieldType::NdArray { dtype, shape, .. } => {
                f.write_str("ndarray")?;
                if let Some(d) = dtype {
                    write!(f, "[{d}]")?;
                }
                if let Some(s) = shape {
                    let dims: Vec<String> = s
                        .iter()
                        .map(|d| d.map_or("?".to_string(), |n| n.to_string()))
                        .collect();
                    write!(f, "({})", dims.join(", "))?;
                }
                Ok(())
            }
            FieldType::List(t) => write!(f, "list[{t}]"),
            FieldType::Ref(r) => write!(f, "ref({r})"),
            FieldType::Other(k) => f.write_str(k),
        }
    }
}

/// One named field of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: FieldType,
    /// Whether the value may be None.
    pub optional: bool,
}

impl Field {
    /// A required field.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        Field {
            name: name.into(),
            ty,
            optional: false,
        }
    }

    /// An optional field.
    pub fn optional(name: impl Into<String>, ty: FieldType) -> Self {
        Field {
            name: name.into(),
            ty,
            optional: true,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional {
            write!(f, "{} | None", self.ty)
        } else {
            write!(f, "{}", self.ty)
        }
    }
}

/// A sample schema: a named, versioned list of fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Type name (`TextSample`).
    pub name: String,
    /// Semantic version (`1.0.0`).
    pub version: String,
    /// Fields in order.
    pub fields: Vec<Field>,
    /// Free-text description (the Python class docstring).
    pub description: Option<String>,
    /// Creation time, RFC 3339, as stored.
    pub created_at: Option<String>,
}

impl Schema {
    /// A schema at version `1.0.0` with no description.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Schema {
            name: name.into(),
            version: "1.0.0".to_string(),
            fields,
            description: None,
            created_at: None,
        }
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether two schemas describe the same structure (name and fields), whatever their
    /// version, description or creation time.
    pub fn same_structure(&self, other: &Schema) -> bool {
        self.name == other.name && self.fields == other.fields
    }

    /// This schema's reference, `atdata://local/schema/{name}@{version}`.
    pub fn reference(&self) -> SchemaRef {
        SchemaRef::local(&self.name, &self.version)
    }
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

/// The next version after `version` when a structure changes: the major number goes up
/// (`1.0.0` -> `2.0.0`), since readers of the old structure cannot read the new one.
pub fn next_major_version(version: &str) -> String {
    let major: u64 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    format!("{}.0.0", major + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_datasets_are_python_identifiers() {
        assert_eq!(schema_name_for("docs-v1"), "DocsV1");
        assert_eq!(schema_name_for("my_data.set"), "MyDataSet");
        assert_eq!(schema_name_for("3d-points"), "Sample3dPoints");
        assert_eq!(schema_name_for("数据"), "Sample");
    }

    #[test]
    fn structure_ignores_metadata() {
        let a = Schema::new(
            "T",
            vec![Field::new("x", FieldType::Primitive(Primitive::Int))],
        );
        let mut b = a.clone();
        b.version = "2.0.0".into();
        b.description = Some("doc".into());
        assert!(a.same_structure(&b));
        b.fields[0].optional = true;
        assert!(!a.same_structure(&b));
    }

    #[test]
    fn versions_bump_major() {
        assert_eq!(next_major_version("1.0.0"), "2.0.0");
        assert_eq!(next_major_version("9.3.1"), "10.0.0");
        assert_eq!(next_major_version("junk"), "1.0.0");
    }

    #[test]
    fn field_type_display() {
        let t = FieldType::List(Box::new(FieldType::ndarray_of("float32")));
        assert_eq!(t.to_string(), "list[ndarray[float32]]");
    }
}
