//! `Dataset` and its batch iterator: handles over the core's dataset, iterated in Rust with the
//! GIL released; each batch crosses into Python as a dict of columns.

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use atdata::codec::{decode_sample, encode_sample};
use atdata::dataset::{BatchBuilder, Batches, Dataset, Order, ShuffleOptions};
use atdata::store::{OpenedShard, S3Options, S3Source, ShardSource, UrlSource};
use atdata::{Error, Schema, Value};
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView};

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

    /// A dataset over `s3://` shard URLs read with the given endpoint, region and keys (the
    /// rest from the AWS environment, as boto3 would), for `atdata.S3Source`. Other URLs
    /// are read by their scheme, as `open` reads them.
    #[staticmethod]
    #[pyo3(signature = (urls, *, endpoint=None, region=None, access_key=None, secret_key=None))]
    fn over_s3(
        py: Python<'_>,
        urls: Vec<String>,
        endpoint: Option<String>,
        region: Option<String>,
        access_key: Option<String>,
        secret_key: Option<String>,
    ) -> PyResult<Self> {
        let mut options = S3Options::from_env();
        if let (Some(k), Some(s)) = (access_key, secret_key) {
            // The environment's session token belongs to the environment's keys.
            options = options.with_keys(k, s);
            options.session_token = None;
        }
        if let Some(e) = endpoint {
            options = options.with_endpoint(e);
        }
        if let Some(r) = region {
            options = options.with_region(r);
        }
        let source = run_core(py, move || {
            let s3 = S3Source::new(options)?;
            for u in &urls {
                s3.check_url(u)?;
            }
            let source: Arc<dyn ShardSource> = Arc::new(UrlSource::over(Arc::new(s3)));
            Ok((urls, source))
        })?;
        Ok(PyDataset::new(
            Dataset::new(source.0, None).with_source(source.1),
        ))
    }

    /// A dataset whose shards are the identifiers `urls` of the Python object `source`, each
    /// opened by calling `source.open_shard(url)` and read through the file-like object it
    /// returns (for data sources the core cannot read itself).
    #[staticmethod]
    fn over_streams(py: Python<'_>, source: Py<PyAny>, urls: Vec<String>) -> PyResult<Self> {
        let what = source.bind(py).get_type().name()?.to_string();
        let source = PyStreamSource {
            obj: source,
            urls: urls.iter().cloned().collect(),
            what,
        };
        Ok(PyDataset::new(
            Dataset::new(urls, None).with_source(Arc::new(source)),
        ))
    }

    /// Called once at interpreter exit (an `atexit` hook of `atdata._sources`): reader
    /// threads of Python data sources stop calling into Python (see [`PYTHON_EXITING`]). The
    /// GIL is released a moment so that readers already waiting for it see the flag.
    #[staticmethod]
    fn stop_python_streams(py: Python<'_>) {
        PYTHON_EXITING.store(true, Ordering::SeqCst);
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    }

    /// The shard at `url` opened for streaming through this dataset's source (a binary
    /// file-like object).
    fn open_shard(&self, py: Python<'_>, url: String) -> PyResult<PyShardStream> {
        let source = self.inner.source().clone();
        let shown = url.clone();
        let opened = run_core(py, move || source.open(&url))?;
        Ok(PyShardStream {
            url: shown,
            reader: Mutex::new(Some(opened.reader)),
        })
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
                drop_detached(py, guard.take());
                Ok(None)
            }
            Err(e) => {
                drop_detached(py, guard.take());
                Err(e)
            }
        }
    }
}

impl Drop for PyBatchIter {
    fn drop(&mut self) {
        let state = self.inner.get_mut().ok().and_then(Option::take);
        if state.is_some() {
            Python::attach(|py| drop_detached(py, state));
        }
    }
}

/// Drops an iterator's state with the GIL released: dropping stops and joins its reader
/// threads, which may be waiting for the GIL to read a Python data source's stream.
fn drop_detached(py: Python<'_>, state: Option<(Batches, Progress)>) {
    py.detach(move || drop(state));
}

/// A shard's bytes as a read-only binary stream (what `DataSource.open_shard` returns): the
/// core's reader of the shard, read with the GIL released.
#[pyclass(name = "ShardStream", module = "atdata._core", frozen)]
pub struct PyShardStream {
    url: String,
    reader: Mutex<Option<Box<dyn Read + Send>>>,
}

