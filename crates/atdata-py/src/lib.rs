//! PyO3 bindings of the atdata core, built as the private module `atdata._core`.
//!
//! This layer only converts: Python arguments into core types (with the GIL), core calls run
//! through [`util::run_core`] with the GIL released, core results and errors back into Python.
//! Every decision (names, versions, formats, batching) is the core's.
//!
//! The modules depend one way, each only on those before it: `util`, `exceptions`,
//! `progress` and `convert` (Python values <-> core values) at the bottom; `columns` and
//! `samples` (batches out, samples in); `dataset`; `index` (which hands out datasets); then
//! `load` (which takes an index) and `write`.

#![forbid(unsafe_code)]

mod columns;
mod convert;
mod dataset;
mod exceptions;
mod index;
mod load;
mod progress;
mod samples;
mod util;
mod write;

// mimalloc: the entries, batches and strings we build are many small allocations, which it
// serves two to three times faster than glibc malloc (index listing 48 ms -> 20 ms for 10k).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use pyo3::prelude::*;

/// `(index_path, store_root)` used when none was set: the core's rule
/// ([`atdata::home::default_paths`]: `$ATDATA_HOME/index.db` and `$ATDATA_HOME/data`, with
/// `~/.atdata` for an unset or empty `$ATDATA_HOME`), so Python never resolves it itself.
#[pyfunction]
fn default_paths(py: Python<'_>) -> PyResult<(PathBuf, PathBuf)> {
    let p = util::core(py, atdata::home::default_paths())?;
    Ok((p.index, p.store))
}

/// The private extension module; `python/atdata` re-exports what users need.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    exceptions::register(m)?;
    m.add_class::<dataset::PyDataset>()?;
    m.add_class::<dataset::PyBatchIter>()?;
    m.add_class::<load::PyDatasetDict>()?;
    m.add_class::<index::PyIndex>()?;
    m.add_class::<index::PySqliteProvider>()?;
    m.add_class::<index::PyPostgresProvider>()?;
    m.add_class::<index::PyRedisProvider>()?;
    m.add_class::<index::PyLocalDiskStore>()?;
    m.add_class::<index::PyS3DataStore>()?;
    m.add_class::<index::PyEntry>()?;
    m.add_class::<index::PyVerifyReport>()?;
    m.add_function(wrap_pyfunction!(samples::pack, m)?)?;
    m.add_function(wrap_pyfunction!(samples::unpack, m)?)?;
    m.add_function(wrap_pyfunction!(samples::unpack_array, m)?)?;
    m.add_function(wrap_pyfunction!(samples::normalize_schema, m)?)?;
    m.add_function(wrap_pyfunction!(samples::schema_ref, m)?)?;
    m.add_function(wrap_pyfunction!(write::write_samples, m)?)?;
    m.add_function(wrap_pyfunction!(default_paths, m)?)?;
    // atdata 0.7's provider methods, CIDs and checksums (python/atdata/_index.py, _cid.py).
    for f in [
        wrap_pyfunction!(index::provider_entry_by_cid, m)?,
        wrap_pyfunction!(index::provider_entry_by_name, m)?,
        wrap_pyfunction!(index::provider_entries, m)?,
        wrap_pyfunction!(index::provider_schema_json, m)?,
        wrap_pyfunction!(index::provider_schemas, m)?,
        wrap_pyfunction!(index::provider_latest_schema_version, m)?,
        wrap_pyfunction!(index::provider_store_schema, m)?,
        wrap_pyfunction!(index::provider_schema_version_like, m)?,
        wrap_pyfunction!(index::provider_record_07_entry, m)?,
        wrap_pyfunction!(index::generate_cid, m)?,
        wrap_pyfunction!(index::shard_sha256, m)?,
    ] {
        m.add_function(f)?;
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
