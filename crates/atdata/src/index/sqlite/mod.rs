//! [`SqliteProvider`]: the default index backend, an SQLite database in memory or in a file.
//!
//! The file keeps the four tables of Python atdata 0.7 (docs/FORMAT.md section 6) with their exact
//! columns, so each side opens what the other wrote. What 0.7 has no column for (versions,
//! per-shard counts, description, tags, license, the caller's metadata apart from checksums)
//! lives in two columns we add to 0.7's `dataset_entries` (see `tables.rs` and `info.rs`). Rows 0.7
//! writes have them NULL: such an entry is numbered one above the previous version of its name.
//! A pinned version is found through 0.7's per-version labels (we write one per version, so
//! 0.7 resolves `@local/name@2` too) and checked against our number.
//!
//! Writes take the write lock at `BEGIN IMMEDIATE`, so the version a commit computes cannot be
//! taken by another process before it commits; WAL lets readers go on meanwhile, and a busy
//! timeout makes writers queue instead of failing.

mod rows;
mod select;
mod tables;
#[cfg(test)]
mod tests;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::index::entry::{semver_key, stored_schema, version_number, Entry};
use crate::index::provider::{retry_conflicts as retry, ListQuery, Page, Provider, WriteTx};
use crate::schema::Schema;
use select::select_entry;

/// How long a writer waits for another's lock before giving up with a retryable conflict.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Page cache per connection (KiB): enough to keep an index of ~100k entries in memory.
const CACHE_KIB: i64 = 64 * 1024;

/// The index in an SQLite database (Python atdata 0.7 layout plus two columns of ours).
#[derive(Debug)]
pub struct SqliteProvider {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    /// Opened to read only: nothing may write, and writes say so.
    read_only: bool,
}

impl SqliteProvider {
    /// An index that lives in memory and disappears with this value.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        tables::set_page_size(&conn)?;
        tables::prepare(&conn)?;
        Ok(SqliteProvider {
            conn: Mutex::new(conn),
            path: None,
            read_only: false,
        })
    }

    /// Opens (creating if needed, with its parent directories) the index file at `path` for
    /// writing. Several processes may open the same file and write to it at once. Only writes
    /// should open this way: reading uses [`open_read_only`](Self::open_read_only), which
    /// never creates or changes a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        if path.is_dir() {
            return Err(is_a_directory(&shown));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(parent.display().to_string(), e))?;
        }
        let conn =
            Self::open_for_writing(&path, &shown).map_err(|e| read_only_media(&path, &shown, e))?;
        Ok(SqliteProvider {
            conn: Mutex::new(conn),
            path: Some(path),
            read_only: false,
        })
    }

    fn open_for_writing(path: &Path, shown: &str) -> Result<Connection> {
        let conn = Connection::open(path).map_err(|e| in_file(shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| in_file(shown, e))?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(|e| in_file(shown, e))?;
        // Before WAL mode fixes the page size of a new file.
        tables::set_page_size(&conn).map_err(|e| name_file(shown, e))?;
        retry(|| {
            // Switching to WAL and creating tables take the write lock; other processes may be
            // opening the same file right now.
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
                return Err(Error::Database(format!(
                    "index '{shown}': cannot enable WAL journal mode (got '{mode}')"
                )));
            }
            tables::prepare(&conn)
        })
        .map_err(|e| name_file(shown, e))?;
        Ok(conn)
    }

    /// Opens the index file at `path` for writing, like [`open`](Self::open), but only if it
    /// already is an atdata index: a missing, empty or foreign file is an error naming it.
    /// For writes that must not start a new index (garbage collection).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        drop(Self::open_read_only(path)?);
        Self::open(path)
    }

    /// Opens the existing index file at `path` to read only. Nothing is ever written: no file
    /// is created, the journal mode and the layout are left as they are, and a file on
    /// read-only media (or one this account may not write) can be read. A missing path, a
    /// directory, an empty file or a file that is not an atdata index is an error naming it.
    /// Writes through this handle fail with "the index at PATH is opened read-only".
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => return Err(is_a_directory(&shown)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "no index at '{shown}' (nothing has been written there)"
                )))
            }
            Err(e) => return Err(Error::io(shown, e)),
        }
        let conn = open_ro(&path, false)
            .and_then(|c| tables::check_readable(&c, &shown).map(|()| c))
            .or_else(|e| {
                // A WAL file whose folder cannot take the -wal/-shm files SQLite needs to
                // read it (read-only media): nobody can be writing it, so it is read as an
                // unchanging file.
                // Only when SQLite could not open it (not for busy or foreign files): an
                // immutable read ignores the -wal file, so it is the last resort.
                if !matches!(e, Error::Database(_)) {
                    return Err(e);
                }
                let c = open_ro(&path, true)?;
                tables::check_readable(&c, &shown)?;
                Ok(c)
            })
            .map_err(|e| name_file(&shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| in_file(&shown, e))?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(|e| in_file(&shown, e))?;
        Ok(SqliteProvider {
            conn: Mutex::new(conn),
            path: Some(path),
            read_only: true,
        })
    }

    /// The database file, or `None` for an in-memory index.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether this handle was opened to read only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite in a half state (an open
        // transaction rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How the file is named in errors.
    fn shown(&self) -> String {
        self.path
            .as_deref()
            .map_or_else(|| ":memory:".to_string(), |p| p.display().to_string())
    }

    /// Refuses to write through a read-only handle.
    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::invalid(format!(
                "the index at '{}' is opened read-only; open it for writing to change it",
                self.shown()
            )));
        }
        Ok(())
    }

    /// Names the file in an error of a write, and says plainly when the file or its medium
    /// is read-only.
    fn write_error(&self, e: Error) -> Error {
        let shown = self.shown();
        match &self.path {
            Some(p) => read_only_media(p, &shown, name_file(&shown, e)),
            None => e,
        }
    }
}

