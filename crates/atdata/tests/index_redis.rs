//! The Redis index backend against a real server on 127.0.0.1:6379: lookups in a bounded
//! number of round trips, many writers, and both ways with Python atdata 0.7's RedisProvider
//! (run with the reference venv's python from `ATDATA_REF_PYTHON`, see scripts/test.sh).
//!
//! Each test uses its own key prefix and deletes its keys after; the interop test, whose 0.7
//! side has no prefix, owns logical database 13 (flushed before and after), and is one test
//! function so nothing else in this binary uses that database meanwhile.

mod py07_common;

mod index_common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use atdata::dataset::Order;
use atdata::index::{Provider, ProviderExt, RedisProvider, WriteOptions};
use atdata::{Index, LocalDiskStore};
use index_common::{texts, TextSample};
use py07_common::{ref_python, run_python};

const SERVER: &str = "redis://127.0.0.1:6379";
/// The logical database of the interop test (see the module docs and CONTRIBUTING.md).
const INTEROP_DB: u32 = 13;

/// A provider on its own key prefix whose keys go when it does.
struct Prefixed(Arc<RedisProvider>);

impl Prefixed {
    fn new(url: &str) -> Self {
        let prefix = format!("atdata-test-{}-{:x}:", std::process::id(), rand_u64());
        Prefixed(Arc::new(
            RedisProvider::connect(url).unwrap().with_prefix(prefix),
        ))
    }
}

impl Drop for Prefixed {
    fn drop(&mut self) {
        let _ = self.0.delete_all_keys();
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A TCP relay to the server that counts round trips: each burst the client sends after the
/// server last answered is one.
struct Relay {
    port: u16,
    trips: Arc<AtomicU64>,
}

fn relay() -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let trips = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&trips);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect("127.0.0.1:6379").unwrap();
            // Whether the server spoke last on this connection.
            let answered = Arc::new(AtomicBool::new(true));
            let pump = |mut from: TcpStream, mut to: TcpStream, up: bool| {
                let answered = Arc::clone(&answered);
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if up {
                            if answered.swap(false, Ordering::SeqCst) {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                        } else {
                            answered.store(true, Ordering::SeqCst);
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                });
            };
            pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                true,
            );
            pump(server, client, false);
        }
    });
    Relay { port, trips }
}

#[test]
fn get_by_name_and_version_take_at_most_two_round_trips() {
    let relay = relay();
    let p = Prefixed::new(&format!("redis://127.0.0.1:{}/", relay.port));
    let dir = tempfile::tempdir().unwrap();
    let index = Index::new(
        p.0.clone(),
        Some(Arc::new(
            LocalDiskStore::new(dir.path().join("data")).unwrap(),
        )),
    );
    for n in 0..20 {
        index
            .write(
                texts(2, &format!("t{n}")),
                &WriteOptions::new(format!("d{}", n % 4)),
            )
            .unwrap();
    }
    // Warm: scripts loaded, the pool holds a connection.
    let newest = p.0.latest_entry("d1").unwrap().unwrap();
    p.0.entry_by_version("d1", "2").unwrap().unwrap();
    let count = |f: &dyn Fn()| {
        let before = relay.trips.load(Ordering::SeqCst);
        f();
        relay.trips.load(Ordering::SeqCst) - before
    };
    let trips = count(&|| {
        let e = p.0.latest_entry("d1").unwrap().unwrap();
        assert_eq!(e.version, "5");
    });
    // At least one: the relay counts.
    assert!(
        (1..=2).contains(&trips),
        "get by name took {trips} round trips"
    );
    let trips = count(&|| {
        let e = p.0.entry_by_version("d1", "3").unwrap().unwrap();
        assert_eq!(e.version, "3");
    });
    assert!(trips <= 2, "get by version took {trips} round trips");
    let trips = count(&|| {
        p.0.entry_by_cid(&newest.cid).unwrap().unwrap();
    });
    assert!(trips <= 2, "get by CID took {trips} round trips");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let e = RedisProvider::connect("redis://127.0.0.1:1/").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(matches!(e, atdata::Error::Database(_)), "{e:?}");
}

/// Logical database `INTEROP_DB`, flushed now and when dropped.
struct Flushed(String);