#[pymethods]
impl PyShardStream {
    /// Up to `size` bytes (all that remain when `size` is negative or None); `b""` at the end.
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self
            .reader
            .lock()
            .map_err(|_| PyRuntimeError::new_err("shard stream was poisoned by a panic"))?;
        let Some(reader) = guard.as_mut() else {
            return Err(PyValueError::new_err(format!(
                "read of closed shard stream '{}'",
                self.url
            )));
        };
        let url = self.url.clone();
        let size = size.filter(|n| *n >= 0).map(|n| n as u64);
        let bytes = run_core(py, move || {
            let mut out = Vec::new();
            let got = match size {
                None => reader.read_to_end(&mut out),
                Some(n) => reader.take(n).read_to_end(&mut out),
            };
            got.map(|_| out).map_err(|e| atdata::Error::io(url, e))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn readable(&self) -> bool {
        true
    }

    fn seekable(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        false
    }

    /// The shard's URL.
    #[getter]
    fn name(&self) -> String {
        self.url.clone()
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.reader.lock().map(|g| g.is_none()).unwrap_or(true)
    }

    /// Releases the connection or file; later reads raise `ValueError`.
    fn close(&self) {
        if let Ok(mut g) = self.reader.lock() {
            *g = None;
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _t: Option<&Bound<'_, PyAny>>,
        _v: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) {
        self.close();
    }

    fn __repr__(&self) -> String {
        format!("ShardStream({:?})", self.url)
    }
}

/// Set when the interpreter exits: a thread that takes the GIL once finalization has begun
/// is ended by Python in a way the reader threads' Rust frames cannot survive (the process
/// aborts), so from then on a Python data source's streams fail instead of being called.
static PYTHON_EXITING: AtomicBool = AtomicBool::new(false);

/// Runs `f` with the GIL, unless the interpreter is exiting (see [`PYTHON_EXITING`]).
fn with_python<T>(f: impl FnOnce(Python<'_>) -> std::io::Result<T>) -> std::io::Result<T> {
    let exiting = || {
        PYTHON_EXITING
            .load(Ordering::SeqCst)
            .then(|| std::io::Error::other("the Python interpreter is exiting"))
    };
    if let Some(e) = exiting() {
        return Err(e);
    }
    Python::attach(|py| match exiting() {
        Some(e) => Err(e),
        None => f(py),
    })
}

/// A Python data source as a core [`ShardSource`]: its shard identifiers are the URLs, and a
/// shard is the stream its `open_shard` returns, read (with the GIL taken for each `read`
/// call) by whichever reader thread streams that shard.
struct PyStreamSource {
    obj: Py<PyAny>,
    urls: HashSet<String>,
    /// The source's class name, for messages.
    what: String,
}

impl std::fmt::Debug for PyStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyStreamSource")
            .field("source", &self.what)
            .field("shards", &self.urls.len())
            .finish()
    }
}

/// A Python exception raised by a source's method, as a core error about `url`: `KeyError`
/// (0.7's "no such shard") is `NotFound`, `FileNotFoundError` a missing file, anything else an
/// I/O error carrying the exception's text.
fn source_error(py: Python<'_>, e: PyErr, url: &str, what: &str, call: &str) -> atdata::Error {
    let text = format!("{what}.{call} raised {e}");
    if e.is_instance_of::<PyKeyError>(py) {
        return atdata::Error::not_found(format!("shard '{url}' ({text})"));
    }
    let kind = if e.is_instance_of::<pyo3::exceptions::PyFileNotFoundError>(py) {
        std::io::ErrorKind::NotFound
    } else {
        std::io::ErrorKind::Other
    };
    atdata::Error::io(url, std::io::Error::new(kind, text))
}

impl PyStreamSource {
    /// `obj.open_shard(url)`, checked to be a stream.
    fn open_in(&self, py: Python<'_>, url: &str) -> atdata::Result<Py<PyAny>> {
        let s = self
            .obj
            .bind(py)
            .call_method1("open_shard", (url,))
            .map_err(|e| source_error(py, e, url, &self.what, "open_shard()"))?;
        if !s.hasattr("read").unwrap_or(false) {
            return Err(atdata::Error::invalid(format!(
                "{}.open_shard('{url}') returned {}, not a binary stream with read()",
                self.what,
                s.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            )));
        }
        Ok(s.unbind())
    }
}

impl ShardSource for PyStreamSource {
    fn check_url(&self, url: &str) -> atdata::Result<()> {
        if self.urls.contains(url) {
            return Ok(());
        }
        Err(atdata::Error::invalid(format!(
            "'{url}' is not a shard of this {} (its list_shards() does not name it)",
            self.what
        )))
    }

    fn open(&self, url: &str) -> atdata::Result<OpenedShard> {
        self.check_url(url)?;
        let stream = with_python(|py| Ok(self.open_in(py, url)))
            .map_err(|e| atdata::Error::io(url, e))??;
        Ok(OpenedShard {
            reader: Box::new(PyStreamReader {
                stream,
                url: url.to_string(),
                what: self.what.clone(),
            }),
            len: None,
        })
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> atdata::Result<Vec<u8>> {
        // Streams only: skip to `offset`, then read `len` bytes.
        let mut r = self.open(url)?.reader;
        let skipped = std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())
            .map_err(|e| atdata::Error::io(url, e))?;
        let mut out = Vec::new();
        (&mut r)
            .take(len)
            .read_to_end(&mut out)
            .map_err(|e| atdata::Error::io(url, e))?;
        if skipped < offset || (out.len() as u64) < len {
            return Err(atdata::Error::io(
                url,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "range of {len} bytes at offset {offset} runs past the end ({} bytes)",
                        skipped + out.len() as u64
                    ),
                ),
            ));
        }
        Ok(out)
    }

