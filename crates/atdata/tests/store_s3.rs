//! `S3DataStore` against a real S3-compatible server (moto, started by each test on a free
//! loopback port: see `s3_common`): the store conformance suite, multipart uploads, the
//! modification time a re-publish refreshes, connections cut mid-upload and mid-read, plain
//! HTTP(S) and `s3://` URLs no store owns, and an index whose store is S3, end to end.
//! Needs the feature `s3` and moto (`scripts/ref-venv.sh`, `ATDATA_REF_PYTHON`).

mod s3_common;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use atdata::index::{GcOptions, WriteOptions};
use atdata::shard::{sample_key, ShardOptions, ShardWriter, StagedShard};
use atdata::store::conformance;
use atdata::store::{
    DataStore, HttpSource, ReadTuning, S3DataStore, S3Options, S3Source, ShardSource, UrlSource,
};
use atdata::{Error, Index, Packable};
use s3_common::{noise, put_object, put_public_object, FaultProxy, S3Server};

/// A store in a new bucket of `server`, staging in a fresh directory under `tmp`.
fn store_in(
    server: &S3Server,
    bucket: &str,
    prefix: Option<&str>,
    tmp: &std::path::Path,
) -> S3DataStore {
    store_with(server.options(), server, bucket, prefix, tmp)
}

fn store_with(
    options: S3Options,
    server: &S3Server,
    bucket: &str,
    prefix: Option<&str>,
    tmp: &std::path::Path,
) -> S3DataStore {
    server.create_bucket(bucket);
    let staging = tmp.join(format!("staging-{bucket}-{}", prefix.unwrap_or("")).replace('/', "_"));
    S3DataStore::new(bucket, prefix, options.with_staging_dir(staging)).unwrap()
}

/// Stages one shard holding `samples` samples of `size` noisy bytes each (seeded).
fn stage_big(store: &dyn DataStore, samples: usize, size: usize, seed: u64) -> StagedShard {
    let mut w = ShardWriter::new(store.staging_dir().unwrap(), ShardOptions::default()).unwrap();
    for i in 0..samples {
        // A msgpack bin32 of `size` bytes.
        let mut s = vec![0xc6];
        s.extend_from_slice(&(size as u32).to_be_bytes());
        s.extend_from_slice(&noise(size, seed * 1000 + i as u64));
        w.write_sample(&sample_key(i as u64), &s).unwrap();
    }
    w.finish().unwrap().remove(0)
}

fn read_all(source: &dyn ShardSource, url: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    source.open(url).unwrap().reader.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn every_store_behaviour_holds_on_s3() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    // Each behaviour on a fresh bucket...
    let mut n = 0;
    conformance::run_all(|| {
        n += 1;
        store_in(&server, &format!("conformance-{n}"), None, tmp.path())
    });
    // ...and on a fresh prefix of one bucket, beside the other prefixes' objects.
    server.create_bucket("shared");
    let mut n = 0;
    conformance::run_all(|| {
        n += 1;
        let staging = tmp.path().join(format!("prefixed-{n}"));
        S3DataStore::new(
            "shared",
            Some(&format!("team/p{n}")),
            server.options().with_staging_dir(staging),
        )
        .unwrap()
    });
}

#[test]
fn urls_have_the_python_layout_and_the_owner_is_an_object() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(&server, "layout", Some("pre/fix"), tmp.path());
    let url = conformance::publish_one(&store, "docs-v1", "078fef77", 3, &[b"\x80"]);
    assert_eq!(
        url,
        "s3://layout/pre/fix/docs-v1/data--078fef77--000003.tar"
    );
    assert_eq!(store.location(), "s3://layout/pre/fix");
    let owner = atdata::store::StoreOwner {
        index_id: "a".into(),
        index_path: None,
    };
    assert_eq!(store.owner().unwrap(), None);
    assert_eq!(store.set_owner(&owner, false).unwrap(), owner);
    let other = atdata::store::StoreOwner {
        index_id: "b".into(),
        index_path: Some("/b.db".into()),
    };
    assert_eq!(
        store.set_owner(&other, false).unwrap(),
        owner,
        "first owner stays"
    );
    assert_eq!(
        store.set_owner(&other, true).unwrap(),
        other,
        "a claim replaces it"
    );
    // The record sits at the prefix's root, where 0.7's and the local store's are.
    let raw = S3Source::new(server.options()).unwrap();
    let size = raw.size("s3://layout/pre/fix/.atdata-store").unwrap();
    assert!(size.is_some_and(|n| n > 0));
    // Objects outside the shard layout are not shards.
    put_object(server.port, "layout", "pre/fix/docs-v1/notes.txt", b"x");
    put_object(
        server.port,
        "layout",
        "pre/fixed/d/data--00000000--000000.tar",
        b"x",
    );
    assert_eq!(store.shards().unwrap().len(), 1);
}

