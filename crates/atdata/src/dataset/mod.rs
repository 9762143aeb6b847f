//! Datasets over shard URLs: ordered and shuffled iteration, by sample or by columnar batch.
//!
//! A [`Dataset`] is a cheap handle (shard URLs, the [`ShardSource`] they are read from, an
//! optional schema, a name, a known length).
//! Iteration reads shards in parallel with bounded prefetch ([`stream`]), optionally shuffles
//! with a seed ([`shuffle`]), and decodes either into samples or straight into columnar
//! [`Batch`]es ([`batch`]); batches in shard order are decoded as the shards are read, on the
//! calling thread, each large array read from the file straight into its column ([`direct`]). Loading by path with split detection lives in [`split`]; loading
//! by name goes through the index.

pub mod batch;
pub mod direct;
pub mod shuffle;
pub mod split;
pub mod stream;

pub use batch::{Batch, BatchBuilder, Column};
pub use shuffle::ShuffleOptions;
pub use split::{detect_split, load_path, DatasetDict};
pub use stream::{ReadOptions, ShardSample};

use crate::codec::decode_sample;
use crate::error::{Error, Result};
use crate::packable::Packable;
use crate::schema::Schema;
use crate::store::ShardSource;
use crate::value::Sample;
use shuffle::BufferShuffle;
use std::sync::Arc;
use stream::RawStream;

/// The order in which samples are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Shard order, then sample order within each shard.
    #[default]
    Ordered,
    /// Seeded shuffle of shards and samples.
    Shuffled(ShuffleOptions),
}

/// A dataset: an ordered list of shard URLs and where they are read from, optionally with a
/// schema, a name and a known length.
#[derive(Debug, Clone)]
pub struct Dataset {
    urls: Vec<String>,
    source: Arc<dyn ShardSource>,
    schema: Option<Schema>,
    name: Option<String>,
    len: Option<u64>,
    read: ReadOptions,
}

impl Dataset {
    /// A dataset over `urls` (already expanded), decoded with `schema` when given, read as
    /// local files ([`LocalFiles`](crate::store::LocalFiles); with the feature `s3`, remote URLs by their scheme: see
    /// [`default_source`](crate::store::default_source) and
    /// [`with_source`](Self::with_source)).
    pub fn new(urls: Vec<String>, schema: Option<Schema>) -> Self {
        Dataset {
            urls,
            source: crate::store::default_source(),
            schema,
            name: None,
            len: None,
            read: ReadOptions::default(),
        }
    }

    /// A dataset over a shard path, brace pattern, glob or directory.
    pub fn open(target: &str) -> Result<Self> {
        Ok(Dataset::new(crate::shard::expand(target)?, None).with_name(target))
    }

    /// Names the dataset (used in error messages).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Reads the shards through `source` (the store of the repository the dataset was resolved
    /// in).
    pub fn with_source(mut self, source: Arc<dyn ShardSource>) -> Self {
        self.source = source;
        self
    }

    /// Where the shards are read from.
    pub fn source(&self) -> &Arc<dyn ShardSource> {
        &self.source
    }

    /// Records the exact sample count (known from the index), so `len` need not scan.
    pub fn with_len(mut self, len: u64) -> Self {
        self.len = Some(len);
        self
    }

    /// Sets the schema used to decode samples.
    pub fn with_schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Sets the reader options (threads).
    pub fn with_read_options(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }

