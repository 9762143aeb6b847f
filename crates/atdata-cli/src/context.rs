//! Opening the index and the data store the options name.
//!
//! `--index` and `--store` win, then `ATDATA_INDEX` and `ATDATA_STORE` (one rule for both:
//! [`option_or_env`]); what is not given is the core's default
//! ([`atdata::home::default_paths`]: `$ATDATA_HOME/index.db` and `$ATDATA_HOME/data`, with
//! `~/.atdata` for an unset or empty `$ATDATA_HOME`, the place Python atdata 0.7 and our
//! Python package use), so every tool sees the same datasets. Commands that only read never
//! create anything: opening a missing index is an error that says where we looked.
//!
//! The index may be a database server (`postgresql://...`, `redis://...`; see
//! [`atdata::index::Location`]), the store an object store (`s3://bucket/prefix`, with the
//! `s3` feature; see [`atdata::store::StoreLocation`]). Reading commands create nothing there
//! either: a PostgreSQL database without atdata's tables is an error naming it, Redis gets no
//! key until the first write. An unreachable server is one error naming it, without password.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};

use atdata::index::{open_location, open_location_for_reading, Index, Location};
use atdata::store::{
    open_store_location, open_store_location_for_reading, DataStore, StoreLocation,
};

use crate::IndexArgs;

/// An option's value, else the environment variable `var` when it is set and not empty: how
/// `--index`/`ATDATA_INDEX` and `--store`/`ATDATA_STORE` are read.
fn option_or_env(option: &Option<String>, var: &str) -> Option<String> {
    option
        .clone()
        .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

/// The resolved index database and data store locations.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The index: a SQLite file path or a database URL (see [`Location`]).
    pub index: String,
    /// The data store: a directory or an object store URL (see [`StoreLocation`]).
    pub store: String,
}

impl Paths {
    /// The options, then `ATDATA_INDEX` and `ATDATA_STORE` (non-empty), then the core's
    /// defaults for what they leave out (only looked up then: with both options given, the
    /// environment does not matter).
    pub fn resolve(args: &IndexArgs) -> Result<Paths> {
        let index = match option_or_env(&args.index, "ATDATA_INDEX") {
            Some(p) => p,
            None => path_text(&home()?.index, "--index")?,
        };
        let store = match option_or_env(&args.store, "ATDATA_STORE") {
            Some(p) => p,
            None => default_store()?,
        };
        // A bad scheme is refused before any command starts.
        Location::parse(&index)?;
        StoreLocation::parse(&store)?;
        Ok(Paths { index, store })
    }

    /// The store location for messages (a URL's password hidden).
    pub fn store_shown(&self) -> String {
        store_shown(&self.store)
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
    /// An object store is attached, since only it reads its shards (local shards are read
    /// as files, so a local store is not opened, nor created).
    pub fn open_existing(&self) -> Result<Index> {
        let store = if StoreLocation::parse(&self.store)?.is_local() {
            None
        } else {
            Some(self.store_for_reading()?)
        };
        open_location_for_reading(&self.index, store).map_err(|e| self.open_error(e))
    }

    /// The existing store, creating nothing.
    fn store_for_reading(&self) -> Result<Arc<dyn DataStore>> {
        open_store_location_for_reading(&self.store)
            .with_context(|| format!("cannot open data store '{}'", self.store_shown()))
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
        Ok(index.with_shared_store(self.store_for_reading()?))
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
        let store = open_writable_store(&self.store)?;
        Ok(self.open_index()?.with_shared_store(store))
    }
}

/// The store at `location` for writing (a directory is created if missing).
pub fn open_writable_store(location: &str) -> Result<Arc<dyn DataStore>> {
    open_store_location(location)
        .with_context(|| format!("cannot open data store '{}'", store_shown(location)))
}

/// A store location for messages (a URL's password hidden).
pub fn store_shown(location: &str) -> String {
    StoreLocation::parse(location)
        .map(|l| l.shown())
        .unwrap_or_else(|_| location.to_string())
}

/// Where the atdata home puts things, when an option leaves them out.
fn home() -> Result<atdata::home::DefaultPaths> {
    atdata::home::default_paths().context("pass --index and --store, or set ATDATA_HOME")
}

/// The default store: `$ATDATA_HOME/data`.
pub fn default_store() -> Result<String> {
    path_text(&home()?.store, "--store")
}

/// A default path as text (locations are text so that URLs fit).
fn path_text(path: &Path, option: &str) -> Result<String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        anyhow!(
            "the default path '{}' is not valid UTF-8: pass {option}",
            path.display()
        )
    })
}
