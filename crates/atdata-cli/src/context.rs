//! Opening the index and the data store the options name.
//!
//! `--index` and `--store` win, then `ATDATA_INDEX` for the index; what is not given is the
//! core's default
//! ([`atdata::home::default_paths`]: `$ATDATA_HOME/index.db` and `$ATDATA_HOME/data`, with
//! `~/.atdata` for an unset or empty `$ATDATA_HOME`, the place Python atdata 0.7 and our
//! Python package use), so every tool sees the same datasets. Commands that only read never
//! create anything: opening a missing index is an error that says where we looked.
//!
//! The index may be a database server (`postgresql://...`, `redis://...`; see
//! [`atdata::index::Location`]). Reading commands create nothing there either: a PostgreSQL
//! database without atdata's tables is an error naming it, Redis gets no key until the first
//! write. An unreachable server is one error naming it, without password.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use atdata::index::{open_location, open_location_for_reading, Index, Location};
use atdata::store::LocalDiskStore;

use crate::IndexArgs;

/// The resolved index database and data store locations.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The index: a SQLite file path or a database URL (see [`Location`]).
    pub index: String,
    /// Data store root directory.
    pub store: PathBuf,
}

impl Paths {
    /// The options, then `ATDATA_INDEX` (non-empty) for the index, then the core's defaults
    /// for what they leave out (only looked up then: with both options given, the
    /// environment does not matter).
    pub fn resolve(args: &IndexArgs) -> Result<Paths> {
        let defaults = || {
            atdata::home::default_paths().context("pass --index and --store, or set ATDATA_HOME")
        };
        let from_env = || std::env::var("ATDATA_INDEX").ok().filter(|v| !v.is_empty());
        let index = match args.index.clone().or_else(from_env) {
            Some(p) => p,
            None => path_text(&defaults()?.index)?,
        };
        let store = match &args.store {
            Some(p) => p.clone(),
            None => defaults()?.store,
        };
        // A bad scheme is refused before any command starts.
        Location::parse(&index)?;
        Ok(Paths { index, store })
    }

    /// The index location for messages (a URL's password hidden).
    pub fn index_shown(&self) -> String {
        Location::parse(&self.index)
            .map(|l| l.shown())
            .unwrap_or_else(|_| self.index.clone())
    }

    fn is_server(&self) -> bool {
        Location::parse(&self.index).is_ok_and(|l| l.is_server())
    }

    /// Opens the existing index to read only: nothing is created or changed, read-only media
    /// work, and a missing, empty or foreign file (or a directory) is an error naming it.
    pub fn open_existing(&self) -> Result<Index> {
        open_location_for_reading(&self.index, None).map_err(|e| self.open_error(e))
    }

    /// Opens what `gc` works on: the existing index (to read only for a dry run) and the
    /// existing store. Neither is ever created: collecting with the wrong index is how a
    /// store loses its data.
    pub fn open_for_gc(&self, dry_run: bool) -> Result<Index> {
        let index = if self.is_server() || dry_run {
            open_location_for_reading(&self.index, None)
        } else {
            Index::open_existing(Path::new(&self.index))
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
            atdata::Error::NotFound { .. } if !self.is_server() => anyhow!(
                "no index at '{}' (nothing has been written there; pass --index PATH or set \
                 ATDATA_INDEX or ATDATA_HOME)",
                self.index_shown()
            ),
            other => anyhow::Error::new(other)
                .context(format!("cannot open index '{}'", self.index_shown())),
        }
    }

    /// Opens the index, creating the file if needed, without a store.
    pub fn open_index(&self) -> Result<Index> {
        open_location(&self.index, None)
            .with_context(|| format!("cannot open index '{}'", self.index_shown()))
    }

    /// Opens (creating if needed) the index with the local store attached.
    pub fn open_with_store(&self) -> Result<Index> {
        let store = LocalDiskStore::new(&self.store)
            .with_context(|| format!("cannot open data store '{}'", self.store.display()))?;
        Ok(self.open_index()?.with_store(store))
    }
}

/// The default index path as text (the location is text so that URLs fit).
fn path_text(path: &Path) -> Result<String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        anyhow!(
            "the index path '{}' is not valid UTF-8: pass --index",
            path.display()
        )
    })
}