    /// Shard URLs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The schema, if known.
    pub fn schema(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// The name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The sample count when known without scanning.
    pub fn known_len(&self) -> Option<u64> {
        self.len
    }

    /// The part of this dataset that one of `parts` consumers reads: shards `i` with
    /// `i % parts == part`. Use it for distributed ranks and data-loader workers (apply it
    /// twice for both). The known length is dropped since parts need not be equal.
    pub fn part(&self, part: usize, parts: usize) -> Result<Dataset> {
        if parts == 0 || part >= parts {
            return Err(Error::invalid(format!(
                "part {part} of {parts}: need 0 <= part < parts"
            )));
        }
        let mut d = self.clone();
        d.urls = self
            .urls
            .iter()
            .enumerate()
            .filter(|(i, _)| i % parts == part)
            .map(|(_, u)| u.clone())
            .collect();
        d.len = None;
        Ok(d)
    }

    /// The number of samples: from the index when known, else by reading every shard.
    pub fn len(&self) -> Result<u64> {
        if let Some(n) = self.len {
            return Ok(n);
        }
        let mut n = 0u64;
        for s in self.raw(Order::Ordered) {
            s?;
            n += 1;
        }
        Ok(n)
    }

    /// True when the dataset has no sample.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Raw msgpack samples with their shard locations, in `order`.
    pub fn raw(&self, order: Order) -> Box<dyn Iterator<Item = Result<ShardSample>> + Send> {
        match order {
            Order::Ordered => Box::new(RawStream::new(
                self.source.clone(),
                self.urls.clone(),
                self.read,
                self.name.clone(),
            )),
            Order::Shuffled(opts) => {
                let mut rng = opts.rng();
                let mut urls = self.urls.clone();
                shuffle::permute(&mut urls, &mut rng);
                let stream =
                    RawStream::new(self.source.clone(), urls, self.read, self.name.clone());
                Box::new(BufferShuffle::new(stream, opts.buffer_size, rng))
            }
        }
    }

    /// Samples as dynamic values (arrays decoded per the schema), in `order`.
    pub fn samples(&self, order: Order) -> impl Iterator<Item = Result<Sample>> + Send {
        let schema = self.schema.clone();
        let name = self.name.clone();
        self.raw(order).map(move |r| {
            let s = r?;
            decode_sample(&s.raw.data, schema.as_ref()).map_err(|e| {
                let e = s.locate(e);
                match &name {
                    Some(n) => e.with_dataset(n),
                    None => e,
                }
            })
        })
    }

    /// Samples as a static type, in `order`.
    pub fn typed<T: Packable>(&self, order: Order) -> impl Iterator<Item = Result<T>> + Send {
        let name = self.name.clone();
        self.raw(order).map(move |r| {
            let s = r?;
            T::decode(&s.raw.data).map_err(|e| {
                let e = s.locate(e);
                match &name {
                    Some(n) => e.with_dataset(n),
                    None => e,
                }
            })
        })
    }

    /// The first `n` samples, in order.
    pub fn head(&self, n: usize) -> Result<Vec<Sample>> {
        self.samples(Order::Ordered).take(n).collect()
    }

    /// Columnar batches of `batch_size` samples in shard order (the last may be shorter).
    pub fn ordered(&self, batch_size: usize) -> Batches {
        self.batches(batch_size, Order::Ordered)
    }

    /// Columnar batches in seeded random order.
    pub fn shuffled(&self, batch_size: usize, opts: ShuffleOptions) -> Batches {
        self.batches(batch_size, Order::Shuffled(opts))
    }

    /// Columnar batches of `batch_size` samples in `order`.
    pub fn batches(&self, batch_size: usize, order: Order) -> Batches {
        let batch_size = batch_size.max(1);
        // In shard order, samples are decoded as they are read, on the calling thread, large
        // arrays straight from the file into their column (one copy; `direct`). Reader threads
        // would copy every byte twice (into a sample, then into the column) and, from the page
        // cache on 2 cores, were slower for small samples too (BENCHMARKS.md). Shuffled samples
        // pass through a shuffle buffer, so they are read whole by the reader threads.
        let source = match order {
            Order::Ordered => Source::Direct(Box::new(direct::DirectSource::new(
                self.source.clone(),
                self.urls.clone(),
            ))),
            _ => Source::Stream(self.raw(order)),
        };
        Batches {
            source,
            builder: BatchBuilder::new(self.schema.clone(), batch_size),
            batch_size,
            drop_last: false,
            dataset: self.name.clone(),
            done: false,
            pending: None,
        }
    }
}

/// Where a batch iterator's samples come from.
enum Source {
    /// Raw samples from the (parallel) reader, decoded from memory.
    Stream(Box<dyn Iterator<Item = Result<ShardSample>> + Send>),
    /// Shards read on the calling thread, decoded as they are read.
    Direct(Box<direct::DirectSource>),
}

/// An iterator of columnar batches.
pub struct Batches {
    source: Source,
    builder: BatchBuilder,
    batch_size: usize,
    drop_last: bool,
    dataset: Option<String>,
    done: bool,
    /// An error met after some rows of a batch: those rows are handed out first, then this.
    pending: Option<Error>,
}

impl Batches {
    /// Drops a last batch shorter than the batch size.
    pub fn drop_last(mut self, yes: bool) -> Self {
        self.drop_last = yes;
        self
    }
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        while self.builder.len() < self.batch_size {
            let step = match &mut self.source {
                Source::Stream(stream) => match stream.next() {
                    None => None,
                    Some(Err(e)) => Some(Err(e)),
                    Some(Ok(s)) => Some(self.builder.push(&s.raw.data).map_err(|e| s.locate(e))),
                },
                Source::Direct(direct) => direct.push_next(&mut self.builder),
            };
            match step {
                None => break,
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    self.done = true;
                    let e = match &self.dataset {
                        Some(d) => e.with_dataset(d),
                        None => e,
                    };
                    // The whole samples read before the error reach the caller first (as
                    // WebDataset and atdata 0.7 deliver them), unless drop_last would drop them.
                    self.builder.discard_partial_row();
                    if self.builder.is_empty() || self.drop_last {
                        return Some(Err(e));
                    }
                    self.pending = Some(e);
                    return Some(Ok(self.builder.finish()));
                }
            }
        }
        if self.builder.is_empty() || (self.drop_last && self.builder.len() < self.batch_size) {
            self.done = true;
            return None;
        }
        Some(Ok(self.builder.finish()))
    }
}