impl Flushed {
    fn new() -> Self {
        let url = format!("{SERVER}/{INTEROP_DB}");
        flush(&url);
        Flushed(url)
    }
}

impl Drop for Flushed {
    fn drop(&mut self) {
        flush(&self.0);
    }
}

fn flush(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
}

const PY_HEAD: &str = r#"
import sys, json
import atdata
from redis import Redis
from atdata.providers._redis import RedisProvider

@atdata.packable
class TextSample:
    """Simple text document."""
    text: str
    language: str
    word_count: int

idx = atdata.Index(provider=RedisProvider(Redis.from_url(sys.argv[1])),
                   data_store=atdata.LocalDiskStore(root=sys.argv[2]), atmosphere=None)
"#;

#[test]
fn python_07_and_we_share_one_redis_index_both_ways() {
    let Some(py) = ref_python() else { return };
    let db = Flushed::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();

    // 0.7 writes two versions of one name and another name.
    let script = format!(
        "{PY_HEAD}
cids = []
for n, name in [(3, 'docs-v1'), (2, 'docs-v1'), (4, 'other')]:
    s = [TextSample(text=f'py {{name}} {{i}}', language='en', word_count=n) for i in range(n)]
    cids.append(idx.write_samples(s, name=name).cid)
print(json.dumps(cids))
"
    );
    let out = run_python(&py, &script, &[&db.0, data_s]);
    let cids: Vec<String> = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();

    // Ours opens it: our keys are rebuilt, names, versions, schema and shards are read.
    let p = Arc::new(RedisProvider::connect(&db.0).unwrap());
    assert_eq!(p.names().unwrap(), vec!["docs-v1", "other"]);
    assert_eq!(p.versions("docs-v1").unwrap(), vec!["1", "2"]);
    // 0.7 stores no creation time in Redis: its entries are numbered in CID order.
    let mut docs = [cids[0].clone(), cids[1].clone()];
    docs.sort();
    assert_eq!(
        p.entry_by_version("docs-v1", "1").unwrap().unwrap().cid,
        docs[0]
    );
    assert_eq!(p.latest_entry("docs-v1").unwrap().unwrap().cid, docs[1]);
    let schema = p.schema("TextSample", "1.0.0").unwrap().unwrap();
    assert_eq!(schema.fields.len(), 3);
    let index = Index::new(
        p.clone() as Arc<dyn Provider>,
        Some(Arc::new(LocalDiskStore::new(&data).unwrap())),
    );
    let other: Vec<TextSample> = index
        .load("@local/other@1")
        .unwrap()
        .typed::<TextSample>(Order::Ordered)
        .map(Result::unwrap)
        .collect();
    assert_eq!(other.len(), 4);
    assert_eq!(other[0].text, "py other 0");
    // A second handle adopts nothing twice.
    let again = RedisProvider::connect(&db.0).unwrap();
    assert_eq!(again.versions("docs-v1").unwrap(), vec!["1", "2"]);
    assert_eq!(again.entries().unwrap().len(), 3);

    // Ours writes; 0.7 lists and loads it.
    index
        .write(
            texts(5, "ours"),
            &WriteOptions::new("ours-v1").description("ours"),
        )
        .unwrap();
    index
        .write(texts(2, "more"), &WriteOptions::new("docs-v1"))
        .unwrap();
    assert_eq!(index.versions("docs-v1").unwrap(), vec!["1", "2", "3"]);
    let script = format!(
        "{PY_HEAD}
names = sorted(e.name for e in idx.list_datasets())
ds = atdata.load_dataset('@local/ours-v1', index=idx, split='train')
texts = [s.text for s in ds.ordered()]
pinned = atdata.load_dataset('@local/docs-v1@3', index=idx, split='train')
print(json.dumps({{'names': names, 'texts': texts, 'pinned': len(list(pinned.ordered()))}}))
"
    );
    let out = run_python(&py, &script, &[&db.0, data_s]);
    let report: serde_json::Value =
        serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    assert_eq!(
        report["names"],
        serde_json::json!(["docs-v1", "docs-v1", "docs-v1", "other", "ours-v1"])
    );
    let want: Vec<String> = texts(5, "ours").into_iter().map(|t| t.text).collect();
    assert_eq!(report["texts"], serde_json::json!(want));
    assert_eq!(report["pinned"], serde_json::json!(2));
}
