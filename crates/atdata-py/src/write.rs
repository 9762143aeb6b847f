//! Writing samples to plain shard files (no index): `atdata.write_samples`.

use std::path::PathBuf;

use atdata::dataset::Dataset;
use atdata::shard::{write_shards_at, ShardOptions};
use atdata::Schema;
use pyo3::prelude::*;

use crate::dataset::PyDataset;
use crate::progress::{Kind, Progress};
use crate::samples::{run_write, EncodeStream};
use crate::util::core;

/// Writes `samples` (any iterable, checked against `schema_json`) to shard files at `path` and
/// returns the dataset over the shards written, by their explicit paths.
///
/// The core names the files (the file `path` itself, or numbered shards beside it when a limit
/// is given: see `atdata::shard::write_shards_at`) and publishes them all or none, so a failed
/// write (a sample of the wrong type, an exception in a generator) leaves no shard behind.
/// Samples are encoded chunk by chunk while the shards are written.
#[pyfunction]
#[pyo3(signature = (path, schema_json, samples, maxcount=None, maxsize=None, progress=None, total=None))]
#[allow(clippy::too_many_arguments)]
pub fn write_samples(
    py: Python<'_>,
    path: PathBuf,
    schema_json: &str,
    samples: &Bound<'_, PyAny>,
    maxcount: Option<usize>,
    maxsize: Option<u64>,
    progress: Option<bool>,
    total: Option<u64>,
) -> PyResult<PyDataset> {
    let schema = core(py, Schema::from_json(schema_json))?;
    let what = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let bar = Progress::new(progress, Kind::Write, &what, total);
    let mut stream = EncodeStream::new(samples, schema.clone(), bar)?;
    let opts = ShardOptions { maxcount, maxsize };
    let target = path.clone();
    let shards = run_write(py, &mut stream, move |stream| {
        write_shards_at(&target, stream, opts)
    })?;
    let len = shards.iter().map(|s| s.samples).sum();
    let urls = shards
        .into_iter()
        .map(|s| s.path.to_string_lossy().into_owned())
        .collect();
    let ds = Dataset::new(urls, Some(schema))
        .with_name(path.display().to_string())
        .with_len(len);
    Ok(PyDataset::new(ds))
}
