//! Shard URLs read back from an index are literal: glob and brace characters in a dataset name
//! or in the store root are part of the file names. The one exception is a row Python atdata
//! 0.7 wrote, whose URL may be the brace pattern its user typed: brace-expanded (never
//! globbed) when no file has that literal name.

mod index_common;
mod py07_common;

use std::path::Path;

use atdata::codec::python_entry_cid;
use atdata::dataset::Order;
use atdata::index::entry::strings_to_msgpack;
use atdata::index::{GcOptions, ShardProblem, WriteOptions};
use atdata::{Index, LocalDiskStore};
use index_common::{texts, TextSample};
use py07_common::{fixtures, relocated_index};

/// Names whose characters mean something to globs or brace expansion, each with a decoy that
/// such a pattern would match.
const TRICKY: &[(&str, &str)] = &[("a?", "ab"), ("b*", "bb"), ("c[1]", "c1"), ("{x,y}", "x")];

fn count(index: &Index, reference: &str) -> usize {
    index
        .load(reference)
        .unwrap()
        .typed::<TextSample>(Order::Ordered)
        .map(Result::unwrap)
        .count()
}

fn datasets_with_pattern_characters_load_their_own_shards_under(root: &Path) {
    let index = Index::open(root.join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(root.join("data")).unwrap());
    for (i, (name, decoy)) in TRICKY.iter().enumerate() {
        // Different sizes, so that a shard of the wrong dataset shows in the count.
        index
            .write(texts(3 + i, name), &WriteOptions::new(*name))
            .unwrap();
        index
            .write(texts(10 + i, decoy), &WriteOptions::new(*decoy))
            .unwrap();
    }
    for (i, (name, decoy)) in TRICKY.iter().enumerate() {
        assert_eq!(index.sample_count(name).unwrap(), 3 + i as u64, "{name}");
        assert_eq!(
            count(&index, name),
            3 + i,
            "{name} read its own shards only"
        );
        assert_eq!(count(&index, decoy), 10 + i, "{decoy}");
        let report = index.verify(name).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.checked.len(), 1, "{name}");
    }
    // Every file is referenced: nothing to collect.
    let gc = index
        .gc_with(&GcOptions {
            dry_run: true,
            grace: std::time::Duration::ZERO,
            claim: false,
            force: false,
        })
        .unwrap();
    assert!(gc.shards.is_empty(), "{gc:?}");
}

#[test]
fn glob_and_brace_characters_in_dataset_names_are_literal() {
    let dir = tempfile::tempdir().unwrap();
    datasets_with_pattern_characters_load_their_own_shards_under(dir.path());
}

#[test]
fn glob_and_brace_characters_in_the_store_root_are_literal() {
    let dir = tempfile::tempdir().unwrap();
    for root in ["run[1]", "run{a,b}", "r?n*[1]{a,b}"] {
        let root = dir.path().join(root);
        // Decoys a glob or brace expansion of the root would reach.
        for decoy in ["run1", "runa", "runb"] {
            std::fs::create_dir_all(dir.path().join(decoy)).unwrap();
        }
        datasets_with_pattern_characters_load_their_own_shards_under(&root);
    }
}

#[test]
fn a_shard_missing_under_a_root_with_pattern_characters_is_reported_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("run[1]");
    let index = Index::open(root.join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(root.join("data")).unwrap());
    let e = index
        .write(texts(3, "a"), &WriteOptions::new("a?"))
        .unwrap();
    assert!(index.verify("a?").unwrap().is_ok());
    std::fs::remove_file(&e.shards[0].url).unwrap();
    let report = index.verify("a?").unwrap();
    assert_eq!(
        report.problems,
        vec![ShardProblem::Missing {
            url: e.shards[0].url.clone()
        }]
    );
}

/// Inserts a row the way Python atdata 0.7 does when it indexes a dataset without a store: its
/// URLs as typed, its CID 0.7's recipe over them.
fn insert_py07_row(db: &Path, name: &str, urls: &[String]) -> String {
    let schema_ref = "atdata://local/schema/TextSample@1.0.0";
    let cid = python_entry_cid(schema_ref, urls).unwrap();
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, metadata) \
         VALUES (?1, ?2, ?3, ?4, NULL)",
        rusqlite::params![cid, name, schema_ref, strings_to_msgpack(urls)],
    )
    .unwrap();
    cid
}

