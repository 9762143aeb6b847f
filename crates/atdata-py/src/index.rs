//! `Index`, `SqliteProvider`, `PostgresProvider`, `RedisProvider`, `LocalDiskStore` and
//! index entries.
//!
//! The Python `atdata.Index` (python/atdata/_index.py) sorts out the 0.7 keyword arguments and
//! the sample type; this layer converts arguments and results and calls the core's `Index`.
//! A Python provider object becomes a core provider in [`provider_of`] and a Python store
//! object a core store in [`store_of`]: one place each, so a new backend class is one arm
//! there (and its class registered in `lib.rs`), and every way in (`Index(...)`, `mount`)
//! takes it.

use std::path::PathBuf;
use std::sync::Arc;

use atdata::codec::cid::CidValue;
use atdata::index::{
    DatasetRef, Entry, Index, PostgresProvider, Provider, ProviderExt, RedisProvider, Repository,
    SqliteProvider, LOCAL,
};
use atdata::store::{DataStore, LocalDiskStore, S3DataStore, S3Options};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{metadata_value, to_py};
use crate::dataset::PyDataset;
use crate::progress::{Kind, Progress};
use crate::samples::{run_write, EncodeStream};
use crate::util::run_core;

/// A shard as Python passes it to `commit_entries`: `(url, sha256, samples, bytes)`.
type PyShard = (String, String, u64, u64);

/// The SQLite index backend: a database file, or memory when no path is given.
#[pyclass(name = "SqliteProvider", module = "atdata", frozen, subclass)]
pub struct PySqliteProvider {
    pub(crate) inner: Arc<SqliteProvider>,
    path: Option<PathBuf>,
}

#[pymethods]
impl PySqliteProvider {
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let path = path.map(crate::util::user_path);
        let p = path.clone();
        let inner = run_core(py, move || match p {
            Some(p) => SqliteProvider::open(p),
            None => SqliteProvider::in_memory(),
        })?;
        Ok(PySqliteProvider {
            inner: Arc::new(inner),
            path,
        })
    }

    /// Opens the existing index file at `path` to read only: nothing is created or changed,
    /// read-only media work, and a missing, empty or foreign file raises naming it.
    #[staticmethod]
    fn open_read_only(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let path = crate::util::user_path(path);
        let p = path.clone();
        let inner = run_core(py, move || SqliteProvider::open_read_only(p))?;
        Ok(PySqliteProvider {
            inner: Arc::new(inner),
            path: Some(path),
        })
    }

    /// The database file, or None for an in-memory index.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        match &self.path {
            Some(p) => format!("SqliteProvider(path={:?})", p.display().to_string()),
            None => "SqliteProvider(path=None)".to_string(),
        }
    }
}

/// The PostgreSQL index backend (0.7's tables), connected to `dsn`
/// (`postgresql://user:password@host:port/dbname`).
#[pyclass(name = "PostgresProvider", module = "atdata", frozen, subclass)]
pub struct PyPostgresProvider {
    pub(crate) inner: Arc<PostgresProvider>,
}

#[pymethods]
impl PyPostgresProvider {
    #[new]
    fn new(py: Python<'_>, dsn: String) -> PyResult<Self> {
        let inner = run_core(py, move || PostgresProvider::connect(&dsn))?;
        Ok(PyPostgresProvider {
            inner: Arc::new(inner),
        })
    }

    // The core's description of the database: host, port, user and name, never the
    // password (also for libpq's `key=value` form).
    fn __repr__(&self) -> String {
        format!(
            "PostgresProvider({:?})",
            self.inner.location().unwrap_or_default()
        )
    }
}

/// The Redis index backend (0.7's keys), connected to `url` (`redis://host:port/db`), every
/// key preceded by `prefix` (none by default; 0.7 reads only unprefixed keys).
#[pyclass(name = "RedisProvider", module = "atdata", frozen, subclass)]
pub struct PyRedisProvider {
    pub(crate) inner: Arc<RedisProvider>,
}

#[pymethods]
impl PyRedisProvider {
    #[new]
    #[pyo3(signature = (url, prefix=None))]
    fn new(py: Python<'_>, url: String, prefix: Option<String>) -> PyResult<Self> {
        let inner = run_core(py, move || {
            let p = RedisProvider::connect(&url)?;
            Ok(match prefix {
                Some(prefix) => p.with_prefix(prefix),
                None => p,
            })
        })?;
        Ok(PyRedisProvider {
            inner: Arc::new(inner),
        })
    }

    /// The key prefix (empty by default).
    #[getter]
    fn prefix(&self) -> String {
        self.inner.prefix().to_string()
    }

    /// Deletes every key of this provider's prefix (tests and tools); refused without a
    /// prefix, where it would delete everything in the database.
    fn delete_all_keys(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.inner.clone();
        run_core(py, move || p.delete_all_keys())
    }

    fn __repr__(&self) -> String {
        format!(
            "RedisProvider({:?})",
            self.inner.location().unwrap_or_default()
        )
    }
}

/// The core provider behind one of the provider classes.
fn provider_of(provider: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Provider>> {
    if let Ok(p) = provider.cast::<PySqliteProvider>() {
        return Ok(p.get().inner.clone());
    }
    if let Ok(p) = provider.cast::<PyPostgresProvider>() {
        return Ok(p.get().inner.clone());
    }
    if let Ok(p) = provider.cast::<PyRedisProvider>() {
        return Ok(p.get().inner.clone());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "expected a SqliteProvider, PostgresProvider or RedisProvider, got {}",
        provider.get_type().name()?
    )))
}

