//! Samples as msgpack maps (docs/FORMAT.md section 1): field name -> value, in field order, no
//! wrapper. Byte-identical to what the Python atdata 0.7 package writes for the same values.

use crate::codec::array::{decode_array, encode_array, encoded_array_len};
use crate::codec::msgpack::{token_kind, MsgReader, Token, MAX_DEPTH};
use crate::error::{Error, Result};
use crate::schema::{Field, FieldType, Primitive, Schema};
use crate::value::{Sample, Value};

/// Appends the msgpack encoding of one value.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    // Writes into a Vec cannot fail.
    match v {
        Value::Nil => rmp::encode::write_nil(out).expect("vec write"),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).expect("vec write"),
        Value::Int(i) => {
            rmp::encode::write_sint(out, *i).expect("vec write");
        }
        Value::UInt(u) => {
            rmp::encode::write_uint(out, *u).expect("vec write");
        }
        Value::Float(f) => rmp::encode::write_f64(out, *f).expect("vec write"),
        Value::Str(s) => rmp::encode::write_str(out, s).expect("vec write"),
        Value::Bytes(b) => rmp::encode::write_bin(out, b).expect("vec write"),
        Value::Array(a) => {
            rmp::encode::write_bin_len(out, encoded_array_len(a) as u32).expect("vec write");
            encode_array(a, out);
        }
        Value::List(items) => {
            rmp::encode::write_array_len(out, items.len() as u32).expect("vec write");
            for i in items {
                encode_value(i, out);
            }
        }
        Value::Map(pairs) => {
            rmp::encode::write_map_len(out, pairs.len() as u32).expect("vec write");
            for (k, v) in pairs {
                rmp::encode::write_str(out, k).expect("vec write");
                encode_value(v, out);
            }
        }
    }
}

/// Appends the msgpack map of a sample's fields.
pub fn encode_sample<K: AsRef<str>>(fields: &[(K, Value)], out: &mut Vec<u8>) {
    rmp::encode::write_map_len(out, fields.len() as u32).expect("vec write");
    for (k, v) in fields {
        rmp::encode::write_str(out, k.as_ref()).expect("vec write");
        encode_value(v, out);
    }
}

/// Decodes one sample. With a schema, binaries of array fields become [`Value::Array`]; without
/// one, every binary stays [`Value::Bytes`].
pub fn decode_sample(buf: &[u8], schema: Option<&Schema>) -> Result<Sample> {
    let mut r = MsgReader::new(buf);
    let n = r.read_map_len()?;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.read_str()?;
        let ty = schema.and_then(|s| s.field(name)).map(|f| &f.ty);
        let v = decode_value(&mut r, ty, 0).map_err(|e| e.with_field(name))?;
        fields.push((name.to_string(), v));
    }
    if r.remaining() != 0 {
        return Err(r.error(format!(
            "{} trailing bytes after the sample map",
            r.remaining()
        )));
    }
    Ok(Sample { fields })
}

/// Decodes one value, using `ty` to tell arrays from bytes.
pub fn decode_value(r: &mut MsgReader<'_>, ty: Option<&FieldType>, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(r.too_deep());
    }
    Ok(match r.next_token()? {
        Token::Nil => Value::Nil,
        Token::Bool(b) => Value::Bool(b),
        Token::Int(i) => Value::Int(i),
        Token::UInt(u) => Value::UInt(u),
        Token::Float(f) => Value::Float(f),
        Token::Str(s) => Value::Str(s.to_string()),
        Token::Bin(b) => match ty {
            Some(FieldType::NdArray { .. }) => Value::Array(decode_array(b)?),
            _ => Value::Bytes(b.to_vec()),
        },
        Token::Array(n) => {
            let item_ty = match ty {
                Some(FieldType::List(t)) => Some(&**t),
                _ => None,
            };
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_value(r, item_ty, depth + 1)?);
            }
            Value::List(items)
        }
        Token::Map(n) => {
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let k = r.read_str()?.to_string();
                let v = decode_value(r, None, depth + 1)?;
                pairs.push((k, v));
            }
            Value::Map(pairs)
        }
    })
}

/// Checks a sample against a schema: every required field present and of its type, no
/// unknown field. The error names the field.
pub fn validate_sample(fields: &[(String, Value)], schema: &Schema) -> Result<()> {
    for f in &schema.fields {
        match fields.iter().find(|(n, _)| *n == f.name) {
            None if f.optional => {}
            None => {
                return Err(Error::mismatch(format!(
                    "required field '{}' of {} is missing",
                    f.name, schema.name
                ))
                .with_field(&f.name))
            }
            Some((_, v)) => check_field(f, v).map_err(|e| e.with_field(&f.name))?,
        }
    }
    if let Some((n, _)) = fields.iter().find(|(n, _)| schema.field(n).is_none()) {
        return Err(Error::mismatch(format!("{} has no field '{n}'", schema.name)).with_field(n));
    }
    Ok(())
}