#[test]
fn a_shard_above_the_threshold_is_uploaded_in_parts() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let options = server.options().with_multipart(5 << 20, 5 << 20);
    let store = store_with(options, &server, "multipart", None, tmp.path());
    let shard = stage_big(&store, 12, 1 << 20, 1);
    let (sha, bytes) = (shard.sha256.clone(), shard.bytes);
    assert!(bytes > 10 << 20);
    let again = shard.duplicate().unwrap();
    let url = store.publish("big", &sha[..8], 0, shard).unwrap();
    let got = read_all(&store, &url).unwrap();
    assert_eq!(got.len() as u64, bytes);
    assert_eq!(atdata::codec::sha256_hex(&got), sha);
    assert_eq!(store.size(&url).unwrap(), Some(bytes));
    // A multipart ETag ("<md5 of part md5s>-<parts>") shows the path taken.
    let listing = s3_common::http(server.port, "GET", "/multipart?list-type=2", b"").unwrap();
    assert!(
        listing.contains("-3&quot;") || listing.contains("-3\""),
        "{listing}"
    );
    // The same content again: no second upload, success.
    assert_eq!(store.publish("big", &sha[..8], 0, again).unwrap(), url);
    // Different content under the name: refused, the object kept.
    let other = stage_big(&store, 12, 1 << 20, 2);
    let e = store.publish("big", &sha[..8], 0, other).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
    assert_eq!(
        atdata::codec::sha256_hex(&read_all(&store, &url).unwrap()),
        sha
    );
    assert!(store.staging_files().unwrap().is_empty());
}

#[test]
fn an_object_written_by_another_tool_is_compared_by_its_bytes() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(&server, "foreign", None, tmp.path());
    let shard = conformance::stage(&store, &[b"\x80"]);
    let bytes = std::fs::read(shard.path()).unwrap();
    // As 0.7 (boto3) writes it: no sha256 in the metadata.
    put_object(
        server.port,
        "foreign",
        "d/data--00000000--000000.tar",
        &bytes,
    );
    let url = store.publish("d", "00000000", 0, shard).unwrap();
    assert_eq!(url, "s3://foreign/d/data--00000000--000000.tar");
    let mut changed = bytes.clone();
    changed[700] ^= 1;
    put_object(
        server.port,
        "foreign",
        "d/data--00000000--000001.tar",
        &changed,
    );
    let shard = conformance::stage(&store, &[b"\x80"]);
    let e = store.publish("d", "00000000", 1, shard).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
}

#[test]
fn republishing_refreshes_the_modification_time() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(&server, "touch", None, tmp.path());
    let url = conformance::publish_one(&store, "d", "00000000", 0, &[b"\x80"]);
    let first = store.shards().unwrap()[0].modified.unwrap();
    // S3 keeps modification times in whole seconds.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        conformance::publish_one(&store, "d", "00000000", 0, &[b"\x80"]),
        url
    );
    let listed = store.shards().unwrap();
    assert_eq!(listed.len(), 1);
    let second = listed[0].modified.unwrap();
    assert!(second > first, "{first:?} -> {second:?}");
    // The refresh kept the recorded digest: a third publish still needs no download.
    let mut all = Vec::new();
    store
        .open(&url)
        .unwrap()
        .reader
        .read_to_end(&mut all)
        .unwrap();
    assert_eq!(store.size(&url).unwrap(), Some(all.len() as u64));
}

