//! `#[derive(Packable)]`: schema contents, round trips, byte-exact encoding and field-named
//! errors. Compile-fail cases live in the doc tests of `atdata-derive`.

use atdata::codec::{decode_sample, encode_sample};
use atdata::packable::{Bytes, FieldValue};
use atdata::{Error, FieldType, NdArray, Packable, Primitive, Sample, Schema, Value};

/// A text sample, as in the walkthrough.
#[derive(Packable, Debug, Clone, PartialEq)]
struct TextSample {
    text: String,
    language: String,
    word_count: i64,
}

/// An embedding with a label and where it came from.
#[derive(Packable, Debug, Clone, PartialEq)]
struct EmbeddingSample {
    vector: NdArray,
    label: String,
    source: String,
}

/// Every supported field kind.
///
/// Second paragraph of the description.
#[derive(Packable, Debug, Clone, PartialEq)]
#[atdata(name = "Everything")]
struct AllKinds {
    s: String,
    flag: bool,
    small: u8,
    big: u64,
    signed: i32,
    ratio: f32,
    precise: f64,
    blob: Bytes,
    array: NdArray,
    maybe_array: Option<NdArray>,
    maybe_text: Option<String>,
    tags: Vec<String>,
    counts: Vec<i64>,
    #[atdata(rename = "type")]
    kind: String,
    r#match: bool,
}

#[derive(Packable, Debug, PartialEq)]
struct Golden {
    text: String,
    label: i64,
}

#[derive(Packable, Debug, PartialEq)]
struct Undocumented {
    x: i64,
}

#[derive(Packable, Debug, PartialEq)]
struct Empty {}

/// A generic sample: derives with a `FieldValue` bound on each field type.
#[derive(Packable, Debug, PartialEq)]
struct Tagged<T> {
    value: T,
    tags: Vec<T>,
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn all_kinds() -> AllKinds {
    AllKinds {
        s: "héllo".into(),
        flag: true,
        small: 200,
        big: u64::MAX,
        signed: -70000,
        ratio: 0.5,
        precise: -1.25e300,
        blob: Bytes(vec![0, 1, 2, 255]),
        array: NdArray::from_vec(vec![2, 3], vec![0f32, 1., 2., 3., 4., 5.]).unwrap(),
        maybe_array: Some(NdArray::from_slice(&[1i64, -2, 3])),
        maybe_text: None,
        tags: vec!["a".into(), "b".repeat(40)],
        counts: vec![0, -1, 1 << 40],
        kind: "t".into(),
        r#match: false,
    }
}

fn all_kinds_sparse() -> AllKinds {
    AllKinds {
        maybe_array: None,
        maybe_text: Some(String::new()),
        tags: vec![],
        counts: vec![],
        blob: Bytes(vec![]),
        array: NdArray::from_slice::<u8>(&[]),
        ..all_kinds()
    }
}

fn encoded<P: Packable>(p: &P) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode(&mut out);
    out
}

fn via_fields<P: Packable>(p: &P) -> Vec<u8> {
    let mut out = Vec::new();
    encode_sample(&p.to_fields(), &mut out);
    out
}

#[test]
fn text_sample_schema() {
    let s = TextSample::schema();
    assert_eq!(s.name, "TextSample");
    assert_eq!(s.version, "1.0.0");
    assert_eq!(
        s.description.as_deref(),
        Some("A text sample, as in the walkthrough.")
    );
    let got: Vec<_> = s
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.ty.clone(), f.optional))
        .collect();
    assert_eq!(
        got,
        vec![
            ("text", FieldType::Primitive(Primitive::Str), false),
            ("language", FieldType::Primitive(Primitive::Str), false),
            ("word_count", FieldType::Primitive(Primitive::Int), false),
        ]
    );
}

#[test]
fn embedding_sample_schema_and_round_trip() {
    let s = EmbeddingSample::schema();
    assert_eq!(s.fields[0].name, "vector");
    assert!(s.fields[0].ty.is_ndarray());
    assert!(!s.fields[0].optional);
    let e = EmbeddingSample {
        vector: NdArray::from_vec(vec![4], vec![0.1f32, 0.2, 0.3, 0.4]).unwrap(),
        label: "cat".into(),
        source: "web".into(),
    };
    let bytes = encoded(&e);
    assert_eq!(bytes, via_fields(&e));
    assert_eq!(EmbeddingSample::decode(&bytes).unwrap(), e);
}

