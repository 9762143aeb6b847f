//! The atdata home through the public API: the default store, the default index and what
//! `load_dataset("@local/x")` reads when no index was set, and a write through the index that
//! lands in the 0.7 layout. (The behaviour every store must show is the conformance suite in
//! `store/conformance.rs`, run by the unit tests of `store/local.rs`; the `$ATDATA_HOME` rule
//! itself is unit-tested in `home.rs`.)

mod index_common;

use std::path::Path;

use atdata::home::default_paths;
use atdata::index::{default_index, WriteOptions};
use atdata::store::DataStore;
use atdata::{load_dataset, Error, Index, LocalDiskStore};

// One test changes the process environment, so nothing else in this binary may read it.
#[test]
fn defaults_live_under_atdata_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::env::set_var("ATDATA_HOME", &home);
    assert_eq!(default_paths().unwrap().home, home);

    // Loading by name with no index set reads the home's index and never creates it.
    let e = load_dataset("@local/docs", None).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("index.db"), "{e}");
    assert!(!home.join("index.db").exists(), "loading created the index");

    let store = LocalDiskStore::at_default_root().unwrap();
    assert_eq!(
        store.root(),
        std::fs::canonicalize(home.join("data")).unwrap()
    );
    assert_eq!(store.kind(), "LocalDiskStore");

    // The default index: `$ATDATA_HOME/index.db` with the store beside it.
    let index = Index::open_default().unwrap();
    let e = index
        .write(index_common::texts(3, "a"), &WriteOptions::new("docs"))
        .unwrap();
    assert!(home.join("index.db").is_file());
    assert!(e.shards[0]
        .url
        .starts_with(&store.root().display().to_string()));
    // ... which `load_dataset` now finds, with no index passed or set.
    let dict = load_dataset("@local/docs", None).unwrap();
    assert_eq!(dict.split("train").unwrap().len().unwrap(), 3);
    // ... and which the process default index is when none was set (not one in memory).
    let default = default_index().unwrap();
    assert_eq!(default.get("@local/docs").unwrap().cid, e.cid);

    // An index without a store of its own writes to the default store too (as 0.7 does).
    let bare = Index::open(dir.path().join("other.db")).unwrap();
    let e2 = bare
        .write(index_common::texts(3, "b"), &WriteOptions::new("docs"))
        .unwrap();
    assert!(Path::new(&e2.shards[0].url).starts_with(store.root()));

    // An empty ATDATA_HOME counts as unset.
    std::env::set_var("ATDATA_HOME", "");
    let user = std::env::var_os("HOME").expect("tests run with HOME set");
    assert_eq!(
        default_paths().unwrap().home,
        Path::new(&user).join(".atdata")
    );
    std::env::remove_var("ATDATA_HOME");
}
