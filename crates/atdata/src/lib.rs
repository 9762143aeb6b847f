//! # atdata
//!
//! Typed, versioned, content-addressed datasets for machine learning.
//!
//! Samples are msgpack maps (`docs/FORMAT.md`), stored as WebDataset tar shards in a data store;
//! an index records each dataset's name, versions, schema, shards and checksums, so that a
//! dataset can be loaded by name (`@local/docs-v1`) and streamed in columnar batches without
//! knowing its type in advance.
//!
//! Layers, bottom up: [`value`] (dynamic values, n-d arrays), [`schema`] (field types, records),
//! [`codec`] (msgpack samples, array encoding, CIDs), [`shard`] (tar writer and reader, URL
//! expansion), [`dataset`] (iteration, batching, loading), [`store`] (where shard files live) and
//! [`index`] (names, versions, schemas, entries). [`home`] says where the default index and
//! store are when none was set (`$ATDATA_HOME`, else `~/.atdata`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Lets `#[derive(Packable)]` output, which names `::atdata`, compile inside this crate's tests.
extern crate self as atdata;

pub mod codec;
pub mod dataset;
pub mod error;
pub mod home;
pub mod index;
pub mod load;
pub mod packable;
pub mod progress;
pub mod schema;
pub mod shard;
pub mod store;
pub mod value;

pub use error::{Error, Location, Result};
#[cfg(feature = "sqlite")]
pub use index::SqliteProvider;
pub use index::{
    default_index, set_default_index, Entry, Index, InsertOptions, Repository, ShardInfo,
    WriteOptions,
};
pub use load::{load_dataset, load_split};
pub use packable::Packable;
pub use progress::{NoProgress, Progress};
pub use schema::{Field, FieldType, Primitive, Schema, SchemaRef};
pub use store::{DataStore, LocalDiskStore};
pub use value::{DType, Element, NdArray, Sample, Value};

#[cfg(feature = "derive")]
pub use atdata_derive::Packable;
