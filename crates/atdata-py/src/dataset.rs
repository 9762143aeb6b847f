//! `Dataset` and its batch iterator: handles over the core's dataset, iterated in Rust with the
//! GIL released; each batch crosses into Python as a dict of columns.

use std::io::Read;
use std::sync::Mutex;

use atdata::codec::{decode_sample, encode_sample};
use atdata::dataset::{BatchBuilder, Batches, Dataset, Order, ShuffleOptions};
use atdata::{Error, Schema, Value};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::columns::batch_to_dict;
use crate::convert::{sample_to_dict, to_value};
use crate::exceptions::to_pyerr;
use crate::progress::{Kind, Progress};
use crate::samples::{encode_one, Declared};
use crate::util::{core, run_core};

/// Most bytes `read_url` reads: it is for small side files (a dataset's metadata), never shards.
const MAX_SIDE_FILE: u64 = 64 << 20;

/// A dataset: shard URLs, an optional schema, a name.
#[pyclass(name = "Dataset", module = "atdata._core", frozen)]
pub struct PyDataset {
    pub(crate) inner: Dataset,
}

impl PyDataset {
    /// Wraps a core dataset.
    pub fn new(inner: Dataset) -> Self {
        PyDataset { inner }
    }
}

fn order(shuffle: Option<(u64, u64, usize)>) -> Order {
    match shuffle {
        None => Order::Ordered,
        Some((seed, epoch, buffer_size)) => Order::Shuffled(ShuffleOptions {
            seed,
            epoch,
            buffer_size,
        }),
    }
}

#[pymethods]
impl PyDataset {
    /// Opens shards at a path, brace pattern, glob or directory (no schema).
    #[staticmethod]
    fn open(py: Python<'_>, target: String) -> PyResult<Self> {
        run_core(py, move || Dataset::open(&target)).map(PyDataset::new)
    }

    /// Shard URLs.
    #[getter]
    fn urls(&self) -> Vec<String> {
        self.inner.urls().to_vec()
    }

    /// Dataset name, if any.
    #[getter]
    fn name(&self) -> Option<String> {
        self.inner.name().map(str::to_string)
    }

    /// The schema record as JSON text, if the dataset has a schema.
    #[getter]
    fn schema_json(&self) -> Option<String> {
        self.inner.schema().map(|s| s.to_json())
    }

    /// A copy decoded with the schema given as JSON text.
    fn with_schema(&self, py: Python<'_>, schema_json: &str) -> PyResult<Self> {
        let schema = core(py, atdata::Schema::from_json(schema_json))?;
        Ok(PyDataset::new(self.inner.clone().with_schema(schema)))
    }

    /// Raises `SchemaMismatchError` unless the data can be read as the type of `schema_json`
    /// (the core's rule: every required field of that type is in the data's schema). Data
    /// without a schema passes: nothing is known to check.
    fn check_readable_as(&self, py: Python<'_>, schema_json: &str) -> PyResult<()> {
        let want = core(py, atdata::Schema::from_json(schema_json))?;
        let Some(have) = self.inner.schema() else {
            return Ok(());
        };
        let named = |e: atdata::Error| match self.inner.name() {
            Some(n) => e.with_dataset(n),
            None => e,
        };
        let checked = atdata::codec::sample::check_readable_as(have, &want).map_err(named);
        core(py, checked)
    }

    /// Number of samples (from the index when known, else by scanning the shards).
    fn len(&self, py: Python<'_>) -> PyResult<u64> {
        let ds = self.inner.clone();
        run_core(py, move || ds.len())
    }

    /// Part `part` of `parts` (for data-parallel workers).
    fn part(&self, py: Python<'_>, part: usize, parts: usize) -> PyResult<Self> {
        core(py, self.inner.part(part, parts)).map(PyDataset::new)
    }

    /// The same dataset over `urls` instead (same source, schema and name): one shard of it, or
    /// the shards a caller retries. Each URL is checked by the source, without I/O.
    fn with_urls(&self, py: Python<'_>, urls: Vec<String>) -> PyResult<Self> {
        for u in &urls {
            core(py, self.inner.source().check_url(u))?;
        }
        let mut ds = Dataset::new(urls, self.inner.schema().cloned())
            .with_source(self.inner.source().clone());
        if let Some(n) = self.inner.name() {
            ds = ds.with_name(n);
        }
        Ok(PyDataset::new(ds))
    }