/// The core store behind one of the store classes: the one place a Python store object
/// becomes a core store (for `Index(data_store=...)` and every mounted repository). A new
/// store class is one more arm here.
fn store_of(store: &Bound<'_, PyAny>) -> PyResult<Arc<dyn DataStore>> {
    if let Ok(s) = store.cast::<PyLocalDiskStore>() {
        return Ok(s.get().inner.clone());
    }
    if let Ok(s) = store.cast::<PyS3DataStore>() {
        return Ok(s.get().inner.clone());
    }
    // atdata 0.7 takes any object with its store methods; ours must be a store the core
    // implements, so other objects are a feature this version lacks, not a wrong type.
    Err(crate::exceptions::unsupported(
        store.py(),
        &format!(
            "data_store: expected a LocalDiskStore or S3DataStore, got {}; other data \
             stores are not supported yet",
            store.get_type().name()?
        ),
    ))
}

/// Keywords of atdata 0.7's `write_shards` that this version takes and ignores: `cache_local`
/// chose whether 0.7 staged S3 shards on local disk; shards are always staged locally here.
const IGNORED_WRITE_KEYWORDS: &[&str] = &["cache_local"];

/// Keywords of atdata 0.7's `S3DataStore.write_shards` for its per-shard manifests, which this
/// version does not write; `manifest=False` (0.7's default) is accepted.
const MANIFEST_KEYWORDS: &[&str] = &[
    "manifest",
    "schema_version",
    "source_job_id",
    "parent_shards",
    "pipeline_version",
];

/// `store.write_shards(ds, prefix=...)` for both store classes: checks the keywords, reads
/// `ds` in order through the core (its stored bytes as they are; through Python only when a
/// `.filter()` or `.map()` applies) and writes its samples as shards of `store` (the core's
/// `store::write_shards`, GIL released), and returns `atdata.ShardWriteResult`.
#[allow(clippy::too_many_arguments)]
fn write_shards_into(
    py: Python<'_>,
    method: &str,
    store: Arc<dyn DataStore>,
    ds: &Bound<'_, PyAny>,
    prefix: &Bound<'_, PyAny>,
    maxcount: Option<&Bound<'_, PyAny>>,
    maxsize: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
    manifest_keywords: bool,
) -> PyResult<Py<PyAny>> {
    let mut unknown = Vec::new();
    let mut manifest = Vec::new();
    for (k, v) in kwargs.into_iter().flat_map(|d| d.iter()) {
        let k: String = k.extract()?;
        if IGNORED_WRITE_KEYWORDS.contains(&k.as_str()) {
            continue;
        }
        if manifest_keywords && MANIFEST_KEYWORDS.contains(&k.as_str()) {
            let default_off =
                k == "manifest" && v.is_instance_of::<pyo3::types::PyBool>() && !v.is_truthy()?;
            if !default_off {
                manifest.push(k);
            }
            continue;
        }
        unknown.push(k);
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{method}() got unexpected keyword argument(s): {}",
            unknown.join(", ")
        )));
    }
    if !manifest.is_empty() {
        manifest.sort();
        return Err(crate::exceptions::unsupported(
            py,
            &format!(
                "{method}({}): per-shard manifests are not written by this version",
                manifest
                    .iter()
                    .map(|k| format!("{k}=..."))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let prefix: String = prefix.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "{method}: prefix must be a str, got {}",
            prefix
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let limit = |name: &str, v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<u64>> {
        let Some(v) = v.filter(|v| !v.is_none()) else {
            return Ok(None);
        };
        // bool is an int in Python; True as a shard limit is a mistake, not 1.
        let n: Option<i128> = if v.is_instance_of::<pyo3::types::PyBool>() {
            None
        } else if v.is_instance_of::<pyo3::types::PyFloat>() {
            // 0.7 passes limits to WebDataset, which compares; 3e9 is a common float.
            let f: f64 = v.extract()?;
            (f.is_finite() && f.fract() == 0.0).then_some(f as i128)
        } else {
            v.extract().ok()
        };
        match n {
            Some(n) if n >= 1 && n <= i128::from(u64::MAX) => Ok(Some(n as u64)),
            _ => Err(crate::exceptions::to_pyerr(
                py,
                atdata::Error::invalid(format!(
                    "{method}: {name} must be a whole number of at least 1, got {}",
                    v.repr().map(|r| r.to_string()).unwrap_or_default()
                )),
            )),
        }
    };
    let maxcount = limit("maxcount", maxcount)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let maxsize = limit("maxsize", maxsize)?;
    // A `Dataset` of the Python layer holds its core dataset as `_core`.
    let core_ds = match ds.cast::<PyDataset>() {
        Ok(d) => d.clone(),
        Err(_) => match ds
            .getattr("_core")
            .ok()
            .and_then(|c| c.cast_into::<PyDataset>().ok())
        {
            Some(d) => d,
            None => {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "{method}: ds must be an atdata.Dataset, got {}",
                    ds.get_type().name()?
                )))
            }
        },
    };
    let location = store.location();
    let opts = atdata::shard::ShardOptions { maxcount, maxsize };
    let target = prefix.clone();
    let transformed = ["_filter", "_map"]
        .iter()
        .any(|t| ds.getattr(*t).is_ok_and(|f| !f.is_none()));
    let written = if transformed {
        // `.filter()`/`.map()` are Python callables: the samples come from iterating `ds` in
        // Python and are encoded as `Index.write_samples` encodes them, under the type of the
        // first one (a map may change it). The prefix is checked before anything is read.
        crate::util::core(py, store.check_name(&prefix))?;
        let mut samples = ds.try_iter()?;
        match samples.next().transpose()? {
            None => Vec::new(),
            Some(first) => {
                let schema_json: String = py
                    .import("atdata._packable")?
                    .getattr("schema_json_of")?
                    .call1((first.get_type(),))?
                    .extract()?;
                let schema = crate::util::core(py, atdata::Schema::from_json(&schema_json))?;
                let all = py
                    .import("itertools")?
                    .getattr("chain")?
                    .call1(((first,), samples))?;
                let bar = Progress::new(Some(false), Kind::Write, &prefix, None);
                let mut stream = EncodeStream::new(&all, schema, bar)?;
                run_write(py, &mut stream, move |stream| {
                    atdata::store::write_shards(store.as_ref(), &target, stream, opts)
                })?
            }
        }
    } else {
        let dataset = core_ds.get().inner.clone();
        run_core(py, move || {
            let samples = dataset
                .raw(atdata::dataset::Order::Ordered)
                .map(|r| r.map(|s| s.raw.data));
            atdata::store::write_shards(store.as_ref(), &target, samples, opts)
        })?
    };
    if written.is_empty() {
        // atdata 0.7 raises RuntimeError here; no class of ours is an error of the run
        // rather than of the arguments or the database, so it is RuntimeError itself.
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{method}: the dataset has no samples; nothing was written under '{prefix}' in \
             {location}"
        )));
    }
    let urls: Vec<&str> = written.iter().map(|s| s.url.as_str()).collect();
    let checksums = PyDict::new(py);
    let shards = PyList::empty(py);
    for s in &written {
        checksums.set_item(&s.url, &s.sha256)?;
        shards.append((&s.url, &s.sha256, s.samples, s.bytes))?;
    }
    let result = py
        .import("atdata._integrity")?
        .getattr("ShardWriteResult")?
        .call1((urls, checksums))?;
    result.setattr("shards", shards)?;
    Ok(result.unbind())
}

