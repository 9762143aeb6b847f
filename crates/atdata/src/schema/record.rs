//! Schema records as JSON text (docs/FORMAT.md section 5), the form the index stores.

use serde_json::{json, Map, Value as Json};

use crate::error::{Error, Result};
use crate::schema::{Field, FieldType, Primitive, Schema};

impl Schema {
    /// Parses a schema record. Unknown keys are ignored; a missing `optional` means false.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Json = serde_json::from_str(text)
            .map_err(|e| Error::corrupt(format!("schema record is not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::corrupt("schema record is not a JSON object"))?;
        let name =
            str_key(obj, "name")?.ok_or_else(|| Error::corrupt("schema record has no name"))?;
        let version = str_key(obj, "version")?.unwrap_or_else(|| "1.0.0".to_string());
        let fields_json = obj
            .get("fields")
            .and_then(Json::as_array)
            .ok_or_else(|| Error::corrupt(format!("schema record '{name}' has no fields list")))?;
        let mut fields = Vec::with_capacity(fields_json.len());
        for (i, f) in fields_json.iter().enumerate() {
            let fo = f.as_object().ok_or_else(|| {
                Error::corrupt(format!("schema '{name}': field #{i} is not an object"))
            })?;
            let fname = str_key(fo, "name")?.ok_or_else(|| {
                Error::corrupt(format!("schema '{name}': field #{i} has no name"))
            })?;
            let ty = fo
                .get("fieldType")
                .ok_or_else(|| {
                    Error::corrupt(format!("schema '{name}': field '{fname}' has no fieldType"))
                })
                .and_then(|t| field_type_from_json(t, 0))
                .map_err(|e| match e {
                    Error::Corrupt { reason, .. } => {
                        Error::corrupt(format!("schema '{name}', field '{fname}': {reason}"))
                    }
                    other => other,
                })?;
            let optional = fo.get("optional").and_then(Json::as_bool).unwrap_or(false);
            fields.push(Field {
                name: fname,
                ty,
                optional,
            });
        }
        Ok(Schema {
            name,
            version,
            fields,
            description: str_key(obj, "description")?,
            created_at: str_key(obj, "createdAt")?,
        })
    }

    /// The schema record as compact JSON text, keys in alphabetical order (0.7 orders and spaces
    /// them otherwise: readers parse the JSON, never compare text; docs/FORMAT.md section 5).
    pub fn to_json(&self) -> String {
        let fields: Vec<Json> = self
            .fields
            .iter()
            .map(|f| {
                json!({
                    "name": f.name,
                    "fieldType": field_type_to_json(&f.ty),
                    "optional": f.optional,
                })
            })
            .collect();
        let mut m = Map::new();
        m.insert("name".into(), Json::from(self.name.clone()));
        m.insert("version".into(), Json::from(self.version.clone()));
        m.insert("fields".into(), Json::from(fields));
        m.insert(
            "description".into(),
            self.description.clone().map_or(Json::Null, Json::from),
        );
        if let Some(c) = &self.created_at {
            m.insert("createdAt".into(), Json::from(c.clone()));
        }
        Json::Object(m).to_string()
    }
}

fn str_key(obj: &Map<String, Json>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::corrupt(format!(
            "schema key '{key}' is not a string"
        ))),
    }
}

