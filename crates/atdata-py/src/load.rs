//! `DatasetDict`: every split of a dataset, loaded by the core's `load_dataset` (by index
//! reference or by path). It sits above `dataset` and `index`, since it takes an index and
//! hands out datasets.

use std::collections::BTreeMap;

use atdata::dataset::{Dataset, DatasetDict};
use atdata::Error;
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

    /// Datasets by split from explicit files (HF's `data_files=`): each split's paths, brace
    /// patterns, globs or directories are expanded in order by the core's shard rule
    /// (`shard::expand`); splits are the ones given, never detected. `source` names the whole in
    /// messages. A split with no pattern is an error naming it.
    #[staticmethod]
    fn from_files(
        py: Python<'_>,
        source: String,
        splits: Vec<(String, Vec<String>)>,
    ) -> PyResult<Self> {
        run_core(py, move || {
            let mut out = BTreeMap::new();
            for (split, patterns) in splits {
                if patterns.is_empty() {
                    return Err(Error::invalid(format!(
                        "data_files: split '{split}' names no file"
                    )));
                }
                let mut urls = Vec::new();
                for p in &patterns {
                    urls.extend(atdata::shard::expand(p)?);
                }
                let ds = Dataset::new(urls, None).with_name(format!("{source} [{split}]"));
                out.insert(split, ds);
            }
            Ok(DatasetDict {
                source,
                splits: out,
            })
        })
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
