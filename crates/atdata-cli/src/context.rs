//! Opening the index and the data store the options and the environment name.
//!
//! `--index` and `--store` win; then `$ATDATA_HOME/index.db` and `$ATDATA_HOME/data`; then
//! `~/.atdata`, the place Python atdata 0.7 uses, so both tools see the same datasets.
//! Commands that only read never create anything: opening a missing index is an error that
//! says where we looked.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

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
    /// Resolves the options against the environment.
    pub fn resolve(args: &IndexArgs) -> Result<Paths> {
        let home = || -> Result<PathBuf> {
            if let Some(h) = std::env::var_os("ATDATA_HOME").filter(|h| !h.is_empty()) {
                return Ok(PathBuf::from(h));
            }
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".atdata"))
                .ok_or_else(|| {
                    anyhow!("neither ATDATA_HOME nor HOME is set: pass --index and --store")
                })
        };
        let index = match &args.index {
            Some(p) => p.clone(),
            None => home()?.join("index.db"),
        };
        let store = match &args.store {
            Some(p) => p.clone(),
            None => home()?.join("data"),
        };
        Ok(Paths { index, store })
    }

    /// Whether the index file exists yet.
    pub fn index_exists(&self) -> bool {
        self.index.is_file()
    }

    /// Opens an existing index for reading; a missing file is an error naming it.
    pub fn open_existing(&self) -> Result<Index> {
        if !self.index_exists() {
            bail!(
                "no index at '{}' (nothing has been written there; pass --index PATH or set \
                 ATDATA_HOME)",
                self.index.display()
            );
        }
        self.open_index()
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
