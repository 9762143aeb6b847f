//! docs/FORMAT.md against the code: every example in it is checked here, so the document and
//! the encoders cannot drift apart.
//!
//! The convention (stated at the top of FORMAT.md): a fenced block right after a paragraph
//! that starts with ``Example `ID` `` is the example `ID`. In ```` ```hex ```` blocks, `#`
//! starts a comment, every other token is bytes in hex (`82a4`, `82 a4`) or `XX*N`, the byte
//! `XX` N times. Other blocks are compared as text. Each test below checks its examples both
//! ways where the code allows: encoding gives exactly the bytes shown, decoding them gives the
//! value. A doc example no test knows fails too, as does a cited section that has no heading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use atdata::codec::{
    decode_array, decode_sample, encode_array, encode_sample, python_entry_cid, sha256_hex,
};
use atdata::index::entry::{
    compat_metadata_msgpack, content_tag, entry_cid, strings_from_msgpack, strings_to_msgpack,
    value_from_msgpack,
};
use atdata::index::{ShardInfo, SqliteProvider};
use atdata::shard::{expand_braces, read_shard_bytes, sample_key, ShardOptions, ShardWriter};
use atdata::store::{shard_file_name, DataStore, LocalDiskStore, StoreOwner};
use atdata::{Field, FieldType, NdArray, Primitive, Schema, SchemaRef, Value};

