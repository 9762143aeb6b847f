//! Python samples -> msgpack bytes, in bulk, checked against the schema.
//!
//! Each field is read by name from the schema (`getattr`, or the key of a dict), converted to a
//! core value and checked against the field's type; a failure names the sample's index in the
//! call and the field.

use atdata::codec::{encode_sample, validate_sample};
use atdata::{Error, Schema, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::to_value;
use crate::exceptions::to_pyerr;

/// Converts and encodes one sample; errors carry the sample index `i`.
pub fn encode_one(
    obj: &Bound<'_, PyAny>,
    schema: &Schema,
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let dict = obj.cast::<PyDict>().ok();
    let mut fields: Vec<(String, Value)> = Vec::with_capacity(schema.fields.len());
    for f in &schema.fields {
        let got = match dict {
            Some(d) => d.get_item(f.name.as_str()).ok().flatten(),
            None => obj.getattr(f.name.as_str()).ok(),
        };
        let value = match got {
            None if f.optional => Value::Nil,
            None => {
                return Err(Error::mismatch(format!(
                    "sample has no field '{}' (required by {})",
                    f.name, schema.name
                ))
                .with_field(&f.name)
                .with_sample(i))
            }
            Some(v) => to_value(&v, 0)
                .map_err(|reason| Error::mismatch(reason).with_field(&f.name).with_sample(i))?,
        };
        fields.push((f.name.clone(), value));
    }
    validate_sample(&fields, schema).map_err(|e| e.with_sample(i))?;
    encode_sample(&fields, out);
    Ok(())
}

/// Encodes every sample of an iterable.
pub fn encode_all(
    py: Python<'_>,
    samples: &Bound<'_, PyAny>,
    schema: &Schema,
) -> PyResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for (i, obj) in samples.try_iter()?.enumerate() {
        let obj = obj?;
        let mut buf = Vec::with_capacity(64);
        encode_one(&obj, schema, i, &mut buf).map_err(|e| to_pyerr(py, e))?;
        out.push(buf);
    }
    Ok(out)
}

/// msgpack bytes of one sample under `schema_json`.
#[pyfunction]
pub fn pack<'py>(
    py: Python<'py>,
    schema_json: &str,
    sample: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let schema = Schema::from_json(schema_json).map_err(|e| to_pyerr(py, e))?;
    let mut buf = Vec::new();
    encode_one(sample, &schema, 0, &mut buf).map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &buf))
}

/// Decodes msgpack sample bytes into a dict (arrays per `schema_json` when given).
#[pyfunction]
#[pyo3(signature = (data, schema_json=None))]
pub fn unpack<'py>(
    py: Python<'py>,
    data: &[u8],
    schema_json: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let schema = schema_json
        .map(Schema::from_json)
        .transpose()
        .map_err(|e| to_pyerr(py, e))?;
    let s = atdata::codec::decode_sample(data, schema.as_ref()).map_err(|e| to_pyerr(py, e))?;
    crate::dataset::sample_to_dict(py, s)
}

/// Parses and re-serialises a schema record (validates what Python built).
#[pyfunction]
pub fn normalize_schema(py: Python<'_>, schema_json: &str) -> PyResult<String> {
    Schema::from_json(schema_json)
        .map(|s| s.to_json())
        .map_err(|e| to_pyerr(py, e))
}