/// Shard files on a local disk, under `root` (default `$ATDATA_HOME/data`, `~/.atdata/data`).
#[pyclass(name = "LocalDiskStore", module = "atdata", frozen)]
pub struct PyLocalDiskStore {
    pub(crate) inner: Arc<LocalDiskStore>,
}

#[pymethods]
impl PyLocalDiskStore {
    #[new]
    #[pyo3(signature = (root=None))]
    fn new(py: Python<'_>, root: Option<PathBuf>) -> PyResult<Self> {
        let inner = run_core(py, move || match root.map(crate::util::user_path) {
            Some(r) => LocalDiskStore::new(r),
            None => LocalDiskStore::at_default_root(),
        })?;
        Ok(PyLocalDiskStore {
            inner: Arc::new(inner),
        })
    }

    /// The folder shards are kept under.
    #[getter]
    fn root(&self) -> PathBuf {
        self.inner.root().to_path_buf()
    }

    /// The URL to read shard `url` by: local paths are read as they are (atdata 0.7's
    /// `read_url`).
    fn read_url(&self, url: String) -> String {
        url
    }

    /// True: shards on a local disk are read as a stream (atdata 0.7's `supports_streaming`).
    fn supports_streaming(&self) -> bool {
        true
    }

    /// Writes the samples of `ds` (an `atdata.Dataset`, read in order) as shards under the
    /// folder `prefix` of this store, as atdata 0.7 does, and returns an
    /// `atdata.ShardWriteResult`: the shard paths in order, with `.checksums` (sha256 hex by
    /// path) and `.shards` (`(url, sha256, samples, bytes)` per shard, the rows
    /// `Index.commit_entries` takes). Shards are named `{prefix}/data--{tag}--{i:06}.tar`, the
    /// tag being the start of each shard's sha256, the store's one naming rule, so writing
    /// the same samples again reuses the same files.
    ///
    /// `maxcount` (default 100,000) and `maxsize` (bytes, default 3e9) roll over to a new
    /// shard, as WebDataset's `ShardWriter` does in 0.7. `prefix` is one folder name (the
    /// rule dataset names follow). Every shard is complete before any is published, so a bad sample
    /// publishes nothing (a failure while publishing leaves the shards already published,
    /// unreferenced, to gc); an empty dataset raises `RuntimeError` and writes nothing.
    /// `cache_local` (0.7's S3 option) is accepted and ignored; other keywords raise
    /// `TypeError`.
    ///
    /// The shards belong to no entry until indexed (`Index.insert_dataset`,
    /// `Index.commit_entries`): `atdata gc` keeps indexed shards and removes ones never
    /// indexed once they are older than its grace period.
    #[pyo3(signature = (ds, *, prefix, maxcount=None, maxsize=None, **kwargs))]
    fn write_shards(
        &self,
        py: Python<'_>,
        ds: &Bound<'_, PyAny>,
        prefix: &Bound<'_, PyAny>,
        maxcount: Option<&Bound<'_, PyAny>>,
        maxsize: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        write_shards_into(
            py,
            "LocalDiskStore.write_shards",
            self.inner.clone(),
            ds,
            prefix,
            maxcount,
            maxsize,
            kwargs,
            false,
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "LocalDiskStore(root={:?})",
            self.inner.root().display().to_string()
        )
    }
}

/// Shard files in an S3-compatible bucket (AWS S3, MinIO, R2, ...), under an optional key
/// prefix. Credentials as atdata 0.7 takes them (a dict with `AWS_ENDPOINT`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, or the path of a `.env` file
/// holding them), or, without `credentials`, the standard AWS environment. `endpoint` and
/// `region` given as arguments win over both.
#[pyclass(name = "S3DataStore", module = "atdata", frozen)]
pub struct PyS3DataStore {
    pub(crate) inner: Arc<S3DataStore>,
}

