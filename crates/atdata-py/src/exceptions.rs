//! The Python exception hierarchy, declared once, and the one mapping from the core's `Error`.
//!
//! Every exception derives from `atdata.AtdataError` and also from the builtin a Python caller
//! would catch for that kind of failure (`KeyError` for a missing dataset, `ValueError` for bad
//! data, `OSError` for I/O), so both `except atdata.NotFoundError` and `except KeyError` work.
//! The classes are made at import with `type(...)` because PyO3's `create_exception!` allows a
//! single base only.
//!
//! atdata 0.7 named two families that our core errors fall into, `ShardError` (reading a shard
//! failed) and `SchemaError` (data and type disagree); they are bases here so that 0.7's `except`
//! clauses catch ours, and each class also carries the builtin 0.7 raised in that situation: a
//! corrupt shard is a `tarfile.TarError` (0.7 surfaced tarfile's `ReadError`), a mismatched
//! sample a `TypeError` (0.7 failed in `cls(**fields)`), a missing shard a `FileNotFoundError`.
//! Errors only the Python layer raises (`SampleKeyError`, `LensNotFoundError`,
//! `PartialFailureError`) are declared in `python/atdata/_exceptions.py`.

use atdata::{Error, Location};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, built once per interpreter.
pub struct Types {
    /// `AtdataError(Exception)`: the base of all.
    pub base: Py<PyType>,
    /// `ShardError(AtdataError)`: reading a shard failed (0.7's name); base of `CorruptDataError`
    /// and `ShardNotFoundError`.
    pub shard: Py<PyType>,
    /// `SchemaError(AtdataError)`: data and sample type disagree (0.7's name); base of
    /// `SchemaMismatchError`.
    pub schema: Py<PyType>,
    /// `NotFoundError(AtdataError, KeyError)`.
    pub not_found: Py<PyType>,
    /// `AlreadyExistsError(AtdataError, ValueError)`.
    pub already_exists: Py<PyType>,
    /// `ConflictError(AtdataError)`, `retryable = True`.
    pub conflict: Py<PyType>,
    /// `CorruptDataError(ShardError, ValueError, tarfile.TarError)`.
    pub corrupt: Py<PyType>,
    /// `SchemaMismatchError(SchemaError, ValueError, TypeError)`.
    pub mismatch: Py<PyType>,
    /// `InvalidArgumentError(AtdataError, ValueError)`.
    pub invalid: Py<PyType>,
    /// `AtdataIOError(AtdataError, OSError)`.
    pub io: Py<PyType>,
    /// `ShardNotFoundError(AtdataIOError, ShardError, FileNotFoundError)`: a file or object that
    /// an I/O call found missing.
    pub missing_file: Py<PyType>,
    /// `IndexDatabaseError(AtdataError, RuntimeError)`.
    pub database: Py<PyType>,
    /// `UnsupportedFeatureError(AtdataError, NotImplementedError)`: raised by the Python layer
    /// for atdata 0.7 options this version does not implement yet.
    pub unsupported: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

const DOCS: &[(&str, &str)] = &[
    ("AtdataError", "Base class of every error raised by atdata."),
    (
        "ShardError",
        "Reading a shard failed (atdata 0.7's name): base of CorruptDataError and ShardNotFoundError.",
    ),
    (
        "SchemaError",
        "Data and sample type disagree (atdata 0.7's name): base of SchemaMismatchError.",
    ),
    (
        "ShardNotFoundError",
        "A shard or other file does not exist; also FileNotFoundError.",
    ),
    (
        "NotFoundError",
        "A dataset, version, schema, split or file does not exist; the message lists what does.",
    ),
    (
        "AlreadyExistsError",
        "Something that must be created new exists already.",
    ),
    (
        "ConflictError",
        "Another writer changed the index at the same time; `retryable` is True.",
    ),
    (
        "CorruptDataError",
        "Bytes that cannot be decoded; the message names the shard, byte offset, key and field.",
    ),
    (
        "SchemaMismatchError",
        "A value does not fit its field's type; the message names the sample and field.",
    ),
    (
        "InvalidArgumentError",
        "An argument that cannot be used (bad name, pattern or option).",
    ),
    ("AtdataIOError", "An I/O error, with the path it concerns."),
    (
        "IndexDatabaseError",
        "An error from the index database engine.",
    ),
];

fn make(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyAny>>,
    retryable: bool,
    plain_str: bool,
) -> PyResult<Py<PyType>> {
    let builtins = py.import("builtins")?;
    let ns = PyDict::new(py);
    ns.set_item("__module__", "atdata")?;
    let doc = DOCS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, d)| *d);
    ns.set_item("__doc__", doc)?;
    ns.set_item("retryable", retryable)?;
    if plain_str {
        // KeyError quotes its message in str(), and OSError's shows errno and filename
        // instead of it; show the message plainly like other errors.
        let exc = builtins.getattr("Exception")?;
        ns.set_item("__str__", exc.getattr("__str__")?)?;
    }
    let ty = builtins
        .getattr("type")?
        .call1((name, PyTuple::new(py, bases)?, ns))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

