//! Crash safety and concurrency, for real: child processes (this test binary re-run with
//! `--ignored --exact child_writer`) write into one index file and store; some are killed with
//! SIGKILL at random moments. Afterwards every listed dataset loads whole (all shards there, digests
//! right, sample count right), no partial entry exists, and no entry or version was lost.

mod index_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atdata::dataset::Order;
use atdata::index::{GcOptions, WriteOptions};
use atdata::Index;
use index_common::{file_index, texts, TextSample};
use rand::Rng;

const CHILD: &str = "ATDATA_CRASH_CHILD";
const DIR: &str = "ATDATA_CRASH_DIR";
const WRITER: &str = "ATDATA_CRASH_WRITER";
const WRITES: &str = "ATDATA_CRASH_WRITES";
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// The body of a child process, which the tests below run (`--ignored --exact child_writer`):
/// ignored in a normal test run, and a failure when run without their environment. Writes
/// datasets in a loop (`ATDATA_CRASH_WRITES` of them, or until killed) and prints one line per
/// commit.
#[test]
#[ignore = "the crash tests' child process; they run it"]
fn child_writer() {
    assert!(
        std::env::var(CHILD).is_ok(),
        "child_writer is the child process of the crash tests in this file: run them instead"
    );
    let dir = std::env::var(DIR).unwrap();
    let writer: usize = std::env::var(WRITER).unwrap().parse().unwrap();
    let writes: usize = std::env::var(WRITES).unwrap().parse().unwrap();
    let index = file_index(Path::new(&dir));
    let mut rng = rand::thread_rng();
    let mut i = 0usize;
    while writes == 0 || i < writes {
        let name = NAMES[(writer + i) % NAMES.len()];
        let n = rng.gen_range(1..60);
        let opts = WriteOptions::new(name)
            .maxcount(rng.gen_range(1..12))
            .description(format!("writer {writer} write {i}"));
        let e = index
            .write(
                texts(n, &format!("w{writer}-{i}-{}", std::process::id())),
                &opts,
            )
            .unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "committed {} {} {}", e.name, e.version, e.cid).unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

fn spawn_writer(dir: &Path, writer: usize, writes: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(DIR, dir)
        .env(WRITER, writer.to_string())
        .env(WRITES, writes.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Every listed entry loads whole: shards present, digests right, counts right; each name's
/// versions are exactly 1..=n. Returns the number of entries.
fn check_everything_whole(index: &Index) -> usize {
    let entries = index.list_datasets().unwrap();
    let mut versions: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for e in &entries {
        assert!(
            versions
                .entry(e.name.clone())
                .or_default()
                .insert(e.version.parse().unwrap()),
            "version {} of {} twice",
            e.version,
            e.name
        );
        let reference = format!("@local/{}@{}", e.name, e.version);
        let report = index.verify(&reference).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.checked.len(), e.shards.len());
        let ds = index.load(&reference).unwrap();
        let mut n = 0u64;
        for sample in ds.typed::<TextSample>(Order::Ordered) {
            sample.unwrap();
            n += 1;
        }
        assert_eq!(Some(n), e.num_samples, "{reference}");
        let per_shard: u64 = e.shards.iter().map(|s| s.samples.unwrap()).sum();
        assert_eq!(n, per_shard, "{reference}");
    }
    for (name, vs) in versions {
        let n = vs.len() as u64;
        assert_eq!(vs, (1..=n).collect::<BTreeSet<_>>(), "versions of {name}");
    }
    entries.len()
}

#[test]
fn writers_killed_at_random_moments_leave_no_partial_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut children: Vec<Child> = (0..3).map(|w| spawn_writer(dir.path(), w, 0)).collect();
    let mut next_writer = children.len();
    let mut kills = 0;
    let started = Instant::now();
    while kills < 12 || started.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..400)));
        let victim = rng.gen_range(0..children.len());
        let mut child = children.swap_remove(victim);
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;
        children.push(spawn_writer(dir.path(), next_writer, 0));
        next_writer += 1;
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    for mut c in children {
        c.kill().unwrap();
        c.wait().unwrap();
    }

    let index = file_index(dir.path());
    let n = check_everything_whole(&index);
    assert!(n > 0, "the writers committed nothing in {kills} rounds");
    // Leftovers of killed writers are unreferenced; collecting them harms nothing listed.
    let report = index
        .gc_with(&GcOptions {
            grace: Duration::ZERO,
            ..GcOptions::new(false)
        })
        .unwrap();
    eprintln!(
        "{n} entries after {kills} kills; gc removed {} orphan shards, {} staging files",
        report.shards.len(),
        report.staging.len()
    );
    assert_eq!(check_everything_whole(&index), n);
    // And the index still takes writes.
    let e = index
        .write(texts(5, "after"), &WriteOptions::new("alpha"))
        .unwrap();
    assert!(e.version.parse::<u64>().unwrap() >= 1);
}

#[test]
fn processes_writing_at_once_lose_no_entry_and_no_version() {
    let dir = tempfile::tempdir().unwrap();
    const WRITERS: usize = 4;
    const EACH: usize = 12;
    let children: Vec<Child> = (0..WRITERS)
        .map(|w| spawn_writer(dir.path(), w, EACH))
        .collect();
    let mut committed: Vec<(String, u64, String)> = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a writer failed");
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            // libtest prints "test child_writer ... " without a newline before the first one.
            if let Some(rest) = line.split("committed ").nth(1) {
                let parts: Vec<&str> = rest.split(' ').collect();
                committed.push((parts[0].into(), parts[1].parse().unwrap(), parts[2].into()));
            }
        }
    }
    assert_eq!(committed.len(), WRITERS * EACH);
    let index = file_index(dir.path());
    let listed: BTreeMap<String, (String, String)> = index
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|e| (e.cid, (e.name, e.version)))
        .collect();
    assert_eq!(listed.len(), WRITERS * EACH, "every write is an entry");
    let mut seen: BTreeSet<(String, u64)> = BTreeSet::new();
    for (name, version, cid) in &committed {
        assert_eq!(
            listed.get(cid),
            Some(&(name.clone(), version.to_string())),
            "entry {cid} lost or changed"
        );
        assert!(
            seen.insert((name.clone(), *version)),
            "{name} v{version} given twice"
        );
    }
    assert_eq!(check_everything_whole(&index), WRITERS * EACH);
}
