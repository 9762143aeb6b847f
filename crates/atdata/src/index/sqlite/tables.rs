//! The database layout: Python atdata 0.7's tables (docs/FORMAT.md section 6) with two columns of
//! ours added to `dataset_entries`, and the migration from earlier layouts of ours.
//!
//! Our facts live in 0.7's row, not in a table beside it, so that a commit writes one row
//! fewer and listing reads one table without a join. 0.7 ignores columns it does not know,
//! also when it writes rows itself (they get NULL there: an entry 0.7 wrote).

use rusqlite::{params, Connection, TransactionBehavior};

use crate::error::{Error, Result};
use crate::index::entry::{strings_from_msgpack, value_from_msgpack, ShardInfo};
use crate::index::sqlite::info::{self, Info};

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

/// Creates what is missing: 0.7's tables, our columns, the index identity, and moves our facts
/// out of the table earlier builds kept them in. Idempotent; run inside the caller's retry
/// loop. Only write opens call this: reading never changes the file (see [`check_readable`]).
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
    let old_table = !columns(&tx, "atdata_entry_info")?.is_empty();
    let missing = OUR_COLUMNS
        .iter()
        .filter(|(c, _)| !have.iter().any(|h| h == c));
    for (column, ty) in missing {
        tx.execute_batch(&format!(
            "ALTER TABLE dataset_entries ADD COLUMN {column} {ty}"
        ))?;
    }
    if old_table {
        migrate_info_table(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether our columns and the index identity exist and no table of an earlier layout is
/// left.
fn up_to_date(conn: &Connection) -> Result<bool> {
    Ok(has_our_columns(conn)?
        && columns(conn, "atdata_entry_info")?.is_empty()
        && index_id(conn)?.is_some())
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

/// Earlier builds kept our facts in a table `atdata_entry_info` (one row per entry, columns
/// `cid, version, num_samples, shards, description, tags, license[, metadata], created_at`).
/// Each row still matching an entry by name and CID becomes that entry's columns; then the
/// table goes. A row we cannot read is skipped (its entry then counts as one 0.7 wrote).
fn migrate_info_table(conn: &Connection) -> Result<()> {
    let have = columns(conn, "atdata_entry_info")?;
    let col = |c: &str| {
        if have.iter().any(|h| h == c) {
            format!("i.{c}")
        } else {
            "NULL".to_string()
        }
    };
    let select = format!(
        "SELECT e.cid, e.data_urls, {}, {}, {}, {}, {}, {}, {}, {}, e.name, e.schema_ref \
         FROM atdata_entry_info i \
         JOIN dataset_entries e ON e.cid = i.cid AND e.name = i.name",
        col("version"),
        col("num_samples"),
        col("shards"),
        col("description"),
        col("tags"),
        col("license"),
        col("metadata"),
        col("created_at"),
    );
    let mut updates: Vec<(String, i64, Vec<u8>)> = Vec::new();
    {
        let mut stmt = conn.prepare(&select)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(u) = old_row(row)? {
                updates.push(u);
            }
        }
    }
    let mut set = conn.prepare(
        "UPDATE dataset_entries SET atdata_version = ?2, atdata_info = ?3 WHERE cid = ?1",
    )?;
    for (cid, version, blob) in updates {
        set.execute(params![cid, version, blob])?;
    }
    conn.execute_batch("DROP TABLE atdata_entry_info")?;
    Ok(())
}

/// One row of the old table as `(cid, version, atdata_info)`, or `None` if it is unreadable.
fn old_row(row: &rusqlite::Row<'_>) -> Result<Option<(String, i64, Vec<u8>)>> {
    let cid: String = row.get(0)?;
    let blob = |i: usize| -> Result<Option<Vec<u8>>> {
        Ok(match row.get_ref(i)? {
            rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                Some(b.to_vec())
            }
            _ => None,
        })
    };
    let Ok(urls) = strings_from_msgpack(&blob(1)?.unwrap_or_default()) else {
        return Ok(None);
    };
    let Some(version) = row.get::<_, Option<i64>>(2)? else {
        return Ok(None);
    };
    let num_samples = row
        .get::<_, Option<i64>>(3)?
        .and_then(|n| u64::try_from(n).ok());
    // The old `shards` column: an array of [sha256 | nil, samples | nil, bytes | nil].
    let shards = match blob(4)? {
        Some(b) => old_shards(&b, &urls).unwrap_or_default(),
        None => Vec::new(),
    };
    let tags = blob(6)?
        .and_then(|b| strings_from_msgpack(&b).ok())
        .unwrap_or_default();
    let metadata = blob(8)?.and_then(|b| value_from_msgpack(&b).ok());
    let description: Option<String> = row.get(5)?;
    let license: Option<String> = row.get(7)?;
    let created_at: Option<String> = row.get(9)?;
    let name: String = row.get(10)?;
    let schema_ref: String = row.get(11)?;
    let blob = info::encode(&Info {
        cid: &cid,
        name: &name,
        schema_ref: &schema_ref,
        num_samples,
        shards: &shards,
        description: description.as_deref(),
        tags: &tags,
        license: license.as_deref(),
        metadata: metadata.as_ref(),
        created_at: created_at.as_deref().unwrap_or_default(),
    });
    Ok(Some((cid, version, blob)))
}

fn old_shards(buf: &[u8], urls: &[String]) -> Result<Vec<ShardInfo>> {
    use crate::codec::msgpack::Token;
    let mut r = crate::codec::MsgReader::new(buf);
    let Token::Array(n) = r.next_token()? else {
        return Err(Error::corrupt("old shards column is not an array"));
    };
    let mut out = Vec::with_capacity(n);
    for url in urls.iter().take(n) {
        if r.next_token()? != Token::Array(3) {
            return Err(Error::corrupt("old shard facts are not a triple"));
        }
        let sha256 = match r.next_token()? {
            Token::Str(s) => Some(s.to_string()),
            _ => None,
        };
        let mut nums = [None, None];
        for slot in &mut nums {
            *slot = match r.next_token()? {
                Token::Int(i) => u64::try_from(i).ok(),
                Token::UInt(u) => Some(u),
                _ => None,
            };
        }
        out.push(ShardInfo {
            url: url.clone(),
            sha256,
            samples: nums[0],
            bytes: nums[1],
        });
    }
    Ok(out)
}