/// Opens `path` with SQLite's read-only flag; `immutable` also tells SQLite the file cannot
/// change (no locks, no -wal/-shm files).
fn open_ro(path: &Path, immutable: bool) -> Result<Connection> {
    use rusqlite::OpenFlags;
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(b as char)
            }
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str(if immutable {
        "?immutable=1"
    } else {
        "?mode=ro"
    });
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Ok(Connection::open_with_flags(uri, flags)?)
}

fn is_a_directory(shown: &str) -> Error {
    Error::invalid(format!(
        "'{shown}' is a directory, not an index file (pass the index database file, e.g. \
         '{shown}/index.db')"
    ))
}

/// Adds the file's name to a database error that lacks it.
fn name_file(shown: &str, e: Error) -> Error {
    e.with_index(shown)
}

/// When a write failed because the file or its medium is read-only, says so plainly.
#[cold]
fn read_only_media(path: &Path, shown: &str, e: Error) -> Error {
    if !matches!(e, Error::Database(_)) {
        return e;
    }
    let writable = std::fs::OpenOptions::new().write(true).open(path).is_ok()
        && path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .is_none_or(|dir| {
                let probe = dir.join(format!(".atdata-probe-{}", std::process::id()));
                let ok = std::fs::File::create(&probe).is_ok();
                let _ = std::fs::remove_file(&probe);
                ok
            });
    if writable {
        return e;
    }
    Error::Database(format!(
        "the index at '{shown}' is read-only (the file or its folder cannot be written): {e}"
    ))
}

/// SQLite's errors become ours here, in the backend: a busy or locked database is a
/// retryable [`Error::Conflict`], anything else [`Error::Database`].
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Error::Conflict {
                    what: format!("index database is busy: {e}"),
                }
            }
            _ => Error::Database(e.to_string()),
        }
    }
}

fn in_file(path: &str, e: rusqlite::Error) -> Error {
    name_file(path, Error::from(e))
}

