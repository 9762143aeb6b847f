//! atdata 0.7's command line on ours: its option names as aliases (each checked to behave as
//! the option it names), its commands we lacked (`version`, `schema show` of shard files,
//! `schema diff`, `diagnose`), and the refusals, exit status 2, of what we do not support
//! (`infra`, AT Protocol URIs).

mod common;

use std::path::Path;

use atdata::codec::encode_sample;
use atdata::shard::{write_shards, ShardOptions};
use atdata::Value;
use common::{atdata, atdata_in, write_dataset};

/// A home whose index holds `docs` (the common test samples, 12 in 3 shards, added from
/// `shards/`), with the shards left in `shards/`.
fn home_with_docs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    write_dataset(&shards, 12, 4);
    let shards_arg = format!("{}/", shards.display());
    let r = atdata_in(dir.path(), &["add", "docs", &shards_arg]);
    assert!(r.ok(), "{r:?}");
    dir
}

fn shards_of(dir: &Path) -> String {
    format!("{}/", dir.join("shards").display())
}

/// Shards in `dir/other/` whose samples differ from the common ones: `label` is a str,
/// `note` is gone, `score` is new.
fn write_other(dir: &Path) -> String {
    let other = dir.join("other");
    std::fs::create_dir(&other).unwrap();
    let samples = (0..3).map(|i| {
        let s = vec![
            ("text".to_string(), Value::Str(format!("doc {i}"))),
            ("label".to_string(), Value::Str("a".into())),
            ("score".to_string(), Value::Float(0.5)),
            (
                "vector".to_string(),
                Value::Array(atdata::NdArray::from_vec(vec![4], vec![0f32; 4]).unwrap()),
            ),
        ];
        let mut buf = Vec::new();
        encode_sample(&s, &mut buf);
        buf
    });
    write_shards(&other, "data", samples, ShardOptions::default()).unwrap();
    format!("{}/", other.display())
}

#[test]
fn version_prints_what_dash_dash_version_prints() {
    let v = atdata(&["version"]);
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.stdout, format!("atdata {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(v.stdout, atdata(&["--version"]).stdout);
}

#[test]
fn preview_limit_is_num() {
    let home = home_with_docs();
    let shards = shards_of(home.path());
    let limit = atdata_in(home.path(), &["preview", &shards, "--limit", "2"]);
    let num = atdata_in(home.path(), &["preview", &shards, "--num", "2"]);
    assert!(limit.ok(), "{limit:?}");
    assert_eq!(limit.stdout, num.stdout);
    assert!(limit.stdout.contains("first 2 samples"), "{limit:?}");
    assert!(!limit.stdout.contains("--- sample 2"), "{limit:?}");
    // Of a dataset of the index too.
    let limit = atdata_in(home.path(), &["preview", "docs", "--limit", "3"]);
    assert_eq!(
        limit.stdout,
        atdata_in(home.path(), &["preview", "docs", "-n", "3"]).stdout
    );
    assert!(limit.stdout.contains("--- sample 2"), "{limit:?}");
}

#[test]
fn db_is_index() {
    let home = home_with_docs();
    let index = home.path().join("index.db");
    let index = index.to_str().unwrap();
    // An ATDATA_HOME without the index: only the option can find it.
    let elsewhere = tempfile::tempdir().unwrap();
    for cmd in [
        &["verify", "docs"][..],
        &["ls", "--json"],
        &["schema", "show", "docs"],
    ] {
        let with_db = atdata_in(elsewhere.path(), &[cmd, &["--db", index]].concat());
        let with_index = atdata_in(elsewhere.path(), &[cmd, &["--index", index]].concat());
        assert!(with_db.ok(), "{cmd:?}: {with_db:?}");
        assert_eq!(with_db.stdout, with_index.stdout, "{cmd:?}");
    }
    let missing = atdata_in(elsewhere.path(), &["verify", "docs", "--db", "nope.db"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stderr.contains("nope.db"), "{missing:?}");
}

#[test]
fn schema_show_takes_shard_files_and_infers_their_schema() {
    let home = home_with_docs();
    let shards = shards_of(home.path());
    let r = atdata_in(home.path(), &["schema", "show", &shards, "--json"]);
    assert!(r.ok(), "{r:?}");
    let fields = r.json()["fields"].clone();
    let names: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["text", "label", "note", "vector"]);
    let text = atdata_in(home.path(), &["schema", "show", &shards]);
    assert!(text.stdout.contains("fields (4)"), "{text:?}");
    assert!(text.stdout.contains("Inferred from 12 samples"), "{text:?}");
    // Schemas of the index are still found by dataset and by schema reference.
    let by_dataset = atdata_in(home.path(), &["schema", "show", "docs"]);
    assert!(by_dataset.ok(), "{by_dataset:?}");
    let reference = by_dataset
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("reference"))
        .expect("a reference line")
        .trim()
        .to_string();
    assert!(reference.starts_with("atdata://"), "{by_dataset:?}");
    let by_ref = atdata_in(home.path(), &["schema", "show", &reference]);
    assert!(by_ref.ok(), "{by_ref:?}");
    assert_eq!(by_ref.stdout, by_dataset.stdout);
}

