//! Python samples -> msgpack bytes, streamed in chunks, checked against the schema.
//!
//! Each field is read by name from the schema (`getattr`, or the key of a dict), converted to a
//! core value and checked against the field's type; a failure names the sample's index in the
//! call and the field.
//!
//! An array field whose `@packable` annotation fixes a dtype (`NDArray[np.float32]`; the class
//! lists them in `__atdata_dtypes__`) stores its arrays in that dtype, by the core's one rule
//! ([`atdata::value::cast`]: cast when numpy's `same_kind` allows it, refused otherwise).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use atdata::codec::{encode_sample, validate_sample};
use atdata::value::cast::conform;
use atdata::{DType, Error, Schema, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyType};

/// The dtypes a sample class declares for its array fields, by schema field position; cached
/// for the last class seen, since a write's samples are nearly always of one class.
#[derive(Default)]
pub struct Declared {
    class: Option<Py<PyType>>,
    dtypes: Vec<Option<DType>>,
}

impl Declared {
    /// The declared dtypes of `obj`'s class (none for a dict or a class without declarations).
    fn of(&mut self, obj: &Bound<'_, PyAny>, schema: &Schema) -> Result<&[Option<DType>], Error> {
        let class = obj.get_type();
        if self
            .class
            .as_ref()
            .is_some_and(|c| c.bind(obj.py()).is(&class))
        {
            return Ok(&self.dtypes);
        }
        let map = class
            .getattr("__atdata_dtypes__")
            .ok()
            .and_then(|m| m.cast_into::<PyDict>().ok());
        let mut dtypes = Vec::with_capacity(schema.fields.len());
        for f in &schema.fields {
            let text: Option<String> = match &map {
                Some(m) => m
                    .get_item(f.name.as_str())
                    .ok()
                    .flatten()
                    .and_then(|v| v.extract().ok()),
                None => None,
            };
            dtypes.push(
                text.map(|t| DType::parse(&t))
                    .transpose()
                    .map_err(|e| e.with_field(&f.name))?,
            );
        }
        self.class = Some(class.unbind());
        self.dtypes = dtypes;
        Ok(&self.dtypes)
    }
}

use crate::convert::{sample_to_dict, to_py, to_value};
use crate::exceptions::to_pyerr;
use crate::progress::Progress;

/// Converts and encodes one sample; errors carry the sample index `i`.
pub fn encode_one(
    obj: &Bound<'_, PyAny>,
    schema: &Schema,
    declared: &mut Declared,
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let dict = obj.cast::<PyDict>().ok();
    let dtypes = declared.of(obj, schema).map_err(|e| e.with_sample(i))?;
    let mut fields: Vec<(String, Value)> = Vec::with_capacity(schema.fields.len());
    for (f, dtype) in schema.fields.iter().zip(dtypes) {
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
        let value = match (value, dtype) {
            (Value::Array(a), Some(d)) => {
                Value::Array(conform(a, d).map_err(|e| e.with_field(&f.name).with_sample(i))?)
            }
            (other, _) => other,
        };
        fields.push((f.name.clone(), value));
    }
    validate_sample(&fields, schema).map_err(|e| e.with_sample(i))?;
    encode_sample(&fields, out);
    Ok(())
}

/// Most samples pulled from Python per chunk.
pub const CHUNK_SAMPLES: usize = 1024;

/// Most encoded bytes per chunk: large samples (images, long arrays) make smaller chunks, so the
/// memory a write holds stays bounded whatever the sample size.
pub const CHUNK_BYTES: usize = 8 << 20;

/// Python samples as a stream of msgpack bytes for the core writer.
///
/// The writer runs with the GIL released; whenever its buffer is empty this iterator takes the
/// GIL back, pulls the next chunk of samples from the Python iterable (a list, a generator,
/// anything iterable), encodes them and lets go of the GIL again. At most one chunk of encoded
/// samples is alive at a time, on top of the writer's own shard buffer.
///
/// An encoding failure is yielded as an `Err` after the samples before it (the core writer then
/// aborts, publishing nothing). An exception raised by the Python iterable itself, or a pending
/// Ctrl-C, is kept for [`take_python_error`](Self::take_python_error) and ends the stream with
/// an `Err` too, so the caller re-raises the original exception.
pub struct EncodeStream {
    iter: Py<PyIterator>,
    schema: Schema,
    declared: Declared,
    /// Index (in the call) of the next sample to pull.
    next_index: usize,
    ready: VecDeque<Vec<u8>>,
    /// Samples and bytes of the chunk in `ready`, reported once the writer has taken it all.
    chunk: (u64, u64),
    failure: Option<Error>,
    python_error: Option<PyErr>,
    exhausted: bool,
    progress: Progress,
}

impl EncodeStream {
    /// A stream over `samples` (anything iterable), checked against `schema`.
    pub fn new(samples: &Bound<'_, PyAny>, schema: Schema, progress: Progress) -> PyResult<Self> {
        Ok(EncodeStream {
            iter: samples.try_iter()?.unbind(),
            schema,
            declared: Declared::default(),
            next_index: 0,
            ready: VecDeque::new(),
            chunk: (0, 0),
            failure: None,
            python_error: None,
            exhausted: false,
            progress,
        })
    }

