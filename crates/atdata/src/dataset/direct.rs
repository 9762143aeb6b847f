//! Reading shards into batches with one copy per byte.
//!
//! The general path reads each sample into its own buffer and then copies its fields into the
//! batch's columns: two copies of every array byte, which caps large-array throughput near half
//! of memcpy. Here, for batches in shard order, a large sample's array payload is read from
//! the file straight into its column buffer: the msgpack before it is parsed from a small head,
//! the fields after it from the tail. All of it on the calling thread: reader threads ahead of
//! it would hold each sample in a buffer of its own, the second copy again.

use std::io::{BufReader, Read};
use std::sync::Arc;

use crate::codec::array::decode_compact_header;
use crate::codec::msgpack::{self, Head, MsgReader};
use crate::dataset::batch::BatchBuilder;
use crate::dataset::stream::{open_reader, SourceReader};
use crate::error::{Error, Result};
use crate::shard::{open_shard_file, ShardReader};
use crate::store::ShardSource;

/// Samples up to this size are read whole and decoded from memory.
const STREAM_THRESHOLD: u64 = 256 << 10;
/// Bytes read first from a larger sample, to find where its large array starts: small, since
/// they are copied twice (file -> head -> column).
const HEAD_BYTES: u64 = 4 << 10;
/// Head bytes read in all before giving up on a plan (fields before the array that do not fit
/// in [`HEAD_BYTES`]).
const MAX_HEAD_BYTES: u64 = 64 << 10;
/// Read buffer of a shard read here. Small on purpose: whatever the buffer holds when a large
/// payload starts is copied twice (file -> buffer -> column), while the rest of the payload is
/// read from the file straight into the column. 16 KiB measured as fast as 256 KiB for small
/// samples too.
const FILE_BUFFER: usize = 16 << 10;

/// Reads `n` bytes of `input` onto the end of `out`; fewer is a truncated member.
fn read_n(input: &mut dyn Read, n: u64, out: &mut Vec<u8>) -> Result<()> {
    let got = input
        .take(n)
        .read_to_end(out)
        .map_err(|e| Error::corrupt(format!("reading sample: {e}")))?;
    if (got as u64) < n {
        return Err(Error::corrupt(format!(
            "truncated: sample ends {} bytes early",
            n - got as u64
        )));
    }
    Ok(())
}

/// Where a large array field sits in a sample.
struct Plan<'a> {
    /// Position of the field in the sample map.
    field: usize,
    /// Its column.
    column: usize,
    /// The array's dtype and shape.
    dtype: &'a str,
    shape: Vec<usize>,
    /// Offset in the member where the array's element bytes start.
    payload_start: usize,
    /// Element bytes in all.
    payload_len: u64,
}

/// Finds the first array field whose payload runs past `head`, or `None` when there is none
/// (or when anything about the head does not fit the simple case: the caller then decodes the
/// whole sample from memory). Only looks at `b`: the columns are made when the fields are
/// pushed.
fn plan<'a>(b: &BatchBuilder, head: &'a [u8], size: u64) -> Option<Plan<'a>> {
    let mut r = MsgReader::new(head);
    let n = r.read_map_len().ok()?;
    for i in 0..n {
        let name = r.read_str().ok()?;
        let at = r.position();
        let (len, len_end) = match msgpack::head(head.get(at..)?) {
            Ok((Head::Bin(len), used)) => (len as u64, at + used),
            Ok(_) => {
                r.skip().ok()?;
                continue;
            }
            // The head ends inside the value's length.
            Err(_) => return None,
        };
        let bin_start = len_end;
        if bin_start as u64 + len <= head.len() as u64 {
            // The whole bin is in the head: nothing to read straight from the input.
            r.skip().ok()?;
            continue;
        }
        if bin_start as u64 + len > size {
            return None;
        }
        // A column the builder does not have yet cannot take a direct read.
        let ci = b.find_column(i, name)?;
        // The array header (dtype, shape) must be in the head.
        let h = decode_compact_header(head.get(bin_start..)?).ok()?;
        let payload_len = h.payload_len().ok()? as u64;
        if h.len as u64 + payload_len != len || !b.direct_array_target(ci, h.dtype, &h.shape) {
            return None;
        }
        return Some(Plan {
            field: i,
            column: ci,
            dtype: h.dtype,
            shape: h.shape,
            payload_start: bin_start + h.len,
            payload_len,
        });
    }
    None
}