/// Checks that data written with schema `data` can be read as `want`: every required field of
/// `want` is in `data` (an optional one may be absent; fields `want` does not name are not
/// read). The error lists the missing fields and the fields the data has, sorted.
pub fn check_readable_as(data: &Schema, want: &Schema) -> Result<()> {
    let missing: Vec<&str> = want
        .fields
        .iter()
        .filter(|f| !f.optional && data.field(&f.name).is_none())
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut have: Vec<&str> = data.fields.iter().map(|f| f.name.as_str()).collect();
    have.sort_unstable();
    Err(Error::mismatch(format!(
        "cannot read {} as {}: the data has no field(s) {}; it has {}",
        data.name,
        want.name,
        quoted(&missing),
        quoted(&have)
    )))
}

fn quoted(names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", items.join(", "))
}

fn check_field(f: &Field, v: &Value) -> Result<()> {
    if matches!(v, Value::Nil) {
        return if f.optional {
            Ok(())
        } else {
            Err(Error::mismatch(format!("expected {}, got None", f.ty)))
        };
    }
    check_type(&f.ty, v)
}

fn check_type(ty: &FieldType, v: &Value) -> Result<()> {
    let ok = match (ty, v) {
        (FieldType::Primitive(Primitive::Str), Value::Str(_))
        | (FieldType::Primitive(Primitive::Int), Value::Int(_) | Value::UInt(_))
        | (FieldType::Primitive(Primitive::Float), Value::Float(_) | Value::Int(_))
        | (FieldType::Primitive(Primitive::Bool), Value::Bool(_))
        | (FieldType::Primitive(Primitive::Bytes), Value::Bytes(_))
        | (FieldType::NdArray { .. }, Value::Array(_))
        | (FieldType::Ref(_), Value::Map(_)) => true,
        // A map field holds a map; other kinds this version does not interpret take anything.
        (FieldType::Other(_), Value::Map(pairs)) if ty.is_dict() => {
            // Nothing in a map says how to decode an array, so it would come back as bytes:
            // refused here rather than changed on the way back.
            if let Some(at) = array_inside(pairs) {
                return Err(Error::mismatch(format!(
                    "a dict field cannot hold n-d arrays (one is at {at}): declare an NDArray \
                     field for it"
                )));
            }
            true
        }
        (FieldType::Other(_), _) if ty.is_dict() => false,
        (FieldType::Other(_), _) => true,
        (FieldType::List(item), Value::List(items)) => {
            for (i, it) in items.iter().enumerate() {
                check_type(item, it)
                    .map_err(|e| Error::mismatch(format!("item {i}: {}", reason(&e))))?;
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::mismatch(format!("expected {ty}, got {}", v.kind())))
    }
}

/// Where the first n-d array inside a map's values is, as a Python subscript path
/// (`['a'][2]['b']`), if any.
fn array_inside(pairs: &[(String, Value)]) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Array(_) => Some(String::new()),
            Value::Map(pairs) => array_inside(pairs),
            Value::List(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, it)| find(it).map(|rest| format!("[{i}]{rest}"))),
            _ => None,
        }
    }
    pairs
        .iter()
        .find_map(|(k, v)| find(v).map(|rest| format!("[{k:?}]{rest}")))
}

