//! The index: names, versions, schemas and entries of datasets (work in progress).

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod entry;
pub mod provider;
pub mod sqlite;

pub use entry::{Committed, Entry, NewEntry, ShardInfo};
pub use provider::Provider;
pub use sqlite::SqliteProvider;
