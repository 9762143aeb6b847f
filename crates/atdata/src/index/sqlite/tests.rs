//! The SQLite provider against the conformance suite, and what only this backend does:
//! 0.7's rows and labels, our columns added to 0.7's layout.

use super::*;
use std::sync::Arc;

use crate::index::columns::{info, sqlite_time_to_rfc3339};
use crate::index::conformance;
use crate::index::entry::{strings_to_msgpack, to_msgpack};
use crate::index::entry::{Committed, NewEntry, ShardInfo};
use crate::index::provider::ProviderExt;
use rusqlite::params;

fn file_provider(dir: &tempfile::TempDir) -> SqliteProvider {
    SqliteProvider::open(dir.path().join("index.db")).unwrap()
}

#[test]
fn in_memory_databases_pass_the_conformance_suite() {
    conformance::run_all(&|| Arc::new(SqliteProvider::in_memory().unwrap()) as Arc<dyn Provider>);
}

#[test]
fn database_files_pass_the_conformance_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        let p = file_provider(&dir);
        // Kept until the suite ends: the file must outlive its provider.
        dirs.lock().unwrap().push(dir);
        Arc::new(p) as Arc<dyn Provider>
    });
}

#[test]
fn many_handles_on_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.db");
    let handles: Vec<SqliteProvider> = (0..4)
        .map(|_| SqliteProvider::open(&path).unwrap())
        .collect();
    let refs: Vec<&dyn Provider> = handles.iter().map(|h| h as &dyn Provider).collect();
    conformance::many_writers(&refs, 25);
}

#[test]
fn reopened_file_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let first = file_provider(&dir);
    let c = first
        .commit(&conformance::sample_entry("docs", 3, "a"))
        .unwrap();
    drop(first);
    let again = file_provider(&dir);
    assert_eq!(again.entry_by_cid(&c.entry.cid).unwrap(), Some(c.entry));
}