#[test]
fn a_cut_upload_fails_naming_the_url_and_leaves_nothing() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    server.create_bucket("cut");
    let proxy = FaultProxy::start(server.port);
    let options = s3_common::options_at(&proxy.endpoint())
        .with_multipart(5 << 20, 5 << 20)
        .with_staging_dir(tmp.path().join("staging"));
    let store = S3DataStore::new("cut", None, options).unwrap();
    let direct = store_in(&server, "cut", None, &tmp.path().join("direct"));

    for (name, samples) in [("multipart", 12), ("single", 2)] {
        let shard = stage_big(&store, samples, 1 << 20, 7);
        let keep = shard.duplicate().unwrap();
        let tag = shard.sha256[..8].to_string();
        proxy.cut_after(1 << 20);
        let e = store.publish(name, &tag, 0, shard).unwrap_err();
        let text = e.to_string();
        let url = format!("s3://cut/{name}/data--{tag}--000000.tar");
        assert!(text.contains(&url), "{name}: {text}");
        assert!(text.contains(&proxy.endpoint()), "{name}: {text}");
        assert!(
            direct.shards().unwrap().iter().all(|f| f.url != url),
            "{name}: partial object"
        );
        assert_eq!(direct.size(&url).unwrap(), None, "{name}");
        proxy.restore();
        assert_eq!(store.publish(name, &tag, 0, keep).unwrap(), url);
        let got = read_all(&direct, &url).unwrap();
        assert_eq!(got.len() as u64, direct.size(&url).unwrap().unwrap());
    }
    assert_eq!(direct.shards().unwrap().len(), 2);
}

#[test]
fn a_cut_during_a_streaming_read_is_a_located_error() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let direct = store_in(&server, "readcut", None, tmp.path());
    let shard = stage_big(&direct, 12, 1 << 20, 3);
    let tag = shard.sha256[..8].to_string();
    let url = direct.publish("d", &tag, 0, shard).unwrap();

    let proxy = FaultProxy::start(server.port);
    let mut options = s3_common::options_at(&proxy.endpoint());
    options.read = ReadTuning {
        chunk: 1 << 20,
        in_flight: 2,
    };
    let source = S3Source::new(options).unwrap();
    let mut opened = source.open(&url).unwrap();
    let mut buf = vec![0u8; 2 << 20];
    opened.reader.read_exact(&mut buf).unwrap();
    proxy.cut();
    let mut rest = Vec::new();
    let e = opened.reader.read_to_end(&mut rest).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains(&proxy.endpoint()), "{text}");
    // Without a server at all: open and size name the URL too.
    let e = source.size(&url).unwrap_err().to_string();
    assert!(e.contains(&url), "{e}");
    proxy.restore();
    assert_eq!(source.size(&url).unwrap(), direct.size(&url).unwrap());
}

#[test]
fn s3_and_http_urls_no_store_owns_are_readable() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(&server, "plain", None, tmp.path());
    let mut urls = Vec::new();
    for i in 0..4u8 {
        let samples: Vec<Vec<u8>> = (0..5).map(|j| point_msg(i, j)).collect();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        urls.push(conformance::publish_one(
            &store, "x", "0000000a", i as usize, &refs,
        ));
    }
    // s3:// from the environment, as `Dataset::open` reads it.
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", s3_common::KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", s3_common::SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    // This binary's other tests pass their options explicitly and read no variable.
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    let ds = atdata::dataset::Dataset::open("s3://plain/x/data--0000000a--{000000..000003}.tar")
        .unwrap();
    assert_eq!(ds.urls(), urls.as_slice());
    assert_eq!(ds.len().unwrap(), 20);
    // Ordered batches over the network open the next shard ahead of time; a missing shard is
    // still reported where it comes, after every sample before it, and names itself.
    let mut gap = urls.clone();
    gap[2] = gap[2].replace("000002.tar", "000009.tar");
    let mut delivered = 0;
    let mut failure = None;
    for b in atdata::dataset::Dataset::new(gap.clone(), None).ordered(5) {
        match b {
            Ok(b) => delivered += b.len(),
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    assert_eq!(delivered, 10);
    let e = failure.expect("the missing shard is an error");
    assert!(e.contains(&gap[2]), "{e}");
    let s3_from_url = S3DataStore::from_url("s3://plain").unwrap();
    assert_eq!(s3_from_url.shards().unwrap().len(), 4);

    // http:// copies of the objects, readable without signatures.
    let mut http_urls = Vec::new();
    for u in &urls {
        let key = u.strip_prefix("s3://plain/").unwrap();
        put_public_object(
            server.port,
            "plain",
            &format!("public/{key}"),
            &read_all(&store, u).unwrap(),
        );
        http_urls.push(format!("{}/plain/public/{key}", server.endpoint()));
    }
    let http = HttpSource::new().unwrap();
    let all = read_all(&http, &http_urls[0]).unwrap();
    assert_eq!(all, read_all(&store, &urls[0]).unwrap());
    assert_eq!(http.size(&http_urls[0]).unwrap(), Some(all.len() as u64));
    assert_eq!(
        http.read_range(&http_urls[0], 100, 7).unwrap(),
        all[100..107]
    );
    let missing = http_urls[0].replace("000000.tar", "000009.tar");
    assert_eq!(http.size(&missing).unwrap(), None);
    let e = http.open(&missing).unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e}"
    );
    assert!(e.to_string().contains(&missing), "{e}");
    let ds = atdata::dataset::Dataset::new(http_urls.clone(), None);
    assert_eq!(ds.len().unwrap(), 20);

    // Mixed schemes through one source, a local path among them.
    let local = tmp.path().join("local.tar");
    std::fs::write(&local, &all).unwrap();
    let mixed = UrlSource::new();
    for u in [
        urls[0].as_str(),
        http_urls[0].as_str(),
        local.to_str().unwrap(),
    ] {
        assert_eq!(mixed.size(u).unwrap(), Some(all.len() as u64), "{u}");
    }
    assert!(mixed.local_path(local.to_str().unwrap()).is_some());
    let e = mixed.check_url("gopher://h/x").unwrap_err().to_string();
    assert!(e.contains("'gopher'"), "{e}");
}

