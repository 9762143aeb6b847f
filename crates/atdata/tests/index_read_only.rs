//! Opening an index to read never creates, initialises or changes anything, works on read-only
//! media, and says what is wrong with a path that is not an index; writes that cannot happen
//! name the index.
//!
//! The tests that need a read-only or a full filesystem mount one (a read-only bind mount, a
//! tiny tmpfs), which only root can: elsewhere they say so and pass.

mod index_common;
mod py07_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use atdata::index::{NewEntry, ProviderExt, SqliteProvider, WriteOptions};
use atdata::{Error, Index};
use index_common::{file_index, texts};

/// Every file of `dir` with the sha256 of its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let digest = atdata::codec::sha256_hex(&std::fs::read(&p).unwrap());
            (p, digest)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn opening_to_read_never_creates_or_initialises_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("sub/index.db");
    let e = Index::open_read_only(&missing).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    let e = Index::open_existing(&missing).unwrap_err();
    assert!(e.to_string().contains("no index at"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    for (path, why) in [
        (&empty, "the file is empty"),
        (&garbage, "not an SQLite database"),
        (&foreign, "no table 'dataset_entries'"),
    ] {
        let before = std::fs::read(path).unwrap();
        for e in [
            Index::open_read_only(path).unwrap_err(),
            Index::open_existing(path).unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(
                text.contains("not an atdata index")
                    && text.contains(why)
                    && text.contains(&path.display().to_string()),
                "{text}"
            );
        }
        assert_eq!(std::fs::read(path).unwrap(), before, "{path:?} was changed");
    }
    let e = Index::open_read_only(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    let e = Index::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
}

#[test]
fn reading_an_index_python_07_wrote_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = py07_common::relocated_index(dir.path());
    let folder = db.parent().unwrap();
    let before = snapshot(folder);
    let index = Index::open_read_only(&db).unwrap();
    let listed = index.list_datasets().unwrap();
    assert!(!listed.is_empty());
    for e in &listed {
        let reference = format!("@local/{}@{}", e.name, e.cid);
        let ds = index.load(&reference).unwrap();
        assert!(
            ds.samples(Default::default()).map(Result::unwrap).count() > 0,
            "{reference}"
        );
        assert!(index.verify(&reference).unwrap().is_ok());
    }
    assert_eq!(index.provider().index_id().unwrap(), None);
    // Writes through a read-only handle say so.
    let e = index
        .write(texts(2, "x"), &WriteOptions::new("new"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("opened read-only"), "{e}");
    drop(index);
    // The file is as it was (no table, column or identity added); the only files that may
    // appear are SQLite's own shared-memory and log files of a reader of a WAL database.
    let after: Vec<_> = snapshot(folder)
        .into_iter()
        .filter(|(p, _)| {
            !p.to_string_lossy().ends_with("-shm") && !p.to_string_lossy().ends_with("-wal")
        })
        .collect();
    assert_eq!(after, before, "reading changed the folder");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A mount, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Runs `mount args...` for `target`; `None` (with a note) when that is not possible here.
    fn new(target: &Path, steps: &[&[&str]]) -> Option<Mount> {
        if !is_root() {
            eprintln!("skipped: mounting needs root");
            return None;
        }
        std::fs::create_dir_all(target).unwrap();
        let mut mounted = None;
        for args in steps {
            let ok = Command::new("mount")
                .args(*args)
                .arg(target)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("skipped: `mount {args:?}` failed here");
                return None;
            }
            mounted.get_or_insert_with(|| Mount(target.to_path_buf()));
        }
        mounted
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_index_on_read_only_media_can_be_read_and_writes_say_it_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let written = {
        let index = file_index(&src);
        index
            .write(texts(30, "ro"), &WriteOptions::new("docs").maxcount(10))
            .unwrap()
    };
    // The last connection closed: no -wal or -shm file is left for readers to use.
    assert!(!src.join("index.db-wal").exists() && !src.join("index.db-shm").exists());
    let ro = dir.path().join("ro");
    let src_arg = src.to_str().unwrap();
    let Some(_mount) = Mount::new(&ro, &[&["--bind", src_arg], &["-o", "remount,bind,ro"]]) else {
        return;
    };
    assert!(
        std::fs::write(ro.join("probe"), b"x").is_err(),
        "mounted read-only"
    );
    let db = ro.join("index.db");

    let index = Index::open_read_only(&db).unwrap();
    let listed = index.list_datasets().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].cid, written.cid);
    assert_eq!(index.get("docs").unwrap().cid, written.cid);
    assert_eq!(
        index
            .load("docs")
            .unwrap()
            .samples(Default::default())
            .map(Result::unwrap)
            .count(),
        30
    );
    assert!(index.verify("docs").unwrap().is_verified());

    let e = Index::open(&db).unwrap_err().to_string();
    assert!(
        e.contains("is read-only") && e.contains(&db.display().to_string()),
        "{e}"
    );
    let e = Index::open_existing(&db).unwrap_err().to_string();
    assert!(e.contains("is read-only"), "{e}");
}

#[test]
fn a_full_disk_at_commit_names_the_index_and_reading_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let Some(_mount) = Mount::new(&small, &[&["-t", "tmpfs", "-o", "size=512k", "tmpfs"]]) else {
        return;
    };
    let db = small.join("index.db");
    let provider = SqliteProvider::open(&db).unwrap();
    let store = index_common::file_index(&dir.path().join("elsewhere"));
    let shards = store
        .write(texts(3, "full"), &WriteOptions::new("d"))
        .unwrap()
        .shards;
    // Fill the filesystem.
    let mut filler = std::fs::File::create(small.join("filler")).unwrap();
    let block = vec![0u8; 16 * 1024];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    let mut new = NewEntry {
        name: "d".into(),
        schema: <index_common::TextSample as atdata::Packable>::schema(),
        shards,
        description: Some("x".repeat(256 * 1024)),
        tags: Vec::new(),
        license: None,
        metadata: None,
    };
    let e = provider.commit(&new).unwrap_err().to_string();
    assert!(
        e.contains(&db.display().to_string()) && e.contains("full"),
        "{e}"
    );
    // Room again: the same commit goes through.
    std::fs::remove_file(small.join("filler")).unwrap();
    new.description = Some("fits".into());
    provider.commit(&new).unwrap();
    // Reading needs no room: with the disk full again, the index still reads.
    drop(provider);
    let mut filler = std::fs::File::create(small.join("filler")).unwrap();
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    let reader = SqliteProvider::open_read_only(&db).unwrap();
    assert_eq!(reader.entries().unwrap().len(), 1);
}