    /// The exception the Python iterable raised (or a pending signal), if that ended the stream.
    pub fn take_python_error(&mut self) -> Option<PyErr> {
        self.python_error.take()
    }

    /// Pulls and encodes the next chunk; needs the GIL.
    fn fill(&mut self, py: Python<'_>) {
        if let Err(e) = py.check_signals() {
            self.fail_python(e);
            return;
        }
        let mut it = self.iter.bind(py).clone();
        let mut bytes = 0usize;
        while self.ready.len() < CHUNK_SAMPLES && bytes < CHUNK_BYTES {
            let obj = match it.next() {
                None => {
                    self.exhausted = true;
                    break;
                }
                Some(Err(e)) => {
                    self.fail_python(e);
                    break;
                }
                Some(Ok(obj)) => obj,
            };
            let i = self.next_index;
            self.next_index += 1;
            let mut buf = Vec::with_capacity(64);
            if let Err(e) = encode_one(&obj, &self.schema, &mut self.declared, i, &mut buf) {
                self.failure = Some(e);
                break;
            }
            bytes += buf.len();
            self.ready.push_back(buf);
        }
        self.chunk = (self.ready.len() as u64, bytes as u64);
    }

    fn fail_python(&mut self, e: PyErr) {
        self.failure = Some(
            Error::invalid(format!(
                "the samples' iterable raised an exception at sample #{}",
                self.next_index
            ))
            .with_sample(self.next_index),
        );
        self.python_error = Some(e);
    }
}

impl Iterator for EncodeStream {
    type Item = atdata::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(bytes) = self.ready.pop_front() {
                return Some(Ok(bytes));
            }
            // The writer has taken the whole previous chunk: it is written.
            let (samples, bytes) = std::mem::take(&mut self.chunk);
            atdata::Progress::samples(&self.progress, samples, bytes);
            if let Some(e) = self.failure.take() {
                self.exhausted = true;
                return Some(Err(e));
            }
            if self.exhausted {
                return None;
            }
            Python::attach(|py| self.fill(py));
        }
    }
}

/// Runs a core write fed by `stream` with the GIL released. The Python iterable's own
/// exception wins over the core error it caused; a core error becomes its Python exception.
pub fn run_write<T, F>(py: Python<'_>, stream: &mut EncodeStream, write: F) -> PyResult<T>
where
    T: Send,
    F: Send + FnOnce(&mut EncodeStream) -> atdata::Result<T>,
{
    let out = py.detach(|| write(stream));
    if let Some(e) = stream.take_python_error() {
        return Err(e);
    }
    py.check_signals()?;
    out.map_err(|e| to_pyerr(py, e))
}

/// msgpack bytes of one sample under `schema_json`.
#[pyfunction]
pub fn pack<'py>(
    py: Python<'py>,
    schema_json: &str,
    sample: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let schema = parsed_schema(schema_json).map_err(|e| to_pyerr(py, e))?;
    let mut buf = Vec::new();
    encode_one(sample, &schema, &mut Declared::default(), 0, &mut buf)
        .map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &buf))
}

/// The schema a record's JSON text describes, parsed once per text: `pack` and `unpack` run
/// once per sample (`sample.packed`, `from_bytes`), and parsing the record each time cost more
/// than encoding a short text sample (benches/python/bench_api_07.py). A handful of sample
/// types is usual; the map is emptied if a program makes thousands.
fn parsed_schema(json: &str) -> atdata::Result<Arc<Schema>> {
    const MAX_SCHEMAS: usize = 1024;
    static PARSED: OnceLock<Mutex<HashMap<String, Arc<Schema>>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(Default::default);
    // A panic cannot leave the map half-updated (insert is one step): a poisoned lock is usable.
    if let Some(schema) = parsed.lock().unwrap_or_else(|e| e.into_inner()).get(json) {
        return Ok(schema.clone());
    }
    let schema = Arc::new(Schema::from_json(json)?);
    let mut map = parsed.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_SCHEMAS {
        map.clear();
    }
    map.insert(json.to_owned(), schema.clone());
    Ok(schema)
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
        .map(parsed_schema)
        .transpose()
        .map_err(|e| to_pyerr(py, e))?;
    let s = atdata::codec::decode_sample(data, schema.as_deref()).map_err(|e| to_pyerr(py, e))?;
    sample_to_dict(py, s)
}

/// Decodes one array in the core's array encoding (the bytes an array field holds) into a
/// numpy array.
#[pyfunction]
pub fn unpack_array<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let array = atdata::codec::decode_array(data).map_err(|e| to_pyerr(py, e))?;
    to_py(py, Value::Array(array))
}

/// Parses and re-serialises a schema record (validates what Python built).
#[pyfunction]
pub fn normalize_schema(py: Python<'_>, schema_json: &str) -> PyResult<String> {
    Schema::from_json(schema_json)
        .map(|s| s.to_json())
        .map_err(|e| to_pyerr(py, e))
}

/// The reference of a schema record (`atdata://local/schema/Name@1.0.0`), by the core's rule.
#[pyfunction]
pub fn schema_ref(py: Python<'_>, schema_json: &str) -> PyResult<String> {
    Schema::from_json(schema_json)
        .map(|s| s.reference().to_string())
        .map_err(|e| to_pyerr(py, e))
}