/// Decodes one sample of `size` bytes from `input` into `b`, reading a large array payload
/// straight into its column. `scratch` is reused between calls.
pub fn push_from(
    b: &mut BatchBuilder,
    input: &mut dyn Read,
    size: u64,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    scratch.clear();
    if size <= STREAM_THRESHOLD {
        read_n(input, size, scratch)?;
        return b.push(scratch);
    }
    read_n(input, HEAD_BYTES, scratch)?;
    let mut head = std::mem::take(scratch);
    if plan(b, &head, size).is_none() {
        // Maybe the fields before the array are longer than the head: look further.
        if let Err(e) = read_n(input, MAX_HEAD_BYTES - HEAD_BYTES, &mut head) {
            *scratch = head;
            return Err(e);
        }
    }
    let result = match plan(b, &head, size) {
        None => {
            let mut all = head.clone();
            read_n(input, size - head.len() as u64, &mut all)?;
            b.push(&all)
        }
        Some(p) => push_planned(b, input, size, &head, p, scratch),
    };
    *scratch = head;
    result
}

fn push_planned(
    b: &mut BatchBuilder,
    input: &mut dyn Read,
    size: u64,
    head: &[u8],
    p: Plan<'_>,
    tail: &mut Vec<u8>,
) -> Result<()> {
    // The fields before the array, from the head.
    let mut r = MsgReader::new(head);
    let n = r.read_map_len()?;
    b.push_fields(&mut r, 0..p.field)?;
    let in_head = head.get(p.payload_start..).unwrap_or(&[]);
    let rest = p.payload_len - in_head.len() as u64;
    b.push_array_from(p.column, p.dtype, p.shape, in_head, rest, input)?;
    // The fields after it, from the tail.
    let consumed = p.payload_start as u64 + p.payload_len;
    tail.clear();
    read_n(input, size - consumed, tail)?;
    let mut r = MsgReader::new(tail);
    b.push_fields(&mut r, p.field + 1..n)?;
    b.end_row(&r)
}

/// Opens the shard at `url`: a local file straight from the filesystem when the source
/// offers one ([`ShardSource::local_path`]: array payloads are then read from the file into
/// their column, one copy), else the source's stream.
fn open_direct(source: &dyn ShardSource, url: &str) -> Result<SourceReader> {
    match source.local_path(url) {
        Some(path) => {
            let (file, len) = open_shard_file(&path, url)?;
            let file: Box<dyn Read + Send> = Box::new(file);
            Ok(ShardReader::new(
                BufReader::with_capacity(FILE_BUFFER, file),
                url,
                Some(len),
            ))
        }
        None => open_reader(source, url, FILE_BUFFER),
    }
}

/// Shards read one after another on the calling thread, straight into a batch builder.
pub struct DirectSource {
    source: Arc<dyn ShardSource>,
    urls: std::vec::IntoIter<String>,
    current: Option<(Arc<str>, SourceReader)>,
    /// The next shard, opened while this one is decoded when shards come over the network
    /// (no local path): its metadata request and first ranged reads then overlap our decoding
    /// instead of stalling at every shard boundary. One shard ahead at most, so memory stays
    /// bounded by two shards' read buffers. Local files are not opened ahead (nothing to hide).
    ahead: Option<(String, Result<SourceReader>)>,
    scratch: Vec<u8>,
}

impl DirectSource {
    /// Reads `urls` from `source` in order.
    pub fn new(source: Arc<dyn ShardSource>, urls: Vec<String>) -> Self {
        DirectSource {
            source,
            urls: urls.into_iter(),
            current: None,
            ahead: None,
            scratch: Vec::new(),
        }
    }

    /// The next shard: the one opened ahead if any, else opened now; then, for a remote
    /// source, the one after it is opened ahead.
    fn open_next(&mut self) -> Option<(String, Result<SourceReader>)> {
        let (url, opened) = match self.ahead.take() {
            Some(a) => a,
            None => {
                let url = self.urls.next()?;
                let r = open_direct(self.source.as_ref(), &url);
                (url, r)
            }
        };
        if opened.is_ok() && self.source.local_path(&url).is_none() {
            if let Some(next) = self.urls.next() {
                let r = open_direct(self.source.as_ref(), &next);
                self.ahead = Some((next, r));
            }
        }
        Some((url, opened))
    }

