//! What the shard reader allocates for a member whose header declares more than arrives: the
//! declared size must never be reserved, even when the caller vouches for the shard's length (a
//! sparse file is as long as it says and holds nothing) or the shard is a gzip stream.
//!
//! A binary of its own because it installs a global allocator that records the largest single
//! allocation (an untouched reservation costs no resident memory, so peak RSS cannot see it;
//! but it can fail outright, and it is memory promised to a number in a header).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use atdata::shard::ShardReader;

struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Recording = Recording;

/// Tests here share the recorder: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The largest single allocation made while `f` ran.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    f();
    LARGEST.load(Ordering::Relaxed)
}

/// A tar whose one member `a.msgpack` declares `claim` bytes and holds `held` of them.
fn lying_tar(claim: u64, held: usize) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..9].copy_from_slice(b"a.msgpack");
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{claim:011o}\0").as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.resize(512 + held, 0x80);
    out
}

const CLAIM: u64 = (1 << 30) - 1;
const HELD: usize = 3 << 20;
/// Bound on any one allocation while reading: the reader reserves at most 8 MiB ahead.
const BOUND: usize = 32 << 20;

fn assert_truncated(results: &[atdata::Result<atdata::shard::RawSample>]) {
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("byte offset 0"), "{err}");
    assert!(err.contains("sample key 'a'"), "{err}");
}

#[test]
fn a_declared_size_the_shard_length_vouches_for_is_not_reserved_up_front() {
    let _one = SERIAL.lock().unwrap();
    let bytes = lying_tar(CLAIM, HELD);
    // The caller says the shard is long enough (as a sparse file's length does).
    let largest = largest_allocation(|| {
        let results: Vec<_> = ShardReader::new(&bytes[..], "sparse.tar", Some(4 << 30)).collect();
        assert_truncated(&results);
    });
    assert!(largest < BOUND, "largest allocation {largest} bytes");
}

#[test]
fn a_declared_size_in_a_gzip_stream_is_not_reserved_up_front() {
    let _one = SERIAL.lock().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&lying_tar(CLAIM, HELD)).unwrap();
    let gz = enc.finish().unwrap();
    let largest = largest_allocation(|| {
        let results: Vec<_> =
            ShardReader::new(&gz[..], "lying.tar.gz", Some(gz.len() as u64)).collect();
        assert_truncated(&results);
    });
    assert!(largest < BOUND, "largest allocation {largest} bytes");
}

#[test]
fn a_large_member_that_is_all_there_is_read_whole() {
    let _one = SERIAL.lock().unwrap();
    // 20 MiB of data: read in steps, and the result is exact.
    let size = 20 << 20;
    let mut bytes = lying_tar(size as u64, size);
    bytes.resize(bytes.len() + 1024, 0);
    let samples: Vec<_> = ShardReader::new(&bytes[..], "big.tar", Some(bytes.len() as u64))
        .map(Result::unwrap)
        .collect();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].data.len(), size);
    assert!(samples[0].data.iter().all(|&b| b == 0x80));
}
