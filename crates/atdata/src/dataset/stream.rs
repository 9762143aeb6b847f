//! Reading raw samples from many shards in parallel while keeping their order.
//!
//! Worker threads take shards in order and read each into its own bounded channel; the
//! consumer drains the channels in shard order. At most `workers` shards are read ahead and
//! each holds at most a few chunks, so memory stays bounded however large the dataset is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::error::{Error, Result};
use crate::shard::{RawSample, ShardReader};
use crate::store::ShardSource;

/// Samples per chunk sent from a reader thread to the consumer.
const CHUNK_SAMPLES: usize = 256;
/// Bytes per chunk (whichever limit comes first).
const CHUNK_BYTES: usize = 8 << 20;
/// Chunks buffered per shard.
const CHUNKS_PER_SHARD: usize = 4;

/// Options of the parallel reader.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Reader threads (shards read at once). 0 reads on the calling thread. Samples, typed
    /// samples and shuffled batches use them; batches in shard order are always read on the
    /// calling thread, which copies each byte once and measured faster (see `direct`).
    pub workers: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ReadOptions {
            workers: cores.clamp(1, 4),
        }
    }
}

type Chunk = Result<Vec<RawSample>>;

/// Read buffer for a shard streamed whole.
const STREAM_BUFFER: usize = 256 << 10;

/// A shard's reader over its source's stream; boxed where held, being a few hundred bytes.
pub(crate) type SourceReader = ShardReader<std::io::BufReader<Box<dyn std::io::Read + Send>>>;

/// Opens the shard at `url` through `source`, read through a buffer of `capacity` bytes; its
/// size, when the source knows it, bounds every member size.
pub(crate) fn open_reader(
    source: &dyn ShardSource,
    url: &str,
    capacity: usize,
) -> Result<SourceReader> {
    let opened = source.open(url)?;
    Ok(ShardReader::new(
        std::io::BufReader::with_capacity(capacity, opened.reader),
        url,
        opened.len,
    ))
}

/// A raw sample with the URL of the shard it came from.
#[derive(Debug, Clone)]
pub struct ShardSample {
    /// Shard URL.
    pub url: Arc<str>,
    /// The sample.
    pub raw: RawSample,
}

impl ShardSample {
    /// Adds this sample's shard, offset and key to an error about it.
    pub fn locate(&self, e: Error) -> Error {
        e.with_key(&self.raw.key)
            .with_shard(&self.url, self.raw.offset)
    }
}

/// An iterator over the raw samples of `urls`, in order.
pub struct RawStream {
    inner: Inner,
    dataset: Option<String>,
}

enum Inner {
    Serial {
        urls: std::vec::IntoIter<String>,
        current: Option<(Arc<str>, Box<SourceReader>)>,
        source: Arc<dyn ShardSource>,
    },
    Parallel {
        receivers: std::vec::IntoIter<(Arc<str>, Receiver<Chunk>)>,
        current: Option<(Arc<str>, Receiver<Chunk>)>,
        pending: std::vec::IntoIter<RawSample>,
        // `current` keeps its URL while `pending` drains, so samples stay located.
        stop: Arc<AtomicBool>,
        threads: Vec<JoinHandle<()>>,
    },
    Done,
}