/// Every example id FORMAT.md must hold, each checked by a test below.
const CHECKED: &[&str] = &[
    "sample-text-label",
    "sample-image-label",
    "sample-scalars",
    "array-float32-2x3",
    "array-int64-0d",
    "array-bool",
    "array-big-endian",
    "array-npy",
    "shard-one-sample",
    "shard-one-sample-sha256",
    "shard-gzip",
    "store-shard-url",
    "brace-range",
    "brace-py07",
    "schema-record-ours",
    "schema-record-py07",
    "schema-ref",
    "sqlite-ddl",
    "column-data-urls",
    "column-metadata",
    "store-owner",
    "cid-entry-dagcbor",
    "cid-entry",
    "cid-entry-bytes",
    "cid-py07",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn doc_text() -> String {
    let path = repo().join("docs/FORMAT.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One fenced example of the document.
#[derive(Debug, Clone)]
struct Example {
    lang: String,
    body: String,
    /// 1-based line of the opening fence, for messages.
    line: usize,
}

/// The examples of `text`, by id. Panics on a malformed document (an unclosed fence, an id
/// used twice, a hex block without an id).
fn parse_examples(text: &str) -> BTreeMap<String, Example> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let open = i;
        let close = (open + 1..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .unwrap_or_else(|| panic!("FORMAT.md line {}: unclosed fence", open + 1));
        let body = lines[open + 1..close].join("\n");
        // The paragraph before the fence: its first line names the example.
        let end = (0..open).rev().find(|&j| !lines[j].trim().is_empty());
        let start = end.map(|end| {
            (0..end)
                .rev()
                .find(|&j| lines[j].trim().is_empty())
                .map_or(0, |j| j + 1)
        });
        let id = start
            .map(|j| lines[j])
            .and_then(|l| l.trim().strip_prefix("Example `"))
            .and_then(|rest| rest.split_once('`'))
            .map(|(id, _)| id.to_string());
        match id {
            Some(id) => {
                let ex = Example {
                    lang: lang.trim().to_string(),
                    body,
                    line: open + 1,
                };
                assert!(
                    out.insert(id.clone(), ex).is_none(),
                    "FORMAT.md: example `{id}` appears twice"
                );
            }
            None => assert_ne!(
                lang.trim(),
                "hex",
                "FORMAT.md line {}: a hex block without an `Example `ID`` line before it",
                open + 1
            ),
        }
        i = close + 1;
    }
    out
}

/// The example `id` of FORMAT.md.
fn example(id: &str) -> Example {
    assert!(CHECKED.contains(&id), "`{id}` is missing from CHECKED");
    parse_examples(&doc_text())
        .remove(id)
        .unwrap_or_else(|| panic!("docs/FORMAT.md has no example `{id}`"))
}

/// The bytes of a hex example: hex tokens, `XX*N` runs, `#` comments.
fn hex_bytes(ex: &Example) -> Vec<u8> {
    assert_eq!(
        ex.lang, "hex",
        "example at line {} is not a hex block",
        ex.line
    );
    let mut out = Vec::new();
    for (n, line) in ex.body.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for token in line.split_whitespace() {
            let run = token.split_once('*').map(|(byte, count)| {
                (
                    u8::from_str_radix(byte, 16).ok(),
                    count.parse::<usize>().ok(),
                )
            });
            match run {
                Some((Some(byte), Some(count))) => out.extend(std::iter::repeat_n(byte, count)),
                None if hex::decode(token).is_ok() => out.extend(hex::decode(token).unwrap()),
                _ => panic!(
                    "FORMAT.md line {}: bad hex token {token:?}",
                    ex.line + 1 + n
                ),
            }
        }
    }
    out
}

/// The text of a non-hex example.
fn text(ex: &Example) -> &str {
    assert_ne!(ex.lang, "hex", "example at line {} is a hex block", ex.line);
    &ex.body
}

/// Asserts `got == want` showing both as hex, with where they first differ.
fn same_bytes(id: &str, got: &[u8], want: &[u8]) {
    if got != want {
        let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
        panic!(
            "FORMAT.md example `{id}` and the code disagree at byte {at} \
             (code: {} bytes, doc: {} bytes)\ncode: {}\ndoc:  {}",
            got.len(),
            want.len(),
            hex::encode(got),
            hex::encode(want)
        );
    }
}

fn same_text(id: &str, got: &str, want: &str) {
    assert_eq!(got, want, "FORMAT.md example `{id}` and the code disagree");
}

fn encoded(fields: &[(&str, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_sample(fields, &mut out);
    out
}

fn array_bytes(a: &NdArray) -> Vec<u8> {
    let mut out = Vec::new();
    encode_array(a, &mut out);
    out
}

// The running example of FORMAT.md: dataset `docs`, one shard holding the sample
// `sample-text-label`, in a store rooted at `/data`.
const NAME: &str = "docs";
const SCHEMA_REF: &str = "atdata://local/schema/TextSample@1.0.0";
const STORE_ROOT: &str = "/data";

fn running_sha256() -> String {
    text(&example("shard-one-sample-sha256")).trim().to_string()
}

fn running_url() -> String {
    let sha = running_sha256();
    format!(
        "{STORE_ROOT}/{NAME}/{}",
        shard_file_name(&content_tag(&sha), 0)
    )
}

#[test]
fn doc_examples_are_exactly_the_checked_ones() {
    let doc: BTreeSet<String> = parse_examples(&doc_text()).into_keys().collect();
    let checked: BTreeSet<String> = CHECKED.iter().map(|s| s.to_string()).collect();
    let unchecked: Vec<_> = doc.difference(&checked).collect();
    let missing: Vec<_> = checked.difference(&doc).collect();
    assert!(
        unchecked.is_empty() && missing.is_empty(),
        "examples in docs/FORMAT.md that no test checks: {unchecked:?}; \
         checked examples missing from it: {missing:?}"
    );
}

#[test]
fn hex_parser_reads_runs_and_comments() {
    let ex = Example {
        lang: "hex".into(),
        body: "82 a4 # map\n00*3 7465\n".into(),
        line: 1,
    };
    assert_eq!(hex_bytes(&ex), [0x82, 0xa4, 0, 0, 0, 0x74, 0x65]);
}

#[test]
fn section_1_samples() {
    let want = hex_bytes(&example("sample-text-label"));
    let fields = [("text", Value::from("hi")), ("label", Value::Int(3))];
    same_bytes("sample-text-label", &encoded(&fields), &want);
    let back = decode_sample(&want, None).unwrap();
    assert_eq!(back.get("text"), Some(&Value::from("hi")));
    assert_eq!(back.get("label"), Some(&Value::Int(3)));

    let want = hex_bytes(&example("sample-image-label"));
    let img = NdArray::from_vec(vec![1, 2], vec![1.0f32, 2.0]).unwrap();
    let fields = [
        ("image", Value::Array(img.clone())),
        ("label", Value::from("cat")),
    ];
    same_bytes("sample-image-label", &encoded(&fields), &want);
    let schema = Schema::new(
        "S",
        vec![
            Field::new("image", FieldType::ndarray()),
            Field::new("label", FieldType::Primitive(Primitive::Str)),
        ],
    );
    let back = decode_sample(&want, Some(&schema)).unwrap();
    assert_eq!(back.get("image"), Some(&Value::Array(img)));
    // Without a schema an array is the binary it travels as.
    let raw = decode_sample(&want, None).unwrap();
    assert!(matches!(raw.get("image"), Some(Value::Bytes(_))));

    let want = hex_bytes(&example("sample-scalars"));
    let fields = [
        ("a", Value::Int(200)),
        ("b", Value::Int(-100)),
        ("c", Value::Int(70000)),
        ("d", Value::Int(i64::MIN)),
        ("e", Value::UInt(1 << 63)),
        ("f", Value::Float(1.0)),
        ("g", Value::Bool(true)),
        ("h", Value::Nil),
        ("i", Value::Bytes(vec![1, 2])),
        ("j", Value::List(vec![Value::Int(1), Value::from("x")])),
    ];
    same_bytes("sample-scalars", &encoded(&fields), &want);
    let back = decode_sample(&want, None).unwrap();
    for (name, v) in &fields {
        assert_eq!(back.get(name), Some(v), "field {name}");
    }
}

#[test]
fn section_2_arrays() {
    let want = hex_bytes(&example("array-float32-2x3"));
    let a = NdArray::from_vec(vec![2, 3], (0..6).map(|i| i as f32).collect()).unwrap();
    same_bytes("array-float32-2x3", &array_bytes(&a), &want);
    assert_eq!(decode_array(&want).unwrap(), a);

    let want = hex_bytes(&example("array-int64-0d"));
    let a = NdArray::from_vec::<i64>(vec![], vec![-2]).unwrap();
    same_bytes("array-int64-0d", &array_bytes(&a), &want);
    assert_eq!(decode_array(&want).unwrap(), a);

    let want = hex_bytes(&example("array-bool"));
    let a = NdArray::from_slice(&[true, false]);
    same_bytes("array-bool", &array_bytes(&a), &want);
    assert_eq!(decode_array(&want).unwrap(), a);

    // Big-endian data keeps its dtype, in and out.
    let want = hex_bytes(&example("array-big-endian"));
    let a = decode_array(&want).unwrap();
    assert_eq!(a.dtype().as_str(), ">i2");
    assert_eq!(a.shape(), &[2]);
    assert_eq!(a.to_vec::<i16>().unwrap(), vec![1, 256]);
    same_bytes("array-big-endian", &array_bytes(&a), &want);

    // `.npy` is read, never written: it decodes to the array it holds.
    let want = hex_bytes(&example("array-npy"));
    let a = decode_array(&want).unwrap();
    assert_eq!(a.dtype().as_str(), "<f4");
    assert_eq!(a.shape(), &[2]);
    assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.5, 2.5]);
}

#[test]
fn section_3_shards() {
    let sample = hex_bytes(&example("sample-text-label"));
    let want = hex_bytes(&example("shard-one-sample"));
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    w.write_sample(&sample_key(0), &sample).unwrap();
    let staged = w.finish().unwrap();
    assert_eq!(staged.len(), 1);
    let got = std::fs::read(staged[0].path()).unwrap();
    same_bytes("shard-one-sample", &got, &want);
    let sha = running_sha256();
    same_text("shard-one-sample-sha256", &staged[0].sha256, &sha);
    assert_eq!(sha256_hex(&want), sha);

    let read = read_shard_bytes(&want, "doc").unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(
        (read[0].key.as_str(), &read[0].data),
        ("000000000", &sample)
    );

    // The same shard gzip-compressed reads as the same sample.
    let gz = hex_bytes(&example("shard-gzip"));
    let read = read_shard_bytes(&gz, "doc.tar.gz").unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(
        (read[0].key.as_str(), &read[0].data),
        ("000000000", &sample)
    );
}

/// An example block of lines: a pattern, then every name it expands to.
fn check_brace(id: &str) {
    let ex = example(id);
    let mut lines = text(&ex).lines();
    let pattern = lines.next().expect("pattern line");
    let names: Vec<&str> = lines.collect();
    assert_eq!(
        expand_braces(pattern).unwrap(),
        names,
        "FORMAT.md example `{id}`"
    );
}

#[test]
fn section_4_shard_urls() {
    same_text(
        "store-shard-url",
        &running_url(),
        text(&example("store-shard-url")).trim(),
    );
    check_brace("brace-range");
    check_brace("brace-py07");
}

#[test]
fn section_5_schema_records_and_references() {
    let schema = Schema {
        name: "TextSample".into(),
        version: "1.0.0".into(),
        fields: vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::new("language", FieldType::Primitive(Primitive::Str)),
            Field::new("word_count", FieldType::Primitive(Primitive::Int)),
        ],
        description: Some("Simple text document.".into()),
        created_at: Some("2026-11-24T06:37:47.900376+00:00".into()),
    };
    let ours = example("schema-record-ours");
    same_text("schema-record-ours", &schema.to_json(), text(&ours));
    assert_eq!(Schema::from_json(text(&ours)).unwrap(), schema);

    // 0.7's record is the fixture it wrote, and reads as the same schema.
    let py07 = example("schema-record-py07");
    let fixture = repo().join("crates/atdata/tests/fixtures/py07/schemas/TextSample.json");
    let fixture = std::fs::read_to_string(fixture).unwrap();
    same_text("schema-record-py07", text(&py07), fixture.trim_end());
    assert_eq!(Schema::from_json(text(&py07)).unwrap(), schema);

    let r = example("schema-ref");
    let r = text(&r).trim();
    same_text("schema-ref", &schema.reference().to_string(), r);
    assert_eq!(r, SCHEMA_REF);
    assert_eq!(
        SchemaRef::parse(r).unwrap(),
        SchemaRef::local("TextSample", "1.0.0")
    );
}

