//! Shards as files: the modes they are written with, what may stand in place of one (FIFOs,
//! devices, directories, sparse files with lying headers) and gzip-compressed shards, through
//! every reader (the shard reader, ordered and shuffled datasets, batches).
//!
//! The umask and the peak memory are per process, so those tests run their work in a child: the
//! test binary runs itself again with one test selected and an environment variable saying what
//! to do, and the parent checks the outcome.

mod index_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use atdata::dataset::{Dataset, Order, ReadOptions, ShuffleOptions};
use atdata::shard::{open_shard_file, write_shards, ShardOptions, ShardReader, ShardWriter};
use atdata::{Error, Value};

/// Runs this test binary again, with only `test` selected, `env` set, and the shell command
/// `prefix` (e.g. `umask 077`) run before it; returns its stdout, failing if the child failed.
fn run_child(test: &str, env: (&str, &str), prefix: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{prefix} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env.0, env.1)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child {test} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sample(i: i64) -> Vec<u8> {
    let mut out = Vec::new();
    atdata::codec::encode_sample(&[("n", Value::Int(i))], &mut out);
    out
}

fn numbers(ds: &Dataset, order: Order) -> Vec<i64> {
    let mut got: Vec<i64> = ds
        .samples(order)
        .map(|s| match s.unwrap().get("n") {
            Some(Value::Int(i)) => *i,
            other => panic!("{other:?}"),
        })
        .collect();
    got.sort();
    got
}

// ---------------------------------------------------------------------------------------------
// Modes of written shards.

const UMASK_DIR: &str = "ATDATA_TEST_UMASK_DIR";

/// Child half of [`published_shards_follow_the_umask`]: writes one shard where it is told to.
#[test]
fn child_writes_a_shard_under_the_umask_it_was_given() {
    let Ok(dir) = std::env::var(UMASK_DIR) else {
        return; // run directly: nothing to do
    };
    write_shards(
        Path::new(&dir),
        "m",
        (0..3).map(sample),
        ShardOptions::default(),
    )
    .unwrap();
}

#[cfg(unix)]
#[test]
fn published_shards_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, mode) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("shards");
        run_child(
            "child_writes_a_shard_under_the_umask_it_was_given",
            (UMASK_DIR, target.to_str().unwrap()),
            &format!("umask {umask}"),
        );
        let entries: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
        assert_eq!(entries.len(), 1, "one shard, no temp file left");
        let meta = entries[0].as_ref().unwrap().metadata().unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            mode,
            "umask {umask}: shard mode {:o}",
            meta.permissions().mode() & 0o777
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Things that are not regular files.

/// Runs `f` on a thread and fails the test if it has not returned after a minute: a watchdog
/// for calls that used to block forever (it is not a timing assertion: they return at once).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} still blocked after a minute"))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn assert_not_regular(err: &Error, path: &Path, what: &str) {
    let msg = err.to_string();
    assert!(matches!(err, Error::Io { .. }), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a regular file"), "{msg}");
    assert!(msg.contains(what), "expected {what:?} in: {msg}");
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_shard_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("data-000000.tar");
    mkfifo(&fifo);

    let p = fifo.clone();
    let err = within_a_minute("ShardReader::open on a FIFO", move || {
        ShardReader::open(&p).err()
    });
    assert_not_regular(&err.expect("a FIFO is refused"), &fifo, "FIFO");

    let p = fifo.clone();
    let err = within_a_minute("open_shard_file on a FIFO", move || {
        open_shard_file(&p, "the-url").err()
    });
    let msg = err.expect("a FIFO is refused").to_string();
    assert!(msg.contains("'the-url'"), "{msg}");

    // Every dataset reader goes through the same opening: ordered, shuffled with reader
    // threads, and batches.
    let url = fifo.display().to_string();
    let ds = Dataset::new(vec![url.clone(), url], None)
        .with_name("fifo")
        .with_read_options(ReadOptions { workers: 2 });
    let d = ds.clone();
    let results = within_a_minute("dataset reads over a FIFO", move || {
        let ordered = d.samples(Order::Ordered).find_map(Result::err);
        let shuffled = d
            .samples(Order::Shuffled(ShuffleOptions::default()))
            .find_map(Result::err);
        let batches = d.ordered(4).find_map(Result::err);
        [ordered, shuffled, batches]
    });
    for err in results {
        assert_not_regular(&err.expect("an error, not samples"), &fifo, "FIFO");
    }
}

