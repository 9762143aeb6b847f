//! The server indexes when the connection breaks in the middle of a commit: a
//! [`FaultProxy`](fault_proxy::FaultProxy) sits between the provider and the real server
//! (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379) and is cut after a chosen number of
//! bytes of a 2,000-entry commit: before its first write, in the middle of the batch, and
//! around `COMMIT` / `EXEC`. Each time the error must name the index (never its password) and
//! the operation, a fresh connection must see none of the batch or (only when the server
//! committed before the cut) all of it with versions still dense, and the same provider object
//! must commit the batch once the proxy lets connections through again. Also: a server that
//! cannot be reached at open is one prompt error naming host and port.
//!
//! Each PostgreSQL test has a database of its own (dropped after), each Redis test a key
//! prefix of its own (deleted after).

#[path = "fault_proxy/mod.rs"]
mod fault_proxy;
mod pg_common;

use pg_common::TestDb;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atdata::codec::sha256_hex;
use atdata::index::entry::content_tag;
use atdata::index::{NewEntry, PostgresProvider, Provider, RedisProvider, ShardInfo};
use atdata::{Field, FieldType, Index, Primitive, Schema};
use fault_proxy::FaultProxy;

/// Entries per commit, spread over [`NAMES`] names.
const BATCH: usize = 2000;
const NAMES: usize = 20;
/// The password in every URL: trust authentication (PostgreSQL) and a server without AUTH
/// (Redis) ignore it, and no message may show it.
const PASSWORD: &str = "s3cret-pw";

fn schema() -> Schema {
    Schema::new(
        "FaultSample",
        vec![Field::new("text", FieldType::Primitive(Primitive::Str))],
    )
}

/// `BATCH` new entries, one fake shard each, over `NAMES` new names (from `tag`, four
/// characters: every batch then exchanges the same number of bytes with the server, which
/// the cut points rely on).
fn batch(tag: &str) -> Vec<NewEntry> {
    assert_eq!(tag.len(), 4);
    (0..BATCH)
        .map(|i| {
            let name = format!("faults-{tag}-{:02}", i % NAMES);
            let digest = sha256_hex(format!("{tag}-{i}").as_bytes());
            NewEntry {
                shards: vec![ShardInfo::new(
                    format!("/store/{name}/data--{}--000000.tar", content_tag(&digest)),
                    digest,
                    10,
                    10240,
                )],
                name,
                schema: schema(),
                description: None,
                tags: Vec::new(),
                license: None,
                metadata: None,
            }
        })
        .collect()
}

/// The versions a fresh connection sees of each name of `batch(tag)`, and their count.
fn seen(p: &dyn Provider, tag: &str) -> (usize, BTreeMap<String, Vec<u64>>) {
    let mut out = BTreeMap::new();
    let mut n = 0;
    for k in 0..NAMES {
        let name = format!("faults-{tag}-{k:02}");
        let mut v: Vec<u64> = p
            .versions(&name)
            .unwrap()
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        v.sort_unstable();
        n += v.len();
        out.insert(name, v);
    }
    (n, out)
}

/// Each name's versions are 1..=n, none missing or repeated.
fn assert_dense(versions: &BTreeMap<String, Vec<u64>>, what: &str) {
    for (name, v) in versions {
        let want: Vec<u64> = (1..=v.len() as u64).collect();
        assert_eq!(v, &want, "{what}: versions of '{name}' are not dense");
    }
}

/// Where the cuts land, as offsets into the bytes one commit exchanges (`total`): before
/// anything is sent, in the batch, and a sweep over the last exchanges (for PostgreSQL the
/// last INSERT's reply, `COMMIT` (12 bytes) and its reply (18 bytes); for Redis `EXEC` and
/// the lease's release).
fn cut_points(total: u64) -> Vec<(String, u64)> {
    let mut out = vec![
        ("before the first byte".to_string(), 0),
        ("after the first request".to_string(), 120),
        ("mid-batch".to_string(), total / 2),
        ("near the end of the batch".to_string(), total - total / 50),
    ];
    for back in [250, 30, 18, 12, 1] {
        out.push((format!("{back} bytes before the end"), total - back));
    }
    out
}

