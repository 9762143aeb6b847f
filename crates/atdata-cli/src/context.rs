//! Opening the index and the data store the options name.
//!
//! `--index` and `--store` win; what is not given is the core's default
//! ([`atdata::home::default_paths`]: `$ATDATA_HOME/index.db` and `$ATDATA_HOME/data`, with
//! `~/.atdata` for an unset or empty `$ATDATA_HOME`, the place Python atdata 0.7 and our
//! Python package use), so every tool sees the same datasets. Commands that only read never
//! create anything: opening a missing index is an error that says where we looked.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use atdata::index::Index;
use atdata::store::LocalDiskStore;

use crate::IndexArgs;

/// The resolved index database and data store locations.
#[derive(Debug, Clone)]
pub struct Paths {
    /// SQLite index file.
    pub index: PathBuf,
    /// Data store root directory.
    pub store: PathBuf,
}

impl Paths {
    /// The options, with the core's defaults for what they leave out (only looked up then:
    /// with both options given, the environment does not matter).
    pub fn resolve(args: &IndexArgs) -> Result<Paths> {
        let defaults = || {
            atdata::home::default_paths().context("pass --index and --store, or set ATDATA_HOME")
        };
        let index = match &args.index {
            Some(p) => p.clone(),
            None => defaults()?.index,
        };
        let store = match &args.store {
            Some(p) => p.clone(),
            None => defaults()?.store,
        };
        Ok(Paths { index, store })
    }

    /// Opens the existing index to read only: nothing is created or changed, read-only media
    /// work, and a missing, empty or foreign file (or a directory) is an error naming it.
    pub fn open_existing(&self) -> Result<Index> {
        Index::open_read_only(&self.index).map_err(|e| self.open_error(e))
    }

    /// Opens what `gc` works on: the existing index (to read only for a dry run) and the
    /// existing store. Neither is ever created: collecting with the wrong index is how a
    /// store loses its data.
    pub fn open_for_gc(&self, dry_run: bool) -> Result<Index> {
        let index = if dry_run {
            Index::open_read_only(&self.index)
        } else {
            Index::open_existing(&self.index)
        }
        .map_err(|e| self.open_error(e))?;
        let store = LocalDiskStore::open_existing(&self.store)
            .with_context(|| format!("cannot open data store '{}'", self.store.display()))?;
        Ok(index.with_store(store))
    }

    /// The error of opening an index that is not there says where we looked and how to
    /// look elsewhere.
    fn open_error(&self, e: atdata::Error) -> anyhow::Error {
        match e {
            atdata::Error::NotFound { .. } => anyhow!(
                "no index at '{}' (nothing has been written there; pass --index PATH or set \
                 ATDATA_HOME)",
                self.index.display()
            ),
            other => anyhow::Error::new(other)
                .context(format!("cannot open index '{}'", self.index.display())),
        }
    }

    /// Opens the index, creating the file if needed, without a store.
    pub fn open_index(&self) -> Result<Index> {
        Index::open(&self.index)
            .with_context(|| format!("cannot open index '{}'", self.index.display()))
    }

    /// Opens (creating if needed) the index with the local store attached.
    pub fn open_with_store(&self) -> Result<Index> {
        let store = LocalDiskStore::new(&self.store)
            .with_context(|| format!("cannot open data store '{}'", self.store.display()))?;
        Ok(self.open_index()?.with_store(store))
    }
}
