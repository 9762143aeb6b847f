//! How the CLI reads its arguments: a dataset reference versus shard files (one rule, by the
//! text alone), dataset names, and `add --copy` after `add`. (URL schemes and literal paths
//! for `inspect` are in inspect.rs.)

mod common;

use std::path::Path;

use atdata::index::WriteOptions;
use atdata::{Field, FieldType, Index, LocalDiskStore, Primitive, Sample, Schema, Value};
use common::{atdata_at, atdata_in, write_dataset};

/// Writes dataset `name` with `n` samples `{word: "{name} {i}"}` into the index of `home`.
fn write_words(home: &Path, name: &str, n: usize) {
    let index = Index::open(home.join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(home.join("data")).unwrap());
    let schema = Schema::new(
        "Words",
        vec![Field::new("word", FieldType::Primitive(Primitive::Str))],
    );
    let samples =
        (0..n).map(|i| Sample::new(vec![("word".into(), Value::Str(format!("{name} {i}")))]));
    index
        .write_samples(&schema, samples, &WriteOptions::new(name))
        .unwrap();
}

#[test]
fn preview_of_a_bare_word_is_the_dataset_of_that_name_not_files_of_the_current_directory() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    write_dataset(cwd.path(), 3, 10);
    write_words(home.path(), "*", 2);

    let run = atdata_at(cwd.path(), home.path(), &["preview", "*"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("@local/*@1"), "{run:?}");
    assert!(run.stdout.contains("\"* 1\""), "{run:?}");
    assert!(
        !run.stdout.contains("document"),
        "no file was read: {run:?}"
    );

    // With --files, the same word is a glob over the current directory.
    let run = atdata_at(
        cwd.path(),
        home.path(),
        &["preview", "--files", "*", "-n", "1"],
    );
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("\"document 0\""), "{run:?}");

    // A word naming no dataset is an error about the dataset, whatever files are around.
    let run = atdata_at(cwd.path(), home.path(), &["preview", "data"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("no dataset named 'data'"), "{run:?}");
}

#[test]
fn preview_reads_files_when_the_argument_looks_like_files() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let shards = cwd.path().join("shards");
    std::fs::create_dir_all(&shards).unwrap();
    write_dataset(&shards, 3, 10);
    write_words(home.path(), "shards", 1);
    for arg in [
        "./shards",
        "shards/data-000000.tar",
        "shards/*.tar",
        "shards/data-{000000..000000}.tar",
    ] {
        let run = atdata_at(cwd.path(), home.path(), &["preview", arg, "-n", "1"]);
        assert!(run.ok(), "{arg}: {run:?}");
        assert!(run.stdout.contains("\"document 0\""), "{arg}: {run:?}");
    }
    // The bare word is the dataset.
    let run = atdata_at(cwd.path(), home.path(), &["preview", "shards"]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("\"shards 0\""), "{run:?}");
    // Where no such dataset exists, the error says how to reach the folder.
    let empty_home = tempfile::tempdir().unwrap();
    write_words(empty_home.path(), "other", 1);
    let run = atdata_at(cwd.path(), empty_home.path(), &["preview", "shards"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("./shards"), "{run:?}");
}

#[test]
fn add_refuses_the_names_write_refuses() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 2, 10);
    let target = dir.path().display().to_string();
    let long = "n".repeat(10_000);
    for name in ["..", ".", ".staging", "a\\b", long.as_str()] {
        for copy in [false, true] {
            let mut args = vec!["add", name, target.as_str()];
            if copy {
                args.push("--copy");
            }
            let run = atdata_in(home.path(), &args);
            assert_eq!(run.code, Some(1), "{run:?}");
            assert!(run.stderr.contains("dataset name"), "{run:?}");
            assert!(run.stderr.len() < 1000, "a short message: {run:?}");
        }
    }
    // Refused before anything was written: not even the index was created.
    assert!(!home.path().join("index.db").exists());
    let run = atdata_in(home.path(), &["ls", "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("no index at"), "{run:?}");
}

#[test]
fn add_copy_after_add_leaves_the_dataset_on_the_store_copies() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    write_dataset(&src, 5, 2);
    let target = src.display().to_string();
    let first = atdata_in(home.path(), &["add", "pts", &target, "--json"]);
    assert!(first.ok(), "{first:?}");
    let copied = atdata_in(home.path(), &["add", "pts", &target, "--copy", "--json"]);
    assert!(copied.ok(), "{copied:?}");
    assert_eq!(copied.json()["cid"], first.json()["cid"]);
    let store = std::fs::canonicalize(home.path().join("data")).unwrap();
    let shown = atdata_in(home.path(), &["show", "pts", "--json"]).json();
    for url in shown["data_urls"].as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(Path::new(url).starts_with(&store), "{url} is in the store");
    }
    std::fs::remove_dir_all(&src).unwrap();
    let gc = atdata_in(home.path(), &["gc"]);
    assert!(gc.ok(), "{gc:?}");
    let verify = atdata_in(home.path(), &["verify", "pts"]);
    assert!(verify.ok(), "{verify:?}");
    let preview = atdata_in(home.path(), &["preview", "pts", "-n", "5"]);
    assert!(preview.ok(), "{preview:?}");
    assert_eq!(
        preview.stdout.matches("--- sample").count(),
        5,
        "{preview:?}"
    );
}
