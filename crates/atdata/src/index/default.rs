//! The process default index: what `load_dataset("@local/name")` resolves names against when
//! no index is passed, as in Python (`atdata.set_default_index`, `atdata.get_default_index`).
//!
//! Which index `load_dataset("@local/x")` uses when none was passed: the one set with
//! [`set_default_index`] (or made by [`default_index`]), else the index of the atdata home
//! (`$ATDATA_HOME/index.db`, `~/.atdata/index.db` for an unset or empty `$ATDATA_HOME`; see
//! [`default_paths`]) opened to read only. Loading never creates an index: a missing one is a
//! [`NotFound`](crate::Error::NotFound) error naming the path. Python's `load_dataset` and
//! `get_default_index` follow the same rule with the same paths.

use std::sync::{Arc, RwLock};

use crate::error::Result;
#[cfg(feature = "sqlite")]
use crate::home::default_paths;
use crate::index::Index;

static DEFAULT: RwLock<Option<Arc<Index>>> = RwLock::new(None);

/// Sets (or with `None` clears) the process default index.
pub fn set_default_index(index: Option<Index>) {
    set_default_index_shared(index.map(Arc::new));
}

/// Sets (or clears) the process default index to one already shared, so that the caller and
/// every name lookup use the same index (an in-memory index exists only once).
pub fn set_default_index_shared(index: Option<Arc<Index>>) {
    *DEFAULT.write().unwrap_or_else(|p| p.into_inner()) = index;
}

/// The default index set with [`set_default_index`], if any.
fn current() -> Option<Arc<Index>> {
    DEFAULT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The process default index; when none was set, the index of the atdata home
/// ([`Index::open_default`]: `$ATDATA_HOME/index.db` with the store `$ATDATA_HOME/data`,
/// created if missing) becomes the default, as Python's `get_default_index()` does. For an
/// index that lives only in memory, set one made with [`Index::in_memory`].
pub fn default_index() -> Result<Arc<Index>> {
    if let Some(i) = current() {
        return Ok(i);
    }
    let mut slot = DEFAULT.write().unwrap_or_else(|p| p.into_inner());
    // Another thread may have set it between the two locks.
    if let Some(i) = slot.as_ref() {
        return Ok(i.clone());
    }
    let index = Arc::new(home_index()?);
    *slot = Some(index.clone());
    Ok(index)
}

/// The atdata home's index, opened for writing.
#[cfg(feature = "sqlite")]
fn home_index() -> Result<Index> {
    Index::open_default()
}

/// Without a backend for files there is no home index: the caller must set one.
#[cfg(not(feature = "sqlite"))]
fn home_index() -> Result<Index> {
    Err(no_file_backend())
}

#[cfg(not(feature = "sqlite"))]
fn no_file_backend() -> crate::Error {
    crate::Error::invalid(
        "no default index is set and this build has no SQLite backend (cargo feature \
         'sqlite') to open the atdata home's index file: set one with set_default_index",
    )
}

/// The index names are loaded from when none is passed (see the module docs): the default
/// index if one was set or made, else the atdata home's index opened to read only, never
/// created (nor kept as the default).
pub fn index_for_reading() -> Result<Arc<Index>> {
    if let Some(i) = current() {
        return Ok(i);
    }
    #[cfg(feature = "sqlite")]
    return Ok(Arc::new(Index::open_read_only(default_paths()?.index)?));
    #[cfg(not(feature = "sqlite"))]
    Err(no_file_backend())
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    // One test touches the process-wide slot, so tests cannot race on it. (What happens when
    // none is set depends on `$ATDATA_HOME`: tests/default_index.rs, a binary of its own.)
    #[test]
    fn set_get_clear() {
        let mine = Arc::new(Index::in_memory().unwrap());
        set_default_index_shared(Some(mine.clone()));
        assert!(Arc::ptr_eq(&default_index().unwrap(), &mine));
        assert!(Arc::ptr_eq(&index_for_reading().unwrap(), &mine));
        let other = Index::in_memory().unwrap();
        set_default_index(Some(other));
        assert!(!Arc::ptr_eq(&default_index().unwrap(), &mine));
        set_default_index(None);
        assert!(current().is_none());
    }
}
