//! Opening an index from one location text: a database URL or a SQLite file path.
//!
//! Why one function: the CLI's `--index`, `ATDATA_INDEX` and the Python binding all take
//! "where the index is" as one string, and each would otherwise grow its own idea of which
//! schemes exist and what a missing backend says.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::shard::{scheme_of as scheme, without_password};
use crate::store::DataStore;

use super::{Index, Provider};

/// Which backend a location text names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    /// `postgresql://...` or `postgres://...`: a PostgreSQL database.
    Postgres(&'a str),
    /// `redis://...` or `rediss://...` (TLS): a Redis database.
    Redis(&'a str),
    /// Anything without a `scheme://`: a SQLite index file.
    Sqlite(&'a str),
}

impl<'a> Location<'a> {
    /// Classifies `text`. An unknown `scheme://` is an [`Error::InvalidArgument`] naming the
    /// scheme (only the scheme: the rest may hold a password). Whether the backend is
    /// compiled in is decided when opening, so this never depends on features.
    pub fn parse(text: &'a str) -> Result<Self> {
        let Some(scheme) = scheme(text) else {
            return Ok(Location::Sqlite(text));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" => Ok(Location::Postgres(text)),
            "redis" | "rediss" => Ok(Location::Redis(text)),
            "file" => Err(Error::invalid(
                "index location 'file://...': give a SQLite index as a plain path",
            )),
            _ => Err(Error::invalid(format!(
                "index location scheme '{scheme}://' is not known (use postgresql://, \
                 redis:// or a SQLite file path)"
            ))),
        }
    }

    /// The location for messages: a URL's password replaced by `***`.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.to_string(),
            Location::Postgres(url) | Location::Redis(url) => without_password(url),
        }
    }

    /// Whether this names a database server (its connection creates what is missing there).
    pub fn is_server(&self) -> bool {
        !matches!(self, Location::Sqlite(_))
    }
}

/// The provider for `location`. A SQLite file is opened for writing (created if missing);
/// a server is connected to (see each provider's `connect` for what it creates there).
pub fn open_provider(location: &str) -> Result<Arc<dyn Provider>> {
    open_provider_with(location, false)
}

fn open_provider_with(location: &str, read_only: bool) -> Result<Arc<dyn Provider>> {
    match Location::parse(location)? {
        #[cfg(feature = "postgres")]
        Location::Postgres(dsn) => Ok(Arc::new(if read_only {
            super::PostgresProvider::connect_existing(dsn)?
        } else {
            super::PostgresProvider::connect(dsn)?
        })),
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_) => Err(Error::invalid(
            "index location 'postgresql://...': this build has no PostgreSQL backend \
             (atdata's `postgres` feature)",
        )),
        #[cfg(feature = "redis")]
        Location::Redis(url) => Ok(Arc::new(super::RedisProvider::connect(url)?)),
        #[cfg(not(feature = "redis"))]
        Location::Redis(_) => Err(Error::invalid(
            "index location 'redis://...': this build has no Redis backend (atdata's `redis` \
             feature)",
        )),
        #[cfg(feature = "sqlite")]
        Location::Sqlite(path) => Ok(Arc::new(if read_only {
            super::SqliteProvider::open_read_only(path)?
        } else {
            super::SqliteProvider::open(path)?
        })),
        #[cfg(not(feature = "sqlite"))]
        Location::Sqlite(path) => {
            let _ = read_only;
            Err(Error::invalid(format!(
                "index location '{path}': this build has no SQLite backend (atdata's `sqlite` \
                 feature)"
            )))
        }
    }
}

/// The index at `location` (`postgresql://...`, `redis://...` or a SQLite file path, opened
/// for writing and created if missing) with `store` for its shards.
pub fn open_location(location: &str, store: Option<Arc<dyn DataStore>>) -> Result<Index> {
    Ok(Index::new(open_provider(location)?, store))
}