#[cfg(unix)]
#[test]
fn add_and_verify_refuse_a_fifo_in_place_of_a_shard_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let paths = gzipped_shards(&src, 6, 2);
    let index = std::sync::Arc::new(index_common::file_index(&dir.path().join("idx")));

    // add of a FIFO target: refused by the scan.
    let fifo = dir.path().join("pipe.tar");
    mkfifo(&fifo);
    let (i, target) = (index.clone(), fifo.display().to_string());
    let err = within_a_minute("insert of a FIFO", move || {
        i.insert("piped", &target, &atdata::index::InsertOptions::default())
            .err()
    });
    assert_not_regular(&err.expect("a FIFO is refused"), &fifo, "FIFO");

    // verify of a dataset one of whose shards was replaced by a FIFO: refused by the hashing.
    let pattern = format!("{}/data-{{000000..000002}}.tar.gz", src.display());
    index
        .insert("zipped", &pattern, &atdata::index::InsertOptions::default())
        .unwrap();
    std::fs::remove_file(&paths[1]).unwrap();
    mkfifo(&paths[1]);
    let i = index.clone();
    let report = within_a_minute("verify over a FIFO", move || i.verify("zipped"));
    let text = match report {
        Ok(r) => {
            assert!(!r.is_ok(), "{r}");
            r.to_string()
        }
        Err(e) => e.to_string(),
    };
    assert!(text.contains("not a regular file"), "{text}");
}

#[cfg(unix)]
#[test]
fn publishing_onto_a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("data-000000.tar");
    mkfifo(&dest);
    let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
    w.write_sample("a", &sample(1)).unwrap();
    let staged = w.finish().unwrap().pop().unwrap();
    let d = dest.clone();
    let err = within_a_minute("publishing onto a FIFO", move || staged.publish(&d).err());
    assert_not_regular(&err.expect("refused"), &dest, "FIFO");
}

#[cfg(unix)]
#[test]
fn directories_and_devices_are_refused_as_shards() {
    let dir = tempfile::tempdir().unwrap();
    let err = ShardReader::open(dir.path()).err().expect("a directory");
    assert_not_regular(&err, dir.path(), "directory");
    // /dev/zero would never end.
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        let err = ShardReader::open(zero).err().expect("a device");
        assert_not_regular(&err, zero, "character device");
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_shard_reads_like_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let shards =
        write_shards(dir.path(), "s", (0..4).map(sample), ShardOptions::default()).unwrap();
    let link = dir.path().join("link.tar");
    std::os::unix::fs::symlink(&shards[0].path, &link).unwrap();
    let (_, len) = open_shard_file(&link, "link").unwrap();
    assert_eq!(len, shards[0].bytes);
    assert_eq!(ShardReader::open(&link).unwrap().count(), 4);
}

// ---------------------------------------------------------------------------------------------
// Memory follows the bytes read, never a declared size.

const SPARSE_DIR: &str = "ATDATA_TEST_SPARSE_DIR";

/// A ustar header for `name` whose size field says `size`.
fn header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A sparse tar file (a few KiB on disk) whose one member claims `claim` bytes, the file's
/// length covering the claim so that nothing but the size limit can refuse it.
fn sparse_shard(path: &Path, claim: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&header("a.msgpack", claim)).unwrap();
    f.set_len(512 + claim.div_ceil(512) * 512 + 1024).unwrap();
}

