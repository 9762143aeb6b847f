//! The index commands (`ls`, `show`, `schemas`, `schema show`, `verify`, `gc`, `preview`,
//! `add`) against an index written through the core `Index`, and against the index file
//! Python atdata 0.7 wrote.

mod common;
#[path = "../../atdata/tests/py07_common/mod.rs"]
mod py07_common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use atdata::index::{Entry, WriteOptions};
use atdata::{Field, FieldType, Index, LocalDiskStore, NdArray, Primitive, Sample, Schema, Value};
use common::{atdata, atdata_in, flip_byte, py07_fixtures, write_dataset};
use serde_json::Value as Json;

/// An `ATDATA_HOME` holding `docs` (versions 1 and 2) and `vecs`.
struct Home {
    dir: tempfile::TempDir,
    docs1: Entry,
    docs2: Entry,
    vecs: Entry,
}

impl Home {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> common::Run {
        atdata_in(self.path(), args)
    }
}

fn text_schema() -> Schema {
    let mut s = Schema::new(
        "TextDoc",
        vec![
            Field::new("text", FieldType::Primitive(Primitive::Str)),
            Field::new("n", FieldType::Primitive(Primitive::Int)),
        ],
    );
    s.description = Some("A text document.".into());
    s
}

fn vec_schema() -> Schema {
    Schema::new(
        "VecSample",
        vec![
            Field::new("vector", FieldType::ndarray_of("float32")),
            Field::new("label", FieldType::Primitive(Primitive::Str)),
        ],
    )
}

fn docs(n: usize, offset: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::new(vec![
                ("text".into(), Value::Str(format!("doc {}", i + offset))),
                ("n".into(), Value::Int((i + offset) as i64)),
            ])
        })
        .collect()
}

fn vecs(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let v: Vec<f32> = (0..4).map(|j| (i * 4 + j) as f32 * 0.5).collect();
            Sample::new(vec![
                (
                    "vector".into(),
                    Value::Array(NdArray::from_vec(vec![4], v).unwrap()),
                ),
                ("label".into(), Value::Str(format!("class_{i}"))),
            ])
        })
        .collect()
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open(dir.path().join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(dir.path().join("data")).unwrap());
    let docs1 = index
        .write_samples(
            &text_schema(),
            docs(10, 0),
            &WriteOptions::new("docs")
                .description("ten documents")
                .tags(["text", "small"])
                .maxcount(4),
        )
        .unwrap();
    let vecs = index
        .write_samples(&vec_schema(), vecs(6), &WriteOptions::new("vecs"))
        .unwrap();
    let docs2 = index
        .write_samples(&text_schema(), docs(3, 100), &WriteOptions::new("docs"))
        .unwrap();
    assert_eq!(docs1.shards.len(), 3);
    assert_eq!((docs1.version.as_str(), docs2.version.as_str()), ("1", "2"));
    Home {
        dir,
        docs1,
        docs2,
        vecs,
    }
}

fn strings(j: &Json) -> Vec<String> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ls_json_lists_every_version() {
    let h = home();
    let run = h.run(&["ls", "--json"]);
    assert!(run.ok(), "{run:?}");
    let list = run.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (got, want) in list.iter().zip([&h.docs1, &h.vecs, &h.docs2]) {
        assert_eq!(got["name"], want.name.as_str());
        assert_eq!(got["version"], want.version.as_str());
        assert_eq!(got["cid"], want.cid.as_str());
        assert_eq!(
            strings(&got["data_urls"]),
            want.data_urls().collect::<Vec<_>>()
        );
    }
    assert_eq!(list[0]["num_samples"], 10);
    assert_eq!(list[0]["description"], "ten documents");
    assert_eq!(strings(&list[0]["tags"]), ["text", "small"]);
}