#[pymethods]
impl PyS3DataStore {
    #[new]
    #[pyo3(signature = (credentials=None, *, bucket, prefix=None, endpoint=None, region=None))]
    fn new(
        py: Python<'_>,
        credentials: Option<&Bound<'_, PyAny>>,
        bucket: String,
        prefix: Option<String>,
        endpoint: Option<String>,
        region: Option<String>,
    ) -> PyResult<Self> {
        let mut options = match credentials {
            None => S3Options::from_env(),
            Some(c) if c.is_instance_of::<PyDict>() => {
                let mut pairs = Vec::new();
                for (k, v) in c.cast::<PyDict>()?.iter() {
                    let k: String = k.extract().map_err(|_| {
                        pyo3::exceptions::PyTypeError::new_err(
                            "S3DataStore: credentials keys must be str",
                        )
                    })?;
                    // None is an unset key (as an empty value is); anything else that is
                    // not text is refused by name rather than turned into its repr.
                    if v.is_none() {
                        continue;
                    }
                    let v: String = v.extract().map_err(|_| {
                        pyo3::exceptions::PyTypeError::new_err(format!(
                            "S3DataStore: credentials['{k}'] must be str, got {}",
                            v.get_type()
                                .name()
                                .map(|n| n.to_string())
                                .unwrap_or_default()
                        ))
                    })?;
                    pairs.push((k, v));
                }
                S3Options::from_credentials(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .map_err(|e| crate::exceptions::to_pyerr(py, e))?
            }
            Some(c) => {
                let path: PathBuf = c.extract().map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "S3DataStore: credentials must be a dict or the path of a .env file, \
                         got {}",
                        c.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?;
                S3Options::from_env_file(&crate::util::user_path(path))
                    .map_err(|e| crate::exceptions::to_pyerr(py, e))?
            }
        };
        if let Some(e) = endpoint {
            options = options.with_endpoint(e);
        }
        if let Some(r) = region {
            options = options.with_region(r);
        }
        let inner = run_core(py, move || {
            S3DataStore::new(&bucket, prefix.as_deref(), options)
        })?;
        Ok(PyS3DataStore {
            inner: Arc::new(inner),
        })
    }

    /// The bucket.
    #[getter]
    fn bucket(&self) -> String {
        self.inner.bucket().to_string()
    }

    /// The key prefix under the bucket, or None.
    #[getter]
    fn prefix(&self) -> Option<String> {
        self.inner.prefix().map(str::to_string)
    }

    /// The URL a plain HTTP(S) reader (WebDataset) streams shard `url` from, as atdata 0.7's
    /// `read_url`: with a custom endpoint (MinIO, R2, ...) `s3://bucket/key` becomes
    /// `{endpoint}/bucket/key`; otherwise, and for URLs that are not `s3://`, `url` unchanged.
    /// (This package reads `s3://` URLs itself and needs no such URL.)
    fn read_url(&self, url: String) -> String {
        match (self.inner.endpoint(), url.strip_prefix("s3://")) {
            (Some(e), Some(path)) => format!("{}/{path}", e.trim_end_matches('/')),
            _ => url,
        }
    }

    /// True: objects are read as a stream (atdata 0.7's `supports_streaming`).
    fn supports_streaming(&self) -> bool {
        true
    }

    /// Writes the samples of `ds` (an `atdata.Dataset`, read in order) as shards under the
    /// folder `prefix` of this store (below the store's own key prefix), as atdata 0.7 does,
    /// and returns an `atdata.ShardWriteResult`: the `s3://` URLs in order, with
    /// `.checksums` (sha256 hex by URL) and `.shards` (`(url, sha256, samples, bytes)` per
    /// shard, the rows `Index.commit_entries` takes). Naming, limits (`maxcount` default
    /// 100,000, `maxsize` default 3e9 bytes), publishing and the empty-dataset
    /// `RuntimeError` are those of `LocalDiskStore.write_shards`. Each shard is staged on
    /// local disk, then uploaded without replacing anything, so 0.7's `cache_local` is
    /// accepted and ignored; its manifest keywords (`manifest=True`, ...) raise
    /// `UnsupportedFeatureError`, other keywords `TypeError`.
    ///
    /// The shards belong to no entry until indexed (`Index.commit_entries`): `atdata gc`
    /// keeps indexed shards and removes ones never indexed once they are older than its grace
    /// period.
    #[pyo3(signature = (ds, *, prefix, maxcount=None, maxsize=None, **kwargs))]
    fn write_shards(
        &self,
        py: Python<'_>,
        ds: &Bound<'_, PyAny>,
        prefix: &Bound<'_, PyAny>,
        maxcount: Option<&Bound<'_, PyAny>>,
        maxsize: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        write_shards_into(
            py,
            "S3DataStore.write_shards",
            self.inner.clone(),
            ds,
            prefix,
            maxcount,
            maxsize,
            kwargs,
            true,
        )
    }

    fn __repr__(&self) -> String {
        // The bucket and prefix only: never a key.
        format!("S3DataStore({})", self.inner.location())
    }
}

/// One version of a dataset as the index records it.
#[pyclass(name = "IndexEntry", module = "atdata", frozen)]
pub struct PyEntry {
    inner: Entry,
    /// The repository it was read from or written to (the core's entry does not say).
    repo: String,
}

impl PyEntry {
    /// Wraps a core entry of repository `repo`.
    pub fn new(inner: Entry, repo: String) -> Self {
        PyEntry { inner, repo }
    }
}

/// The repository a reference the core has just resolved names (`local` for a bare name),
/// by the core's parser.
fn repo_of(reference: &str) -> String {
    DatasetRef::parse(reference).map_or_else(|_| LOCAL.to_string(), |r| r.repo)
}

#[pymethods]
impl PyEntry {
    /// Dataset name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    /// Version of the name (`"1"`, `"2"`, ...).
    #[getter]
    fn version(&self) -> &str {
        &self.inner.version
    }
    /// Content identifier.
    #[getter]
    fn cid(&self) -> &str {
        &self.inner.cid
    }
    /// Shard URLs in order.
    #[getter]
    fn data_urls(&self) -> Vec<String> {
        self.inner.data_urls().map(String::from).collect()
    }
    /// Schema reference (`atdata://local/schema/Name@1.0.0`).
    #[getter]
    fn schema_ref(&self) -> &str {
        &self.inner.schema_ref
    }
    /// Description.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.inner.description.as_deref()
    }
    /// Tags.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.inner.tags.clone()
    }
    /// License.
    #[getter]
    fn license(&self) -> Option<&str> {
        self.inner.license.as_deref()
    }
    /// The caller's metadata dict (or None).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.inner.metadata {
            None => Ok(py.None().into_bound(py)),
            Some(v) => to_py(py, v.clone()),
        }
    }
    /// Number of samples, when known.
    #[getter]
    fn num_samples(&self) -> Option<u64> {
        self.inner.num_samples
    }
    /// Commit time (RFC 3339, UTC).
    #[getter]
    fn created_at(&self) -> &str {
        &self.inner.created_at
    }
    /// The repository the entry is in (`local`, or a mounted one's name).
    #[getter]
    fn repo(&self) -> &str {
        &self.repo
    }
    /// The reference pinning this version (`@repo/name@version`).
    #[getter]
    fn reference(&self) -> String {
        DatasetRef {
            repo: self.repo.clone(),
            name: self.inner.name.clone(),
            selector: Some(self.inner.version.clone()),
        }
        .to_string()
    }
    /// Per-shard facts: list of dicts `url, sha256, samples, bytes`.
    #[getter]
    fn shards<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for s in &self.inner.shards {
            let d = PyDict::new(py);
            d.set_item("url", &s.url)?;
            d.set_item("sha256", &s.sha256)?;
            d.set_item("samples", s.samples)?;
            d.set_item("bytes", s.bytes)?;
            out.append(d)?;
        }
        Ok(out)
    }
    fn __len__(&self) -> PyResult<usize> {
        self.inner
            .num_samples
            .map(|n| n as usize)
            .ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err(
                    "sample count unknown for this entry (written by atdata 0.7); use len(index.load(ref))",
                )
            })
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyEntry>().is_ok_and(|o| {
            o.get().inner.cid == self.inner.cid && o.get().inner.version == self.inner.version
        })
    }
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.cid.hash(&mut h);
        h.finish()
    }
    fn __repr__(&self) -> String {
        format!(
            "IndexEntry(name={:?}, version={:?}, cid={:?}, shards={})",
            self.inner.name,
            self.inner.version,
            self.inner.cid,
            self.inner.shards.len()
        )
    }
}

