//! `Dataset` and its batch iterator: handles over the core's dataset, iterated in Rust with the
//! GIL released; each batch crosses into Python as a dict of columns.

use std::sync::Mutex;

use atdata::dataset::{Batches, Dataset, DatasetDict, Order, ShuffleOptions};
use atdata::Sample;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::columns::batch_to_dict;
use crate::convert::to_py;
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

/// A sample as a dict `field -> value`.
pub fn sample_to_dict<'py>(py: Python<'py>, s: Sample) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in s.fields {
        d.set_item(k, to_py(py, v)?)?;
    }
    Ok(d)
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

/// Datasets by split name.
#[pyclass(name = "DatasetDict", module = "atdata._core", frozen)]
pub struct PyDatasetDict {
    inner: DatasetDict,
}

#[pymethods]
impl PyDatasetDict {
    /// Loads shards at a path, brace pattern, glob or directory, grouped by split.
    #[staticmethod]
    fn load_path(py: Python<'_>, target: String) -> PyResult<Self> {
        run_core(py, move || atdata::dataset::load_path(&target))
            .map(|inner| PyDatasetDict { inner })
    }

    /// Every split of a dataset by index reference (`@local/name`, through `index`) or by path:
    /// the core's `load_dataset`, which owns the split rules.
    #[staticmethod]
    #[pyo3(signature = (path, index=None))]
    fn load(
        py: Python<'_>,
        path: String,
        index: Option<&Bound<'_, crate::index::PyIndex>>,
    ) -> PyResult<Self> {
        let index = index.map(|i| i.get().inner.clone());
        run_core(py, move || atdata::load_dataset(&path, index.as_deref()))
            .map(|inner| PyDatasetDict { inner })
    }

    /// Split names, sorted.
    fn keys(&self) -> Vec<String> {
        self.inner.splits.keys().cloned().collect()
    }

    /// The dataset of `split` (NotFoundError listing the splits otherwise).
    fn split(&self, py: Python<'_>, split: &str) -> PyResult<PyDataset> {
        core(py, self.inner.split(split)).map(|d| PyDataset::new(d.clone()))
    }
}