impl Provider for SqliteProvider {
    fn kind(&self) -> &'static str {
        "SqliteProvider"
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.check_writable()?;
        retry(|| {
            let mut conn = self.lock();
            let mut tx = tx::SqliteTx::begin(&mut conn)?;
            f(&mut tx)?;
            tx.commit()
        })
        .map_err(|e| self.write_error(e))
    }

    fn index_id(&self) -> Result<Option<String>> {
        tables::index_id(&self.lock()).map_err(|e| name_file(&self.shown(), e))
    }

    fn location(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }

    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>> {
        rows::query_one(&self.lock(), select_entry!("WHERE cid = ?1"), [cid])
    }

    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>> {
        let conn = self.lock();
        // Our versions and 0.7's free-form ones (`index.label(name, cid, version=...)`) both
        // have a label row.
        let number = version_number(version);
        let found = rows::query_one(
            &conn,
            select_entry!(
                "WHERE cid = (SELECT cid FROM labels WHERE name = ?1 AND version = ?2) \
                 AND name = ?1"
            ),
            [name, version],
        )?
        .filter(|e| number.is_none() || e.version == version);
        if found.is_some() {
            return Ok(found);
        }
        // A number without a fitting label (0.7's entries have none; 0.7 may relabel).
        let Some(n) = number else {
            return Ok(None);
        };
        let rowid = rows::versions_of(&conn, name, i64::MAX)?
            .into_iter()
            .find(|(_, v)| u64::try_from(*v) == Ok(n))
            .map(|(rowid, _)| rowid);
        match rowid {
            Some(rowid) => rows::query_one(&conn, select_entry!("WHERE rowid = ?1"), [rowid]),
            None => Ok(None),
        }
    }

    fn latest_entry(&self, name: &str) -> Result<Option<Entry>> {
        // Versions grow with the row order (a commit numbers its entry one above the newest
        // and inserts it last), so the newest is the name's last row.
        rows::query_one(
            &self.lock(),
            select_entry!("WHERE name = ?1 ORDER BY rowid DESC LIMIT 1"),
            [name],
        )
    }

    fn versions(&self, name: &str) -> Result<Vec<String>> {
        let mut versions: Vec<i64> = rows::versions_of(&self.lock(), name, i64::MAX)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        versions.sort_unstable();
        Ok(versions.into_iter().map(|v| v.to_string()).collect())
    }

    fn names(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT name FROM dataset_entries ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for n in rows {
            out.push(n?);
        }
        Ok(out)
    }

    fn list(&self, query: &ListQuery) -> Result<Page> {
        let mut conn = self.lock();
        rows::list(&mut conn, query).map_err(|e| name_file(&self.shown(), e))
    }

    fn schemas(&self) -> Result<Vec<Schema>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT name, version, schema_json FROM schemas ORDER BY rowid")?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<Schema> = Vec::new();
        while let Some(row) = rows.next()? {
            let (name, version, json): (String, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            // Listing skips records no reader could use; `schema()` reports them.
            if let Ok(mut s) = Schema::from_json(&json) {
                s.name = name;
                s.version = version;
                out.push(s);
            }
        }
        Ok(out)
    }

    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>> {
        let json: Option<String> = self
            .lock()
            .prepare_cached("SELECT schema_json FROM schemas WHERE name = ?1 AND version = ?2")?
            .query_row([name, version], |r| r.get(0))
            .optional()?;
        match json {
            None => Ok(None),
            Some(json) => stored_schema(name, version, &json).map(Some),
        }
    }

    fn newest_schema(&self, name: &str) -> Result<Option<Schema>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT version, schema_json FROM schemas WHERE name = ?1")?;
        let mut rows = stmt.query([name])?;
        let mut newest: Option<Schema> = None;
        while let Some(row) = rows.next()? {
            let (version, json): (String, String) = (row.get(0)?, row.get(1)?);
            // As in `schemas()`: records no reader could use are not candidates.
            let Ok(mut s) = Schema::from_json(&json) else {
                continue;
            };
            if newest
                .as_ref()
                .is_some_and(|n| semver_key(&n.version) >= semver_key(&version))
            {
                continue;
            }
            s.name = name.to_string();
            s.version = version;
            newest = Some(s);
        }
        Ok(newest)
    }
}