/// Peak resident memory of this process so far, in kB (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Child half of [`a_sparse_shard_claiming_gigabytes_is_refused_without_the_memory`]: reads
/// the shards in the given directory every way there is, expects a located error from each,
/// then prints its peak memory.
#[test]
fn child_reads_sparse_shards_and_reports_its_peak_memory() {
    let Ok(dir) = std::env::var(SPARSE_DIR) else {
        return;
    };
    let mut urls: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    urls.sort();
    let check = |err: Option<Error>, how: &str| {
        let err = err.unwrap_or_else(|| panic!("{how}: no error"));
        let msg = err.to_string();
        assert!(matches!(err, Error::Corrupt { .. }), "{how}: {msg}");
        assert!(
            msg.contains("exceeds the 1073741824-byte limit"),
            "{how}: {msg}"
        );
        assert!(msg.contains("byte offset 0"), "{how}: {msg}");
        assert!(msg.contains("sample key 'a'"), "{how}: {msg}");
        assert!(msg.contains(&format!("shard '{dir}/")), "{how}: {msg}");
    };
    check(
        ShardReader::open(Path::new(&urls[0]))
            .unwrap()
            .find_map(Result::err),
        "shard reader",
    );
    let ds = Dataset::new(urls, None).with_read_options(ReadOptions { workers: 4 });
    check(ds.samples(Order::Ordered).find_map(Result::err), "ordered");
    let shuffled = Order::Shuffled(ShuffleOptions::default());
    check(ds.samples(shuffled).find_map(Result::err), "shuffled");
    check(ds.ordered(8).find_map(Result::err), "ordered batches");
    check(
        ds.shuffled(8, ShuffleOptions::default())
            .find_map(Result::err),
        "shuffled batches",
    );
    println!("\npeak-rss-kb={}", peak_rss_kb().unwrap_or(0));
}

#[cfg(target_os = "linux")]
#[test]
fn a_sparse_shard_claiming_gigabytes_is_refused_without_the_memory() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        sparse_shard(&dir.path().join(format!("sparse-{i}.tar")), 4_000_000_000);
    }
    let out = run_child(
        "child_reads_sparse_shards_and_reports_its_peak_memory",
        (SPARSE_DIR, dir.path().to_str().unwrap()),
        "true",
    );
    let kb: u64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("peak-rss-kb="))
        .expect("the child reports its peak memory")
        .parse()
        .unwrap();
    assert!(kb > 0, "no VmHWM in /proc/self/status");
    assert!(
        kb < 300 << 10,
        "reading four shards that claim 4 GB each peaked at {kb} kB"
    );
}

// ---------------------------------------------------------------------------------------------
// Gzip-compressed shards.

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes `n` samples in shards of `per` and gzips each one to `{name}.tar.gz`.
fn gzipped_shards(dir: &Path, n: i64, per: usize) -> Vec<PathBuf> {
    let plain = dir.join("plain");
    let shards = write_shards(
        &plain,
        "s",
        (0..n).map(sample),
        ShardOptions {
            maxcount: Some(per),
            maxsize: None,
        },
    )
    .unwrap();
    shards
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = dir.join(format!("data-{i:06}.tar.gz"));
            std::fs::write(&path, gzip(&std::fs::read(&s.path).unwrap())).unwrap();
            path
        })
        .collect()
}

#[test]
fn gzip_compressed_shards_read_like_plain_ones_through_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let paths = gzipped_shards(dir.path(), 100, 30);
    assert_eq!(paths.len(), 4);
    let first: Vec<_> = ShardReader::open(&paths[0])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(first.len(), 30);
    assert_eq!(first[1].key, "000000001");
    assert_eq!(first[1].offset, 1024, "offsets are in the decompressed tar");
    assert_eq!(first[1].data, sample(1));

    let urls: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let all: Vec<i64> = (0..100).collect();
    for workers in [0, 3] {
        let ds = Dataset::new(urls.clone(), None).with_read_options(ReadOptions { workers });
        assert_eq!(numbers(&ds, Order::Ordered), all, "workers={workers}");
        let shuffled = Order::Shuffled(ShuffleOptions::default());
        assert_eq!(numbers(&ds, shuffled), all, "workers={workers}");
        let rows: usize = ds.ordered(16).map(|b| b.unwrap().len()).sum();
        assert_eq!(rows, 100);
        let rows: usize = ds
            .shuffled(16, ShuffleOptions::default())
            .map(|b| b.unwrap().len())
            .sum();
        assert_eq!(rows, 100);
        assert_eq!(ds.len().unwrap(), 100);
    }
    // A directory of .tar.gz shards opens like one of .tar shards.
    let opened = Dataset::open(&format!(
        "{}/data-{{000000..000003}}.tar.gz",
        dir.path().display()
    ))
    .unwrap();
    assert_eq!(numbers(&opened, Order::Ordered), all);
}

