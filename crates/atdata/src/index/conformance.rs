//! The behaviour every [`Provider`] must show, as one `pub fn` per behaviour on `&dyn Provider`.
//!
//! Each backend's tests call [`run_all`] with a maker of fresh, empty providers, so no
//! behaviour is forgotten (see `index/sqlite/tests.rs`). Built for this crate's tests and, with
//! the `conformance` feature, for other crates' tests. Functions panic on failure, like
//! assertions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::codec::sha256_hex;
use crate::error::Error;
use crate::index::entry::{content_tag, Entry, NewEntry, ShardInfo};
use crate::index::provider::{list_all, ListQuery, Provider, ProviderExt};
use crate::schema::{Field, FieldType, Primitive, Schema};
use crate::value::Value;

/// The schema the suite writes: `TextSample {text: str}`.
pub fn text_schema() -> Schema {
    Schema::new(
        "TextSample",
        vec![Field::new("text", FieldType::Primitive(Primitive::Str))],
    )
}

/// A new entry for `name` with `shards` fake shards whose digests derive from `seed`: the same
/// arguments give the same content (and so the same CID).
pub fn sample_entry(name: &str, shards: usize, seed: &str) -> NewEntry {
    let digests: Vec<String> = (0..shards)
        .map(|i| sha256_hex(format!("{seed}-{i}").as_bytes()))
        .collect();
    NewEntry {
        name: name.to_string(),
        schema: text_schema(),
        shards: digests
            .iter()
            .enumerate()
            .map(|(i, d)| {
                ShardInfo::new(
                    format!("/store/{name}/data--{}--{i:06}.tar", content_tag(d)),
                    d.clone(),
                    10 + i as u64,
                    10240,
                )
            })
            .collect(),
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
    }
}

/// A fresh provider lists no entries, names or schemas.
pub fn empty_index_lists_nothing(p: &dyn Provider) {
    assert!(p.entries().unwrap().is_empty());
    assert!(p.names().unwrap().is_empty());
    assert!(p.schemas().unwrap().is_empty());
    assert!(p.versions("x").unwrap().is_empty());
    assert!(!p.kind().is_empty());
}

/// Writes of one name get versions "1", "2", "3" in commit order; the newest is the latest;
/// listing is oldest first.
pub fn commit_assigns_versions_in_order(p: &dyn Provider) {
    let mut cids = Vec::new();
    for seed in ["a", "b", "c"] {
        let c = p.commit(&sample_entry("docs", 2, seed)).unwrap();
        assert!(c.created);
        cids.push(c.entry.cid.clone());
        p.commit(&sample_entry("other", 1, seed)).unwrap();
    }
    assert_eq!(p.versions("docs").unwrap(), vec!["1", "2", "3"]);
    assert_eq!(p.latest_entry("docs").unwrap().unwrap().cid, cids[2]);
    assert_eq!(p.names().unwrap(), vec!["docs", "other"]);
    let listed: Vec<(String, String)> = p
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.version))
        .collect();
    let want: Vec<(String, String)> = ["1", "2", "3"]
        .iter()
        .flat_map(|v| {
            [
                ("docs".to_string(), v.to_string()),
                ("other".to_string(), v.to_string()),
            ]
        })
        .collect();
    assert_eq!(listed, want);
}

/// A committed entry is found by CID, by name (latest) and by name + version, identical each
/// way and identical to what `commit` returned.
pub fn commit_is_visible_by_cid_name_and_version(p: &dyn Provider) {
    let c = p.commit(&sample_entry("docs", 3, "a")).unwrap();
    let by_cid = p.entry_by_cid(&c.entry.cid).unwrap().unwrap();
    let latest = p.latest_entry("docs").unwrap().unwrap();
    let pinned = p.entry_by_version("docs", "1").unwrap().unwrap();
    assert_eq!(by_cid, c.entry);
    assert_eq!(latest, c.entry);
    assert_eq!(pinned, c.entry);
}