#[test]
fn ls_table() {
    let h = home();
    let run = h.run(&["ls"]);
    assert!(run.ok(), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{run:?}");
    assert!(lines[0].starts_with("NAME"), "{run:?}");
    assert!(lines[1].starts_with("docs") && lines[1].contains("ten documents"));
    assert!(lines[1].contains("text,small") && lines[1].contains(&h.docs1.cid[..16]));
    assert!(lines[2].starts_with("vecs"));
}

#[test]
fn explicit_index_and_store_options() {
    let h = home();
    let index = h.path().join("index.db");
    let store = h.path().join("data");
    let run = atdata(&[
        "ls",
        "--json",
        "--index",
        index.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(run.ok(), "{run:?}");
    assert_eq!(run.json().as_array().unwrap().len(), 3);
}

#[test]
fn reading_a_missing_index_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["ls"][..],
        &["ls", "--json"],
        &["show", "docs"],
        &["schemas"],
        &["verify", "docs"],
        &["preview", "@local/docs"],
        &["gc", "--dry-run"],
        &["gc"],
    ] {
        let run = atdata_in(dir.path(), args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(run.stderr.contains("no index at"), "{args:?}: {run:?}");
        assert!(run.stderr.contains("index.db"), "{args:?}: {run:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} created something"
        );
    }
}

#[test]
fn show_resolves_every_reference_form() {
    let h = home();
    let cid_ref = format!("@local/docs@{}", h.docs1.cid);
    for (reference, want) in [
        ("@local/docs", &h.docs2),
        ("docs", &h.docs2),
        ("@local/docs@1", &h.docs1),
        ("docs@2", &h.docs2),
        (cid_ref.as_str(), &h.docs1),
    ] {
        let run = h.run(&["show", reference, "--json"]);
        assert!(run.ok(), "{reference}: {run:?}");
        let j = run.json();
        assert_eq!(j["cid"], want.cid.as_str(), "{reference}");
        assert_eq!(j["version"], want.version.as_str(), "{reference}");
    }
}

#[test]
fn show_json_has_schema_shards_and_versions() {
    let h = home();
    let run = h.run(&["show", "@local/docs@1", "--json"]);
    assert!(run.ok(), "{run:?}");
    let j = run.json();
    assert_eq!(j["reference"], "@local/docs@1");
    assert_eq!(strings(&j["versions"]), ["1", "2"]);
    assert_eq!(j["schema"]["name"], "TextDoc");
    let fields: Vec<&str> = j["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["text", "n"]);
    let shards = j["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    for (s, info) in shards.iter().zip(&h.docs1.shards) {
        assert_eq!(s["url"], info.url.as_str());
        assert_eq!(s["sha256"].as_str(), info.sha256.as_deref());
        assert_eq!(s["samples"].as_u64(), info.samples);
        assert_eq!(s["bytes"].as_u64(), info.bytes);
        let on_disk = std::fs::metadata(&info.url).unwrap().len();
        assert_eq!(s["bytes"].as_u64(), Some(on_disk));
    }
    let counts: Vec<u64> = shards
        .iter()
        .map(|s| s["samples"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4, 4, 2]);
}

#[test]
fn show_text() {
    let h = home();
    let run = h.run(&["show", "vecs"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.starts_with("@local/vecs@1\n"), "{run:?}");
    assert!(run.stdout.contains(&h.vecs.cid), "{run:?}");
    assert!(run.stdout.contains("ndarray[float32]"), "{run:?}");
    assert!(
        run.stdout
            .contains(h.vecs.shards[0].sha256.as_deref().unwrap()),
        "{run:?}"
    );
}

#[test]
fn unknown_dataset_lists_what_exists() {
    let h = home();
    for cmd in ["show", "verify", "preview"] {
        let run = h.run(&[cmd, "@local/nope"]);
        assert_eq!(run.code, Some(1), "{cmd}: {run:?}");
        assert!(run.stdout.is_empty(), "{cmd}: {run:?}");
        assert!(run.stderr.contains("nope"), "{cmd}: {run:?}");
        assert!(
            run.stderr.contains("docs") && run.stderr.contains("vecs"),
            "{cmd} lists the datasets: {run:?}"
        );
    }
}

#[test]
fn unknown_version_lists_the_versions() {
    let h = home();
    let run = h.run(&["show", "@local/docs@9"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("1, 2"), "{run:?}");
}

#[test]
fn schemas_and_schema_show() {
    let h = home();
    let run = h.run(&["schemas", "--json"]);
    assert!(run.ok(), "{run:?}");
    let names: Vec<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}@{}",
                s["name"].as_str().unwrap(),
                s["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["TextDoc@1.0.0", "VecSample@1.0.0"]);

    let run = h.run(&["schemas"]);
    assert!(run.ok() && run.stdout.contains("VecSample"), "{run:?}");

    for reference in ["@local/vecs", "vecs", "VecSample", "VecSample@1.0.0"] {
        let run = h.run(&["schema", "show", reference, "--json"]);
        assert!(run.ok(), "{reference}: {run:?}");
        let j = run.json();
        assert_eq!(j["name"], "VecSample", "{reference}");
        assert_eq!(j["fields"][0]["fieldType"]["$type"], "local#ndarray");
    }
    let run = h.run(&["schema", "show", "docs"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.starts_with("TextDoc@1.0.0"), "{run:?}");
    assert!(run.stdout.contains("A text document."), "{run:?}");

    let run = h.run(&["schema", "show", "Nothing"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("Nothing"), "{run:?}");
}

#[test]
fn verify_ok_then_a_flipped_byte_is_named() {
    let h = home();
    let run = h.run(&["verify", "@local/docs@1"]);
    assert!(run.ok(), "{run:?}");
    let ok_lines = run.stdout.lines().filter(|l| l.starts_with("OK")).count();
    assert_eq!(ok_lines, 3, "{run:?}");

    let damaged = &h.docs1.shards[1].url;
    flip_byte(Path::new(damaged), 700);
    let run = h.run(&["verify", "@local/docs@1"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(damaged.as_str()))
        .unwrap_or_else(|| panic!("the damaged shard has a line: {run:?}"));
    assert!(line.starts_with("DIFFERS"), "{run:?}");
    for other in [&h.docs1.shards[0].url, &h.docs1.shards[2].url] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with("OK") && l.contains(other.as_str())),
            "{run:?}"
        );
    }
    assert!(run.stderr.contains(damaged.as_str()), "{run:?}");

    // The other version shares no shard with the damaged one.
    assert!(h.run(&["verify", "@local/docs@2"]).ok());
}

/// Runs `atdata args...` on a pseudo-terminal (util-linux `script`), returning what the
/// terminal showed; `None` where `script` is not installed.
fn on_a_terminal(home: &Path, args: &[&str]) -> Option<String> {
    let which = std::process::Command::new("script")
        .arg("--version")
        .output();
    if !which.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let command = std::iter::once(env!("CARGO_BIN_EXE_atdata"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("ATDATA_HOME", home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn verify_and_add_show_a_byte_bar_on_a_terminal() {
    let h = home();
    let Some(shown) = on_a_terminal(h.path(), &["verify", "@local/docs@1"]) else {
        return;
    };
    let total: u64 = h.docs1.shards.iter().filter_map(|s| s.bytes).sum();
    assert!(
        shown.contains("verifying @local/docs@1") && shown.contains("KiB"),
        "{shown}"
    );
    // The bar ends full: every byte of the three shards was counted.
    let full = format!("{0:.2} KiB/{0:.2} KiB", total as f64 / 1024.0);
    assert!(shown.contains(&full), "wanted '{full}' in {shown}");
    assert!(shown.contains("3 shard(s) OK"), "{shown}");

    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 10, 5);
    let target = dir.path().display().to_string();
    let shown = on_a_terminal(h.path(), &["add", "more", &target]).unwrap();
    assert!(shown.contains("indexing into 'more'"), "{shown}");
    assert!(shown.contains("@local/more@1"), "{shown}");
}

#[test]
fn verify_reports_a_missing_shard_in_json() {
    let h = home();
    let gone = &h.docs1.shards[0].url;
    std::fs::remove_file(gone).unwrap();
    let run = h.run(&["verify", "docs@1", "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let j = run.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["cid"], h.docs1.cid.as_str());
    let statuses: Vec<(String, String)> = j["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["url"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(gone.clone(), "MISSING".to_string())),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|(_, s)| s == "OK").count(), 2);
}

#[test]
fn preview_of_the_index_and_of_files() {
    let h = home();
    let run = h.run(&["preview", "@local/vecs", "-n", "2"]);
    assert!(run.ok(), "{run:?}");
    assert_eq!(run.stdout.matches("--- sample").count(), 2, "{run:?}");
    assert!(
        run.stdout
            .contains("ndarray[float32] shape (4,) [2.0, 2.5, 3.0, 3.5]"),
        "{run:?}"
    );
    assert!(run.stdout.contains("\"class_1\""), "{run:?}");

    let run = h.run(&["preview", "docs", "-n", "100"]);
    assert!(run.ok(), "{run:?}");
    assert_eq!(
        run.stdout.matches("--- sample").count(),
        3,
        "newest version: {run:?}"
    );
    assert!(run.stdout.contains("\"doc 100\""), "{run:?}");

    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 3, 10);
    let run = atdata(&["preview", dir.path().to_str().unwrap(), "-n", "1"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("\"document 0\""), "{run:?}");
    assert!(
        run.stdout
            .contains("ndarray[float32] shape (4,) [0.0, 1.0, 2.0, 3.0]"),
        "{run:?}"
    );
}

#[test]
fn add_indexes_shards_where_they_are() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 7, 3);
    let run = atdata_in(
        home.path(),
        &[
            "add",
            "mine",
            dir.path().to_str().unwrap(),
            "--description",
            "seven samples",
            "--tag",
            "a",
            "--tag",
            "b",
            "--json",
        ],
    );
    assert!(run.ok(), "{run:?}");
    let j = run.json();
    assert_eq!(j["name"], "mine");
    assert_eq!(j["version"], "1");
    assert_eq!(j["num_samples"], 7);
    assert_eq!(j["description"], "seven samples");
    assert_eq!(strings(&j["tags"]), ["a", "b"]);
    let want: Vec<String> = shards
        .iter()
        .map(|s| {
            std::fs::canonicalize(&s.path)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(strings(&j["data_urls"]), want);
    for (s, shard) in j["shards"].as_array().unwrap().iter().zip(&shards) {
        assert_eq!(s["sha256"].as_str(), Some(shard.sha256.as_str()));
    }

    let run = atdata_in(home.path(), &["schema", "show", "mine", "--json"]);
    assert!(run.ok(), "{run:?}");
    let fields: Vec<(String, bool)> = run.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["optional"] == true,
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("text".to_string(), false),
            ("label".to_string(), false),
            ("note".to_string(), true),
            ("vector".to_string(), false)
        ],
        "the first sample's None does not decide the type of 'note'"
    );

    assert!(atdata_in(home.path(), &["verify", "mine"]).ok());
    let run = atdata_in(home.path(), &["preview", "@local/mine", "-n", "2"]);
    assert!(run.ok() && run.stdout.contains("\"odd\""), "{run:?}");

    // The same shards again: same content, same CID, no new version.
    let again = atdata_in(
        home.path(),
        &["add", "mine", dir.path().to_str().unwrap(), "--json"],
    );
    assert!(again.ok(), "{again:?}");
    assert_eq!(again.json()["cid"], j["cid"]);
}

/// The CLI's default index and store are the core's (`atdata::home::default_paths`): an empty
/// `ATDATA_HOME` counts as unset, so `~/.atdata` is used, as in Python.
#[test]
fn default_index_is_the_cores_and_an_empty_atdata_home_is_unset() {
    let user = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 3, 2);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_atdata"))
            .args(args)
            .env("ATDATA_HOME", "")
            .env("HOME", user.path())
            .output()
            .unwrap()
    };
    let out = run(&["add", "mine", dir.path().to_str().unwrap(), "--copy"]);
    assert!(out.status.success(), "{out:?}");
    let paths = atdata::home::DefaultPaths::under(user.path().join(".atdata"));
    assert!(
        paths.index.is_file(),
        "the index is {}",
        paths.index.display()
    );
    assert!(paths.store.join("mine").is_dir());
    let out = run(&["ls"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("mine"),
        "{out:?}"
    );
}

/// Shards under `dir` holding `samples`, two per shard.
fn shards_of(dir: &Path, samples: Vec<Vec<(&str, Value)>>) -> String {
    let encoded = samples.into_iter().map(|s| {
        let mut buf = Vec::new();
        atdata::codec::encode_sample(&s, &mut buf);
        buf
    });
    let opts = atdata::shard::ShardOptions {
        maxcount: Some(2),
        maxsize: None,
    };
    atdata::shard::write_shards(dir, "part", encoded, opts).unwrap();
    dir.display().to_string()
}

fn vector(n: usize) -> Value {
    Value::Array(NdArray::from_vec(vec![n], vec![0.5f32; n]).unwrap())
}

/// `inspect` merges over every sample and `add` records the schema the same engine infers
/// over every sample: a first sample unlike the others (an empty list, a whole number, a
/// None, a field missing) gives both the same schema.
#[test]
fn inspect_and_add_infer_the_same_schema_when_the_first_sample_differs() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = shards_of(
        dir.path(),
        vec![
            vec![
                ("ids", Value::List(vec![])),
                ("x", Value::Int(1)),
                ("note", Value::Nil),
                ("vec", vector(2)),
            ],
            vec![
                ("ids", Value::List(vec![Value::Int(3)])),
                ("x", Value::Float(0.5)),
                ("note", Value::from("s")),
                ("vec", vector(3)),
                ("late", Value::Bool(true)),
            ],
            vec![
                ("ids", Value::List(vec![Value::Int(4), Value::Int(5)])),
                ("x", Value::Float(1.5)),
                ("note", Value::from("t")),
                ("vec", vector(3)),
            ],
        ],
    );
    let inspected = atdata_in(home.path(), &["inspect", &target, "--json"]);
    assert!(inspected.ok(), "{inspected:?}");
    let inspected = inspected.json();
    assert_eq!(inspected["schema_error"], Json::Null, "{inspected}");

    let added = atdata_in(home.path(), &["add", "mixed", &target]);
    assert!(added.ok(), "{added:?}");
    let recorded = atdata_in(home.path(), &["schema", "show", "@local/mixed", "--json"]);
    assert!(recorded.ok(), "{recorded:?}");
    let recorded = recorded.json();
    assert_eq!(
        recorded["fields"], inspected["schema"]["fields"],
        "{recorded}"
    );

    let shown: Vec<String> = recorded["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}", f["name"].as_str().unwrap(), f["optional"]))
        .collect();
    assert_eq!(
        shown,
        [
            "ids:false",
            "x:false",
            "note:true",
            "vec:false",
            "late:true"
        ]
    );
    let schema = Schema::from_json(&recorded.to_string()).unwrap();
    let ty = |n: &str| schema.field(n).unwrap().ty.to_string();
    assert_eq!(ty("ids"), "list[int]");
    assert_eq!(ty("x"), "float");
    assert_eq!(ty("vec"), "ndarray[float32]");
}

/// Shards no schema type fits: `inspect` says why, and `add` refuses them naming the field
/// and the shard and key where the other type appeared, adding nothing.
#[test]
fn add_refuses_shards_of_mixed_types_naming_field_and_sample() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = shards_of(
        dir.path(),
        vec![
            vec![("label", Value::from("cat"))],
            vec![("label", Value::from("dog"))],
            vec![("label", Value::Int(3))],
        ],
    );
    let inspected = atdata_in(home.path(), &["inspect", &target, "--json"]).json();
    assert_eq!(inspected["schema"], Json::Null);
    assert!(
        inspected["schema_error"]
            .as_str()
            .unwrap()
            .contains("field 'label'"),
        "{inspected}"
    );
    let human = atdata_in(home.path(), &["inspect", &target]);
    assert!(human.stdout.contains("none fits every sample"), "{human:?}");

    let run = atdata_in(home.path(), &["add", "mixed", &target]);
    assert_eq!(run.code, Some(1), "{run:?}");
    for part in ["field 'label'", "str | int", "part-000001.tar"] {
        assert!(run.stderr.contains(part), "{part}: {run:?}");
    }
    let ls = atdata_in(home.path(), &["ls", "--json"]);
    assert_eq!(ls.json(), Json::from(Vec::<Json>::new()), "{ls:?}");
}

#[test]
fn add_copy_puts_shards_in_the_store() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 5, 2);
    let pattern = format!("{}/data-{{000000..000002}}.tar", dir.path().display());
    let run = atdata_in(
        home.path(),
        &["add", "copied", &pattern, "--copy", "--json"],
    );
    assert!(run.ok(), "{run:?}");
    let j = run.json();
    assert_eq!(j["num_samples"], 5);
    let store = std::fs::canonicalize(home.path().join("data")).unwrap();
    for url in strings(&j["data_urls"]) {
        assert!(Path::new(&url).starts_with(&store), "{url} is in the store");
    }
    // The originals can go: the copies are what the index refers to.
    drop(dir);
    assert!(atdata_in(home.path(), &["verify", "copied"]).ok());
    let run = atdata_in(home.path(), &["ls"]);
    assert!(run.stdout.contains("copied"), "{run:?}");
}

#[test]
fn add_failures_name_the_problem() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 4, 2);

    let missing = dir.path().join("missing.tar");
    let run = atdata_in(home.path(), &["add", "x", missing.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("missing.tar"), "{run:?}");

    flip_byte(&shards[1].path, 10);
    let run = atdata_in(home.path(), &["add", "x", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains(shards[1].path.to_str().unwrap()),
        "{run:?}"
    );
    assert!(run.stderr.contains("byte offset 0"), "{run:?}");

    let run = atdata_in(
        home.path(),
        &["add", "bad/name", shards[0].path.to_str().unwrap()],
    );
    assert_eq!(run.code, Some(1), "{run:?}");

    let run = atdata_in(home.path(), &["ls", "--json"]);
    assert_eq!(
        run.json(),
        serde_json::json!([]),
        "nothing was added: {run:?}"
    );
}

/// Makes `path` look last modified an hour ago.
fn age(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[test]
fn gc_removes_only_unreferenced_old_shards() {
    let h = home();
    let folder = h.path().join("data").join("docs");
    let orphan = folder.join("data--deadbeef--000000.tar");
    std::fs::copy(&h.docs1.shards[0].url, &orphan).unwrap();
    age(&orphan);
    let recent = folder.join("data--feedface--000000.tar");
    std::fs::copy(&h.docs1.shards[0].url, &recent).unwrap();

    let run = h.run(&["gc", "--dry-run"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("would remove"), "{run:?}");
    assert!(run.stdout.contains("deadbeef"), "{run:?}");
    assert!(!run.stdout.contains("feedface"), "{run:?}");
    assert!(run.stdout.contains("kept 1 recent"), "{run:?}");
    assert!(orphan.exists(), "a dry run removes nothing");

    let run = h.run(&["gc"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("removed"), "{run:?}");
    assert!(!orphan.exists());
    assert!(recent.exists());
    for r in ["docs@1", "docs@2", "vecs"] {
        assert!(h.run(&["verify", r]).ok(), "{r} intact after gc");
    }
}

#[test]
fn gc_grace_sets_the_age_below_which_unreferenced_files_are_kept_and_json_reports_them() {
    let h = home();
    let folder = h.path().join("data").join("docs");
    let recent = folder.join("data--feedface--000000.tar");
    std::fs::copy(&h.docs1.shards[0].url, &recent).unwrap();

    // Under the default 15 minutes a file just made is kept...
    let run = h.run(&["gc", "--json"]);
    assert!(run.ok(), "{run:?}");
    let report = run.json();
    assert_eq!(report["kept_recent"], 1, "{run:?}");
    assert_eq!(report["shards"], serde_json::json!([]), "{run:?}");
    assert!(recent.exists());

    // ...and with no grace it goes, while every referenced shard stays.
    let run = h.run(&["gc", "--grace", "0", "--json"]);
    assert!(run.ok(), "{run:?}");
    let report = run.json();
    assert_eq!(report["shards"][0]["url"], recent.display().to_string());
    assert_eq!(report["dry_run"], false);
    assert!(!recent.exists());
    for r in ["docs@1", "docs@2", "vecs"] {
        assert!(h.run(&["verify", r]).ok(), "{r} intact after gc");
    }

    let run = h.run(&["gc", "--grace", "10y"]);
    assert_eq!(run.code, Some(2), "a usage error: {run:?}");
    assert!(run.stderr.contains("unit"), "{run:?}");
}

#[test]
fn usage_errors_exit_2() {
    let run = atdata(&["show"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let run = atdata(&["frobnicate"]);
    assert_eq!(run.code, Some(2), "{run:?}");
}

#[test]
fn python_07_index() {
    let Some(fixtures) = py07_fixtures() else {
        eprintln!("skipped: crates/atdata/tests/fixtures/py07 has not been generated");
        return;
    };
    if !fixtures.join("index/index.db").exists() {
        eprintln!("skipped: the py07 fixtures have no index");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = py07_common::relocated_index(dir.path());
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(fixtures.join("fixture_manifest.json")).unwrap())
            .unwrap();
    let index = db.to_str().unwrap();
    let store = dir.path().join("index/data");
    let store = store.to_str().unwrap();
    let run_ = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--index", index, "--store", store]);
        atdata(&all)
    };

    let run = run_(&["ls", "--json"]);
    assert!(run.ok(), "{run:?}");
    let listed = run.json();
    let entries = manifest["entries"].as_array().unwrap();
    assert_eq!(listed.as_array().unwrap().len(), entries.len(), "{listed}");
    for e in entries {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["cid"] == e["cid"] && l["name"] == e["name"]),
            "{e} is listed"
        );
    }

    for (reference, want) in manifest["resolution"].as_object().unwrap() {
        let run = run_(&["show", reference, "--json"]);
        assert!(run.ok(), "{reference}: {run:?}");
        let j = run.json();
        assert_eq!(j["cid"], want["cid"], "{reference}");

        let run = run_(&["verify", reference]);
        assert!(run.ok(), "{reference}: {run:?}");
        assert!(run.stdout.lines().any(|l| l.starts_with("OK")), "{run:?}");

        let run = run_(&["preview", reference, "-n", "1"]);
        assert!(run.ok(), "{reference}: {run:?}");
        assert_eq!(run.stdout.matches("--- sample").count(), 1, "{run:?}");
    }

    let run = run_(&["schemas", "--json"]);
    assert!(run.ok(), "{run:?}");
    let names: Vec<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"TextSample".to_string()), "{names:?}");
    assert!(names.contains(&"EmbeddingSample".to_string()), "{names:?}");
}

/// Every shard file of the home's store, made old enough for any gc to take.
fn age_every_shard(h: &Home) -> Vec<std::path::PathBuf> {
    let mut shards = Vec::new();
    for e in [&h.docs1, &h.docs2, &h.vecs] {
        for url in e.data_urls() {
            age(Path::new(url));
            shards.push(Path::new(url).to_path_buf());
        }
    }
    shards
}

fn all_exist(files: &[std::path::PathBuf]) -> bool {
    files.iter().all(|f| f.is_file())
}

#[test]
fn gc_with_a_mistyped_index_refuses_and_creates_no_file() {
    let h = home();
    let shards = age_every_shard(&h);
    let typo = h.path().join("indx.db");
    let store = h.path().join("data");
    for dry in [true, false] {
        let mut args = vec![
            "gc",
            "--index",
            typo.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ];
        if dry {
            args.push("--dry-run");
        }
        let run = atdata(&args);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("no index at") && run.stderr.contains("indx.db"),
            "{run:?}"
        );
        assert!(!typo.exists(), "gc created the mistyped index");
        assert!(all_exist(&shards), "gc removed shards");
    }
    // The default index missing (a mistyped ATDATA_HOME) with the store given: the same.
    let other_home = tempfile::tempdir().unwrap();
    let run = atdata_in(
        other_home.path(),
        &["gc", "--store", store.to_str().unwrap()],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(std::fs::read_dir(other_home.path()).unwrap().count(), 0);
    assert!(all_exist(&shards));
}

#[test]
fn gc_dry_run_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("nope.db");
    let store = dir.path().join("store");
    let run = atdata(&[
        "gc",
        "--dry-run",
        "--index",
        index.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{run:?}");
    // Nor does a dry run change an index or a store that exist (no marker, no claim).
    let h = home();
    std::fs::remove_file(h.path().join("data/.atdata-store")).unwrap();
    let before = std::fs::metadata(h.path().join("index.db")).unwrap().len();
    let run = h.run(&["gc", "--dry-run", "--claim"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("would claim"), "{run:?}");
    assert!(!h.path().join("data/.atdata-store").exists());
    assert_eq!(
        std::fs::metadata(h.path().join("index.db")).unwrap().len(),
        before
    );
}

#[test]
fn a_truncated_index_is_an_error_naming_it() {
    let h = home();
    let shards = age_every_shard(&h);
    let db = h.path().join("index.db");
    for side in ["index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(h.path().join(side));
    }
    std::fs::File::create(&db).unwrap(); // truncates to 0 bytes
    for args in [
        &["ls"][..],
        &["show", "docs"],
        &["verify", "docs"],
        &["gc", "--dry-run"],
        &["gc"],
        &["gc", "--claim", "--force"],
    ] {
        let run = h.run(args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("not an atdata index") && run.stderr.contains("index.db"),
            "{args:?}: {run:?}"
        );
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "{args:?}");
        assert!(all_exist(&shards), "{args:?} removed shards");
    }
}

#[test]
fn an_index_path_that_is_a_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        &["ls", "--index", d][..],
        &["gc", "--dry-run", "--index", d],
    ] {
        let run = atdata(args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("is a directory") && run.stderr.contains(d),
            "{args:?}: {run:?}"
        );
    }
}

#[test]
fn gc_refuses_a_store_it_does_not_own() {
    let h = home();
    let shards = age_every_shard(&h);
    let store = h.path().join("data");
    // Another index that writes into the same store does not take it over...
    let other = h.path().join("other.db");
    let index = Index::open(&other)
        .unwrap()
        .with_store(LocalDiskStore::new(&store).unwrap());
    index
        .write_samples(&text_schema(), docs(2, 500), &WriteOptions::new("more"))
        .unwrap();
    let marker = std::fs::read_to_string(store.join(".atdata-store")).unwrap();
    assert!(
        marker.contains("index.db") && !marker.contains("other.db"),
        "{marker}"
    );
    // ...and cannot collect it: the home's shards are not its own.
    for dry in [true, false] {
        let mut args = vec![
            "gc",
            "--index",
            other.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ];
        if dry {
            args.push("--dry-run");
        }
        let run = atdata(&args);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("belongs to another index") && run.stderr.contains("index.db"),
            "{run:?}"
        );
        assert!(all_exist(&shards));
    }
}

#[test]
fn gc_refuses_a_store_without_an_owner_until_claimed() {
    let h = home();
    let shards = age_every_shard(&h);
    let orphan = h.path().join("data/docs/data--deadbeef--000000.tar");
    std::fs::copy(&h.docs1.shards[0].url, &orphan).unwrap();
    age(&orphan);
    // What atdata 0.7 or an earlier build leaves: no record of the owner.
    std::fs::remove_file(h.path().join("data/.atdata-store")).unwrap();
    let run = h.run(&["gc"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("records no owning index") && run.stderr.contains("--claim"),
        "{run:?}"
    );
    assert!(orphan.exists() && all_exist(&shards));
    let run = h.run(&["gc", "--claim"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("claimed the store"), "{run:?}");
    assert!(!orphan.exists());
    assert!(all_exist(&shards));
    assert!(h.run(&["gc"]).ok(), "claimed once, collected from then on");
}

#[test]
fn gc_refuses_an_index_that_references_nothing_in_the_store_unless_forced() {
    let h = home();
    let shards = age_every_shard(&h);
    let store = h.path().join("data");
    let empty = h.path().join("empty.db");
    drop(Index::open(&empty).unwrap());
    let base = [
        "gc",
        "--index",
        empty.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        atdata(&a)
    };
    // Even claimed, an index referencing none of the store's shards is the wrong index.
    let run = with(&["--claim"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("references any of the") && run.stderr.contains("--force"),
        "{run:?}"
    );
    assert!(all_exist(&shards));
    let marker = std::fs::read_to_string(store.join(".atdata-store")).unwrap();
    assert!(
        !marker.contains("empty.db"),
        "a refused gc claims nothing: {marker}"
    );
    let run = with(&["--claim", "--force", "--dry-run"]);
    assert!(run.ok(), "{run:?}");
    assert!(all_exist(&shards));
    let run = with(&["--claim", "--force"]);
    assert!(run.ok(), "{run:?}");
    assert!(shards.iter().all(|s| !s.exists()), "forced, it collects");
}

#[test]
fn verify_fails_when_a_shard_has_no_recorded_digest() {
    let h = home();
    // As Python atdata 0.7 writes an entry without checksums: none of our facts either.
    let conn = rusqlite::Connection::open(h.path().join("index.db")).unwrap();
    conn.execute(
        "UPDATE dataset_entries SET atdata_info = NULL, metadata = NULL WHERE cid = ?1",
        [&h.vecs.cid],
    )
    .unwrap();
    drop(conn);
    let run = h.run(&["verify", "vecs"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("UNCHECKED"), "{run:?}");
    assert!(run.stderr.contains("could not be checked"), "{run:?}");
    let run = h.run(&["verify", "vecs", "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["ok"], false, "{run:?}");
    assert!(
        h.run(&["verify", "docs"]).ok(),
        "a fully checked dataset still passes"
    );
}

#[test]
fn ls_lists_the_readable_rows_and_names_the_corrupt_one() {
    let h = home();
    let shards = age_every_shard(&h);
    let conn = rusqlite::Connection::open(h.path().join("index.db")).unwrap();
    conn.execute(
        "UPDATE dataset_entries SET atdata_info = x'91' WHERE cid = ?1",
        [&h.vecs.cid],
    )
    .unwrap();
    drop(conn);
    let run = h.run(&["ls"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains(&h.docs1.cid[..16]), "{run:?}");
    assert!(run.stdout.contains(&h.docs2.cid[..16]), "{run:?}");
    assert!(
        run.stderr.contains("skipped 1 row") && run.stderr.contains("'vecs'"),
        "{run:?}"
    );
    assert!(run.stderr.contains(&h.vecs.cid), "{run:?}");
    assert!(!run.stderr.contains("<unknown location>"), "{run:?}");
    let run = h.run(&["ls", "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json().as_array().unwrap().len(), 2, "{run:?}");
    // gc cannot know what the row references: it stops.
    let run = h.run(&["gc"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("cannot be read") && run.stderr.contains(&h.vecs.cid),
        "{run:?}"
    );
    assert!(all_exist(&shards));
}