#[test]
fn a_python_07_row_holding_a_brace_pattern_is_brace_expanded_never_globbed() {
    let dir = tempfile::tempdir().unwrap();
    let db = relocated_index(dir.path());
    // The fixture's text shard holds 6 TextSamples. Folder names hold glob characters (never
    // expanded) and, for the literal file, braces too (0.7 itself would expand those, so a
    // pattern cannot live there).
    let text = fixtures().join("shards/text.tar");
    let shards = dir.path().join("typed[1]*");
    let odd = dir.path().join("typed[1]{a,b}");
    for d in [&shards, &odd] {
        std::fs::create_dir_all(d).unwrap();
    }
    for i in 0..2 {
        std::fs::copy(&text, shards.join(format!("text-{i}.tar"))).unwrap();
    }
    std::fs::copy(&text, shards.join("glob1.tar")).unwrap();
    std::fs::copy(&text, odd.join("text-{0..1}.tar")).unwrap();
    let at = |rel: &str| shards.join(rel).display().to_string();
    let literal = odd.join("text-{0..1}.tar").display().to_string();

    insert_py07_row(&db, "pattern", &[at("text-{0..1}.tar")]);
    insert_py07_row(&db, "literal", &[literal]);
    insert_py07_row(&db, "glob", &[at("glob?.tar")]);
    let index = Index::open(&db).unwrap();

    // A brace pattern naming no file: expanded as 0.7 would, both shards read.
    assert_eq!(index.sample_count("pattern").unwrap(), 12);
    assert_eq!(count(&index, "pattern"), 12);
    let report = index.verify("pattern").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        report.unverifiable,
        vec![at("text-0.tar"), at("text-1.tar")]
    );

    // A file whose literal name holds braces is that file.
    assert_eq!(count(&index, "literal"), 6);
    assert!(index.verify("literal").unwrap().is_ok());

    // A glob is never expanded: the shard named literally does not exist.
    assert!(index.sample_count("glob").is_err());
    let report = index.verify("glob").unwrap();
    assert_eq!(
        report.problems,
        vec![ShardProblem::Missing {
            url: at("glob?.tar")
        }]
    );
}

#[test]
fn a_row_we_wrote_is_literal_even_when_its_url_looks_like_a_brace_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open(dir.path().join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(dir.path().join("data")).unwrap());
    // `{x,y}` and decoys `x`, `y`: the entry of `{x,y}` names one folder, not two.
    index.write(texts(2, "x"), &WriteOptions::new("x")).unwrap();
    index.write(texts(4, "y"), &WriteOptions::new("y")).unwrap();
    let e = index
        .write(texts(3, "xy"), &WriteOptions::new("{x,y}"))
        .unwrap();
    assert!(e.shards[0].url.contains("/{x,y}/"), "{}", e.shards[0].url);
    // Its file gone, the entry's shard is missing: not replaced by the shards of x and y.
    std::fs::remove_file(&e.shards[0].url).unwrap();
    let report = index.verify("{x,y}").unwrap();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert!(index
        .load("{x,y}")
        .unwrap()
        .typed::<TextSample>(Order::Ordered)
        .any(|r| r.is_err()));
}

#[test]
fn gc_keeps_every_shard_a_python_07_brace_pattern_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.db");
    let store = LocalDiskStore::new(dir.path().join("data")).unwrap();
    let index = Index::open(&db).unwrap().with_store(store.clone());
    // One dataset of ours, so the store is owned by this index and referenced by it.
    index
        .write(texts(3, "ours"), &WriteOptions::new("ours"))
        .unwrap();
    // A dataset 0.7 wrote into the same store, indexed by the brace pattern its user typed.
    let folder = store.root().join("py07");
    std::fs::create_dir_all(&folder).unwrap();
    let text = fixtures().join("shards/text.tar");
    for i in 0..2 {
        std::fs::copy(&text, folder.join(format!("data--0a1b2c3d--00000{i}.tar"))).unwrap();
    }
    let pattern = folder
        .join("data--0a1b2c3d--{000000..000001}.tar")
        .display()
        .to_string();
    drop(index);
    insert_py07_row(&db, "py07", &[pattern]);
    let index = Index::open(&db).unwrap().with_store(store);
    assert_eq!(count(&index, "py07"), 12);

    let gc = index
        .gc_with(&GcOptions {
            dry_run: false,
            grace: std::time::Duration::ZERO,
            claim: false,
            force: false,
        })
        .unwrap();
    assert!(gc.shards.is_empty(), "{gc:?}");
    assert_eq!(count(&index, "py07"), 12);
    assert!(index.verify("py07").unwrap().is_ok());
}