    /// Decodes the next sample into `b`; `None` at the end of the last shard.
    pub fn push_next(&mut self, b: &mut BatchBuilder) -> Option<Result<()>> {
        loop {
            let Some((url, reader)) = &mut self.current else {
                let (url, opened) = self.open_next()?;
                match opened {
                    Ok(r) => self.current = Some((Arc::from(url.as_str()), r)),
                    Err(e) => return Some(Err(e)),
                }
                continue;
            };
            let scratch = &mut self.scratch;
            let url = url.clone();
            match reader
                .next_msgpack_into(|_key, _offset, size, input| push_from(b, input, size, scratch))
            {
                None => self.current = None,
                Some(r) => return Some(r.map_err(|e| e.with_shard(&url, 0))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_sample;
    use crate::schema::{Field, FieldType, Primitive, Schema};
    use crate::value::{NdArray, Value};

    fn big() -> Vec<u8> {
        big_after(0)
    }

    /// A large sample whose array follows a text field of `text` bytes.
    fn big_after(text: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sample(
            &[
                ("id", Value::Int(7)),
                ("note", Value::from("n".repeat(text))),
                (
                    "v",
                    Value::Array(NdArray::from_vec(vec![100_000], vec![2.0f32; 100_000]).unwrap()),
                ),
                ("tag", Value::from("t")),
            ],
            &mut out,
        );
        out
    }

    fn schema() -> Schema {
        Schema::new(
            "S",
            vec![
                Field::new("id", FieldType::Primitive(Primitive::Int)),
                Field::new("note", FieldType::Primitive(Primitive::Str)),
                Field::new("v", FieldType::ndarray()),
                Field::new("tag", FieldType::Primitive(Primitive::Str)),
            ],
        )
    }

    #[test]
    fn large_arrays_are_planned_for_a_direct_read() {
        let bytes = big();
        let b = BatchBuilder::new(Some(schema()), 2);
        let p = plan(&b, &bytes[..HEAD_BYTES as usize], bytes.len() as u64).expect("a plan");
        assert_eq!(
            (p.field, p.dtype, p.shape.clone(), p.payload_len),
            (2, "<f4", vec![100_000], 400_000)
        );
        // Without a schema the bin is bytes, not an array: no plan, decoded from memory.
        let untyped = BatchBuilder::new(None, 2);
        assert!(plan(&untyped, &bytes[..HEAD_BYTES as usize], bytes.len() as u64).is_none());
        // An array after a longer field is found in the second, longer head.
        let later = big_after(10_000);
        let b = BatchBuilder::new(Some(schema()), 2);
        let len = later.len() as u64;
        assert!(plan(&b, &later[..HEAD_BYTES as usize], len).is_none());
        assert!(plan(&b, &later[..MAX_HEAD_BYTES as usize], len).is_some());
    }

    #[test]
    fn streamed_and_in_memory_decoding_agree() {
        // The array starts in the first head, after it (a second, longer head), or past both
        // (decoded from memory).
        for text in [0, 10_000, 100_000] {
            streamed_and_in_memory_agree(&big_after(text));
        }
    }

    /// A large sample whose array has `n` float32 items.
    fn big_of(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sample(
            &[
                ("id", Value::Int(7)),
                ("note", Value::from("n")),
                (
                    "v",
                    Value::Array(NdArray::from_vec(vec![n], vec![2.0f32; n]).unwrap()),
                ),
                ("tag", Value::from("t")),
            ],
            &mut out,
        );
        out
    }

    #[test]
    fn ragged_large_arrays_read_straight_from_the_file_come_per_sample() {
        let samples = [big_of(100_000), big_of(100_001), big_of(100_000)];
        let mut a = BatchBuilder::new(Some(schema()), 3);
        let mut scratch = Vec::new();
        for s in &samples {
            push_from(&mut a, &mut &s[..], s.len() as u64, &mut scratch).unwrap();
        }
        let mut b = BatchBuilder::new(Some(schema()), 3);
        for s in &samples {
            b.push(s).unwrap();
        }
        let (a, b) = (a.finish(), b.finish());
        assert_eq!(a, b);
        let Some(crate::dataset::Column::Values(v)) = a.column("v") else {
            panic!(
                "a ragged column is one value per sample: {:?}",
                a.column("v")
            );
        };
        let lens: Vec<usize> = v
            .iter()
            .map(|x| match x {
                Value::Array(arr) => arr.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lens, vec![100_000, 100_001, 100_000]);
    }

    fn streamed_and_in_memory_agree(bytes: &[u8]) {
        let mut a = BatchBuilder::new(Some(schema()), 2);
        let mut scratch = Vec::new();
        for _ in 0..2 {
            push_from(&mut a, &mut &bytes[..], bytes.len() as u64, &mut scratch).unwrap();
        }
        let mut b = BatchBuilder::new(Some(schema()), 2);
        b.push(bytes).unwrap();
        b.push(bytes).unwrap();
        assert_eq!(a.finish(), b.finish());
        // A sample cut short is an error, not a panic or a short row.
        let mut c = BatchBuilder::new(Some(schema()), 2);
        let cut = &bytes[..bytes.len() - 10];
        assert!(push_from(&mut c, &mut &cut[..], bytes.len() as u64, &mut scratch).is_err());
    }
}