    fn size(&self, url: &str) -> atdata::Result<Option<u64>> {
        self.check_url(url)?;
        Err(atdata::Error::io(
            url,
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("size unknown: {} gives streams only", self.what),
            ),
        ))
    }
}

/// A Python binary stream as a `Read`: each `read` takes the GIL and calls `stream.read(n)`.
struct PyStreamReader {
    stream: Py<PyAny>,
    url: String,
    what: String,
}

impl Read for PyStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        with_python(|py| {
            let fail = |text: String| std::io::Error::other(text);
            let got = self
                .stream
                .bind(py)
                .call_method1("read", (buf.len(),))
                .map_err(|e| {
                    let kind = if e.is_instance_of::<pyo3::exceptions::PyFileNotFoundError>(py) {
                        std::io::ErrorKind::NotFound
                    } else {
                        std::io::ErrorKind::Other
                    };
                    std::io::Error::new(kind, format!("stream of {} raised {e}", self.what))
                })?;
            let n = if let Ok(b) = got.cast::<PyBytes>() {
                let b = b.as_bytes();
                copy_into(buf, b)
            } else if let Ok(b) = got.cast::<PyByteArray>() {
                copy_into(buf, &b.to_vec())
            } else if got.is_none() {
                return Err(fail(format!(
                    "stream of {} for '{}' returned None from read() (a non-blocking stream \
                     with no data ready cannot be read)",
                    self.what, self.url
                )));
            } else if got.is_instance_of::<PyMemoryView>() {
                let b = py
                    .get_type::<PyBytes>()
                    .call1((&got,))
                    .map_err(|e| fail(format!("stream of {}: {e}", self.what)))?;
                let b = b.cast::<PyBytes>().map_err(|e| fail(e.to_string()))?;
                copy_into(buf, b.as_bytes())
            } else {
                return Err(fail(format!(
                    "stream of {} for '{}' returned {} from read(), not bytes",
                    self.what,
                    self.url,
                    got.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                )));
            };
            n.ok_or_else(|| {
                fail(format!(
                    "stream of {} for '{}' returned more bytes than asked from read({})",
                    self.what,
                    self.url,
                    buf.len()
                ))
            })
        })
    }
}

/// Copies `from` into the start of `buf`; None when it does not fit.
fn copy_into(buf: &mut [u8], from: &[u8]) -> Option<usize> {
    buf.get_mut(..from.len())?.copy_from_slice(from);
    Some(from.len())
}