#[test]
fn all_kinds_schema() {
    let s = AllKinds::schema();
    assert_eq!(s.name, "Everything");
    assert_eq!(
        s.description.as_deref(),
        Some("Every supported field kind.\n\nSecond paragraph of the description.")
    );
    let str_ = FieldType::Primitive(Primitive::Str);
    let int = FieldType::Primitive(Primitive::Int);
    let float = FieldType::Primitive(Primitive::Float);
    let want: Vec<(&str, FieldType, bool)> = vec![
        ("s", str_.clone(), false),
        ("flag", FieldType::Primitive(Primitive::Bool), false),
        ("small", int.clone(), false),
        ("big", int.clone(), false),
        ("signed", int.clone(), false),
        ("ratio", float.clone(), false),
        ("precise", float, false),
        ("blob", FieldType::Primitive(Primitive::Bytes), false),
        ("array", FieldType::ndarray(), false),
        ("maybe_array", FieldType::ndarray(), true),
        ("maybe_text", str_.clone(), true),
        ("tags", FieldType::List(Box::new(str_.clone())), false),
        ("counts", FieldType::List(Box::new(int)), false),
        ("type", str_, false),
        ("match", FieldType::Primitive(Primitive::Bool), false),
    ];
    let got: Vec<_> = s
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.ty.clone(), f.optional))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn schema_json_round_trip() {
    for s in [
        TextSample::schema(),
        EmbeddingSample::schema(),
        AllKinds::schema(),
    ] {
        let json = s.to_json();
        let back = Schema::from_json(&json).unwrap();
        // The record names a dtype for arrays (float32, as Python writes), so compare records.
        assert_eq!(back.to_json(), json);
        assert_eq!(back.name, s.name);
        assert_eq!(back.version, s.version);
        assert_eq!(back.description, s.description);
        let shape = |s: &Schema| -> Vec<(String, bool)> {
            s.fields
                .iter()
                .map(|f| (f.name.clone(), f.optional))
                .collect()
        };
        assert_eq!(shape(&back), shape(&s));
    }
}

#[test]
fn undocumented_struct_has_no_description() {
    assert_eq!(Undocumented::schema().description, None);
}

#[test]
fn golden_bytes() {
    let g = Golden {
        text: "hi".into(),
        label: 3,
    };
    let want = hex("82 a4 74 65 78 74 a2 68 69 a5 6c 61 62 65 6c 03");
    assert_eq!(encoded(&g), want);
    assert_eq!(via_fields(&g), want);
    assert_eq!(Golden::decode(&want).unwrap(), g);
}

#[test]
fn encode_fast_path_matches_to_fields() {
    let t = TextSample {
        text: "x".repeat(300),
        language: "en".into(),
        word_count: -5,
    };
    assert_eq!(encoded(&t), via_fields(&t));
    assert_eq!(encoded(&all_kinds()), via_fields(&all_kinds()));
    assert_eq!(
        encoded(&all_kinds_sparse()),
        via_fields(&all_kinds_sparse())
    );
    assert_eq!(encoded(&Empty {}), vec![0x80]);
    assert_eq!(encoded(&Empty {}), via_fields(&Empty {}));
    // encode appends, as the trait's default does.
    let mut out = vec![0xaa];
    Golden {
        text: "hi".into(),
        label: 3,
    }
    .encode(&mut out);
    assert_eq!(out[0], 0xaa);
    assert_eq!(out.len(), 17);
}

#[test]
fn field_value_encode_matches_value_encoding() {
    fn check<T: FieldValue>(v: T) {
        let mut fast = Vec::new();
        v.encode_msgpack(&mut fast);
        let mut slow = Vec::new();
        atdata::codec::encode_value(&v.to_value(), &mut slow);
        assert_eq!(fast, slow);
    }
    check(String::from("é"));
    check("y".repeat(70_000));
    check(Bytes(vec![7; 300]));
    check(NdArray::from_slice(&[1.5f64, 2.5]));
    check(Some(NdArray::from_slice(&[true, false])));
    check(None::<String>);
    check(vec![vec![1u8, 2], vec![]]);
    check(vec![Some(1i64), None]);
    check(u64::MAX);
    check(-1i8);
    check(0.1f32);
}