impl RawStream {
    /// Starts reading `urls` from `source` with `opts`; `dataset` names the dataset in errors.
    pub fn new(
        source: Arc<dyn ShardSource>,
        urls: Vec<String>,
        opts: ReadOptions,
        dataset: Option<String>,
    ) -> Self {
        if opts.workers == 0 || urls.len() <= 1 {
            return RawStream {
                inner: Inner::Serial {
                    urls: urls.into_iter(),
                    current: None,
                    source,
                },
                dataset,
            };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (senders, receivers): (Vec<Sender<Chunk>>, Vec<Receiver<Chunk>>) =
            (0..urls.len()).map(|_| bounded(CHUNKS_PER_SHARD)).unzip();
        let receivers: Vec<(Arc<str>, Receiver<Chunk>)> = urls
            .iter()
            .map(|u| Arc::<str>::from(u.as_str()))
            .zip(receivers)
            .collect();
        // A work queue of (url, sender): a reader thread owns a shard's sender while it reads
        // it and drops it when done, which is how the consumer learns the shard has ended.
        let (work_tx, work_rx) = crossbeam_channel::unbounded::<(String, Sender<Chunk>)>();
        for (url, tx) in urls.iter().cloned().zip(senders) {
            work_tx.send((url, tx)).expect("receiver is alive");
        }
        drop(work_tx);
        let threads = (0..opts.workers.min(urls.len()))
            .map(|_| {
                let (work_rx, stop, source) = (work_rx.clone(), stop.clone(), source.clone());
                std::thread::spawn(move || {
                    for (url, tx) in work_rx.iter() {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        read_shard_into(source.as_ref(), &url, &tx, &stop);
                    }
                })
            })
            .collect();
        RawStream {
            inner: Inner::Parallel {
                receivers: receivers.into_iter(),
                current: None,
                pending: Vec::new().into_iter(),
                stop,
                threads,
            },
            dataset,
        }
    }

    fn context(&self, e: Error) -> Error {
        match &self.dataset {
            Some(d) => e.with_dataset(d),
            None => e,
        }
    }
}

/// Reads one shard in chunks into `tx`; stops early when the consumer has gone.
fn read_shard_into(source: &dyn ShardSource, url: &str, tx: &Sender<Chunk>, stop: &AtomicBool) {
    let reader = match open_reader(source, url, STREAM_BUFFER) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    let mut chunk = Vec::with_capacity(CHUNK_SAMPLES);
    let mut bytes = 0usize;
    for item in reader {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match item {
            Ok(s) => {
                bytes += s.data.len();
                chunk.push(s);
                if chunk.len() >= CHUNK_SAMPLES || bytes >= CHUNK_BYTES {
                    bytes = 0;
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_SAMPLES));
                    if tx.send(Ok(full)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                if !chunk.is_empty() {
                    let _ = tx.send(Ok(std::mem::take(&mut chunk)));
                }
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk));
    }
}

impl Iterator for RawStream {
    type Item = Result<ShardSample>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let out = match &mut self.inner {
                Inner::Done => return None,
                Inner::Serial {
                    urls,
                    current,
                    source,
                } => match current {
                    Some((url, r)) => match r.next() {
                        Some(item) => Some(item.map(|raw| ShardSample {
                            url: url.clone(),
                            raw,
                        })),
                        None => {
                            *current = None;
                            continue;
                        }
                    },
                    None => match urls.next() {
                        None => None,
                        Some(url) => match open_reader(source.as_ref(), &url, STREAM_BUFFER) {
                            Ok(r) => {
                                *current = Some((Arc::from(url.as_str()), Box::new(r)));
                                continue;
                            }
                            Err(e) => Some(Err(e)),
                        },
                    },
                },
                Inner::Parallel {
                    receivers,
                    current,
                    pending,
                    ..
                } => {
                    if let Some(raw) = pending.next() {
                        let url = current
                            .as_ref()
                            .map_or_else(|| Arc::from(""), |c| c.0.clone());
                        return Some(Ok(ShardSample { url, raw }));
                    }
                    match current {
                        None => match receivers.next() {
                            Some(rx) => {
                                *current = Some(rx);
                                continue;
                            }
                            None => None,
                        },
                        Some((_, rx)) => match rx.recv() {
                            Ok(Ok(chunk)) => {
                                *pending = chunk.into_iter();
                                continue;
                            }
                            Ok(Err(e)) => Some(Err(e)),
                            // The reader finished this shard and dropped its sender.
                            Err(_) => {
                                *current = None;
                                continue;
                            }
                        },
                    }
                }
            };
            return match out {
                None => {
                    self.shutdown();
                    None
                }
                Some(Err(e)) => {
                    // The first error ends the stream: the data after it cannot be trusted.
                    self.shutdown();
                    Some(Err(self.context(e)))
                }
                Some(ok) => Some(ok),
            };
        }
    }
}

impl RawStream {
    fn shutdown(&mut self) {
        if let Inner::Parallel { stop, .. } = &self.inner {
            stop.store(true, Ordering::Relaxed);
        }
        // Dropping the receivers unblocks readers waiting to send.
        let inner = std::mem::replace(&mut self.inner, Inner::Done);
        if let Inner::Parallel {
            receivers,
            current,
            threads,
            ..
        } = inner
        {
            drop(receivers);
            drop(current);
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

impl Drop for RawStream {
    fn drop(&mut self) {
        self.shutdown();
    }
}
