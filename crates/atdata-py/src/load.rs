//! `DatasetDict`: every split of a dataset, loaded by the core's `load_dataset` (by index
//! reference or by path). It sits above `dataset` and `index`, since it takes an index and
//! hands out datasets.

use atdata::dataset::DatasetDict;
use pyo3::prelude::*;

use crate::dataset::PyDataset;
use crate::index::PyIndex;
use crate::util::{core, run_core};

/// Datasets by split name.
#[pyclass(name = "DatasetDict", module = "atdata._core", frozen)]
pub struct PyDatasetDict {
    inner: DatasetDict,
}

#[pymethods]
impl PyDatasetDict {
    /// Every split of a dataset by index reference (`@local/name`, through `index`) or by path:
    /// the core's `load_dataset`, which owns the split rules.
    #[staticmethod]
    #[pyo3(signature = (path, index=None))]
    fn load(py: Python<'_>, path: String, index: Option<&Bound<'_, PyIndex>>) -> PyResult<Self> {
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