#[test]
fn section_6_sqlite_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.db");
    drop(SqliteProvider::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        .unwrap();
    let ddl: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| format!("{};", r.unwrap()))
        .collect();
    same_text("sqlite-ddl", &ddl.join("\n"), text(&example("sqlite-ddl")));

    let url = running_url();
    let want = hex_bytes(&example("column-data-urls"));
    same_bytes("column-data-urls", &strings_to_msgpack([&url]), &want);
    assert_eq!(strings_from_msgpack(&want).unwrap(), vec![url.clone()]);

    let sha = running_sha256();
    let shard = ShardInfo::new(&url, &sha, 1, 10240);
    let want = hex_bytes(&example("column-metadata"));
    let got = compat_metadata_msgpack(None, std::slice::from_ref(&shard)).unwrap();
    same_bytes("column-metadata", &got, &want);
    let checksums = Value::Map(vec![(url, Value::Str(sha))]);
    assert_eq!(
        value_from_msgpack(&want).unwrap(),
        Value::Map(vec![("checksums".into(), checksums)])
    );
}

#[test]
fn section_7_cids() {
    #[derive(serde::Deserialize)]
    struct Recipe {
        name: String,
        schema: String,
        shards: Vec<String>,
    }
    let sha = running_sha256();
    let cbor = hex_bytes(&example("cid-entry-dagcbor"));
    let recipe: Recipe = serde_ipld_dagcbor::from_slice(&cbor).unwrap();
    assert_eq!(
        (recipe.name.as_str(), recipe.schema.as_str(), recipe.shards),
        (NAME, SCHEMA_REF, vec![sha.clone()])
    );

    let cid_text = example("cid-entry");
    let cid_text = text(&cid_text).trim();
    same_text(
        "cid-entry",
        &entry_cid(NAME, SCHEMA_REF, &[&sha]).unwrap(),
        cid_text,
    );
    let cid = cid::Cid::from_str(cid_text).unwrap();
    assert_eq!((cid.version(), cid.codec()), (cid::Version::V1, 0x71));
    assert_eq!(cid.hash().code(), 0x12);
    assert_eq!(hex::encode(cid.hash().digest()), sha256_hex(&cbor));
    same_bytes(
        "cid-entry-bytes",
        &cid.to_bytes(),
        &hex_bytes(&example("cid-entry-bytes")),
    );

    let py07 = example("cid-py07");
    same_text(
        "cid-py07",
        &python_entry_cid(SCHEMA_REF, &[running_url()]).unwrap(),
        text(&py07).trim(),
    );
}

