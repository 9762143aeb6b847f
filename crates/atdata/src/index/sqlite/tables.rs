//! The database layout: Python atdata 0.7's tables (docs/FORMAT.md section 6) with two columns of
//! ours added to `dataset_entries`, added when a build of ours first writes to a 0.7 file.
//!
//! Our facts live in 0.7's row, not in a table beside it, so that a commit writes one row
//! fewer and listing reads one table without a join. 0.7 ignores columns it does not know,
//! also when it writes rows itself (they get NULL there: an entry 0.7 wrote).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// The tables of Python atdata 0.7, verbatim in meaning. 0.7 also indexes `labels(cid)`; we
/// never look labels up by CID, so we do not pay for that index on every commit (0.7 adds it
/// when it opens the file: `CREATE INDEX IF NOT EXISTS`).
pub(super) const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS dataset_entries (
    cid         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    schema_ref  TEXT NOT NULL,
    data_urls   BLOB NOT NULL,
    metadata    BLOB,
    legacy_uuid TEXT,
    created_at  TEXT DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_entries_name ON dataset_entries(name);
CREATE TABLE IF NOT EXISTS schemas (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS lenses (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    lens_json   TEXT NOT NULL,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS labels (
    name        TEXT NOT NULL,
    cid         TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    description TEXT,
    created_at  TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (name, version)
);
";

/// Page size of the databases we create. 16 KiB pages hold four times the index keys of
/// SQLite's default 4 KiB, so B-trees are shallower and split less: bulk commits of 100k
/// entries measured about 20% faster here. Files that exist keep theirs (0.7's are 4 KiB).
const PAGE_SIZE: i64 = 16 * 1024;

/// Sets [`PAGE_SIZE`] on a database that has no pages yet; SQLite ignores it otherwise.
pub(super) fn set_page_size(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    Ok(())
}

/// Our columns on `dataset_entries`: the entry's version number (NULL on rows 0.7 wrote) and
/// our facts ([`info`]).
const OUR_COLUMNS: [(&str, &str); 2] = [("atdata_version", "INTEGER"), ("atdata_info", "BLOB")];

/// Our table of facts about the index itself: one row per key. 0.7 ignores tables it does
/// not know. Today it holds `id`, the index's identity (see [`index_id`]).
const CREATE_IDENTITY: &str = "
CREATE TABLE IF NOT EXISTS atdata_index (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The index's identity: 32 random hex digits, written once by the first write open of the
/// file, so that a data store can record which index it belongs to (`store::StoreOwner`) and
/// garbage collection can tell its own store from another index's.
pub(super) fn index_id(conn: &Connection) -> Result<Option<String>> {
    if !has_table(conn, "atdata_index")? {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached("SELECT value FROM atdata_index WHERE key = 'id'")?;
    let mut rows = stmt.query([])?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get(0)?),
        None => None,
    })
}

/// Creates what is missing: 0.7's tables, our columns and the index identity. Idempotent; run
/// inside the caller's retry loop. Only write opens call this: reading never changes the file (see [`check_readable`]).
pub(super) fn prepare(conn: &Connection) -> Result<()> {
    conn.execute_batch(CREATE_TABLES)?;
    if up_to_date(conn)? {
        return Ok(());
    }
    // Another process may be changing the layout right now: decide again under the write lock.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_IDENTITY)?;
    // Only the first writer's id sticks.
    tx.execute(
        "INSERT OR IGNORE INTO atdata_index (key, value) VALUES ('id', lower(hex(randomblob(16))))",
        [],
    )?;
    let have = columns(&tx, "dataset_entries")?;
    let missing = OUR_COLUMNS
        .iter()
        .filter(|(c, _)| !have.iter().any(|h| h == c));
    for (column, ty) in missing {
        tx.execute_batch(&format!(
            "ALTER TABLE dataset_entries ADD COLUMN {column} {ty}"
        ))?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether our columns and the index identity exist.
fn up_to_date(conn: &Connection) -> Result<bool> {
    Ok(has_our_columns(conn)? && index_id(conn)?.is_some())
}

fn has_our_columns(conn: &Connection) -> Result<bool> {
    let have = columns(conn, "dataset_entries")?;
    Ok(OUR_COLUMNS.iter().all(|(c, _)| have.iter().any(|h| h == c)))
}

fn has_table(conn: &Connection, table: &str) -> Result<bool> {
    Ok(!columns(conn, table)?.is_empty())
}

/// The tables every atdata index has (0.7's, minus `lenses`, which nothing here reads).
const REQUIRED_TABLES: [&str; 3] = ["dataset_entries", "schemas", "labels"];

/// Checks, without writing anything, that `conn` holds an atdata index, and makes a file no
/// build of ours has written to yet (0.7's, read from read-only media) readable as it is: our
/// columns are then NULL on every row, through a temporary view that shadows the table for
/// this connection only (temporary objects live outside the file). `shown` names the file.
pub(super) fn check_readable(conn: &Connection, shown: &str) -> Result<()> {
    let not_index =
        |why: String| Error::InvalidArgument(format!("'{shown}' is not an atdata index ({why})"));
    for table in REQUIRED_TABLES {
        let present = match has_table(conn, table) {
            Ok(p) => p,
            Err(Error::Database(m)) if m.contains("not a database") => {
                return Err(not_index("not an SQLite database".into()))
            }
            Err(e) => return Err(e),
        };
        if !present {
            let empty = std::fs::metadata(shown).is_ok_and(|m| m.len() == 0);
            return Err(not_index(if empty {
                "the file is empty".to_string()
            } else {
                format!("it has no table '{table}'")
            }));
        }
    }
    if !has_our_columns(conn)? {
        conn.execute_batch(
            "CREATE TEMP VIEW dataset_entries AS SELECT rowid AS rowid, cid, name, schema_ref, \
             data_urls, metadata, legacy_uuid, created_at, NULL AS atdata_version, \
             NULL AS atdata_info FROM main.dataset_entries",
        )?;
    }
    Ok(())
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt
        .query_map([table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}
