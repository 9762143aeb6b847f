//! Datasets over shard URLs: ordered and shuffled iteration, by sample or by columnar batch.
//!
//! (Being built: iteration, batching and loading land in this folder.)

use crate::schema::Schema;

/// A dataset: an ordered list of shard URLs, optionally with a schema, a name and a known length.
#[derive(Debug, Clone)]
pub struct Dataset {
    urls: Vec<String>,
    schema: Option<Schema>,
    name: Option<String>,
    len: Option<u64>,
}

impl Dataset {
    /// A dataset over `urls` (already expanded), decoded with `schema` when given.
    pub fn new(urls: Vec<String>, schema: Option<Schema>) -> Self {
        Dataset {
            urls,
            schema,
            name: None,
            len: None,
        }
    }

    /// Names the dataset (used in error messages).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Records the exact sample count (known from the index), so `len` need not scan.
    pub fn with_len(mut self, len: u64) -> Self {
        self.len = Some(len);
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
}