#[test]
fn schema_diff_says_what_changed_with_diffs_exit_statuses() {
    let home = home_with_docs();
    let shards = shards_of(home.path());
    // A dataset and the shards it was added from: the same fields.
    let same = atdata_in(home.path(), &["schema", "diff", "docs", &shards]);
    assert_eq!(same.code, Some(0), "{same:?}");
    assert_eq!(same.stdout, "Schemas are identical.\n");

    let other = write_other(home.path());
    let diff = atdata_in(home.path(), &["schema", "diff", "docs", &other]);
    assert_eq!(diff.code, Some(1), "{diff:?}");
    assert_eq!(
        diff.stdout,
        "Added:\n  + score: float\nRemoved:\n  - note: str (optional)\nChanged:\n  ~ label: int -> str\n"
    );

    let missing = atdata_in(home.path(), &["schema", "diff", "docs", "./nothing-here/"]);
    assert_eq!(missing.code, Some(2), "{missing:?}");
    assert!(missing.stderr.contains("nothing-here"), "{missing:?}");
    let unknown = atdata_in(home.path(), &["schema", "diff", "nosuch", "docs"]);
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
    assert!(unknown.stderr.contains("nosuch"), "{unknown:?}");
}

#[test]
fn infra_is_refused_with_status_2_saying_what_to_use() {
    for args in [
        &["infra", "up", "--redis-port", "6380", "-d"][..],
        &["infra", "down", "-v"],
        &["infra", "status"],
        &["infra"],
    ] {
        let r = atdata(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        assert!(r.stderr.contains("is not supported"), "{r:?}");
        assert!(r.stderr.contains("--index redis://HOST:PORT"), "{r:?}");
        assert!(r.stderr.contains("--store s3://BUCKET/PREFIX"), "{r:?}");
    }
}

#[test]
fn at_protocol_uris_are_refused_with_status_2() {
    let uri = "at://did:plc:abc/science.alt.dataset.record/3k";
    for args in [
        &["inspect", uri][..],
        &["preview", uri],
        &["schema", "show", uri],
        &["schema", "diff", uri, "./x.tar"],
    ] {
        let r = atdata(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains("AT Protocol URI"), "{r:?}");
        assert!(r.stderr.contains(uri), "{r:?}");
    }
}

#[test]
fn diagnose_checks_the_index_and_the_store() {
    let home = home_with_docs();
    let ok = atdata_in(home.path(), &["diagnose"]);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert!(ok.stdout.contains("✓ index"), "{ok:?}");
    assert!(ok.stdout.contains("1 dataset, 1 schema"), "{ok:?}");
    assert!(ok.stdout.contains("✓ store"), "{ok:?}");

    let empty = tempfile::tempdir().unwrap();
    let bad = atdata_in(empty.path(), &["diagnose"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stdout.contains("✗ index"), "{bad:?}");

    // 0.7's --host/--port name a Redis server: nothing listens on port 1.
    let store = home.path().join("data");
    let store = store.to_str().unwrap();
    let closed = atdata_in(
        home.path(),
        &[
            "diagnose",
            "--host",
            "127.0.0.1",
            "--port",
            "1",
            "--store",
            store,
        ],
    );
    assert_eq!(closed.code, Some(1), "{closed:?}");
    assert!(closed.stdout.contains("✗ index"), "{closed:?}");
    assert!(closed.stdout.contains("127.0.0.1:1"), "{closed:?}");
    assert!(closed.stdout.contains("✓ store"), "{closed:?}");

    let both = atdata_in(home.path(), &["diagnose", "--host", "h", "--index", "x.db"]);
    assert_eq!(both.code, Some(1), "{both:?}");
    assert!(both.stderr.contains("not both"), "{both:?}");
}
