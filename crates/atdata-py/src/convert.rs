//! Python objects <-> core [`Value`]s, and arrays <-> numpy.
//!
//! Python -> Value runs with the GIL (it reads Python objects); its failures are plain reasons
//! that the caller turns into a `SchemaMismatch` naming the sample and field. Value -> Python
//! builds each n-d array from one Rust buffer handed to numpy without a copy.
//!
//! It is the bottom layer of the binding (see the crate docs): it uses no other module of it.

use atdata::{NdArray, Sample, Value};
use numpy::{PyArray1, PyUntypedArray};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
    PyType,
};

/// Deepest nesting of lists and dicts accepted from Python.
const MAX_DEPTH: usize = 64;

static NP_GENERIC: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn np_generic(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    NP_GENERIC.import(py, "numpy", "generic")
}

/// Converts one Python value. `Err` is a reason for the user ("expected ..., got ...").
pub fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("value nests too deeply".into());
    }
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    // bool before int: Python's bool is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Int(i));
        }
        return obj
            .extract::<u64>()
            .map(Value::UInt)
            .map_err(|_| format!("integer {obj} does not fit 64 bits"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Value::Str(s.into_owned()))
            .map_err(|e| format!("string is not valid UTF-8: {e}"));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return array_to_value(a);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, it)| to_value(&it, depth + 1).map_err(|e| format!("item {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, it)| to_value(&it, depth + 1).map_err(|e| format!("item {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key: String = k
                .extract()
                .map_err(|_| format!("dict key {k} is not a string"))?;
            let val = to_value(&v, depth + 1).map_err(|e| format!("key '{key}': {e}"))?;
            pairs.push((key, val));
        }
        return Ok(Value::Map(pairs));
    }
    if obj.is_instance_of::<PyByteArray>() || obj.is_instance_of::<PyMemoryView>() {
        let b: Vec<u8> = obj
            .call_method0("__bytes__")
            .or_else(|_| obj.py().import("builtins")?.getattr("bytes")?.call1((obj,)))
            .and_then(|b| b.extract())
            .map_err(|e| format!("cannot read bytes: {e}"))?;
        return Ok(Value::Bytes(b));
    }
    let py = obj.py();
    // numpy scalars (np.int64(3), np.float32(1.5), np.bool_(True)) become plain Python values.
    if np_generic(py).is_ok_and(|g| obj.is_instance(g).unwrap_or(false)) {
        let item = obj
            .call_method0("item")
            .map_err(|e| format!("cannot read numpy scalar: {e}"))?;
        return to_value(&item, depth + 1);
    }
    // Packed samples nested in a field (a field annotated with another @packable class).
    if let Ok(fields) = obj.getattr("__atdata_fields__") {
        let names: Vec<String> = fields.extract().map_err(|e: PyErr| e.to_string())?;
        let mut pairs = Vec::with_capacity(names.len());
        for n in names {
            let v = obj.getattr(n.as_str()).map_err(|e| e.to_string())?;
            let val = to_value(&v, depth + 1).map_err(|e| format!("field '{n}': {e}"))?;
            pairs.push((n, val));
        }
        return Ok(Value::Map(pairs));
    }
    let ty = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    Err(format!("unsupported value of type {ty}"))
}

fn array_to_value(a: &Bound<'_, PyUntypedArray>) -> Result<Value, String> {
    let fail = |e: PyErr| format!("cannot read numpy array: {e}");
    let dtype = a.getattr("dtype").map_err(fail)?;
    let dtype_str: String = dtype
        .getattr("str")
        .and_then(|s| s.extract())
        .map_err(fail)?;
    if dtype_str.contains('O') {
        return Err("numpy arrays of Python objects (dtype=object) cannot be stored".into());
    }
    let shape: Vec<usize> = a.getattr("shape").and_then(|s| s.extract()).map_err(fail)?;
    // tobytes() gives C order whatever the memory layout, in the dtype's own byte order.
    let data = a.call_method0("tobytes").map_err(fail)?;
    let bytes = data.cast::<PyBytes>().map_err(|e| e.to_string())?;
    let dt = atdata::DType::parse(&dtype_str).map_err(|e| e.to_string())?;
    NdArray::new(dt, shape, bytes.as_bytes().to_vec())
        .map(Value::Array)
        .map_err(|e| e.to_string())
}

/// A numpy array of `dtype` and `shape` over `data`, which numpy takes over without a copy.
pub fn array_from_buffer<'py>(
    py: Python<'py>,
    dtype: &str,
    shape: &[usize],
    data: Vec<u8>,
) -> PyResult<Bound<'py, PyAny>> {
    let flat = PyArray1::<u8>::from_vec(py, data);
    let typed = flat.call_method1("view", (dtype,))?;
    typed.call_method1("reshape", (PyTuple::new(py, shape)?,))
}

/// Converts a core value to Python.
pub fn to_py<'py>(py: Python<'py>, v: Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Nil => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::UInt(u) => u.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, f).into_any(),
        Value::Str(s) => PyString::new(py, &s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any(),
        Value::Array(a) => {
            let dtype = a.dtype().as_str().to_string();
            let shape = a.shape().to_vec();
            array_from_buffer(py, &dtype, &shape, a.into_data())?
        }
        Value::List(items) => {
            let out = PyList::empty(py);
            for it in items {
                out.append(to_py(py, it)?)?;
            }
            out.into_any()
        }
        Value::Map(pairs) => {
            let out = PyDict::new(py);
            for (k, v) in pairs {
                out.set_item(k, to_py(py, v)?)?;
            }
            out.into_any()
        }
    })
}

/// A sample as a dict `field -> value`.
pub fn sample_to_dict<'py>(py: Python<'py>, s: Sample) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in s.fields {
        d.set_item(k, to_py(py, v)?)?;
    }
    Ok(d)
}

/// The optional `metadata` argument of a write: None, or a dict converted to a
/// [`Value::Map`] (the core checks what it may hold).
pub fn metadata_value(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Value>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.cast::<PyDict>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "metadata must be a dict, got {}",
            obj.get_type().name()?
        )));
    }
    to_value(obj, 0)
        .map(Some)
        .map_err(|r| PyValueError::new_err(format!("metadata: {r}")))
}