/// The core index.
#[pyclass(name = "Index", module = "atdata._core", frozen)]
pub struct PyIndex {
    pub(crate) inner: Arc<Index>,
}

#[pymethods]
impl PyIndex {
    #[new]
    #[pyo3(signature = (provider, data_store=None))]
    fn new(provider: &Bound<'_, PyAny>, data_store: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let store = data_store.map(store_of).transpose()?;
        let index = Index::new(provider_of(provider)?, store);
        Ok(PyIndex {
            inner: Arc::new(index),
        })
    }

    /// Mounts the repository `name` (a provider object and, optionally, a store object),
    /// addressed as `@name/dataset`. The core checks the name (`local` is reserved, each name
    /// once).
    #[pyo3(signature = (name, provider, data_store=None))]
    fn mount(
        &self,
        py: Python<'_>,
        name: &str,
        provider: &Bound<'_, PyAny>,
        data_store: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let repo = Repository {
            provider: provider_of(provider)?,
            store: data_store.map(store_of).transpose()?,
        };
        crate::util::core(py, self.inner.mount(name, repo))
    }

    /// The entry a reference names (`name`, `@local/name`, `@local/name@2`, `...@<cid>`).
    fn get_dataset(&self, py: Python<'_>, reference: String) -> PyResult<PyEntry> {
        let ix = self.inner.clone();
        let repo = repo_of(&reference);
        run_core(py, move || ix.get(&reference)).map(|e| PyEntry::new(e, repo))
    }

    /// The dataset a reference names, with its schema and length.
    fn load(&self, py: Python<'_>, reference: String) -> PyResult<PyDataset> {
        let ix = self.inner.clone();
        run_core(py, move || ix.load(&reference)).map(PyDataset::new)
    }

    /// Every version of every dataset (of repository `repo` when given: the core looks it up,
    /// and an unknown name raises `NotFoundError` listing the mounted ones), oldest first. A
    /// row that cannot be read does not hide the others: it is left out with a
    /// `RuntimeWarning` naming its dataset and CID.
    #[pyo3(signature = (repo=None))]
    fn list_datasets(&self, py: Python<'_>, repo: Option<String>) -> PyResult<Vec<PyEntry>> {
        let ix = self.inner.clone();
        let listings = run_core(py, move || match repo {
            None => ix.listing_by_repo(),
            Some(name) => Ok(vec![(name.clone(), ix.repo(&name)?.provider.listing()?)]),
        })?;
        let mut out = Vec::new();
        for (repo, listing) in listings {
            for e in &listing.skipped {
                let message =
                    std::ffi::CString::new(format!("skipped an unreadable index row: {e}"))
                        .unwrap_or_else(|_| c"skipped an unreadable index row".to_owned());
                let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
                PyErr::warn(py, &category, &message, 1)?;
            }
            out.extend(
                listing
                    .entries
                    .into_iter()
                    .map(|e| PyEntry::new(e, repo.clone())),
            );
        }
        Ok(out)
    }

