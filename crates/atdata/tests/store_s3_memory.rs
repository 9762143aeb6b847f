//! Streaming a large object from an S3-compatible server (moto, see `s3_common`) holds a
//! bounded amount of memory, whatever the object's size.
//!
//! A binary of its own because it installs a global allocator that tracks the bytes live on
//! the heap and their peak; the other S3 tests would disturb it.

mod s3_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use atdata::store::{ReadTuning, S3Source, ShardSource};
use s3_common::{noise, S3Server};

struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let grow = new_size - layout.size();
            let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

#[test]
fn a_large_object_streams_in_bounded_memory() {
    let server = S3Server::start();
    server.create_bucket("large");
    const SIZE: usize = 64 << 20;
    const PIECE: usize = 1 << 20;
    let mut options = server.options();
    options.read = ReadTuning {
        chunk: 1 << 20,
        in_flight: 4,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..SIZE / PIECE {
            f.write_all(&noise(PIECE, i as u64)).unwrap();
        }
    }
    upload(&server, &path);
    let source = S3Source::new(options).unwrap();
    let url = "s3://large/large.bin";
    assert_eq!(source.size(url).unwrap(), Some(SIZE as u64));

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut opened = source.open(url).unwrap();
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0usize;
    let mut expected = noise(PIECE, 0);
    let mut compared = 0usize;
    loop {
        let n = opened.reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        // Check the bytes against what was written, piece by piece.
        let mut at = 0;
        while at < n {
            let piece = (total + at) / PIECE;
            if piece * PIECE != compared {
                compared = piece * PIECE;
                expected = noise(PIECE, piece as u64);
            }
            let off = total + at - compared;
            let take = (n - at).min(expected.len() - off);
            assert_eq!(
                buf[at..at + take],
                expected[off..off + take],
                "at {}",
                total + at
            );
            at += take;
        }
        total += n;
    }
    assert_eq!(total, SIZE);
    drop(opened);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    // 1 MiB chunks: 4 in flight, one in the channel, the one being read; the test's own
    // comparison buffers and the HTTP client's: far below the 64 MiB object.
    println!(
        "peak heap above baseline while streaming 64 MiB: {} MiB",
        peak >> 20
    );
    assert!(peak < 12 << 20, "peak {} MiB", peak >> 20);
}

/// Puts the file at `path` as `s3://large/large.bin` (one unsigned PUT, which moto accepts;
/// done before the measurement starts, so its buffer does not count).
fn upload(server: &S3Server, path: &std::path::Path) {
    let body = std::fs::read(path).unwrap();
    s3_common::put_object(server.port, "large", "large.bin", &body);
}