fn reason(e: &Error) -> String {
    match e {
        Error::SchemaMismatch { reason, .. } | Error::Corrupt { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// Name of the kind of the next token, for callers building their own messages.
pub fn describe(t: &Token<'_>) -> &'static str {
    token_kind(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::NdArray;

    use crate::codec::test_hex as hex;

    #[test]
    fn dict_fields_take_maps_only_and_round_trip() {
        let schema = Schema::new(
            "M",
            vec![
                Field::new("meta", FieldType::dict()),
                Field::new("blob", FieldType::Other("dataframe".into())),
            ],
        );
        let meta = Value::Map(vec![
            ("k".into(), Value::Int(1)),
            (
                "nested".into(),
                Value::Map(vec![("x".into(), Value::from("y"))]),
            ),
            (
                "list".into(),
                Value::List(vec![Value::Float(0.5), Value::Nil]),
            ),
        ]);
        let fields = vec![
            ("meta".to_string(), meta.clone()),
            ("blob".to_string(), Value::Bytes(vec![1])),
        ];
        validate_sample(&fields, &schema).unwrap();
        let mut out = Vec::new();
        encode_sample(&fields, &mut out);
        let back = decode_sample(&out, Some(&schema)).unwrap();
        assert_eq!(back.get("meta"), Some(&meta));
        let e = validate_sample(&[("meta".to_string(), Value::List(vec![]))], &schema).unwrap_err();
        assert!(e.to_string().contains("expected dict, got list"), "{e}");
        let arr = Value::Array(NdArray::from_vec(vec![1], vec![1.0f32]).unwrap());
        let nested = Value::Map(vec![(
            "a".into(),
            Value::List(vec![Value::Int(1), Value::Map(vec![("b".into(), arr)])]),
        )]);
        let e = validate_sample(&[("meta".to_string(), nested)], &schema).unwrap_err();
        assert!(
            e.to_string().contains(r#"(one is at ["a"][1]["b"])"#),
            "{e}"
        );
    }

    #[test]
    fn golden_text_label() {
        let mut out = Vec::new();
        encode_sample(
            &[("text", Value::from("hi")), ("label", Value::Int(3))],
            &mut out,
        );
        assert_eq!(out, hex("82 a4 74 65 78 74 a2 68 69 a5 6c 61 62 65 6c 03"));
        let s = decode_sample(&out, None).unwrap();
        assert_eq!(s.get("text"), Some(&Value::from("hi")));
        assert_eq!(s.get("label"), Some(&Value::Int(3)));
    }

    #[test]
    fn golden_image_label() {
        let img = NdArray::from_vec(vec![1, 2], vec![1.0f32, 2.0]).unwrap();
        let mut out = Vec::new();
        encode_sample(
            &[
                ("image", Value::Array(img.clone())),
                ("label", Value::from("cat")),
            ],
            &mut out,
        );
        let want = hex(
            "82 a5 69 6d 61 67 65 c4 1d 03 3c 66 34 02 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 \
             00 00 80 3f 00 00 00 40 a5 6c 61 62 65 6c a3 63 61 74",
        );
        assert_eq!(out, want);
        let schema = Schema::new(
            "S",
            vec![
                Field::new("image", FieldType::ndarray()),
                Field::new("label", FieldType::Primitive(Primitive::Str)),
            ],
        );
        let s = decode_sample(&out, Some(&schema)).unwrap();
        assert_eq!(s.get("image"), Some(&Value::Array(img)));
    }

    #[test]
    fn floats_are_always_float64_and_ints_smallest() {
        let mut out = Vec::new();
        encode_value(&Value::Float(1.0), &mut out);
        assert_eq!(out[0], 0xcb);
        for (i, want) in [
            (0i64, vec![0x00]),
            (-1, vec![0xff]),
            (200, vec![0xcc, 200]),
            (-100, vec![0xd0, 0x9c]),
            (70000, vec![0xce, 0, 1, 0x11, 0x70]),
        ] {
            out.clear();
            encode_value(&Value::Int(i), &mut out);
            assert_eq!(out, want, "{i}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let schema = Schema::new(
            "T",
            vec![
                Field::new("text", FieldType::Primitive(Primitive::Str)),
                Field::optional("n", FieldType::Primitive(Primitive::Int)),
            ],
        );
        assert!(validate_sample(&[("text".into(), Value::from("x"))], &schema).is_ok());
        let e = validate_sample(&[("text".into(), Value::Int(1))], &schema).unwrap_err();
        assert!(e.to_string().contains("field 'text'"), "{e}");
        assert!(e.to_string().contains("expected str, got int"), "{e}");
        let e = validate_sample(
            &[("text".into(), Value::from("x")), ("zz".into(), Value::Nil)],
            &schema,
        )
        .unwrap_err();
        assert!(e.to_string().contains("zz"), "{e}");
    }

    #[test]
    fn readable_as_needs_every_required_field_of_the_wanted_type() {
        let str_field = || FieldType::Primitive(Primitive::Str);
        let data = Schema::new(
            "Doc",
            vec![
                Field::new("text", str_field()),
                Field::new("lang", str_field()),
            ],
        );
        let fewer = Schema::new("Text", vec![Field::new("text", str_field())]);
        assert!(check_readable_as(&data, &fewer).is_ok());
        let with_optional = Schema::new(
            "T",
            vec![
                Field::new("text", str_field()),
                Field::optional("n", str_field()),
            ],
        );
        assert!(check_readable_as(&data, &with_optional).is_ok());
        let more = Schema::new(
            "Big",
            vec![
                Field::new("text", str_field()),
                Field::new("zeta", str_field()),
                Field::new("alpha", str_field()),
            ],
        );
        let e = check_readable_as(&data, &more).unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
        assert!(
            e.to_string().contains(
                "cannot read Doc as Big: the data has no field(s) ['zeta', 'alpha']; \
                 it has ['lang', 'text']"
            ),
            "{e}"
        );
    }

    #[test]
    fn trailing_bytes_and_bad_arrays_are_errors() {
        assert!(decode_sample(&[0x80, 0x00], None).is_err());
        let schema = Schema::new("S", vec![Field::new("a", FieldType::ndarray())]);
        let e = decode_sample(&[0x81, 0xa1, b'a', 0xc4, 0x01, 0x05], Some(&schema)).unwrap_err();
        assert!(e.to_string().contains("field 'a'"), "{e}");
    }
}