    /// Every schema record, as JSON text.
    fn schemas(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let ix = self.inner.clone();
        run_core(py, move || ix.schemas()).map(|v| v.iter().map(|s| s.to_json()).collect())
    }

    /// A schema record by reference, as JSON text.
    fn get_schema(&self, py: Python<'_>, reference: String) -> PyResult<String> {
        let ix = self.inner.clone();
        run_core(py, move || ix.get_schema(&reference)).map(|s| s.to_json())
    }

    /// The versions of a dataset, oldest first.
    fn versions(&self, py: Python<'_>, reference: String) -> PyResult<Vec<String>> {
        let ix = self.inner.clone();
        run_core(py, move || ix.versions(&reference))
    }

    /// Writes samples (checked against `schema_json`) as a new version of `name`.
    ///
    /// `samples` may be any iterable (a generator too): it is encoded chunk by chunk while the
    /// shards are written, never held whole. `total` (the number of samples, when the caller
    /// knows it) sizes the progress bar; `progress` is None (auto: on a terminal), True or False.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (samples, schema_json, name, description=None, tags=Vec::new(), license=None, metadata=None, maxcount=None, maxsize=None, progress=None, total=None))]
    fn write(
        &self,
        py: Python<'_>,
        samples: &Bound<'_, PyAny>,
        schema_json: &str,
        name: String,
        description: Option<String>,
        tags: Vec<String>,
        license: Option<String>,
        metadata: Option<&Bound<'_, PyAny>>,
        maxcount: Option<usize>,
        maxsize: Option<u64>,
        progress: Option<bool>,
        total: Option<u64>,
    ) -> PyResult<PyEntry> {
        let schema = crate::util::core(py, atdata::Schema::from_json(schema_json))?;
        let metadata = metadata_value(metadata)?;
        let bar = Progress::new(progress, Kind::Write, &name, total);
        let mut stream = EncodeStream::new(samples, schema.clone(), bar)?;
        let opts = atdata::index::WriteOptions {
            name,
            description,
            tags,
            license,
            metadata,
            maxcount,
            maxsize,
            ..atdata::index::WriteOptions::new("")
        };
        let repo = repo_of(&opts.name);
        let ix = self.inner.clone();
        run_write(py, &mut stream, move |stream| {
            ix.write_encoded(&schema, stream, &opts)
        })
        .map(|e| PyEntry::new(e, repo))
    }

    /// Commits entries for shards already in place, in ONE transaction (bulk import; the core's
    /// `Index::commit_entries`). Each entry is `(name, shards)` with shards as
    /// `(url, sha256, samples, bytes)`, all of schema `schema_json`; returns the number of
    /// entries created (the others were there already, same CID).
    fn commit_entries(
        &self,
        py: Python<'_>,
        schema_json: &str,
        entries: Vec<(String, Vec<PyShard>)>,
    ) -> PyResult<usize> {
        let schema = crate::util::core(py, atdata::Schema::from_json(schema_json))?;
        let entries: Vec<atdata::index::NewEntry> = entries
            .into_iter()
            .map(|(name, shards)| atdata::index::NewEntry {
                name,
                schema: schema.clone(),
                shards: shards
                    .into_iter()
                    .map(|(url, sha, n, bytes)| atdata::index::ShardInfo::new(url, sha, n, bytes))
                    .collect(),
                description: None,
                tags: Vec::new(),
                license: None,
                metadata: None,
            })
            .collect();
        let ix = self.inner.clone();
        run_core(py, move || ix.commit_entries(&entries))
            .map(|done| done.iter().filter(|c| c.created).count())
    }