/// Committing the same content under the same name again returns the existing entry
/// (`created: false`) and adds no version; a different name is a different entry.
pub fn same_content_dedups_to_the_same_entry(p: &dyn Provider) {
    let first = p.commit(&sample_entry("docs", 2, "a")).unwrap();
    let again = p.commit(&sample_entry("docs", 2, "a")).unwrap();
    assert!(!again.created);
    assert_eq!(again.entry, first.entry);
    assert_eq!(p.versions("docs").unwrap(), vec!["1"]);
    let other = p.commit(&sample_entry("docs-copy", 2, "a")).unwrap();
    assert!(other.created);
    assert_ne!(other.entry.cid, first.entry.cid);
}

/// Everything a writer gives is stored and read back: shards (URL, digest, samples, bytes),
/// sample count, description, tags, license, metadata, schema reference; the CID is the
/// content recipe.
pub fn entry_fields_round_trip(p: &dyn Provider) {
    let mut new = sample_entry("docs", 2, "a");
    new.description = Some("500 synthetic text documents".into());
    new.tags = vec!["text".into(), "multilingual".into()];
    new.license = Some("CC-BY-4.0".into());
    new.metadata = Some(Value::Map(vec![
        ("source".into(), Value::from("synthetic")),
        ("n".into(), Value::Int(-3)),
        (
            "nested".into(),
            Value::List(vec![Value::Bool(true), Value::Float(0.5)]),
        ),
    ]));
    let c = p.commit(&new).unwrap();
    let e = p.entry_by_cid(&c.entry.cid).unwrap().unwrap();
    assert_eq!(e, c.entry);
    assert_eq!(e.name, "docs");
    assert_eq!(e.version, "1");
    assert_eq!(e.schema_ref, "atdata://local/schema/TextSample@1.0.0");
    assert_eq!(e.shards, new.shards);
    assert_eq!(
        e.data_urls().collect::<Vec<_>>(),
        new.shards
            .iter()
            .map(|s| s.url.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(e.num_samples, Some(10 + 11));
    assert_eq!(e.description, new.description);
    assert_eq!(e.tags, new.tags);
    assert_eq!(e.license, new.license);
    assert_eq!(e.metadata, new.metadata);
    assert!(
        chrono::DateTime::parse_from_rfc3339(&e.created_at).is_ok(),
        "{}",
        e.created_at
    );
    let digests = new.digests().unwrap();
    assert_eq!(
        e.cid,
        crate::index::entry::entry_cid("docs", &e.schema_ref, &digests).unwrap()
    );
}

/// A schema with the same structure reuses its record; the record is listed and fetchable.
pub fn schema_reused_for_same_structure(p: &dyn Provider) {
    let a = p.commit(&sample_entry("a", 1, "a")).unwrap();
    let mut described = sample_entry("b", 1, "b");
    described.schema.description = Some("other words, same fields".into());
    let b = p.commit(&described).unwrap();
    assert_eq!(a.entry.schema_ref, b.entry.schema_ref);
    let schemas = p.schemas().unwrap();
    assert_eq!(schemas.len(), 1);
    assert_eq!(schemas[0].version, "1.0.0");
    assert!(schemas[0].same_structure(&text_schema()));
    let got = p.schema("TextSample", "1.0.0").unwrap().unwrap();
    assert!(got.same_structure(&text_schema()));
}

/// `store_schema` stores a record as given (version and all), keeps it when stored again
/// (other words, same fields), refuses other fields under a stored version, and a commit of
/// the same structure afterwards reuses the stored record.
pub fn store_schema_keeps_records_and_refuses_changes(p: &dyn Provider) {
    let mut record = text_schema();
    record.version = "1.4.0".into();
    assert!(p.store_schema(&record).unwrap());
    let mut again = record.clone();
    again.description = Some("other words, same fields".into());
    assert!(!p.store_schema(&again).unwrap());
    let got = p.schema("TextSample", "1.4.0").unwrap().unwrap();
    assert!(got.same_structure(&record) && got.created_at.is_some());
    let mut other = record.clone();
    other
        .fields
        .push(Field::new("n", FieldType::Primitive(Primitive::Int)));
    let err = p.store_schema(&other).unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { .. }) && err.to_string().contains("TextSample@1.4.0"),
        "{err}"
    );
    assert_eq!(p.schemas().unwrap().len(), 1);
    let e = p.commit(&sample_entry("a", 1, "a")).unwrap();
    assert_eq!(e.entry.schema_ref, "atdata://local/schema/TextSample@1.4.0");
}