    /// The sample whose WebDataset key is `key`, as a dict, or None when no sample has it.
    /// Shards are scanned in order and only the matching sample is decoded.
    fn get<'py>(&self, py: Python<'py>, key: String) -> PyResult<Option<Bound<'py, PyDict>>> {
        let ds = self.inner.clone();
        let found = run_core(py, move || {
            for s in ds.raw(Order::Ordered) {
                let s = s?;
                if s.raw.key != key {
                    continue;
                }
                let decoded = decode_sample(&s.raw.data, ds.schema()).map_err(|e| {
                    let e = s.locate(e);
                    match ds.name() {
                        Some(n) => e.with_dataset(n),
                        None => e,
                    }
                })?;
                return Ok(Some(decoded));
            }
            Ok(None)
        })?;
        found.map(|s| sample_to_dict(py, s)).transpose()
    }

    /// The bytes at `url` (a path, `file://`, `http(s)://` or `s3://` URL), read through this
    /// dataset's source, so that a side file (0.7's `metadata_url`) is reached the way the
    /// shards are, with the same credentials. At most 64 MiB.
    fn read_url<'py>(&self, py: Python<'py>, url: String) -> PyResult<Bound<'py, PyBytes>> {
        let source = self.inner.source().clone();
        let data = run_core(py, move || {
            source.check_url(&url)?;
            let opened = source.open(&url)?;
            let mut buf = Vec::new();
            opened
                .reader
                .take(MAX_SIDE_FILE + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(&url, e))?;
            if buf.len() as u64 > MAX_SIDE_FILE {
                return Err(Error::invalid(format!(
                    "'{url}' holds more than {MAX_SIDE_FILE} bytes; a metadata file must be smaller"
                )));
            }
            Ok(buf)
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Columns of the samples in `samples` (an iterable), as batches read from shards have
    /// them: each sample is encoded (checked against `schema_json` when given; a schemaless
    /// sample is a dict) and decoded into the core's columnar batch, so that stacking, ragged
    /// arrays and None follow the one rule of `BatchBuilder`.
    #[staticmethod]
    #[pyo3(signature = (samples, schema_json=None))]
    fn columns_of<'py>(
        py: Python<'py>,
        samples: &Bound<'py, PyAny>,
        schema_json: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let schema = core(py, schema_json.map(Schema::from_json).transpose())?;
        let mut builder = BatchBuilder::new(schema.clone(), 0);
        let mut declared = Declared::default();
        let mut buf = Vec::new();
        for (i, obj) in samples.try_iter()?.enumerate() {
            let obj = obj?;
            buf.clear();
            match &schema {
                Some(s) => {
                    encode_one(&obj, s, &mut declared, i, &mut buf).map_err(|e| to_pyerr(py, e))?
                }
                None => encode_untyped(&obj, i, &mut buf)?,
            }
            core(py, builder.push(&buf).map_err(|e| e.with_sample(i)))?;
        }
        batch_to_dict(py, builder.finish())
    }

    /// The first `n` samples as dicts.
    fn head<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyList>> {
        let ds = self.inner.clone();
        let samples = run_core(py, move || ds.head(n))?;
        let out = PyList::empty(py);
        for s in samples {
            out.append(sample_to_dict(py, s)?)?;
        }
        Ok(out)
    }

    /// Columnar batches; `shuffle` is `(seed, epoch, buffer_size)` or None for shard order.
    /// `progress` is None (auto: a bar on a terminal for long reads), True or False; the bar's
    /// length is the sample count when the index recorded it.
    #[pyo3(signature = (batch_size, shuffle=None, drop_last=false, progress=None))]
    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<(u64, u64, usize)>,
        drop_last: bool,
        progress: Option<bool>,
    ) -> PyBatchIter {
        let it = self
            .inner
            .batches(batch_size, order(shuffle))
            .drop_last(drop_last);
        let what = self.inner.name().unwrap_or("dataset");
        let bar = Progress::new(progress, Kind::Read, what, self.inner.known_len());
        PyBatchIter {
            inner: Mutex::new(Some((it, bar))),
        }
    }
}

/// Encodes a sample without a schema: `obj` is a dict of field values (sample `i` of a call).
fn encode_untyped(obj: &Bound<'_, PyAny>, i: usize, out: &mut Vec<u8>) -> PyResult<()> {
    let py = obj.py();
    let dict = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "sample #{i} without a schema must be a dict of fields, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut fields: Vec<(String, Value)> = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let name: String = k.extract()?;
        let value = to_value(&v, 0).map_err(|reason| {
            to_pyerr(py, Error::mismatch(reason).with_field(&name).with_sample(i))
        })?;
        fields.push((name, value));
    }
    encode_sample(&fields, out);
    Ok(())
}

/// Iterator of batches, each a dict `field -> column` (numpy array or list), with its progress
/// bar (cleared when the iterator ends or is dropped).
#[pyclass(name = "BatchIter", module = "atdata._core")]
pub struct PyBatchIter {
    inner: Mutex<Option<(Batches, Progress)>>,
}

#[pymethods]
impl PyBatchIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("batch iterator was poisoned by a panic"))?;
        let Some((it, bar)) = guard.as_mut() else {
            return Ok(None);
        };
        let next = run_core(py, move || {
            let batch = it.next().transpose();
            if let Ok(Some(b)) = &batch {
                atdata::Progress::samples(bar, b.len() as u64, 0);
            }
            batch
        });
        match next {
            Ok(Some(batch)) => batch_to_dict(py, batch).map(Some),
            Ok(None) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }
}