#[test]
fn round_trips() {
    for s in [all_kinds(), all_kinds_sparse()] {
        let bytes = encoded(&s);
        assert_eq!(AllKinds::decode(&bytes).unwrap(), s);
        // Also through a schema-less decode: binaries of array fields are converted on take.
        let sample = decode_sample(&bytes, None).unwrap();
        assert_eq!(AllKinds::from_sample(sample).unwrap(), s);
    }
    let t = TextSample {
        text: "hello world".into(),
        language: "en".into(),
        word_count: 2,
    };
    assert_eq!(TextSample::decode(&encoded(&t)).unwrap(), t);
    assert_eq!(Empty::decode(&[0x80]).unwrap(), Empty {});
}

#[test]
fn renamed_fields_use_their_key_on_the_wire() {
    let fields = all_kinds().to_fields();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"type") && names.contains(&"match"));
    assert!(!names.contains(&"kind"));
    assert_eq!(fields.len(), AllKinds::schema().fields.len());
    assert_eq!(
        fields.iter().find(|(n, _)| n == "type").map(|(_, v)| v),
        Some(&Value::from("t"))
    );
}

#[test]
fn generic_struct() {
    let s = Tagged::<String>::schema();
    assert_eq!(s.name, "Tagged");
    assert_eq!(s.fields[0].ty, FieldType::Primitive(Primitive::Str));
    let t = Tagged {
        value: 3i64,
        tags: vec![1, 2],
    };
    assert_eq!(Tagged::<i64>::decode(&encoded(&t)).unwrap(), t);
}

fn mismatch_field(e: &Error) -> Option<&str> {
    match e {
        Error::SchemaMismatch { location, .. } => location.field.as_deref(),
        _ => None,
    }
}

#[test]
fn missing_field_error_names_it() {
    let sample = Sample::new(vec![
        ("text".into(), Value::from("a")),
        ("language".into(), Value::from("en")),
    ]);
    let e = TextSample::from_sample(sample).unwrap_err();
    assert_eq!(mismatch_field(&e), Some("word_count"), "{e}");
    assert!(e.to_string().contains("word_count"), "{e}");
}

#[test]
fn mistyped_field_error_names_it() {
    let sample = Sample::new(vec![
        ("text".into(), Value::from("a")),
        ("language".into(), Value::Int(1)),
        ("word_count".into(), Value::Int(1)),
    ]);
    let e = TextSample::from_sample(sample).unwrap_err();
    assert_eq!(mismatch_field(&e), Some("language"), "{e}");
    assert!(e.to_string().contains("expected str, got int"), "{e}");

    // Out of range for the Rust type.
    let mut fields = all_kinds().to_fields();
    for (n, v) in &mut fields {
        if n == "small" {
            *v = Value::Int(256);
        }
    }
    let e = AllKinds::from_sample(Sample::new(fields)).unwrap_err();
    assert_eq!(mismatch_field(&e), Some("small"), "{e}");

    // A renamed field is reported under its key.
    let mut fields = all_kinds().to_fields();
    for (n, v) in &mut fields {
        if n == "type" {
            *v = Value::Bool(true);
        }
    }
    let e = AllKinds::from_sample(Sample::new(fields)).unwrap_err();
    assert_eq!(mismatch_field(&e), Some("type"), "{e}");

    // Decoding bytes whose field holds the wrong kind.
    let mut bad = Vec::new();
    encode_sample(
        &[("text", Value::Int(1)), ("label", Value::Int(3))],
        &mut bad,
    );
    let e = Golden::decode(&bad).unwrap_err();
    assert_eq!(mismatch_field(&e), Some("text"), "{e}");
}

#[test]
fn missing_optional_field_is_none() {
    let mut fields = all_kinds().to_fields();
    fields.retain(|(n, _)| n != "maybe_array" && n != "maybe_text");
    let back = AllKinds::from_sample(Sample::new(fields)).unwrap();
    assert_eq!(back.maybe_array, None);
    assert_eq!(back.maybe_text, None);
}