    /// Indexes the shard files `files` (local paths, in order) as a new version of `name`
    /// (`@repo/name` for a mounted repository): each is read, checked against `schema_json`
    /// (inferred from the samples when None), counted and hashed; with `copy` the samples are
    /// copied into the repository's store, else the entry points at the files where they are;
    /// `copy` None copies when the repository was given a store of its own (as atdata 0.7
    /// copies into a repository's data store and indexes in place without one).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, files, schema_json=None, copy=None, description=None, tags=Vec::new(), license=None, metadata=None))]
    fn insert(
        &self,
        py: Python<'_>,
        name: String,
        files: Vec<String>,
        schema_json: Option<&str>,
        copy: Option<bool>,
        description: Option<String>,
        tags: Vec<String>,
        license: Option<String>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEntry> {
        let schema = schema_json
            .map(|j| crate::util::core(py, atdata::Schema::from_json(j)))
            .transpose()?;
        let repo = repo_of(&name);
        let copy = match copy {
            Some(c) => c,
            None => crate::util::core(py, self.inner.repo(&repo))?
                .store
                .is_some(),
        };
        let opts = atdata::index::InsertOptions {
            copy,
            schema,
            description,
            tags,
            license,
            metadata: metadata_value(metadata)?,
            repo: None,
        };
        let ix = self.inner.clone();
        run_core(py, move || {
            ix.insert_files_with_progress(&name, &files, &opts, &atdata::NoProgress)
        })
        .map(|e| PyEntry::new(e, repo))
    }

    /// Re-hashes every shard of the dataset `reference` names.
    fn verify(&self, py: Python<'_>, reference: String) -> PyResult<PyVerifyReport> {
        let ix = self.inner.clone();
        run_core(py, move || ix.verify(&reference)).map(|inner| PyVerifyReport { inner })
    }
}

/// What `Index.verify` found: every shard re-hashed against the index.
#[pyclass(name = "VerifyReport", module = "atdata", frozen)]
pub struct PyVerifyReport {
    inner: atdata::index::VerifyReport,
}

#[pymethods]
impl PyVerifyReport {
    /// True when no shard is missing or changed.
    #[getter]
    fn ok(&self) -> bool {
        self.inner.is_ok()
    }
    /// The dataset reference verified.
    #[getter]
    fn dataset(&self) -> &str {
        &self.inner.dataset
    }
    /// Its CID.
    #[getter]
    fn cid(&self) -> &str {
        &self.inner.cid
    }
    /// Shards whose digest matched.
    #[getter]
    fn checked(&self) -> Vec<String> {
        self.inner.checked.clone()
    }
    /// Shards the index has no digest for (written by atdata 0.7).
    #[getter]
    fn unverifiable(&self) -> Vec<String> {
        self.inner.unverifiable.clone()
    }
    /// One message per damaged or missing shard.
    #[getter]
    fn problems(&self) -> Vec<String> {
        self.inner.problems.iter().map(|p| p.to_string()).collect()
    }
    /// URLs of damaged or missing shards.
    #[getter]
    fn bad_shards(&self) -> Vec<String> {
        self.inner
            .problems
            .iter()
            .map(|p| p.url().to_string())
            .collect()
    }
    fn __bool__(&self) -> bool {
        self.inner.is_ok()
    }
    fn __repr__(&self) -> String {
        format!(
            "VerifyReport(dataset={:?}, ok={}, checked={}, problems={:?})",
            self.inner.dataset,
            if self.inner.is_ok() { "True" } else { "False" },
            self.inner.checked.len(),
            self.problems()
        )
    }
}

// -- atdata 0.7's provider methods --------------------------------------------------------
//
// The Python provider classes (python/atdata/_index.py) give every backend 0.7's methods
// (`get_entry_by_cid`, `store_schema`, ...) through these functions, which take any provider
// object: one implementation for SQLite, PostgreSQL and Redis alike.

/// The entry with CID `cid` in `provider`, or None.
#[pyfunction]
pub fn provider_entry_by_cid(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    cid: String,
) -> PyResult<Option<PyEntry>> {
    let p = provider_of(provider)?;
    run_core(py, move || p.entry_by_cid(&cid)).map(|e| e.map(|e| PyEntry::new(e, LOCAL.into())))
}

/// The entry of dataset `name` at `version` (None: its newest version), or None.
#[pyfunction]
#[pyo3(signature = (provider, name, version=None))]
pub fn provider_entry_by_name(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    name: String,
    version: Option<String>,
) -> PyResult<Option<PyEntry>> {
    let p = provider_of(provider)?;
    run_core(py, move || match version {
        Some(v) => p.entry_by_version(&name, &v),
        None => p.latest_entry(&name),
    })
    .map(|e| e.map(|e| PyEntry::new(e, LOCAL.into())))
}

/// Every readable entry of `provider`, oldest first; an unreadable row is a `RuntimeWarning`
/// naming it, as in `Index.list_datasets`.
#[pyfunction]
pub fn provider_entries(py: Python<'_>, provider: &Bound<'_, PyAny>) -> PyResult<Vec<PyEntry>> {
    let p = provider_of(provider)?;
    let listing = run_core(py, move || p.listing())?;
    for e in &listing.skipped {
        let message = std::ffi::CString::new(format!("skipped an unreadable index row: {e}"))
            .unwrap_or_else(|_| c"skipped an unreadable index row".to_owned());
        let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
        PyErr::warn(py, &category, &message, 1)?;
    }
    Ok(listing
        .entries
        .into_iter()
        .map(|e| PyEntry::new(e, LOCAL.into()))
        .collect())
}

/// The schema record `name@version` as JSON text (0.7's record format), or None.
#[pyfunction]
pub fn provider_schema_json(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    name: String,
    version: String,
) -> PyResult<Option<String>> {
    let p = provider_of(provider)?;
    run_core(py, move || p.schema(&name, &version)).map(|s| s.map(|s| s.to_json()))
}

/// Every readable schema record as `(name, version, json)`.
#[pyfunction]
pub fn provider_schemas(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
) -> PyResult<Vec<(String, String, String)>> {
    let p = provider_of(provider)?;
    run_core(py, move || p.schemas()).map(|v| {
        v.into_iter()
            .map(|s| {
                let json = s.to_json();
                (s.name, s.version, json)
            })
            .collect()
    })
}

/// The highest stored version of schema `name` (semver order), or None.
#[pyfunction]
pub fn provider_latest_schema_version(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    name: String,
) -> PyResult<Option<String>> {
    let p = provider_of(provider)?;
    run_core(py, move || p.newest_schema(&name)).map(|s| s.map(|s| s.version))
}

/// Records an entry as atdata 0.7's `store_entry` does (see the core's
/// `ProviderExt::record_07_entry`): `digests` has one sha256 or None per URL. Returns the
/// entry as the index now holds it (an existing one with that CID is returned unchanged).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (provider, name, schema_ref, data_urls, digests, cid, metadata=None))]
pub fn provider_record_07_entry(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    name: String,
    schema_ref: String,
    data_urls: Vec<String>,
    digests: Vec<Option<String>>,
    cid: String,
    metadata: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyEntry> {
    if digests.len() != data_urls.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{} digests for {} data_urls",
            digests.len(),
            data_urls.len()
        )));
    }
    let p = provider_of(provider)?;
    let entry = Entry {
        name,
        version: String::new(),
        cid,
        schema_ref,
        shards: data_urls
            .into_iter()
            .zip(digests)
            .map(|(url, sha256)| atdata::index::ShardInfo {
                url,
                sha256,
                samples: None,
                bytes: None,
            })
            .collect(),
        num_samples: None,
        description: None,
        tags: Vec::new(),
        license: None,
        metadata: metadata_value(metadata)?,
        created_at: String::new(),
    };
    run_core(py, move || p.record_07_entry(&entry)).map(|c| PyEntry::new(c.entry, LOCAL.into()))
}