#[test]
fn section_8_store_owner_marker() {
    let want = text(&example("store-owner")).to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDiskStore::new(dir.path().join("data")).unwrap();
    let owner: StoreOwner = serde_json::from_str(&want).unwrap();
    store.set_owner(&owner, false).unwrap();
    let got = std::fs::read_to_string(store.root().join(".atdata-store")).unwrap();
    same_text("store-owner", got.trim_end(), &want);
    assert_eq!(store.owner().unwrap(), Some(owner));
}

/// Every "FORMAT.md section N" the sources cite names a numbered heading of the document.
#[test]
fn cited_sections_exist() {
    let doc = doc_text();
    let headings: BTreeSet<u32> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|h| h.split_once('.').and_then(|(n, _)| n.parse().ok()))
        .collect();
    let want: BTreeSet<u32> = (1..=headings.len() as u32).collect();
    assert_eq!(headings, want, "FORMAT.md sections are numbered 1..n");

    let mut files = Vec::new();
    for dir in ["crates", "python", "docs", "scripts", "examples", "tests"] {
        collect(&repo().join(dir), &mut files);
    }
    files.push(repo().join("README.md"));
    let mut cited = 0;
    for f in files {
        let Ok(body) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (at, _) in body.match_indices("FORMAT.md section") {
            let rest = &body[at + "FORMAT.md section".len()..];
            let rest = rest.strip_prefix('s').unwrap_or(rest);
            // "section 3", "sections 1, 2 and 7": the numbers up to the first word that is not one.
            for word in rest.split_whitespace() {
                let word = word.trim_end_matches([',', ')', '.', ';', ':']);
                if word == "and" {
                    continue;
                }
                let Ok(n) = word.parse::<u32>() else { break };
                cited += 1;
                assert!(
                    headings.contains(&n),
                    "{} cites FORMAT.md section {n}, which does not exist",
                    f.display()
                );
            }
        }
    }
    assert!(cited > 0, "no citation found: is the search broken?");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "fixtures" {
            continue;
        }
        if p.is_dir() {
            collect(&p, out);
        } else if ["rs", "py", "md", "sh", "toml"]
            .iter()
            .any(|x| p.extension().is_some_and(|e| e == *x))
        {
            out.push(p);
        }
    }
}
