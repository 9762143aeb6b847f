//! What the object-store sources share (feature `s3`): the tokio runtime a blocking caller
//! drives them through, the reading rules of [`ShardSource`](crate::store::ShardSource) over
//! any [`ObjectStore`] (streamed `open`, exact `read_range`, `size`), and the mapping of
//! `object_store` errors into ours, naming the URL and the endpoint.
//!
//! **Blocking API over async.** `object_store` is async; our traits are blocking. Each source
//! owns a small multi-threaded tokio runtime ([`Runtime`]) and every call blocks the calling
//! thread on it. Calling from *inside* a tokio runtime would deadlock or panic (tokio forbids
//! `block_on` there), so such a call is refused with an error saying so: run it from a plain
//! thread (e.g. `tokio::task::spawn_blocking`). Dropping a source never blocks: its runtime is
//! shut down in the background.
//!
//! **Streaming with bounded memory.** [`open_stream`] reads an object as consecutive ranged
//! GETs of [`ReadTuning::chunk`] bytes, [`ReadTuning::in_flight`] of them at once, handed in
//! order through a bounded channel to a blocking [`Read`]: at most `in_flight + 2` chunks are
//! held whatever the object's size. Every GET after the first names the ETag the first saw
//! (`If-Match`), so an object replaced while it is read is an error, never a mix of two
//! objects.

use std::future::Future;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};
use crate::store::OpenedShard;

/// A tokio runtime owned by a source, shut down in the background when dropped (dropping a
/// runtime must not block, and may happen on any thread).
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

impl Runtime {
    /// Two worker threads: requests are I/O bound, and parallelism comes from requests in
    /// flight, not threads.
    pub(crate) fn new(name: &str) -> Result<Arc<Self>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("atdata-{name}"))
            .enable_all()
            .build()
            .map_err(|e| Error::io(format!("the {name} runtime"), e))?;
        Ok(Arc::new(Runtime(Some(rt))))
    }

    fn handle(&self) -> Result<&tokio::runtime::Runtime> {
        self.0
            .as_ref()
            .ok_or_else(|| Error::invalid("object store runtime already shut down"))
    }

    /// Runs `f` to completion, blocking the calling thread; refused inside a runtime (see the
    /// module docs).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> Result<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::invalid(
                "an atdata object store (S3, HTTP) was called from inside an async (tokio) \
                 runtime; its API blocks, so call it from a plain thread, e.g. \
                 tokio::task::spawn_blocking",
            ));
        }
        Ok(self.handle()?.block_on(f))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// How objects are streamed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTuning {
    /// Bytes per ranged GET.
    pub chunk: u64,
    /// Ranged GETs in flight at once per opened object.
    pub in_flight: usize,
}

impl Default for ReadTuning {
    /// 8 MiB chunks, 4 in flight: enough to keep a link busy with per-request latency of tens
    /// of milliseconds, and at most 48 MiB held per opened shard.
    fn default() -> Self {
        ReadTuning {
            chunk: 8 << 20,
            in_flight: 4,
        }
    }
}

/// An object of a store, with what messages say about it.
#[derive(Clone)]
pub(crate) struct Located {
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjectPath,
    /// The URL as the caller wrote it (`s3://bucket/key`, `https://host/x.tar`).
    pub url: String,
    /// Where requests go (the endpoint), for messages.
    pub endpoint: String,
}

/// Our error for an `object_store` error on `url`: `Io`, naming the URL and the endpoint, with
/// the kind a caller can match (`NotFound`, `PermissionDenied`, `AlreadyExists`).
pub(crate) fn store_error(url: &str, endpoint: &str, op: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let kind = match &e {
        E::NotFound { .. } => io::ErrorKind::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        E::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        _ => io::ErrorKind::Other,
    };
    let text = match &e {
        E::NotFound { .. } => format!("no such object ({op} at {endpoint})"),
        _ => format!("{op} at {endpoint} failed: {e}"),
    };
    Error::io(url, io::Error::new(kind, text))
}

fn past_end(url: &str, offset: u64, len: u64, size: u64) -> Error {
    Error::io(
        url,
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{len} bytes at offset {offset} run past the end ({size} bytes)"),
        ),
    )
}

impl Located {
    fn err(&self, op: &str, e: object_store::Error) -> Error {
        store_error(&self.url, &self.endpoint, op, e)
    }

