//! Opening a data store from one location text: an object store URL or a local directory.
//!
//! Why one function: the CLI's `--store` and `ATDATA_STORE` (and `--to-store` of `atdata
//! copy`) take "where the shards live" as one string, like `index::open_location` does for
//! the index, and each caller would otherwise grow its own idea of which schemes exist and
//! what a build without a backend says.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::shard::{local_path, scheme_of, without_password};

use super::{DataStore, LocalDiskStore};

/// Which backend a store location text names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreLocation<'a> {
    /// `s3://bucket/prefix`: an S3-compatible object store (feature `s3`).
    S3(&'a str),
    /// A directory: a plain path, or a `file://` URL without its scheme (`file:///data/store`
    /// is `/data/store`).
    Local(&'a str),
}

impl<'a> StoreLocation<'a> {
    /// Classifies `text`. An unknown `scheme://` is an [`Error::InvalidArgument`] naming the
    /// scheme only (the rest may hold a key). Whether the backend is compiled in is decided
    /// when opening, so this never depends on features.
    pub fn parse(text: &'a str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(Error::invalid("empty data store location"));
        }
        let Some(scheme) = scheme_of(text) else {
            return Ok(StoreLocation::Local(text));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => Ok(StoreLocation::S3(text)),
            "file" => Ok(StoreLocation::Local(local_path(text)?)),
            _ => Err(Error::invalid(format!(
                "data store location scheme '{scheme}://' is not known (use s3://bucket/prefix, \
                 a directory or a file:// URL)"
            ))),
        }
    }

    /// The location for messages: a URL's password replaced by `***`.
    pub fn shown(&self) -> String {
        match self {
            StoreLocation::Local(path) => path.to_string(),
            StoreLocation::S3(url) => without_password(url),
        }
    }

    /// Whether the shards are local files (which every reader reads without the store: see
    /// [`LocalFiles`](super::LocalFiles)).
    pub fn is_local(&self) -> bool {
        matches!(self, StoreLocation::Local(_))
    }
}

/// The store at `location`, to write: `s3://bucket/prefix` (feature `s3`), or a directory
/// (created if missing, see [`LocalDiskStore::new`]).
pub fn open_store_location(location: &str) -> Result<Arc<dyn DataStore>> {
    open_with(location, false)
}

/// Like [`open_store_location`], creating nothing: a local directory must exist (see
/// [`LocalDiskStore::open_existing`]). For commands that read or only remove (gc).
pub fn open_store_location_for_reading(location: &str) -> Result<Arc<dyn DataStore>> {
    open_with(location, true)
}

fn open_with(location: &str, existing: bool) -> Result<Arc<dyn DataStore>> {
    match StoreLocation::parse(location)? {
        StoreLocation::Local(path) => Ok(Arc::new(if existing {
            LocalDiskStore::open_existing(path)?
        } else {
            LocalDiskStore::new(path)?
        })),
        #[cfg(feature = "s3")]
        StoreLocation::S3(url) => Ok(Arc::new(super::S3DataStore::from_url(url)?)),
        #[cfg(not(feature = "s3"))]
        StoreLocation::S3(_) => Err(Error::invalid(
            "data store location 's3://...': this build has no S3 support (atdata's `s3` \
             feature; for the command line, atdata-cli's `s3` feature)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_texts_name_their_backend() {
        for (text, want) in [
            (
                "s3://bucket/prefix",
                StoreLocation::S3("s3://bucket/prefix"),
            ),
            ("S3://bucket", StoreLocation::S3("S3://bucket")),
            ("data", StoreLocation::Local("data")),
            ("/abs/data", StoreLocation::Local("/abs/data")),
            ("file:///abs/data", StoreLocation::Local("/abs/data")),
            ("file://localhost/abs", StoreLocation::Local("/abs")),
            ("C:\\data\\store", StoreLocation::Local("C:\\data\\store")),
            ("./odd://name", StoreLocation::Local("./odd://name")),
        ] {
            assert_eq!(StoreLocation::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn unknown_schemes_are_refused_naming_only_the_scheme() {
        for text in ["gs://key:secret@bucket/x", "https://u:secret@host/x"] {
            let e = StoreLocation::parse(text).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{text}: {e}");
            let shown = e.to_string();
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains(text.split("://").next().unwrap()), "{shown}");
        }
        assert!(StoreLocation::parse("  ").is_err());
        assert!(StoreLocation::parse("file://host/x").is_err());
    }

    #[test]
    fn shown_locations_hide_passwords() {
        let shown = |t| StoreLocation::parse(t).unwrap().shown();
        assert_eq!(shown("s3://key:secret@bucket/p"), "s3://key:***@bucket/p");
        assert_eq!(shown("s3://bucket/p"), "s3://bucket/p");
        assert_eq!(shown("dir/store"), "dir/store");
    }

    #[test]
    fn local_directories_open_as_local_stores_and_reading_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let text = root.to_str().unwrap();
        let e = open_store_location_for_reading(text).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(!root.exists());
        let store = open_store_location(text).unwrap();
        assert_eq!(store.kind(), "LocalDiskStore");
        assert!(root.is_dir());
        let url = format!("file://{text}");
        assert_eq!(
            open_store_location_for_reading(&url).unwrap().location(),
            store.location()
        );
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn s3_urls_without_the_backend_say_so() {
        let e = open_store_location("s3://bucket/prefix").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(e.to_string().contains("no S3 support"), "{e}");
    }
}
