//! The one error type of the core.
//!
//! Every failure is a named variant so that bindings (the CLI, the Python package) can map each
//! one to an exit code or exception without string matching. Errors about data carry a
//! [`Location`] that grows as the error rises: the codec knows the field, the shard reader adds
//! the shard URL, byte offset and sample key, the dataset adds the dataset name.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in the data an error happened. Every part is optional; the display joins the known ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Dataset name or reference (`@local/docs-v1`).
    pub dataset: Option<String>,
    /// Shard URL or path.
    pub shard: Option<String>,
    /// Byte offset in the shard (the tar header of the member) or in a sample buffer.
    pub offset: Option<u64>,
    /// WebDataset sample key.
    pub key: Option<String>,
    /// Index of the sample in a write call or batch.
    pub sample: Option<usize>,
    /// Field name.
    pub field: Option<String>,
}

impl Location {
    /// True when nothing is known about the location.
    pub fn is_empty(&self) -> bool {
        *self == Location::default()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(d) = &self.dataset {
            parts.push(format!("dataset '{d}'"));
        }
        if let Some(s) = &self.shard {
            parts.push(format!("shard '{s}'"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("byte offset {o}"));
        }
        if let Some(k) = &self.key {
            parts.push(format!("sample key '{k}'"));
        }
        if let Some(i) = self.sample {
            parts.push(format!("sample #{i}"));
        }
        if let Some(n) = &self.field {
            parts.push(format!("field '{n}'"));
        }
        if parts.is_empty() {
            f.write_str("<unknown location>")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Every error the atdata core can return.
///
/// `Display` and `Error` are written out below rather than derived: an I/O error's message
/// includes the OS error, so it must not also be its `source()` (which printers of error chains,
/// like `anyhow`'s `{:#}`, append once more).
#[derive(Debug)]
pub enum Error {
    /// A dataset, version, schema, shard or file does not exist. `what` names it and, where
    /// possible, lists what does exist.
    NotFound {
        /// What was looked for, and what exists instead.
        what: String,
    },
    /// Something that must be created new exists already.
    AlreadyExists {
        /// What exists.
        what: String,
    },
    /// Another writer changed the index concurrently; retrying may succeed.
    Conflict {
        /// What collided.
        what: String,
    },
    /// Bytes that cannot be decoded: a damaged shard, msgpack or array header.
    Corrupt {
        /// Where the bad bytes are (boxed: keeps `Result<T, Error>` small on hot paths).
        location: Box<Location>,
        /// What is wrong with them.
        reason: String,
    },
    /// Well-formed data that does not fit the expected schema or type.
    SchemaMismatch {
        /// Where the value is.
        location: Box<Location>,
        /// What was expected and what was found.
        reason: String,
    },
    /// A caller passed an argument that cannot be used (bad name, bad pattern, bad option).
    InvalidArgument(String),
    /// An I/O error, with the path or URL it concerns.
    Io {
        /// Path or URL being read or written.
        path: String,
        /// The underlying error; its text is part of this error's message.
        source: std::io::Error,
    },
    /// An error from the index database engine.
    Database(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound { what } => write!(f, "not found: {what}"),
            Error::AlreadyExists { what } => write!(f, "already exists: {what}"),
            Error::Conflict { what } => write!(f, "conflict: {what}"),
            Error::Corrupt { location, reason } => {
                write!(f, "corrupt data at {location}: {reason}")
            }
            Error::SchemaMismatch { location, reason } => {
                write!(f, "schema mismatch at {location}: {reason}")
            }
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Io { path, source } => write!(f, "I/O error on '{path}': {source}"),
            Error::Database(what) => write!(f, "index database error: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The io::Error's own text is in our message already; what lies under it is not.
            Error::Io { source, .. } => source.source(),
            _ => None,
        }
    }
}

impl Error {
    /// A [`Error::Corrupt`] with an empty location; callers add context with the `with_*` methods.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            location: Box::default(),
            reason: reason.into(),
        }
    }

    /// A [`Error::SchemaMismatch`] with an empty location.
    pub fn mismatch(reason: impl Into<String>) -> Self {
        Error::SchemaMismatch {
            location: Box::default(),
            reason: reason.into(),
        }
    }

    /// A [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    /// An [`Error::InvalidArgument`].
    pub fn invalid(what: impl Into<String>) -> Self {
        Error::InvalidArgument(what.into())
    }

    /// An [`Error::Io`] about `path`.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same operation may succeed (a concurrent-writer conflict).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// The location of a data error, if this is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Corrupt { location, .. } | Error::SchemaMismatch { location, .. } => {
                Some(location)
            }
            _ => None,
        }
    }

    fn map_location(mut self, f: impl FnOnce(&mut Location)) -> Self {
        if let Error::Corrupt { location, .. } | Error::SchemaMismatch { location, .. } = &mut self
        {
            f(location.as_mut());
        }
        self
    }

    /// Adds the field name (the innermost name wins: it is only set when still unknown).
    pub fn with_field(self, field: &str) -> Self {
        self.map_location(|l| {
            if l.field.is_none() {
                l.field = Some(field.to_string());
            }
        })
    }

    /// Adds the shard URL and the byte offset of the member's tar header.
    pub fn with_shard(self, shard: &str, offset: u64) -> Self {
        self.map_location(|l| {
            if l.shard.is_none() {
                l.shard = Some(shard.to_string());
                l.offset = Some(offset);
            }
        })
    }

    /// Adds the sample key.
    pub fn with_key(self, key: &str) -> Self {
        self.map_location(|l| {
            if l.key.is_none() {
                l.key = Some(key.to_string());
            }
        })
    }

    /// Adds the index of the sample in a write call or batch.
    pub fn with_sample(self, index: usize) -> Self {
        self.map_location(|l| {
            if l.sample.is_none() {
                l.sample = Some(index);
            }
        })
    }

    /// Adds the dataset name or reference.
    pub fn with_dataset(self, dataset: &str) -> Self {
        self.map_location(|l| {
            if l.dataset.is_none() {
                l.dataset = Some(dataset.to_string());
            }
        })
    }

    /// Names the index (a file path, or a server and database without password) in a
    /// database error or conflict that does not name it yet; other errors pass unchanged.
    /// Index backends call it on every error leaving them.
    pub fn with_index(self, shown: &str) -> Self {
        match self {
            Error::Database(m) if !m.contains(shown) => {
                Error::Database(format!("index '{shown}': {m}"))
            }
            Error::Conflict { what } if !what.contains(shown) => Error::Conflict {
                what: format!("index '{shown}': {what}"),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_error_names_its_index_once() {
        let e = Error::Database("disk I/O error".into()).with_index("/x/index.db");
        assert_eq!(
            e.to_string(),
            Error::Database("index '/x/index.db': disk I/O error".into()).to_string()
        );
        let again = e.with_index("/x/index.db");
        assert_eq!(
            again.to_string().matches("/x/index.db").count(),
            1,
            "{again}"
        );
        let c = Error::Conflict {
            what: "busy".into(),
        }
        .with_index("postgresql://u@h:5432/db");
        assert!(
            c.to_string()
                .contains("index 'postgresql://u@h:5432/db': busy"),
            "{c}"
        );
        assert!(matches!(
            Error::not_found("x").with_index("i"),
            Error::NotFound { .. }
        ));
    }

    #[test]
    fn location_context_accumulates_innermost_first() {
        let e = Error::corrupt("truncated array")
            .with_field("vector")
            .with_field("outer")
            .with_key("000001")
            .with_shard("/d/a.tar", 1536)
            .with_dataset("@local/x");
        let msg = e.to_string();
        assert_eq!(
            msg,
            "corrupt data at dataset '@local/x', shard '/d/a.tar', byte offset 1536, \
             sample key '000001', field 'vector': truncated array"
        );
    }

    #[test]
    fn an_io_error_states_the_os_error_once_in_a_printed_chain() {
        let e = Error::io(
            "/no/such.tar",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert_eq!(chain, "I/O error on '/no/such.tar': entity not found");
        let os = Error::io("/x", std::io::Error::from_raw_os_error(2));
        assert!(std::error::Error::source(&os).is_none());
        assert_eq!(os.to_string().matches("os error 2").count(), 1, "{os}");
    }

    #[test]
    fn context_does_not_touch_other_variants() {
        let e = Error::not_found("dataset 'x'").with_field("f");
        assert_eq!(e.to_string(), "not found: dataset 'x'");
    }
}
