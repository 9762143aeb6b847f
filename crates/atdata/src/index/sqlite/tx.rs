//! [`WriteTx`] in SQL: the primitives the shared commit algorithm (index/commit.rs) runs
//! inside one `BEGIN IMMEDIATE` transaction, with 0.7's encodings (`data_urls` msgpack, the
//! `metadata` map with checksums, its `labels` rows) and our `atdata_info` blob.

use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::index::columns::info::{self, Info};
use crate::index::columns::NewRow;
use crate::index::entry::{
    compat_metadata_msgpack, stored_schema_or_placeholder, strings_to_msgpack, Entry,
};
use crate::index::provider::{Listing, WriteTx};
use crate::index::sqlite::rows;
use crate::index::sqlite::select::select_entry;
use crate::schema::Schema;

/// Now as SQLite's `datetime('now')` writes it, the form 0.7's `created_at` columns hold (and
/// compare as text, to find the newest label).
fn now_sqlite() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One open write transaction on a connection; rolls back when dropped uncommitted, so an
/// error (or a panic) in the caller's closure leaves nothing behind.
pub(super) struct SqliteTx<'c> {
    conn: &'c mut Connection,
    open: bool,
    /// Commit time in 0.7's columns.
    now_sql: String,
}

impl<'c> SqliteTx<'c> {
    /// Takes the write lock (`BEGIN IMMEDIATE`): no other writer runs until commit or rollback.
    pub(super) fn begin(conn: &'c mut Connection) -> Result<Self> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTx {
            conn,
            open: true,
            now_sql: now_sqlite(),
        })
    }

    pub(super) fn commit(mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Fails only when SQLite has rolled back already (e.g. after a full disk).
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl WriteTx for SqliteTx<'_> {
    fn schemas_of(&mut self, name: &str) -> Result<Vec<Schema>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT version, schema_json FROM schemas WHERE name = ?1")?;
        let mut rows = stmt.query([name])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let version: String = row.get(0)?;
            let json: String = row.get(1)?;
            out.push(stored_schema_or_placeholder(name, &version, &json));
        }
        Ok(out)
    }

    fn insert_schema(&mut self, schema: &Schema) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO schemas (name, version, schema_json, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                schema.name,
                schema.version,
                schema.to_json(),
                self.now_sql
            ])?;
        Ok(())
    }

    /// Versions grow with the row order, so it is the version of the name's last row
    /// (counted through the rows before it if 0.7 wrote that one).
    fn highest_version(&mut self, name: &str) -> Result<u64> {
        let last: Option<(i64, Option<i64>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT rowid, atdata_version FROM dataset_entries \
                 WHERE name = ?1 ORDER BY rowid DESC LIMIT 1",
            )?;
            let mut rows = stmt.query([name])?;
            match rows.next()? {
                Some(row) => Some((row.get(0)?, row.get(1)?)),
                None => None,
            }
        };
        let v = match last {
            None => 0,
            Some((_, Some(v))) => v,
            Some((rowid, None)) => rows::versions_of(self.conn, name, rowid)?
                .last()
                .map_or(0, |(_, v)| *v),
        };
        Ok(u64::try_from(v).unwrap_or(0))
    }

    fn insert_entry(&mut self, entry: &Entry) -> Result<Option<Entry>> {
        let NewRow {
            version,
            data_urls,
            metadata,
            facts,
        } = NewRow::of(entry)?;
        // Inserting first and looking only when nothing was inserted saves a lookup per entry.
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO dataset_entries \
                 (cid, name, schema_ref, data_urls, metadata, created_at, atdata_version, \
                 atdata_info) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                entry.cid,
                entry.name,
                entry.schema_ref,
                data_urls,
                metadata,
                self.now_sql,
                version,
                facts
            ])?;
        if inserted > 0 {
            return Ok(None);
        }
        let cid = &entry.cid;
        rows::query_one(self.conn, select_entry!("WHERE cid = ?1"), [cid])?
            .map(Some)
            .ok_or_else(|| Error::Database(format!("entry '{cid}' vanished inside a transaction")))
    }

    fn set_label(&mut self, name: &str, version: Option<&str>, entry: &Entry) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO labels (name, cid, version, description, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                name,
                entry.cid,
                version.unwrap_or(""),
                entry.description,
                self.now_sql
            ])?;
        Ok(())
    }

    fn entry_by_cid(&mut self, cid: &str) -> Result<Option<Entry>> {
        rows::query_one(self.conn, select_entry!("WHERE cid = ?1"), [cid])
    }

    fn update_shards(&mut self, entry: &Entry) -> Result<()> {
        let cid = &entry.cid;
        let version: i64 = entry.version.parse().map_err(|_| {
            Error::Database(format!("entry '{cid}' has version '{}'", entry.version))
        })?;
        let facts = info::encode(&Info::of(entry));
        let data_urls = strings_to_msgpack(entry.data_urls());
        let stored: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data_urls FROM dataset_entries WHERE cid = ?1")?
            .query_row([cid], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let Some(stored) = stored else {
            return Err(Error::not_found(format!("index entry '{cid}'")));
        };
        if stored == data_urls {
            // Same places: 0.7's columns stay byte for byte as they are.
            self.conn
                .prepare_cached(
                    "UPDATE dataset_entries SET atdata_version = ?2, atdata_info = ?3 \
                     WHERE cid = ?1",
                )?
                .execute(params![cid, version, facts])?;
        } else {
            // 0.7's `data_urls` and its `checksums` keys follow the new URLs.
            let metadata = compat_metadata_msgpack(entry.metadata.as_ref(), &entry.shards)?;
            self.conn
                .prepare_cached(
                    "UPDATE dataset_entries SET data_urls = ?2, metadata = ?3, \
                     atdata_version = ?4, atdata_info = ?5 WHERE cid = ?1",
                )?
                .execute(params![cid, data_urls, metadata, version, facts])?;
        }
        Ok(())
    }

    fn listing(&mut self) -> Result<Listing> {
        rows::listing(self.conn)
    }
}
