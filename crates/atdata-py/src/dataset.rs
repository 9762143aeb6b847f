//! `Dataset` and its batch iterator: handles over the core's dataset, iterated in Rust with the
//! GIL released; each batch crosses into Python as a dict of columns.

use std::sync::Mutex;

use atdata::dataset::{Batches, Dataset, Order, ShuffleOptions};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::columns::batch_to_dict;
use crate::convert::sample_to_dict;
use crate::progress::{Kind, Progress};
use crate::util::{core, run_core};

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