/// The exception classes (built on first use).
pub fn types(py: Python<'_>) -> PyResult<&'static Types> {
    TYPES.get_or_try_init(py, || {
        let b = py.import("builtins")?;
        let base = make(
            py,
            "AtdataError",
            vec![b.getattr("Exception")?],
            false,
            false,
        )?;
        let sub = |name: &str, builtin: Option<&str>, retry: bool| -> PyResult<Py<PyType>> {
            let mut bases = vec![base.bind(py).clone().into_any()];
            if let Some(bi) = builtin {
                bases.push(b.getattr(bi)?);
            }
            // OSError's str() turns to "[Errno None] None: 'file'" once `filename` is set.
            let plain_str = matches!(builtin, Some("KeyError" | "OSError"));
            make(py, name, bases, retry, plain_str)
        };
        let shard = sub("ShardError", None, false)?;
        let schema = sub("SchemaError", None, false)?;
        let io = sub("AtdataIOError", Some("OSError"), false)?;
        let tar_error = py.import("tarfile")?.getattr("TarError")?;
        let corrupt = make(
            py,
            "CorruptDataError",
            vec![
                shard.bind(py).clone().into_any(),
                b.getattr("ValueError")?,
                tar_error,
            ],
            false,
            false,
        )?;
        let mismatch = make(
            py,
            "SchemaMismatchError",
            vec![
                schema.bind(py).clone().into_any(),
                b.getattr("ValueError")?,
                b.getattr("TypeError")?,
            ],
            false,
            false,
        )?;
        let missing_file = make(
            py,
            "ShardNotFoundError",
            vec![
                io.bind(py).clone().into_any(),
                shard.bind(py).clone().into_any(),
                b.getattr("FileNotFoundError")?,
            ],
            false,
            true,
        )?;
        Ok(Types {
            not_found: sub("NotFoundError", Some("KeyError"), false)?,
            already_exists: sub("AlreadyExistsError", Some("ValueError"), false)?,
            conflict: sub("ConflictError", None, true)?,
            corrupt,
            mismatch,
            invalid: sub("InvalidArgumentError", Some("ValueError"), false)?,
            io,
            missing_file,
            shard,
            schema,
            database: sub("IndexDatabaseError", Some("RuntimeError"), false)?,
            unsupported: sub(
                "UnsupportedFeatureError",
                Some("NotImplementedError"),
                false,
            )?,
            base,
        })
    })
}

/// Adds every exception class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let t = types(py)?;
    for ty in [
        &t.base,
        &t.shard,
        &t.schema,
        &t.not_found,
        &t.already_exists,
        &t.conflict,
        &t.corrupt,
        &t.mismatch,
        &t.invalid,
        &t.io,
        &t.missing_file,
        &t.database,
        &t.unsupported,
    ] {
        let ty = ty.bind(py);
        m.add(ty.name()?, ty)?;
    }
    Ok(())
}

/// `UnsupportedFeatureError(message)`: for what atdata 0.7 accepts and this version does not
/// implement yet (the core has no such error: it is a binding's limit, not a core failure).
pub fn unsupported(py: Python<'_>, message: &str) -> PyErr {
    let made = types(py).and_then(|t| t.unsupported.bind(py).call1((message,)));
    match made {
        Ok(inst) => PyErr::from_value(inst),
        Err(err) => err,
    }
}

/// Converts a core error into the matching Python exception, with the location parts as
/// attributes (`shard`, `offset`, `key`, `sample`, `field`, `dataset`; None when unknown).
pub fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    match build(py, e) {
        Ok(err) => err,
        Err(err) => err,
    }
}

fn build(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    let t = types(py)?;
    let message = e.to_string();
    // OSError's `filename`, as open() sets it, for callers that report it.
    let io_path = match &e {
        Error::Io { path, .. } => Some(path.clone()),
        _ => None,
    };
    // One arm per variant and no `_`: a new core variant must be mapped here to compile.
    let (ty, location): (&Py<PyType>, Option<Location>) = match e {
        Error::NotFound { .. } => (&t.not_found, None),
        Error::AlreadyExists { .. } => (&t.already_exists, None),
        Error::Conflict { .. } => (&t.conflict, None),
        Error::Corrupt { location, .. } => (&t.corrupt, Some(*location)),
        Error::SchemaMismatch { location, .. } => (&t.mismatch, Some(*location)),
        Error::InvalidArgument(_) => (&t.invalid, None),
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            (&t.missing_file, None)
        }
        Error::Io { .. } => (&t.io, None),
        Error::Database(_) => (&t.database, None),
    };
    let inst = ty.bind(py).call1((message,))?;
    let loc = location.unwrap_or_default();
    inst.setattr("dataset", loc.dataset)?;
    inst.setattr("shard", loc.shard)?;
    inst.setattr("offset", loc.offset)?;
    inst.setattr("key", loc.key)?;
    inst.setattr("sample", loc.sample)?;
    inst.setattr("field", loc.field)?;
    if let Some(path) = io_path {
        inst.setattr("filename", path)?;
    }
    Ok(PyErr::from_value(inst))
}
