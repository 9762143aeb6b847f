//! Writing samples to plain shard files (no index): `atdata.write_samples`.

use std::path::{Path, PathBuf};

use atdata::shard::{sample_key, ShardOptions, ShardWriter, StagedShard};
use atdata::Schema;
use pyo3::prelude::*;

use crate::progress::{Kind, Progress};
use crate::samples::{run_write, EncodeStream};
use crate::util::core;

/// Writes `samples` (any iterable, checked against `schema_json`) to `dir/{prefix}-{i:06}.tar`
/// shards and returns their paths.
///
/// Samples are encoded chunk by chunk while the shards are written. Shards are staged as temp
/// files and published only once every sample is written, so a failed write (a sample of the
/// wrong type, an exception in a generator) leaves no shard behind.
#[pyfunction]
#[pyo3(signature = (dir, prefix, schema_json, samples, maxcount=None, maxsize=None, progress=None, total=None))]
#[allow(clippy::too_many_arguments)]
pub fn write_shards(
    py: Python<'_>,
    dir: PathBuf,
    prefix: String,
    schema_json: &str,
    samples: &Bound<'_, PyAny>,
    maxcount: Option<usize>,
    maxsize: Option<u64>,
    progress: Option<bool>,
    total: Option<u64>,
) -> PyResult<Vec<String>> {
    let schema = core(py, Schema::from_json(schema_json))?;
    let bar = Progress::new(progress, Kind::Write, &prefix, total);
    let mut stream = EncodeStream::new(samples, schema, bar)?;
    let opts = ShardOptions { maxcount, maxsize };
    let shards = run_write(py, &mut stream, move |stream| {
        write_all(&dir, &prefix, stream, opts)
    })?;
    Ok(shards
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

fn write_all(
    dir: &Path,
    prefix: &str,
    samples: &mut EncodeStream,
    opts: ShardOptions,
) -> atdata::Result<Vec<PathBuf>> {
    let mut writer = ShardWriter::new(dir, opts)?;
    let mut staged: Vec<StagedShard> = Vec::new();
    for (n, item) in samples.enumerate() {
        let bytes = item?;
        writer
            .write_sample(&sample_key(n as u64), &bytes)
            .map_err(|e| e.with_sample(n))?;
        staged.extend(writer.take_staged());
    }
    staged.extend(writer.finish()?);
    let mut paths = Vec::with_capacity(staged.len());
    for (i, shard) in staged.into_iter().enumerate() {
        let path = dir.join(format!("{prefix}-{i:06}.tar"));
        shard.publish(&path)?;
        paths.push(path);
    }
    Ok(paths)
}