/// One msgpack sample `{"i": i, "j": j}`.
fn point_msg(i: u8, j: u8) -> Vec<u8> {
    vec![0x82, 0xa1, b'i', i, 0xa1, b'j', j]
}

#[derive(Packable, Debug, Clone, PartialEq)]
struct Doc {
    text: String,
    n: i64,
}

fn docs(n: usize, tag: &str) -> Vec<Doc> {
    (0..n)
        .map(|i| Doc {
            text: format!("doc {tag} {i}"),
            n: i as i64,
        })
        .collect()
}

#[test]
fn an_index_writes_loads_verifies_and_collects_through_an_s3_store() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(store_in(&server, "indexed", Some("datasets"), tmp.path()));
    let index = Index::open(tmp.path().join("index.db"))
        .unwrap()
        .with_shared_store(store.clone());
    let entry = index
        .write(docs(30, "a"), &WriteOptions::new("docs").maxcount(10))
        .unwrap();
    assert_eq!(entry.shards.len(), 3);
    for s in &entry.shards {
        assert!(
            s.url.starts_with("s3://indexed/datasets/docs/data--"),
            "{}",
            s.url
        );
    }
    // Loaded back through the store.
    let ds = index.load("docs").unwrap();
    let back: Vec<Doc> = ds
        .typed::<Doc>(atdata::dataset::Order::Ordered)
        .collect::<atdata::Result<_>>()
        .unwrap();
    assert_eq!(back, docs(30, "a"));
    let batches: usize = ds.ordered(7).map(|b| b.unwrap().len()).sum();
    assert_eq!(batches, 30);
    // Verified by digest.
    let report = index.verify("docs").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.checked.len(), 3);
    // The same samples again: no new version, no second copy.
    let again = index
        .write(docs(30, "a"), &WriteOptions::new("docs").maxcount(10))
        .unwrap();
    assert_eq!(again.cid, entry.cid);
    assert_eq!(store.shards().unwrap().len(), 3);

    // An orphan (a write killed before its commit) and a dead writer's staging file.
    let orphan = conformance::publish_one(store.as_ref(), "docs", "deadbeef", 0, &[b"\x80"]);
    let stale = store.staging_dir().unwrap().join(".atdata-shard-dead.tmp");
    std::fs::write(&stale, b"partial").unwrap();
    let kept = index.gc(false).unwrap();
    assert!(kept.shards.is_empty(), "fresh files are kept: {kept:?}");
    let now = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::new(false)
    };
    let report = index.gc_with(&now).unwrap();
    let removed: Vec<&str> = report.shards.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(removed, vec![orphan.as_str()]);
    assert_eq!(report.staging.len(), 1);
    assert!(!stale.exists());
    assert_eq!(store.size(&orphan).unwrap(), None);
    assert_eq!(store.shards().unwrap().len(), 3);
    assert!(index.verify("docs").unwrap().is_ok());
    let e = index.load("docs").unwrap().len().unwrap();
    assert_eq!(e, 30);
}