/// An entry recorded as 0.7 records one (its CID over schema_ref and URLs, no digests) is
/// the next version of its name, found by CID, name and version; recording it again changes
/// nothing; a CID that is not its content's, or a schema not stored, is refused.
pub fn record_07_entry_is_the_next_version(p: &dyn Provider) {
    let first = p.commit(&sample_entry("docs", 1, "a")).unwrap().entry;
    let urls = vec![
        "/elsewhere/a.tar".to_string(),
        "/elsewhere/b.tar".to_string(),
    ];
    let entry = Entry {
        name: "docs".into(),
        version: String::new(),
        cid: crate::codec::python_entry_cid(&first.schema_ref, &urls).unwrap(),
        schema_ref: first.schema_ref.clone(),
        shards: urls
            .iter()
            .map(|u| ShardInfo {
                url: u.clone(),
                sha256: None,
                samples: None,
                bytes: None,
            })
            .collect(),
        num_samples: None,
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: None,
        created_at: String::new(),
    };
    let c = p.record_07_entry(&entry).unwrap();
    assert!(c.created);
    assert_eq!(c.entry.version, "2");
    let got = p.entry_by_cid(&entry.cid).unwrap().unwrap();
    assert_eq!(
        got.data_urls().collect::<Vec<_>>(),
        ["/elsewhere/a.tar", "/elsewhere/b.tar"]
    );
    assert_eq!(p.latest_entry("docs").unwrap().unwrap().cid, entry.cid);
    assert_eq!(
        p.entry_by_version("docs", "2").unwrap().unwrap().cid,
        entry.cid
    );
    let again = p.record_07_entry(&entry).unwrap();
    assert!(!again.created && again.entry.version == "2");
    let mut forged = entry.clone();
    forged.cid = first.cid.clone();
    assert!(matches!(
        p.record_07_entry(&forged),
        Err(Error::InvalidArgument(_))
    ));
    let mut unknown = entry.clone();
    unknown.schema_ref = "atdata://local/schema/Nope@1.0.0".into();
    unknown.cid = crate::codec::python_entry_cid(&unknown.schema_ref, &urls).unwrap();
    assert!(matches!(
        p.record_07_entry(&unknown),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(p.versions("docs").unwrap(), ["1", "2"]);
}

/// A changed structure under the same schema name gets the next major version; the old
/// structure still maps to its old version.
pub fn schema_changed_structure_gets_next_major(p: &dyn Provider) {
    p.commit(&sample_entry("a", 1, "a")).unwrap();
    let mut changed = sample_entry("a", 1, "b");
    changed
        .schema
        .fields
        .push(Field::new("n", FieldType::Primitive(Primitive::Int)));
    let c = p.commit(&changed).unwrap();
    assert_eq!(c.entry.schema_ref, "atdata://local/schema/TextSample@2.0.0");
    let old = p.commit(&sample_entry("a", 1, "c")).unwrap();
    assert_eq!(
        old.entry.schema_ref,
        "atdata://local/schema/TextSample@1.0.0"
    );
    let versions: Vec<String> = p
        .schemas()
        .unwrap()
        .into_iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(versions, vec!["1.0.0", "2.0.0"]);
    let v2 = p.schema("TextSample", "2.0.0").unwrap().unwrap();
    assert_eq!(v2.fields.len(), 2);
}

/// `commit_many` commits a batch with the same results as single commits.
pub fn commit_many_is_one_batch(p: &dyn Provider) {
    let batch: Vec<NewEntry> = (0..50)
        .map(|i| sample_entry(&format!("n{}", i % 5), 1, &i.to_string()))
        .collect();
    let out = p.commit_many(&batch).unwrap();
    assert_eq!(out.len(), 50);
    assert!(out.iter().all(|c| c.created));
    for n in 0..5 {
        let want: Vec<String> = (1..=10).map(|v| v.to_string()).collect();
        assert_eq!(p.versions(&format!("n{n}")).unwrap(), want);
    }
    assert_eq!(p.entries().unwrap().len(), 50);
    assert_eq!(p.schemas().unwrap().len(), 1);
    for c in &out {
        assert_eq!(
            p.entry_by_cid(&c.entry.cid).unwrap().as_ref(),
            Some(&c.entry)
        );
    }
}

/// Within one batch, a repeat of an earlier entry dedups against it.
pub fn commit_many_dedups_within_the_batch(p: &dyn Provider) {
    let e = sample_entry("d", 1, "x");
    let out = p.commit_many(&[e.clone(), e]).unwrap();
    assert!(out[0].created && !out[1].created);
    assert_eq!(out[0].entry, out[1].entry);
    assert_eq!(p.versions("d").unwrap(), vec!["1"]);
}

/// A batch that fails part way leaves nothing behind: no entry, no version, no schema.
pub fn failed_batch_leaves_nothing(p: &dyn Provider) {
    let good = sample_entry("d", 1, "x");
    let mut bad = sample_entry("d", 1, "y");
    bad.shards[0].sha256 = None;
    assert!(p.commit_many(&[good.clone(), bad]).is_err());
    assert!(p.entries().unwrap().is_empty());
    assert!(p.schemas().unwrap().is_empty());
    let c = p.commit(&good).unwrap();
    assert_eq!(c.entry.version, "1");
}

/// `record_shard_info` never overwrites known facts, and refuses an unknown CID.
pub fn record_shard_info_fills_gaps(p: &dyn Provider) {
    let c = p.commit(&sample_entry("d", 1, "x")).unwrap();
    let other = vec![ShardInfo::new(c.entry.shards[0].url.clone(), "00", 999, 1)];
    p.record_shard_info(&c.entry.cid, &other).unwrap();
    assert_eq!(p.entry_by_cid(&c.entry.cid).unwrap().unwrap(), c.entry);
    assert!(p.record_shard_info("bafy-missing", &other).is_err());
}

/// `relocate_shards` moves only the URLs: CID, version and facts stay, lookups see the new
/// URLs; a wrong URL count or an unknown CID is refused.
pub fn relocate_shards_moves_only_the_urls(p: &dyn Provider) {
    let c = p.commit(&sample_entry("d", 2, "x")).unwrap();
    let moved: Vec<String> = vec!["/store/d/a.tar".into(), "/store/d/b.tar".into()];
    let e = p
        .relocate_shards(&c.entry.cid, &moved, &mut || Ok(()))
        .unwrap();
    let read = p.entry_by_cid(&c.entry.cid).unwrap().unwrap();
    assert_eq!(read, e);
    assert_eq!(
        read.data_urls().collect::<Vec<_>>(),
        vec!["/store/d/a.tar", "/store/d/b.tar"]
    );
    let mut want = c.entry.clone();
    for (s, u) in want.shards.iter_mut().zip(&moved) {
        s.url.clone_from(u);
    }
    assert_eq!(read, want);
    assert_eq!(p.latest_entry("d").unwrap().unwrap(), want);
    assert!(p
        .relocate_shards(&c.entry.cid, &moved[..1], &mut || Ok(()))
        .is_err());
    assert!(p
        .relocate_shards("bafy-missing", &moved, &mut || Ok(()))
        .is_err());
}

/// Missing names, versions, CIDs and schemas are `None` / empty, not errors.
pub fn lookups_of_missing_things_are_none(p: &dyn Provider) {
    p.commit(&sample_entry("d", 1, "x")).unwrap();
    assert!(p.latest_entry("nope").unwrap().is_none());
    assert!(p.entry_by_version("d", "2").unwrap().is_none());
    assert!(p.entry_by_version("d", "9.9").unwrap().is_none());
    assert!(p.entry_by_version("nope", "1").unwrap().is_none());
    assert!(p.entry_by_cid("bafyreinope").unwrap().is_none());
    assert!(p.schema("TextSample", "9.0.0").unwrap().is_none());
    assert!(p.schema("Nope", "1.0.0").unwrap().is_none());
    assert!(p.versions("nope").unwrap().is_empty());
}

/// Several threads committing through one handle at once lose no entry and no version.
pub fn threads_writing_at_once_lose_nothing(p: &dyn Provider) {
    many_writers(&[p, p, p, p], 20);
}

/// Many writers, each on its own handle (the same handle repeated is allowed), commit
/// `per_writer` entries each into the same two names at the same time. Afterwards every entry
/// is there, and each name's versions are exactly `1..=n`, each held by one entry.
pub fn many_writers(handles: &[&dyn Provider], per_writer: usize) {
    let results: Vec<Vec<(String, String, String)>> = std::thread::scope(|s| {
        let workers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(w, p)| {
                s.spawn(move || {
                    (0..per_writer)
                        .map(|i| {
                            let name = if i % 2 == 0 { "shared-a" } else { "shared-b" };
                            let c = p
                                .commit(&sample_entry(name, 1, &format!("w{w}-{i}")))
                                .unwrap();
                            assert!(c.created);
                            (c.entry.name, c.entry.version, c.entry.cid)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut by_name: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let listed: BTreeSet<String> = handles[0]
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.cid)
        .collect();
    for (name, version, cid) in results.into_iter().flatten() {
        assert!(listed.contains(&cid), "entry {cid} was lost");
        let fresh = by_name
            .entry(name.clone())
            .or_default()
            .insert(version.parse().unwrap());
        assert!(fresh, "version {version} of {name} given twice");
    }
    let total: usize = by_name.values().map(BTreeSet::len).sum();
    assert_eq!(total, handles.len() * per_writer);
    for (name, versions) in by_name {
        let n = versions.len() as u64;
        assert_eq!(versions, (1..=n).collect::<BTreeSet<u64>>(), "{name}");
        assert_eq!(handles[0].versions(&name).unwrap().len() as u64, n);
    }
}

/// A check that fails inside `commit_many_if` commits nothing and comes back as it was.
pub fn refused_check_commits_nothing(p: &dyn Provider) {
    let e = p
        .commit_many_if(&[sample_entry("d", 1, "x")], &mut || {
            Err(Error::not_found("shard '/gone.tar'"))
        })
        .unwrap_err();
    assert!(matches!(&e, Error::NotFound { .. }), "{e}");
    assert!(p.entries().unwrap().is_empty());
    assert!(p.schemas().unwrap().is_empty());
}

/// A write whose closure fails after writing leaves nothing; one that returns `Ok` commits
/// what it wrote, and its listing inside the transaction sees the committed entries.
pub fn write_commits_only_when_the_closure_succeeds(p: &dyn Provider) {
    let c = p.commit(&sample_entry("d", 1, "x")).unwrap();
    let e = p
        .write(&mut |tx| {
            let mut s = text_schema();
            s.name = "Other".into();
            tx.insert_schema(&s)?;
            Err(Error::invalid("changed my mind"))
        })
        .unwrap_err();
    assert!(e.to_string().contains("changed my mind"), "{e}");
    assert!(p.schema("Other", "1.0.0").unwrap().is_none());
    let mut seen = Vec::new();
    p.write(&mut |tx| {
        seen = tx.listing()?.strict()?;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![c.entry.clone()]);
}

/// The newest schema of a name is its highest version (semver order, not text order).
pub fn newest_schema_is_the_highest_version(p: &dyn Provider) {
    assert!(p.newest_schema("TextSample").unwrap().is_none());
    let mut wider = sample_entry("a", 1, "b");
    for n in 0..10 {
        wider.schema.fields.push(Field::new(
            format!("f{n}"),
            FieldType::Primitive(Primitive::Int),
        ));
        p.commit(&wider).unwrap();
        wider = NewEntry {
            shards: sample_entry("a", 1, &format!("b{n}")).shards,
            ..wider
        };
    }
    let newest = p.newest_schema("TextSample").unwrap().unwrap();
    assert_eq!(newest.version, "10.0.0");
    assert_eq!(newest.name, "TextSample");
    assert_eq!(newest.fields.len(), 11);
}

/// The listing pushes down a name prefix, tags and a schema reference, and pages with a
/// cursor: every page together is every matching entry exactly once, oldest first.
pub fn listing_pushes_down_filters_and_pages(p: &dyn Provider) {
    let mut batch = Vec::new();
    for i in 0..30 {
        let name = ["alpha", "alpine", "beta"][i % 3];
        let mut e = sample_entry(name, 1, &format!("s{i}"));
        if i % 2 == 0 {
            e.tags = vec!["even".into(), "t".into()];
        }
        if i % 5 == 0 {
            e.schema
                .fields
                .push(Field::new("n", FieldType::Primitive(Primitive::Int)));
        }
        batch.push(e);
    }
    p.commit_many(&batch).unwrap();
    let all = p.entries().unwrap();
    assert_eq!(all.len(), 30);
    let want = |q: &ListQuery| -> Vec<String> {
        all.iter()
            .filter(|e| q.matches(e))
            .map(|e| e.cid.clone())
            .collect()
    };
    let v2 = "atdata://local/schema/TextSample@2.0.0".to_string();
    let queries = [
        ListQuery::default(),
        ListQuery {
            name_prefix: Some("alp".into()),
            ..Default::default()
        },
        ListQuery {
            name_prefix: Some("alpha".into()),
            tags: vec!["even".into()],
            ..Default::default()
        },
        ListQuery {
            tags: vec!["t".into(), "even".into()],
            ..Default::default()
        },
        ListQuery {
            schema_ref: Some(v2.clone()),
            ..Default::default()
        },
        ListQuery {
            name_prefix: Some("zzz".into()),
            ..Default::default()
        },
    ];
    for q in queries {
        let expected = want(&q);
        let whole: Vec<String> = p
            .list(&q)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.cid)
            .collect();
        assert_eq!(whole, expected, "{q:?}");
        for limit in [1, 4, 7, 30, 31] {
            let paged = ListQuery {
                limit: Some(limit),
                ..q.clone()
            };
            let mut pages = 0;
            let mut cursor = None;
            let mut got = Vec::new();
            loop {
                let page = p
                    .list(&ListQuery {
                        cursor: cursor.clone(),
                        ..paged.clone()
                    })
                    .unwrap();
                assert!(page.entries.len() <= limit, "{paged:?}");
                pages += 1;
                assert!(pages <= 31, "paging does not end: {paged:?}");
                got.extend(page.entries.into_iter().map(|e| e.cid));
                match page.next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
            assert_eq!(got, expected, "{paged:?}");
            let joined: Vec<String> = list_all(p, paged.clone())
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.cid)
                .collect();
            assert_eq!(joined, expected, "{paged:?}");
        }
    }
    // The listing's versions are the entries' versions, also on a page of their own.
    let one = p
        .list(&ListQuery {
            name_prefix: Some("beta".into()),
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
    let versions: Vec<&str> = one.entries.iter().map(|e| e.version.as_str()).collect();
    assert_eq!(versions, vec!["1", "2", "3"]);
}

/// Many threads, each committing many entries one by one and in batches, into shared names:
/// no entry is lost, and each name's versions are unique and dense.
pub fn many_threads_committing_many_entries_lose_nothing(p: &dyn Provider) {
    many_writers(&[p; 8], 30);
    let before = p.entries().unwrap().len();
    std::thread::scope(|s| {
        for w in 0..4 {
            s.spawn(move || {
                for b in 0..5 {
                    let batch: Vec<NewEntry> = (0..20)
                        .map(|i| sample_entry("batched", 1, &format!("bw{w}-{b}-{i}")))
                        .collect();
                    assert!(p.commit_many(&batch).unwrap().iter().all(|c| c.created));
                }
            });
        }
    });
    assert_eq!(p.entries().unwrap().len(), before + 400);
    let want: Vec<String> = (1..=400).map(|v| v.to_string()).collect();
    assert_eq!(p.versions("batched").unwrap(), want);
}

/// One behaviour of the suite, run on a fresh provider.
type Behaviour = fn(&dyn Provider);

/// Runs every behaviour of this suite, each on a fresh provider from `make`. A backend's tests
/// call this once (per kind of handle), so none is forgotten.
pub fn run_all(make: &dyn Fn() -> Arc<dyn Provider>) {
    let all: &[(&str, Behaviour)] = &[
        ("empty_index_lists_nothing", empty_index_lists_nothing),
        (
            "commit_assigns_versions_in_order",
            commit_assigns_versions_in_order,
        ),
        (
            "commit_is_visible_by_cid_name_and_version",
            commit_is_visible_by_cid_name_and_version,
        ),
        (
            "same_content_dedups_to_the_same_entry",
            same_content_dedups_to_the_same_entry,
        ),
        ("entry_fields_round_trip", entry_fields_round_trip),
        (
            "schema_reused_for_same_structure",
            schema_reused_for_same_structure,
        ),
        (
            "schema_changed_structure_gets_next_major",
            schema_changed_structure_gets_next_major,
        ),
        ("commit_many_is_one_batch", commit_many_is_one_batch),
        (
            "commit_many_dedups_within_the_batch",
            commit_many_dedups_within_the_batch,
        ),
        ("failed_batch_leaves_nothing", failed_batch_leaves_nothing),
        ("record_shard_info_fills_gaps", record_shard_info_fills_gaps),
        (
            "relocate_shards_moves_only_the_urls",
            relocate_shards_moves_only_the_urls,
        ),
        (
            "lookups_of_missing_things_are_none",
            lookups_of_missing_things_are_none,
        ),
        (
            "threads_writing_at_once_lose_nothing",
            threads_writing_at_once_lose_nothing,
        ),
        (
            "refused_check_commits_nothing",
            refused_check_commits_nothing,
        ),
        (
            "write_commits_only_when_the_closure_succeeds",
            write_commits_only_when_the_closure_succeeds,
        ),
        (
            "newest_schema_is_the_highest_version",
            newest_schema_is_the_highest_version,
        ),
        (
            "store_schema_keeps_records_and_refuses_changes",
            store_schema_keeps_records_and_refuses_changes,
        ),
        (
            "record_07_entry_is_the_next_version",
            record_07_entry_is_the_next_version,
        ),
        (
            "listing_pushes_down_filters_and_pages",
            listing_pushes_down_filters_and_pages,
        ),
        (
            "many_threads_committing_many_entries_lose_nothing",
            many_threads_committing_many_entries_lose_nothing,
        ),
    ];
    for (name, behaviour) in all {
        let p = make();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| behaviour(&*p)));
        if let Err(e) = run {
            let why = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("conformance: {name} failed on {}: {why}", p.kind());
        }
    }
}