#[test]
fn relocated_shards_are_what_python_reads_and_python_rows_cannot_move() {
    let p = SqliteProvider::in_memory().unwrap();
    let c = p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
    let digest = c.entry.shards[0].sha256.clone().unwrap();
    p.relocate_shards(
        &c.entry.cid,
        &["/store/d/x.tar".to_string()],
        &mut || Ok(()),
    )
    .unwrap();
    let (urls, meta): (Vec<u8>, Vec<u8>) = p
        .lock()
        .query_row(
            "SELECT data_urls, metadata FROM dataset_entries WHERE cid = ?1",
            [&c.entry.cid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(urls, strings_to_msgpack(["/store/d/x.tar"]));
    let want = crate::Value::Map(vec![(
        "checksums".into(),
        crate::Value::Map(vec![("/store/d/x.tar".into(), crate::Value::from(digest))]),
    )]);
    assert_eq!(meta, to_msgpack(&want));

    let url = "/d/a.tar".to_string();
    let schema_ref = "atdata://local/schema/T@1.0.0";
    let cid = crate::codec::python_entry_cid(schema_ref, std::slice::from_ref(&url)).unwrap();
    p.lock()
        .execute(
            "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
             VALUES (?1, 'py', ?2, ?3)",
            params![cid, schema_ref, strings_to_msgpack([url.as_str()])],
        )
        .unwrap();
    let e = p
        .relocate_shards(&cid, &["/x.tar".to_string()], &mut || Ok(()))
        .unwrap_err();
    assert!(e.to_string().contains("0.7"), "{e}");
    assert_eq!(p.entry_by_cid(&cid).unwrap().unwrap().shards[0].url, url);
}

#[test]
fn python_rows_get_versions_by_insertion_order() {
    let p = SqliteProvider::in_memory().unwrap();
    {
        let conn = p.lock();
        for (cid, url) in [("bafy1", "/d/a.tar"), ("bafy2", "/d/b.tar")] {
            let meta = to_msgpack(&crate::Value::Map(vec![(
                "checksums".into(),
                crate::Value::Map(vec![(url.into(), crate::Value::from("ab12"))]),
            )]));
            conn.execute(
                "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, metadata) \
                 VALUES (?1, 'py', 'atdata://local/schema/T@1.0.0', ?2, ?3)",
                params![cid, strings_to_msgpack(&[url.to_string()]), meta],
            )
            .unwrap();
        }
    }
    assert_eq!(p.versions("py").unwrap(), vec!["1", "2"]);
    let latest = p.latest_entry("py").unwrap().unwrap();
    assert_eq!(latest.cid, "bafy2");
    assert_eq!(latest.shards[0].sha256.as_deref(), Some("ab12"));
    assert_eq!(latest.num_samples, None);
    assert!(latest.created_at.contains('T'), "{}", latest.created_at);
    // A write after them continues the numbering.
    let c = p.commit(&conformance::sample_entry("py", 1, "x")).unwrap();
    assert_eq!(c.entry.version, "3");
    // Learned counts are cached and keep the version.
    p.record_shard_info("bafy1", &[ShardInfo::new("/d/a.tar", "ffff", 7, 10240)])
        .unwrap();
    let first = p.entry_by_version("py", "1").unwrap().unwrap();
    assert_eq!(first.cid, "bafy1");
    assert_eq!(first.num_samples, Some(7));
    assert_eq!(
        first.shards[0].sha256.as_deref(),
        Some("ab12"),
        "known digest kept"
    );
    assert_eq!(p.versions("py").unwrap(), vec!["1", "2", "3"]);
}

#[test]
fn a_row_replaced_by_python_becomes_the_newest_and_keeps_numbers_unique() {
    let p = SqliteProvider::in_memory().unwrap();
    let first = p
        .commit(&conformance::sample_entry("d", 1, "x"))
        .unwrap()
        .entry;
    let second = p
        .commit(&conformance::sample_entry("d", 1, "y"))
        .unwrap()
        .entry;
    // What Python 0.7 does when an entry with the same CID is stored again: the row moves to
    // the end, with 0.7's columns only.
    p.lock()
        .execute(
            "INSERT OR REPLACE INTO dataset_entries \
             (cid, name, schema_ref, data_urls, metadata) \
             SELECT cid, name, schema_ref, data_urls, metadata FROM dataset_entries \
             WHERE cid = ?1",
            [&first.cid],
        )
        .unwrap();
    assert_eq!(p.versions("d").unwrap(), vec!["2", "3"]);
    let moved = p.entry_by_cid(&first.cid).unwrap().unwrap();
    assert_eq!(moved.version, "3");
    assert_eq!(
        moved.shards[0].sha256, first.shards[0].sha256,
        "from 0.7's checksums"
    );
    assert_eq!(p.latest_entry("d").unwrap().unwrap().cid, first.cid);
    assert_eq!(p.entry_by_version("d", "2").unwrap(), Some(second.clone()));
    // The label of version 1 points at a row that is version 3 now: not version 1.
    assert_eq!(p.entry_by_version("d", "1").unwrap(), None);
    assert_eq!(
        p.entry_by_version("d", "3").unwrap().unwrap().cid,
        first.cid
    );
    let listed: Vec<String> = p
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(listed, vec!["2", "3"]);
    let next = p
        .commit(&conformance::sample_entry("d", 1, "z"))
        .unwrap()
        .entry;
    assert_eq!(next.version, "4");
}

#[test]
fn python_labels_resolve_as_versions() {
    let p = SqliteProvider::in_memory().unwrap();
    let c = p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
    p.lock()
        .execute(
            "INSERT INTO labels (name, cid, version) VALUES ('d', ?1, '1.0.0')",
            [&c.entry.cid],
        )
        .unwrap();
    assert_eq!(
        p.entry_by_version("d", "1.0.0").unwrap().map(|e| e.cid),
        Some(c.entry.cid)
    );
    assert!(p.entry_by_version("d", "01").unwrap().is_none());
}

#[test]
fn labels_point_at_the_newest_for_python() {
    let p = SqliteProvider::in_memory().unwrap();
    p.commit(&conformance::sample_entry("d", 1, "x")).unwrap();
    let second = p.commit(&conformance::sample_entry("d", 1, "y")).unwrap();
    let conn = p.lock();
    // The query Python atdata 0.7 uses to resolve a bare name.
    let cid: String = conn
        .query_row(
            "SELECT cid FROM labels WHERE name = 'd' ORDER BY created_at DESC, rowid DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cid, second.entry.cid);
    let versions: Vec<String> = conn
        .prepare("SELECT version FROM labels WHERE name = 'd' ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|v| v.unwrap())
        .collect();
    assert_eq!(versions, vec!["", "1", "2"]);
}

#[test]
fn corrupt_rows_are_errors_naming_the_entry() {
    let p = SqliteProvider::in_memory().unwrap();
    p.lock()
        .execute(
            "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
             VALUES ('bad', 'n', 's', x'ff')",
            [],
        )
        .unwrap();
    let e = p.entry_by_cid("bad").unwrap_err();
    assert!(e.to_string().contains("'bad'"), "{e}");
}

#[test]
fn text_that_is_not_utf8_is_named_by_row_and_column() {
    let cases = [
        (
            "'c1', 'n', 's', x'91a1ff', NULL",
            "index entry 'c1': data_urls: URL 0 is not UTF-8",
        ),
        (
            "x'ff', 'n', 's', x'90', NULL",
            "index row 2: column cid is not UTF-8",
        ),
        (
            "'c1', 'n', x'ff', x'90', NULL",
            "index row 2: column schema_ref is not UTF-8",
        ),
        (
            "'c1', 'n', 's', x'90', x'ff'",
            "index row 2: column created_at is not UTF-8",
        ),
        // Each piece alone is not UTF-8, though side by side they are ("aéb").
        (
            "x'61c3', x'a962', 's', x'90', NULL",
            "index row 2: column cid is not UTF-8",
        ),
        (
            "'c1', 'n', x'61c3', x'91a2a962', NULL",
            "index row 2: column schema_ref is not UTF-8",
        ),
    ];
    for (values, want) in cases {
        let p = SqliteProvider::in_memory().unwrap();
        let conn = p.lock();
        conn.execute(
            "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
             VALUES ('ok', 'n', 's', x'90')",
            [],
        )
        .unwrap();
        conn.execute(
            &format!(
                "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls, created_at) \
                 VALUES ({values})"
            ),
            [],
        )
        .unwrap();
        drop(conn);
        let e = p.entries().unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn text_in_our_facts_that_is_not_utf8_is_named() {
    let mut new = conformance::sample_entry("NAME", 1, "s");
    new.description = Some("DESC".into());
    new.tags = vec!["TAG".into()];
    new.license = Some("LIC".into());
    let p = SqliteProvider::in_memory().unwrap();
    let cid = p.commit(&new).unwrap().entry.cid;
    // A digest kept as text (commits take hex only; 0.7's checksums may be any text), put in
    // through the backend primitive.
    p.write(&mut |tx| {
        let mut e = tx.entry_by_cid(&cid)?.unwrap();
        e.shards[0].sha256 = Some("TEXT-DIGEST".into());
        tx.update_shards(&e)
    })
    .unwrap();
    let info = info_of(&p, &cid);
    let cases: [(&[u8], String); 7] = [
        (
            b"DESC",
            format!("index entry '{cid}': atdata_info: description is not UTF-8"),
        ),
        (
            b"TAG",
            format!("index entry '{cid}': atdata_info: tags is not UTF-8"),
        ),
        (
            b"LIC",
            format!("index entry '{cid}': atdata_info: license is not UTF-8"),
        ),
        (
            b"TEXT-DIGEST",
            format!("index entry '{cid}': atdata_info: the sha256 of shard 0 is not UTF-8"),
        ),
        (
            b"/store",
            format!("index entry '{cid}': atdata_info: URL 0 is not UTF-8"),
        ),
        (
            b"\xa4NAME",
            "index row 1: atdata_info: name is not UTF-8".into(),
        ),
        (
            cid.as_bytes(),
            "index row 1: atdata_info: cid is not UTF-8".into(),
        ),
    ];
    for (needle, want) in cases {
        let at = info
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        let mut bad = info.clone();
        // The last byte of the needle: inside the string, whatever its marker.
        bad[at + needle.len() - 1] = 0xff;
        p.lock()
            .execute("UPDATE dataset_entries SET atdata_info = ?1", [bad])
            .unwrap();
        let e = p.entries().unwrap_err().to_string();
        assert!(e.contains(&want), "{e}");
    }
}

#[test]
fn times_convert() {
    assert_eq!(
        sqlite_time_to_rfc3339("2026-01-02 03:04:05"),
        "2026-01-02T03:04:05+00:00"
    );
    assert_eq!(
        sqlite_time_to_rfc3339("2026-01-02T03:04:05Z"),
        "2026-01-02T03:04:05Z"
    );
}

#[test]
fn large_commits_and_listings_keep_order_versions_and_errors() {
    // Big enough that both the commit and the listing work on several threads.
    let p = SqliteProvider::in_memory().unwrap();
    let batch: Vec<NewEntry> = (0..1500)
        .map(|i| {
            let mut e = conformance::sample_entry(&format!("n{}", i % 7), 2, &format!("s{i}"));
            e.description = Some(format!("entry {i}"));
            e
        })
        .collect();
    let committed = p.commit_many(&batch).unwrap();
    // 0.7 resolves each bare name to its newest entry of the batch.
    for n in 0..7 {
        let name = format!("n{n}");
        let newest = committed
            .iter()
            .rev()
            .find(|c| c.entry.name == name)
            .unwrap();
        let labelled: String = p
            .lock()
            .query_row(
                "SELECT cid FROM labels WHERE name = ?1 AND version = ''",
                [&name],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(labelled, newest.entry.cid);
    }
    // A row 0.7 wrote, after them.
    p.lock()
        .execute(
            "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
             VALUES ('py', 'n3', 'atdata://local/schema/T@1.0.0', ?1)",
            [strings_to_msgpack(&["/py.tar".to_string()])],
        )
        .unwrap();
    let listed = p.entries().unwrap();
    assert_eq!(listed.len(), 1501);
    for (i, (c, l)) in committed.iter().zip(&listed).enumerate() {
        assert!(c.created);
        assert_eq!(&c.entry, l, "entry {i}");
        assert_eq!(c.entry.version, (i / 7 + 1).to_string());
        assert_eq!(
            l.description.as_deref(),
            Some(format!("entry {i}").as_str())
        );
    }
    let py = &listed[1500];
    assert_eq!(py.cid, "py");
    let n3 = committed.iter().filter(|c| c.entry.name == "n3").count();
    assert_eq!(py.version, (n3 + 1).to_string());
    assert_eq!(p.entry_by_cid("py").unwrap().unwrap(), *py);
    // One unreadable row fails the listing, naming it.
    p.lock()
        .execute(
            "INSERT INTO dataset_entries (cid, name, schema_ref, data_urls) \
             VALUES ('bad', 'n', 's', x'ff')",
            [],
        )
        .unwrap();
    let e = p.entries().unwrap_err();
    assert!(e.to_string().contains("'bad'"), "{e}");
}

/// `n` entries committed at once, each under a name of its own (`n0`, `n1`, ...).
fn commit_distinct(p: &SqliteProvider, n: usize, shards: usize) -> Vec<Committed> {
    let batch: Vec<NewEntry> = (0..n)
        .map(|i| conformance::sample_entry(&format!("n{i}"), shards, &format!("s{i}")))
        .collect();
    p.commit_many(&batch).unwrap()
}

/// The `atdata_info` of the entry `cid`.
fn info_of(p: &SqliteProvider, cid: &str) -> Vec<u8> {
    p.lock()
        .query_row(
            "SELECT atdata_info FROM dataset_entries WHERE cid = ?1",
            [cid],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn rows_0_7_wrote_are_read_from_its_columns_midway_through_a_listing() {
    let p = SqliteProvider::in_memory().unwrap();
    let committed = commit_distinct(&p, 700, 2);
    let cid = |i: usize| committed[i].entry.cid.as_str();
    // Row 300 as 0.7 wrote it.
    p.lock()
        .execute(
            "UPDATE dataset_entries SET atdata_info = NULL, atdata_version = NULL WHERE cid = ?1",
            [cid(300)],
        )
        .unwrap();
    let listed = p.entries().unwrap();
    assert_eq!(listed.len(), 700);
    for (i, (c, l)) in committed.iter().zip(&listed).enumerate() {
        if i != 300 {
            assert_eq!(&c.entry, l, "entry {i}");
        }
    }
    // 0.7's row keeps what 0.7 knows: the digests from its checksums, not our facts.
    let (py, ours) = (&listed[300], &committed[300].entry);
    assert_eq!(
        (&py.cid, &py.name, &py.version),
        (&ours.cid, &ours.name, &ours.version)
    );
    let digests = |e: &Entry| -> Vec<(String, Option<String>)> {
        e.shards
            .iter()
            .map(|s| (s.url.clone(), s.sha256.clone()))
            .collect()
    };
    assert_eq!(digests(py), digests(ours));
    assert_eq!((py.num_samples, py.shards[0].samples), (None, None));
}

#[test]
fn a_bad_row_in_the_middle_of_a_long_listing_is_an_error_naming_it() {
    // Long enough that one thread scans while another decodes: the first fault decides, on
    // either side, and the provider stays usable.
    let p = SqliteProvider::in_memory().unwrap();
    let committed = commit_distinct(&p, 1200, 1);
    let victim = &committed[600].entry.cid;
    let set = |sql: &str| p.lock().execute(sql, [victim]).unwrap();
    let info = info_of(&p, victim);
    // Parsed where SQLite steps: a blob too short to be ours, so the row is read with every
    // column.
    set("UPDATE dataset_entries SET atdata_info = x'91' WHERE cid = ?1");
    let e = p.entries().unwrap_err().to_string();
    assert!(
        e.contains(victim.as_str()) && e.contains("atdata_info"),
        "{e}"
    );
    // Eleven positions (and bytes enough for them) but broken: read from our columns alone,
    // the CID is looked up.
    set("UPDATE dataset_entries SET atdata_info = x'9ba178c0c0c0c0c0c0c0c0c0c0' WHERE cid = ?1");
    let e = p.entries().unwrap_err().to_string();
    assert!(
        e.contains(&format!("index entry '{victim}': atdata_info"))
            && e.contains("num_samples is not an integer"),
        "{e}"
    );
    // Checked where the entries are built: a name that is not UTF-8 in our copy of the
    // columns...
    let at = info.windows(5).position(|w| w == b"\xa4n600").unwrap();
    let mut bad_name = info.clone();
    bad_name[at + 4] = 0xff;
    p.lock()
        .execute(
            "UPDATE dataset_entries SET atdata_info = ?1 WHERE cid = ?2",
            rusqlite::params![bad_name, victim],
        )
        .unwrap();
    let e = p.entries().unwrap_err().to_string();
    assert!(e.contains("atdata_info: name is not UTF-8"), "{e}");
    // ...and in 0.7's column of a row 0.7 wrote, which the listing reads with every column
    // from there on.
    p.lock()
        .execute(
            "UPDATE dataset_entries SET atdata_info = NULL, atdata_version = NULL, name = x'ff' \
             WHERE cid = ?1",
            [victim],
        )
        .unwrap();
    let e = p.entries().unwrap_err().to_string();
    assert!(e.contains("column name is not UTF-8"), "{e}");
    p.lock()
        .execute(
            "UPDATE dataset_entries SET atdata_info = ?1, atdata_version = 1, name = 'n600' \
             WHERE cid = ?2",
            rusqlite::params![info, victim],
        )
        .unwrap();
    let listed = p.entries().unwrap();
    assert_eq!(listed.len(), 1200);
    assert_eq!(listed[600], committed[600].entry);
}

#[test]
fn a_bad_entry_in_a_large_batch_fails_the_whole_batch() {
    let p = SqliteProvider::in_memory().unwrap();
    let mut batch: Vec<NewEntry> = (0..600)
        .map(|i| conformance::sample_entry("d", 1, &format!("s{i}")))
        .collect();
    batch[400].shards[0].sha256 = None;
    let e = p.commit_many(&batch).unwrap_err();
    assert!(e.to_string().contains("has no sha256"), "{e}");
    assert!(p.entries().unwrap().is_empty());
}

#[test]
fn new_files_get_our_page_size_and_existing_ones_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |p: &SqliteProvider| -> i64 {
        p.lock()
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    };
    let fresh = SqliteProvider::open(dir.path().join("new.db")).unwrap();
    assert_eq!(page_size(&fresh), 16384);
    assert_eq!(page_size(&SqliteProvider::in_memory().unwrap()), 16384);
    let old = dir.path().join("old.db");
    Connection::open(&old)
        .unwrap()
        .execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x); PRAGMA journal_mode = WAL;")
        .unwrap();
    let reopened = SqliteProvider::open(&old).unwrap();
    assert_eq!(page_size(&reopened), 4096);
    reopened
        .commit(&conformance::sample_entry("d", 1, "x"))
        .unwrap();
    assert_eq!(reopened.entries().unwrap().len(), 1);
}

#[test]
fn a_listing_goes_on_past_unreadable_rows_and_names_each_by_dataset_and_cid() {
    let p = SqliteProvider::in_memory().unwrap();
    let committed = commit_distinct(&p, 600, 1);
    let victims = [&committed[10].entry, &committed[450].entry];
    for v in victims {
        p.lock()
            .execute(
                "UPDATE dataset_entries SET atdata_info = x'91' WHERE cid = ?1",
                [&v.cid],
            )
            .unwrap();
    }
    let listing = p.listing().unwrap();
    assert_eq!(listing.entries.len(), 598);
    assert_eq!(listing.skipped.len(), 2);
    for (e, v) in listing.skipped.iter().zip(victims) {
        let text = e.to_string();
        assert!(
            text.contains(&format!("dataset '{}'", v.name)) && text.contains(&v.cid),
            "{text}"
        );
        assert!(!text.contains("<unknown location>"), "{text}");
    }
    // Every other entry as the fast path reads it, versions included.
    let skipped: Vec<&str> = victims.iter().map(|v| v.cid.as_str()).collect();
    let want: Vec<(String, String)> = committed
        .iter()
        .filter(|c| !skipped.contains(&c.entry.cid.as_str()))
        .map(|c| (c.entry.cid.clone(), c.entry.version.clone()))
        .collect();
    let got: Vec<(String, String)> = listing
        .entries
        .iter()
        .map(|e| (e.cid.clone(), e.version.clone()))
        .collect();
    assert_eq!(got, want);
    // The strict listing is the first skipped row's error, counting the others.
    let e = p.entries().unwrap_err().to_string();
    assert!(e.contains(&victims[0].cid) && e.contains("1 more"), "{e}");
}

#[test]
fn a_read_only_handle_never_writes_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.db");
    let cid = {
        let w = SqliteProvider::open(&path).unwrap();
        w.commit(&conformance::sample_entry("d", 1, "x"))
            .unwrap()
            .entry
            .cid
    };
    let r = SqliteProvider::open_read_only(&path).unwrap();
    assert!(r.is_read_only());
    assert_eq!(r.entries().unwrap()[0].cid, cid);
    assert!(r.index_id().unwrap().is_some());
    for e in [
        r.commit(&conformance::sample_entry("d", 1, "y"))
            .unwrap_err(),
        r.record_shard_info(&cid, &[]).unwrap_err(),
        r.write(&mut |_| Ok(())).unwrap_err(),
    ] {
        assert!(e.to_string().contains("opened read-only"), "{e}");
    }
}

#[test]
fn committed_rows_carry_0_7_columns_in_atdata_info_so_listing_reads_three_columns() {
    let p = SqliteProvider::in_memory().unwrap();
    for c in commit_distinct(&p, 300, 2) {
        assert!(info::has_columns(&info_of(&p, &c.entry.cid)));
    }
    let c = p.commit(&conformance::sample_entry("one", 1, "x")).unwrap();
    assert!(info::has_columns(&info_of(&p, &c.entry.cid)));
}