/// What the cut rounds saw, for the summary line.
#[derive(Default)]
struct Outcomes {
    none: Vec<String>,
    all: Vec<String>,
    /// Cuts after the commit was complete (Redis: the lease's release).
    ok: Vec<String>,
}

/// Commits a batch through `proxy` and returns the bytes that took, both ways.
fn measure(proxy: &FaultProxy, index: &Index, tag: &str) -> u64 {
    let before = proxy.passed();
    index.commit_entries(&batch(tag)).unwrap();
    proxy.passed() - before
}

/// The whole scenario on one backend. `via_proxy` opens a provider through the proxy (the one
/// object every round uses), `direct` a provider straight to the server (a fresh connection
/// for checking); `location` is what errors must name.
fn cut_mid_commit(
    label: &str,
    proxy: &FaultProxy,
    via_proxy: &dyn Fn() -> atdata::Result<Arc<dyn Provider>>,
    direct: &dyn Fn() -> Arc<dyn Provider>,
    location: &str,
) -> Outcomes {
    let started = Instant::now();
    let p = via_proxy().unwrap();
    let index = Index::new(p.clone(), None);
    index.commit_entries(&batch("warm")).unwrap();
    let total = measure(proxy, &index, "meas");
    let mut outcomes = Outcomes::default();
    let points = cut_points(total);
    // A fresh handle of its own for checking, opened before any cut: a Redis handle's first
    // operation takes the write lease (adopting 0.7's entries), and a cut writer's lease
    // blocks other handles until it expires.
    let fresh = direct();
    for (round, (point, _)) in points.iter().enumerate() {
        // Measured again on this connection, twice: a new one (after a cut) names its
        // prepared statements differently, which moves the end by a few bytes, and prepares
        // those the retry did not need on its first commit.
        measure(proxy, &index, &format!("m{round:03}"));
        let total = measure(proxy, &index, &format!("n{round:03}"));
        let at = cut_points(total)[round].1;
        let point = point.as_str();
        let tag = format!("rd{round:02}");
        let entries = batch(&tag);
        proxy.cut_after(at);
        let result = index.commit_entries(&entries);
        proxy.cut();
        let (added, versions) = seen(fresh.as_ref(), &tag);
        assert_dense(&versions, label);
        let e = match result {
            // Redis: the cut took the lease's release after `EXEC`; the commit stands.
            Ok(_) => {
                assert_eq!(
                    added, BATCH,
                    "{label}, cut {point}: committed but not visible"
                );
                outcomes.ok.push(point.to_string());
                proxy.restore();
                continue;
            }
            Err(e) => e,
        };
        let text = e.to_string();
        if round == 0 || std::env::var_os("ATDATA_FAULTS_VERBOSE").is_some() {
            eprintln!("{label}, cut {point}: {text}");
        }
        assert!(
            text.contains(location),
            "{label}, cut {point}: the error does not name the index {location}: {text}"
        );
        assert!(!text.contains(PASSWORD), "{label}: {text}");
        assert!(
            text.contains("commit"),
            "{label}, cut {point}: the error does not say what failed: {text}"
        );
        // A fresh connection: nothing of the batch, or all of it.
        assert!(
            added == 0 || added == BATCH,
            "{label}, cut {point}: {added} of {BATCH} entries visible after the cut ({text})"
        );
        if added == 0 {
            outcomes.none.push(point.to_string());
        } else {
            outcomes.all.push(point.to_string());
        }
        // The same object commits once the server can be reached again (the entries dedup
        // by CID when the lost commit had taken effect).
        proxy.restore();
        let retried = Instant::now();
        let again = index.commit_entries(&entries).unwrap_or_else(|e| {
            panic!("{label}, cut {point}: the retry after restore failed: {e}")
        });
        // Not waiting for a lease the cut left behind to expire.
        assert!(
            retried.elapsed() < Duration::from_secs(5),
            "{label}, cut {point}: the retry took {:?}",
            retried.elapsed()
        );
        assert_eq!(again.len(), BATCH);
        let (n, versions) = seen(fresh.as_ref(), &tag);
        assert_eq!(n, BATCH, "{label}, cut {point}, after the retry");
        assert_dense(&versions, label);
        for c in again.iter().step_by(97) {
            let found = fresh.entry_by_cid(&c.entry.cid).unwrap();
            assert_eq!(found.map(|e| e.name), Some(c.entry.name.clone()));
        }
    }
    // A read through the same object works too, and the error of a cut read names the index.
    let names = p.names().unwrap().len();
    assert_eq!(names, NAMES * (2 + 3 * points.len()));
    proxy.cut();
    let e = p.names().unwrap_err().to_string();
    assert!(
        e.contains(location) && !e.contains(PASSWORD),
        "{label}: {e}"
    );
    proxy.restore();
    assert_eq!(p.names().unwrap().len(), names);
    eprintln!(
        "{label}: {total} bytes per commit; cuts leaving nothing: {:?}; cuts after the \
         server committed: {:?}; cuts after the commit succeeded: {:?}; {:.1} s",
        outcomes.none,
        outcomes.all,
        outcomes.ok,
        started.elapsed().as_secs_f64()
    );
    outcomes
}

