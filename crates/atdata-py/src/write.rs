//! Writing samples to plain shard files (no index): `atdata.write_samples`.

use std::path::PathBuf;

use atdata::shard::ShardOptions;
use atdata::Schema;
use pyo3::prelude::*;

use crate::samples::encode_all;
use crate::util::{core, run_core};

/// Writes `samples` (checked against `schema_json`) to `dir/{prefix}-{i:06}.tar` shards and
/// returns their paths.
#[pyfunction]
#[pyo3(signature = (dir, prefix, schema_json, samples, maxcount=None, maxsize=None))]
pub fn write_shards(
    py: Python<'_>,
    dir: PathBuf,
    prefix: String,
    schema_json: &str,
    samples: &Bound<'_, PyAny>,
    maxcount: Option<usize>,
    maxsize: Option<u64>,
) -> PyResult<Vec<String>> {
    let schema = core(py, Schema::from_json(schema_json))?;
    let encoded = encode_all(py, samples, &schema)?;
    let opts = ShardOptions { maxcount, maxsize };
    let shards = run_core(py, move || {
        atdata::shard::write_shards(&dir, &prefix, encoded, opts)
    })?;
    Ok(shards
        .into_iter()
        .map(|s| s.path.to_string_lossy().into_owned())
        .collect())
}