#[test]
fn gzip_compressed_shards_are_indexed_and_verified_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let paths = gzipped_shards(&src, 10, 4);
    let index = index_common::file_index(&dir.path().join("idx"));
    let pattern = format!("{}/data-{{000000..000002}}.tar.gz", src.display());
    let e = index
        .insert("zipped", &pattern, &atdata::index::InsertOptions::default())
        .unwrap();
    assert_eq!(e.num_samples, Some(10));
    for (shard, path) in e.shards.iter().zip(&paths) {
        let stored = std::fs::read(path).unwrap();
        // The digest and size are those of the file as stored, compressed.
        assert_eq!(
            shard.sha256.as_deref(),
            Some(atdata::codec::sha256_hex(&stored).as_str())
        );
        assert_eq!(shard.bytes, Some(stored.len() as u64));
    }
    assert_eq!(
        numbers(&index.load("zipped").unwrap(), Order::Ordered),
        (0..10).collect::<Vec<_>>()
    );
    assert!(index.verify("zipped").unwrap().is_ok());
}

#[test]
fn concatenated_gzip_members_are_one_shard() {
    let dir = tempfile::tempdir().unwrap();
    let shards =
        write_shards(dir.path(), "s", (0..5).map(sample), ShardOptions::default()).unwrap();
    let tar = std::fs::read(&shards[0].path).unwrap();
    // `gzip` of two halves, concatenated, is a valid gzip file of the whole.
    let mut two = gzip(&tar[..1536]);
    two.extend(gzip(&tar[1536..]));
    let got: Vec<_> = ShardReader::new(&two[..], "two.tar.gz", Some(two.len() as u64))
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].data, sample(4));
}

#[test]
fn a_damaged_gzip_shard_is_corrupt_data_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(
        dir.path(),
        "s",
        (0..50).map(sample),
        ShardOptions::default(),
    )
    .unwrap();
    let gz = gzip(&std::fs::read(&shards[0].path).unwrap());
    let url = "/data/bad.tar.gz";
    let first_error = |bytes: &[u8]| {
        ShardReader::new(bytes, url, Some(bytes.len() as u64))
            .find_map(Result::err)
            .unwrap_or_else(|| {
                panic!(
                    "{} bytes of {} read without an error",
                    bytes.len(),
                    gz.len()
                )
            })
    };
    // Cut anywhere: an error naming the shard, never a hang or a panic.
    for cut in [2, 10, 30, gz.len() / 2, gz.len() - 4] {
        let err = first_error(&gz[..cut]);
        let msg = err.to_string();
        assert!(matches!(err, Error::Corrupt { .. }), "cut {cut}: {msg}");
        assert!(msg.contains(&format!("shard '{url}'")), "cut {cut}: {msg}");
        assert!(msg.contains("byte offset"), "cut {cut}: {msg}");
        assert!(msg.contains("gzip"), "cut {cut}: {msg}");
    }
    // A flipped byte in the compressed data, and in the CRC of the trailer.
    for at in [gz.len() / 2, gz.len() - 6] {
        let mut bad = gz.clone();
        bad[at] ^= 0x55;
        let results: Vec<_> = ShardReader::new(&bad[..], url, None).collect();
        let err = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .unwrap_or_else(|| panic!("flip at {at} went unnoticed"));
        let msg = err.to_string();
        assert!(matches!(err, Error::Corrupt { .. }), "flip at {at}: {msg}");
        assert!(
            msg.contains(&format!("shard '{url}'")),
            "flip at {at}: {msg}"
        );
    }
}

#[test]
fn a_gzip_stream_cannot_vouch_for_a_member_size() {
    // A member claiming 1 GiB - 1 (just under the limit) in a gzip stream that holds a few
    // bytes of it: an error at the member, whatever the compressed file's length says.
    let mut tar = header("a.msgpack", (1 << 30) - 1).to_vec();
    tar.extend_from_slice(&[0x80; 100]);
    let gz = gzip(&tar);
    let err = ShardReader::new(&gz[..], "lying.tar.gz", Some(gz.len() as u64))
        .find_map(Result::err)
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains("byte offset 0"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    assert!(msg.contains("sample key 'a'"), "{msg}");
}