fn pg_port() -> u16 {
    let url = pg_common::server();
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn postgres_commit_cut_midway_is_all_or_nothing_and_the_provider_recovers() {
    let db = TestDb::new("faults");
    let proxy = FaultProxy::start(pg_port());
    let via = format!(
        "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{}",
        proxy.port, db.name
    );
    let direct = db.dsn.clone();
    let location = format!("127.0.0.1:{}/{}", proxy.port, db.name);
    let out = cut_mid_commit(
        "PostgreSQL",
        &proxy,
        &|| Ok(Arc::new(PostgresProvider::connect(&via)?) as Arc<dyn Provider>),
        &|| Arc::new(PostgresProvider::connect(&direct).unwrap()),
        &location,
    );
    assert!(!out.none.is_empty());
}

/// A Redis provider on a key prefix of its own.
fn redis_prefix() -> String {
    format!(
        "atdata-faults-{}-{:x}:",
        std::process::id(),
        rand::random::<u64>()
    )
}

/// Deletes the prefix's keys on drop (failed test or not).
struct RedisKeys(String);

impl Drop for RedisKeys {
    fn drop(&mut self) {
        if let Ok(p) = RedisProvider::connect("redis://127.0.0.1:6379") {
            let _ = p.with_prefix(self.0.clone()).delete_all_keys();
        }
    }
}

#[test]
fn redis_commit_cut_midway_is_all_or_nothing_and_the_provider_recovers() {
    let keys = RedisKeys(redis_prefix());
    let proxy = FaultProxy::start(6379);
    let via = format!("redis://127.0.0.1:{}", proxy.port);
    let location = format!("127.0.0.1:{}", proxy.port);
    let prefix = keys.0.clone();
    let out = cut_mid_commit(
        "Redis",
        &proxy,
        &|| {
            Ok(
                Arc::new(RedisProvider::connect(&via)?.with_prefix(prefix.clone()))
                    as Arc<dyn Provider>,
            )
        },
        &|| {
            Arc::new(
                RedisProvider::connect("redis://127.0.0.1:6379")
                    .unwrap()
                    .with_prefix(prefix.clone()),
            )
        },
        &location,
    );
    assert!(!out.none.is_empty());
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Opening fails once, promptly, naming host and port, not the password: a port nothing
/// listens on, and a server whose connections are closed as soon as accepted (a cut proxy).
#[test]
fn an_unreachable_server_at_open_is_one_prompt_error_naming_it() {
    let proxy = FaultProxy::start(closed_port());
    proxy.cut();
    for port in [closed_port(), proxy.port] {
        let at = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let e = PostgresProvider::connect(&format!("postgresql://postgres:{PASSWORD}@{at}/labdb"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{at}/labdb")), "{e}");
        assert!(!e.contains(PASSWORD), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e2 = RedisProvider::connect(&format!("redis://:{PASSWORD}@{at}/0"))
            .unwrap_err()
            .to_string();
        assert!(e2.contains(&at), "{e2}");
        assert!(!e2.contains(PASSWORD), "{e2}");
        assert!(!e2.contains('\n'), "{e2}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}: {e} / {e2}",
            started.elapsed()
        );
    }
}
