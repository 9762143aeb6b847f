//! Columnar batches -> Python: each array column becomes ONE numpy array `(B, ...)` built from
//! the column's single Rust buffer; other columns become Python lists, as atdata 0.7 gives them.

use atdata::dataset::{Batch, Column};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{array_from_buffer, to_py};

/// Converts a batch to a dict `field name -> column`, in field order.
pub fn batch_to_dict<'py>(py: Python<'py>, batch: Batch) -> PyResult<Bound<'py, PyDict>> {
    let rows = batch.len();
    let out = PyDict::new(py);
    for (name, col) in batch.into_columns() {
        out.set_item(name, column_to_py(py, col, rows)?)?;
    }
    Ok(out)
}

/// Converts one column.
pub fn column_to_py<'py>(py: Python<'py>, col: Column, rows: usize) -> PyResult<Bound<'py, PyAny>> {
    Ok(match col {
        Column::Int(v) => PyList::new(py, v)?.into_any(),
        Column::Float(v) => PyList::new(py, v)?.into_any(),
        Column::Bool(v) => PyList::new(py, v)?.into_any(),
        Column::Str(v) => PyList::new(py, v)?.into_any(),
        Column::Bytes(v) => PyList::new(py, v.iter().map(|b| PyBytes::new(py, b)))?.into_any(),
        Column::Array {
            dtype,
            item_shape,
            data,
        } => {
            let mut shape = Vec::with_capacity(item_shape.len() + 1);
            shape.push(rows);
            shape.extend_from_slice(&item_shape);
            array_from_buffer(py, &dtype, &shape, data)?
        }
        Column::Values(v) => {
            let out = PyList::empty(py);
            for it in v {
                out.append(to_py(py, it)?)?;
            }
            out.into_any()
        }
    })
}