/// Like [`open_location`], to read: a SQLite file must exist and is never changed (see
/// [`Index::open_read_only`]); a PostgreSQL database must hold an index and gets no tables
/// (see `PostgresProvider::connect_existing`); Redis writes nothing
/// until the first write.
pub fn open_location_for_reading(
    location: &str,
    store: Option<Arc<dyn DataStore>>,
) -> Result<Index> {
    Ok(Index::new(open_provider_with(location, true)?, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_texts_name_their_backend() {
        for (text, want) in [
            (
                "postgresql://u:pw@h/db",
                Location::Postgres("postgresql://u:pw@h/db"),
            ),
            ("postgres://h/db", Location::Postgres("postgres://h/db")),
            ("POSTGRESQL://h/db", Location::Postgres("POSTGRESQL://h/db")),
            ("redis://h:6379/2", Location::Redis("redis://h:6379/2")),
            ("rediss://h", Location::Redis("rediss://h")),
            ("index.db", Location::Sqlite("index.db")),
            ("/abs/index.db", Location::Sqlite("/abs/index.db")),
            ("C:\\data\\index.db", Location::Sqlite("C:\\data\\index.db")),
            ("./odd://name.db", Location::Sqlite("./odd://name.db")),
        ] {
            assert_eq!(Location::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn shown_locations_hide_passwords() {
        let shown = |t| Location::parse(t).unwrap().shown();
        assert_eq!(
            shown("postgresql://u:pw@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(shown("redis://:pw@h/3"), "redis://:***@h/3");
        assert_eq!(shown("redis://h/3"), "redis://h/3");
        assert_eq!(shown("postgresql://u@h/db"), "postgresql://u@h/db");
        assert_eq!(shown("dir/index.db"), "dir/index.db");
    }

    #[test]
    fn unknown_schemes_are_refused_naming_only_the_scheme() {
        for text in [
            "mysql://root:secret@h/db",
            "s3://bucket/index",
            "file:///x.db",
        ] {
            let e = Location::parse(text).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{text}: {e}");
            assert!(!e.to_string().contains("secret"), "{e}");
            let scheme = text.split("://").next().unwrap();
            assert!(e.to_string().contains(scheme), "{e}");
        }
    }

    #[test]
    fn missing_sqlite_files_are_not_created_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        assert!(open_location_for_reading(path.to_str().unwrap(), None).is_err());
        assert!(!path.exists());
        let index = open_location(path.to_str().unwrap(), None).unwrap();
        assert!(index.list_datasets().unwrap().is_empty());
        assert!(path.exists());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_open_a_postgres_index() {
        let db = crate::index::postgres::tests::TestDb::new();
        let index = open_location(&db.dsn, None).unwrap();
        assert!(index.list_datasets().unwrap().is_empty());
        assert!(format!("{:?}", index).contains("PostgresProvider"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn reading_a_postgres_database_without_an_index_is_an_error_and_creates_nothing() {
        let db = crate::index::postgres::tests::TestDb::new();
        let e = open_location_for_reading(&db.dsn, None).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("dataset_entries"), "{e}");
        // Still nothing there: writing creates the index, and then reading finds it.
        let e = open_location_for_reading(&db.dsn, None).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        open_location(&db.dsn, None).unwrap();
        let index = open_location_for_reading(&db.dsn, None).unwrap();
        assert!(index.list_datasets().unwrap().is_empty());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_urls_open_a_redis_index() {
        // Only reads: a Redis index writes no key before its first write, so nothing to
        // clean up in the shared database.
        let index = open_location_for_reading("redis://127.0.0.1:6379/13", None).unwrap();
        index.list_datasets().unwrap();
        assert!(format!("{:?}", index).contains("RedisProvider"));
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_urls_without_the_backend_say_so() {
        let e = open_location("postgresql://h/db", None).unwrap_err();
        assert!(e.to_string().contains("postgres"), "{e}");
    }
}