/// The version of a stored record with the structure of `schema_json` (its name, same
/// fields), the lowest if several, by the rule writes use to reuse a schema record; or None.
#[pyfunction]
pub fn provider_schema_version_like(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    schema_json: String,
) -> PyResult<Option<String>> {
    let p = provider_of(provider)?;
    run_core(py, move || {
        let schema = atdata::Schema::from_json(&schema_json)?;
        let mut stored = Vec::new();
        for s in p.schemas()? {
            if s.name == schema.name {
                stored.push(s);
            }
        }
        Ok(
            match atdata::index::entry::decide_schema_version(&schema, &stored) {
                atdata::index::entry::SchemaDecision::Reuse(v) => Some(v),
                atdata::index::entry::SchemaDecision::Create(_) => None,
            },
        )
    })
}

/// Stores the schema record `schema_json` under `name@version` (which must be the record's
/// own name and version). A record already there with the same structure is kept as it is;
/// one with another structure is refused: entries name schemas by version and their CIDs
/// cover that reference, so a record is never changed under them. Returns True when a record
/// was stored.
#[pyfunction]
pub fn provider_store_schema(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
    name: String,
    version: String,
    schema_json: String,
) -> PyResult<bool> {
    let p = provider_of(provider)?;
    run_core(py, move || {
        let schema = atdata::Schema::from_json(&schema_json)?;
        if schema.name != name || schema.version != version {
            return Err(atdata::Error::invalid(format!(
                "store_schema('{name}', '{version}'): the record is '{}@{}'; the name and \
                 version given must be the record's own",
                schema.name, schema.version
            )));
        }
        p.store_schema(&schema)
    })
}

// -- content identifiers -------------------------------------------------------------------

/// Deepest nesting `generate_cid` follows (a cycle would otherwise recurse forever).
const CID_MAX_DEPTH: usize = 512;

/// The DAG-CBOR form of `obj`, or a message saying what (and where) cannot be encoded. Only
/// the kinds DAG-CBOR has, as atdata 0.7 (libipld) takes them: None, bool, int, float, str,
/// bytes, list and dict with str keys; a tuple, a numpy scalar, NaN or an infinity is refused.
fn cbor_value(obj: &Bound<'_, PyAny>, at: &str, depth: usize) -> Result<CidValue, String> {
    use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};
    if depth > CID_MAX_DEPTH {
        return Err(format!("{at}: nests deeper than {CID_MAX_DEPTH} levels"));
    }
    if obj.is_none() {
        return Ok(CidValue::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(CidValue::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let i: i128 = obj.extract().map_err(|_| {
            format!("{at}: integer {obj} is outside CBOR's range (-2**64 .. 2**64-1)")
        })?;
        if i < -(1i128 << 64) || i > u64::MAX as i128 {
            return Err(format!(
                "{at}: integer {i} is outside CBOR's range (-2**64 .. 2**64-1)"
            ));
        }
        return Ok(CidValue::Int(i));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(format!(
                "{at}: {v} has no DAG-CBOR form (NaN and infinities are not allowed)"
            ));
        }
        return Ok(CidValue::Float(v));
    }
    if let Ok(t) = obj.cast::<PyString>() {
        return t
            .to_cow()
            .map(|t| CidValue::Text(t.into_owned()))
            .map_err(|e| format!("{at}: text is not valid UTF-8: {e}"));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(CidValue::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, it)| cbor_value(&it, &format!("{at}[{i}]"), depth + 1))
            .collect::<Result<_, _>>()
            .map(CidValue::List);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                format!(
                    "{at}: dict key {} is not a str (DAG-CBOR map keys are text)",
                    k.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                )
            })?;
            let value = cbor_value(&v, &format!("{at}[{key:?}]"), depth + 1)?;
            pairs.push((key, value));
        }
        return Ok(CidValue::Map(pairs));
    }
    let kind = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    Err(format!(
        "{at}: a {kind} has no DAG-CBOR form (use None, bool, int, float, str, bytes, list \
         or dict with str keys)"
    ))
}

/// The content identifier of `data`: CIDv1, DAG-CBOR, sha2-256, base32 (`bafyrei...`), the
/// same text atdata 0.7's `generate_cid` gives for the same value.
#[pyfunction]
pub fn generate_cid(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<String> {
    let value = cbor_value(data, "data", 0).map_err(|m| {
        crate::exceptions::to_pyerr(
            py,
            atdata::Error::invalid(format!("generate_cid: cannot encode as DAG-CBOR: {m}")),
        )
    })?;
    crate::util::core(py, atdata::codec::cid_of(&value))
}

/// The sha256 (lower-case hex) of the shard file at `url`, read the way datasets are read
/// (local paths and `file://`; `s3://` with credentials from the environment).
#[pyfunction]
pub fn shard_sha256(py: Python<'_>, url: String) -> PyResult<String> {
    run_core(py, move || {
        atdata::index::shard_sha256(atdata::store::default_source().as_ref(), &url)
    })
}
