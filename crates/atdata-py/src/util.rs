//! The one way into the core: release the GIL, run, take the GIL back, convert the error.

use pyo3::prelude::*;

use crate::exceptions::to_pyerr;

/// Runs `f` with the GIL released (so other Python threads run meanwhile), then checks for a
/// pending Ctrl-C and converts a core error into its Python exception.
pub fn run_core<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: Send + FnOnce() -> atdata::Result<T>,
{
    let out = py.detach(f);
    py.check_signals()?;
    out.map_err(|e| to_pyerr(py, e))
}

/// Converts a core result without releasing the GIL (for cheap calls).
pub fn core<T>(py: Python<'_>, r: atdata::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_pyerr(py, e))
}