    /// The object's metadata, `None` when there is none (HEAD).
    pub(crate) async fn head(&self) -> Result<Option<ObjectMeta>> {
        match self.store.head(&self.path).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("HEAD", e)),
        }
    }

    async fn head_required(&self) -> Result<ObjectMeta> {
        match self.store.head(&self.path).await {
            Ok(m) => Ok(m),
            Err(e) => Err(self.err("HEAD", e)),
        }
    }

    async fn get_range(&self, range: Range<u64>, e_tag: Option<String>) -> Result<Bytes> {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: e_tag,
            ..Default::default()
        };
        let op = format!("GET bytes {}..{}", range.start, range.end);
        let got = self
            .store
            .get_opts(&self.path, opts)
            .await
            .map_err(|e| self.err(&op, e))?;
        if got.range != range {
            return Err(past_end(
                &self.url,
                range.start,
                range.end - range.start,
                got.meta.size,
            ));
        }
        got.bytes().await.map_err(|e| self.err(&op, e))
    }

    /// Exactly `len` bytes from `offset`, in one ranged GET (a HEAD as well only for an empty
    /// range or a failed GET, to tell "past the end" from other failures).
    pub(crate) async fn read_range(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if len > 0 => match self.get_range(offset..end, None).await {
                Ok(b) => Ok(b.to_vec()),
                Err(e) => {
                    // 416 for a start past the end, or a transient failure: the size decides.
                    let size = match self.head().await {
                        Ok(Some(m)) => m.size,
                        _ => return Err(e),
                    };
                    if end > size {
                        Err(past_end(&self.url, offset, len, size))
                    } else {
                        Err(e)
                    }
                }
            },
            _ => {
                let size = self.head_required().await?.size;
                if end.is_none_or(|end| end > size) {
                    Err(past_end(&self.url, offset, len, size))
                } else {
                    Ok(Vec::new())
                }
            }
        }
    }
}

/// Opens `obj` as a stream (see the module docs); a missing object is `NotFound` naming it.
pub(crate) fn open_stream(
    rt: &Arc<Runtime>,
    obj: Located,
    tuning: ReadTuning,
) -> Result<OpenedShard> {
    let meta = rt.block_on(obj.head_required())??;
    let size = meta.size;
    let chunk = tuning.chunk.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(1);
    if size > 0 {
        let e_tag = meta.e_tag.clone();
        let obj = obj.clone();
        let in_flight = tuning.in_flight.max(1);
        rt.handle()?.spawn(async move {
            let ranges =
                (0..size.div_ceil(chunk)).map(move |i| i * chunk..(i * chunk + chunk).min(size));
            let mut fetches = futures_util::stream::iter(ranges.map(|r| {
                let (obj, e_tag) = (obj.clone(), e_tag.clone());
                async move { obj.get_range(r, e_tag).await }
            }))
            .buffered(in_flight);
            while let Some(item) = fetches.next().await {
                let failed = item.is_err();
                // The reader was dropped: stop fetching.
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    Ok(OpenedShard {
        reader: Box::new(ChunkReader {
            rx,
            current: Bytes::new(),
            url: obj.url,
            size,
            got: 0,
            _rt: rt.clone(),
        }),
        len: Some(size),
    })
}

/// The blocking end of [`open_stream`].
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
    url: String,
    size: u64,
    got: u64,
    /// Keeps the runtime the fetches run on alive as long as the reader.
    _rt: Arc<Runtime>,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.current.is_empty() {
                let n = buf.len().min(self.current.len());
                buf[..n].copy_from_slice(&self.current[..n]);
                let _ = self.current.split_to(n);
                return Ok(n);
            }
            if self.got >= self.size || buf.is_empty() {
                return Ok(0);
            }
            if tokio::runtime::Handle::try_current().is_ok() {
                return Err(io::Error::other(format!(
                    "'{}' was read from inside an async (tokio) runtime; read it from a plain \
                     thread",
                    self.url
                )));
            }
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => {
                    self.got += bytes.len() as u64;
                    self.current = bytes;
                }
                Some(Err(e)) => {
                    let kind = match &e {
                        Error::Io { source, .. } => source.kind(),
                        _ => io::ErrorKind::Other,
                    };
                    return Err(io::Error::new(
                        kind,
                        format!("reading '{}' at byte {}: {e}", self.url, self.got),
                    ));
                }
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "reading '{}': the stream stopped at byte {} of {}",
                            self.url, self.got, self.size
                        ),
                    ))
                }
            }
        }
    }
}

/// The sha256 (hex) of the whole object, streamed with bounded memory.
pub(crate) fn object_sha256(rt: &Arc<Runtime>, obj: Located, tuning: ReadTuning) -> Result<String> {
    use sha2::{Digest, Sha256};
    let url = obj.url.clone();
    let mut opened = open_stream(rt, obj, tuning)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match opened.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&url, e)),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The refusal of a URL whose scheme a source cannot read, in the wording of
/// [`shard::local_path`](crate::shard::local_path).
pub(crate) fn unsupported_scheme(url: &str, reads: &str) -> Error {
    match crate::shard::scheme_of(url) {
        Some(scheme) => Error::invalid(format!(
            "unsupported URL scheme '{scheme}' in '{url}': {reads}"
        )),
        None => Error::invalid(format!("'{url}' is not a URL this source reads: {reads}")),
    }
}
