//! `LocalDiskStore` through the public API: defaults under `$ATDATA_HOME`, and a write through
//! the index that lands in the 0.7 layout. (The behaviour every store must show is the
//! conformance suite in `store/conformance.rs`, run by the unit tests of `store/local.rs`.)

mod index_common;

use atdata::index::WriteOptions;
use atdata::store::{atdata_home, DataStore};
use atdata::{Index, LocalDiskStore};

// One test changes the process environment, so nothing else in this binary may read it.
#[test]
fn defaults_live_under_atdata_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::env::set_var("ATDATA_HOME", &home);
    assert_eq!(atdata_home().unwrap(), home);
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

    // An index without a store of its own writes to the default store too (as 0.7 does).
    let bare = Index::open(dir.path().join("other.db")).unwrap();
    let e2 = bare
        .write(index_common::texts(3, "b"), &WriteOptions::new("docs"))
        .unwrap();
    assert!(std::path::Path::new(&e2.shards[0].url).starts_with(store.root()));
    std::env::remove_var("ATDATA_HOME");
}
