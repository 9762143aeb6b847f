//! The process default index: what `load_dataset("@local/name")` resolves names against when
//! no index is passed, as in Python (`atdata.set_default_index`).

use std::sync::{Arc, RwLock};

use crate::error::Result;
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

/// The process default index; when none was set, a new in-memory index becomes the default
/// (Python's `get_default_index()` does the same).
pub fn default_index() -> Result<Arc<Index>> {
    if let Some(i) = DEFAULT.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return Ok(i.clone());
    }
    let mut slot = DEFAULT.write().unwrap_or_else(|p| p.into_inner());
    // Another thread may have set it between the two locks.
    if let Some(i) = slot.as_ref() {
        return Ok(i.clone());
    }
    let index = Arc::new(Index::in_memory()?);
    *slot = Some(index.clone());
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test touches the process-wide slot, so tests cannot race on it.
    #[test]
    fn set_get_clear() {
        let mine = Arc::new(Index::in_memory().unwrap());
        set_default_index_shared(Some(mine.clone()));
        assert!(Arc::ptr_eq(&default_index().unwrap(), &mine));
        set_default_index(None);
        let fresh = default_index().unwrap();
        assert!(!Arc::ptr_eq(&fresh, &mine));
        assert!(Arc::ptr_eq(&default_index().unwrap(), &fresh));
        set_default_index(Some(Index::in_memory().unwrap()));
        assert!(!Arc::ptr_eq(&default_index().unwrap(), &fresh));
        set_default_index(None);
    }
}