fn field_type_from_json(v: &Json, depth: usize) -> Result<FieldType> {
    if depth > 32 {
        return Err(Error::corrupt("fieldType nests too deeply"));
    }
    let o = v
        .as_object()
        .ok_or_else(|| Error::corrupt("fieldType is not an object"))?;
    let kind = match o.get("$type").and_then(Json::as_str) {
        Some(t) => t.rsplit('#').next().unwrap_or(t).to_string(),
        None => o
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or("primitive")
            .to_string(),
    };
    Ok(match kind.as_str() {
        "primitive" => {
            let p = o.get("primitive").and_then(Json::as_str).unwrap_or("");
            FieldType::Primitive(
                Primitive::parse(p)
                    .ok_or_else(|| Error::corrupt(format!("unknown primitive '{p}'")))?,
            )
        }
        "ndarray" | "structured" => FieldType::NdArray {
            dtype: o.get("dtype").and_then(Json::as_str).map(str::to_string),
            shape: o
                .get("shape")
                .and_then(Json::as_array)
                .map(|dims| dims.iter().map(Json::as_u64).collect::<Vec<Option<u64>>>()),
            dimension_names: o.get("dimensionNames").and_then(Json::as_array).map(|n| {
                n.iter()
                    .map(|s| s.as_str().unwrap_or_default().to_string())
                    .collect()
            }),
        },
        "array" => match o.get("items") {
            Some(items) if !items.is_null() => {
                FieldType::List(Box::new(field_type_from_json(items, depth + 1)?))
            }
            _ => FieldType::List(Box::new(FieldType::Primitive(Primitive::Str))),
        },
        "ref" => FieldType::Ref(
            o.get("ref")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        other => FieldType::Other(other.to_string()),
    })
}

fn field_type_to_json(t: &FieldType) -> Json {
    match t {
        FieldType::Primitive(p) => json!({"$type": "local#primitive", "primitive": p.as_str()}),
        FieldType::NdArray {
            dtype,
            shape,
            dimension_names,
        } => {
            let mut m = Map::new();
            m.insert("$type".into(), Json::from("local#ndarray"));
            // Python atdata 0.7 writes "float32" for an NDArray without a dtype; so do we, so
            // that the same class gives the same record on both sides.
            m.insert(
                "dtype".into(),
                Json::from(dtype.clone().unwrap_or_else(|| "float32".to_string())),
            );
            if let Some(s) = shape {
                m.insert("shape".into(), json!(s));
            }
            if let Some(n) = dimension_names {
                m.insert("dimensionNames".into(), json!(n));
            }
            Json::Object(m)
        }
        FieldType::List(items) => {
            json!({"$type": "local#array", "items": field_type_to_json(items)})
        }
        FieldType::Ref(r) => json!({"$type": "local#ref", "ref": r}),
        FieldType::Other(k) => json!({"$type": format!("local#{k}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_record() {
        let text = r#"{"name": "TextSample", "version": "1.0.0", "fields": [{"name": "text", "fieldType": {"$type": "local#primitive", "primitive": "str"}, "optional": false}, {"name": "v", "fieldType": {"$type": "local#ndarray", "dtype": "float32"}, "optional": true}, {"name": "tags", "fieldType": {"$type": "local#array", "items": {"$type": "local#primitive", "primitive": "int"}}}], "description": "Simple text document.", "createdAt": "2026-11-23T20:06:43.022926+00:00"}"#;
        let s = Schema::from_json(text).unwrap();
        assert_eq!(s.name, "TextSample");
        assert_eq!(s.fields.len(), 3);
        assert_eq!(s.fields[0].ty, FieldType::Primitive(Primitive::Str));
        assert!(s.fields[1].optional && s.fields[1].ty.is_ndarray());
        assert!(!s.fields[2].optional);
        assert_eq!(
            s.fields[2].ty,
            FieldType::List(Box::new(FieldType::Primitive(Primitive::Int)))
        );
        let again = Schema::from_json(&s.to_json()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn dict_fields_are_local_dict_in_records() {
        let s = Schema::new("M", vec![Field::new("meta", FieldType::dict())]);
        let text = s.to_json();
        assert!(
            text.contains(r#""fieldType":{"$type":"local#dict"}"#),
            "{text}"
        );
        let back = Schema::from_json(&text).unwrap();
        assert!(back.fields[0].ty.is_dict());
        assert_eq!(back, s);
        assert!(!FieldType::Other("dataframe".into()).is_dict());
    }

    #[test]
    fn bad_records_name_the_problem() {
        let e = Schema::from_json(r#"{"name":"T","fields":[{"name":"x","fieldType":{"$type":"local#primitive","primitive":"complex"}}]}"#).unwrap_err();
        assert!(e.to_string().contains("field 'x'"), "{e}");
        assert!(Schema::from_json("[]").is_err());
        assert!(Schema::from_json("{").is_err());
    }
}
