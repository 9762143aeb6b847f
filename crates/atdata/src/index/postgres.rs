//! [`PostgresProvider`]: the index in a PostgreSQL database, shared by a lab.
//!
//! The database keeps Python atdata 0.7's four tables (`dataset_entries`, `schemas`, `lenses`,
//! `labels`, docs/FORMAT.md section 6) with 0.7's column types (`data_urls` and `metadata` as
//! msgpack `BYTEA`, `created_at` as `TIMESTAMPTZ`), so 0.7's `PostgresProvider` (psycopg) and
//! this one read and write the same database. What 0.7 has no column for lives in columns we
//! add to `dataset_entries` (`ALTER TABLE ... ADD COLUMN IF NOT EXISTS`, 0.7 ignores them):
//! `atdata_version` and `atdata_info`, the same bytes as in SQLite (index/columns/), and
//! `atdata_seq`, a `BIGSERIAL` that gives rows the insertion order SQLite's rowid gives (an
//! entry 0.7 wrote has no version of ours and counts one above the previous row of its name;
//! adding the column numbers the rows already there in table order).
//!
//! # Concurrency
//!
//! Every [`write`](Provider::write) is one `READ COMMITTED` transaction that first takes a
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`) on one constant key. The shared
//! commit algorithm reads the highest version of a name and inserts the next one; without the
//! lock two writer processes could both read 3 and both write 4 (the `cid` key does not stop
//! that: their entries differ). Serializable isolation would detect it too, but by aborting
//! one writer of every such pair, which many writers into one name turn into a retry storm;
//! the lock queues them instead, and is released by commit or rollback, also when a client
//! dies. `READ COMMITTED` matters: each statement after the lock sees what the previous holder
//! committed, where a repeatable-read snapshot would have been taken before waiting. Reads take
//! no lock: one statement sees one committed state. 0.7's writers take no lock; they never
//! number versions, but an entry 0.7 inserts while one of ours commits may share its computed
//! version (as with two 0.7 writers of SQLite files).
//!
//! One connection behind a mutex serves a handle (threads of one process queue on it; use a
//! handle per thread to read in parallel), with its statements prepared once. A connection
//! found lost is opened again: a read then runs once more; a write returns its error (whether
//! a commit the server was processing took effect is unknown; committing the same entries
//! again is safe, as they dedup by CID) and the next call gets the new connection.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use crate::codec::MsgReader;
use crate::error::{Error, Result};
use crate::index::columns::info::{self, Info};
use crate::index::columns::raw::{Origin, RawRow, RawRows};
use crate::index::columns::NewRow;
use crate::index::columns::{next_version, read_row};
use crate::index::entry::{
    compat_metadata_msgpack, semver_key, stored_schema, stored_schema_or_placeholder,
    strings_to_msgpack, version_number, Entry,
};
use crate::index::provider::{
    retry_conflicts as retry, ListQuery, Listing, Page, Provider, WriteTx,
};
use crate::schema::Schema;

/// Python atdata 0.7's tables, as its `PostgresProvider` creates them (column for column).
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS dataset_entries (
    cid         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    schema_ref  TEXT NOT NULL,
    data_urls   BYTEA NOT NULL,
    metadata    BYTEA,
    legacy_uuid TEXT,
    created_at  TIMESTAMPTZ DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_entries_name ON dataset_entries(name);
CREATE TABLE IF NOT EXISTS schemas (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    created_at  TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS lenses (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    lens_json   TEXT NOT NULL,
    created_at  TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS labels (
    name        TEXT NOT NULL,
    cid         TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    description TEXT,
    created_at  TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS idx_labels_cid ON labels(cid);
";

/// Our columns and table: the same as SQLite's (index/sqlite/tables.rs) plus the row order,
/// and the index's identity (32 random hex digits, written once).
const OUR_LAYOUT: &str = "
ALTER TABLE dataset_entries ADD COLUMN IF NOT EXISTS atdata_seq BIGSERIAL;
ALTER TABLE dataset_entries ADD COLUMN IF NOT EXISTS atdata_version BIGINT;
ALTER TABLE dataset_entries ADD COLUMN IF NOT EXISTS atdata_info BYTEA;
CREATE INDEX IF NOT EXISTS atdata_entries_name_seq ON dataset_entries(name, atdata_seq);
CREATE INDEX IF NOT EXISTS atdata_entries_seq ON dataset_entries(atdata_seq);
CREATE TABLE IF NOT EXISTS atdata_index (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO atdata_index (key, value)
    VALUES ('id', replace(gen_random_uuid()::text, '-', ''))
    ON CONFLICT (key) DO NOTHING;
";

/// The advisory lock every write of every process takes (advisory locks are per database, so
/// one constant serves every index): "atdata" in ASCII.
const WRITE_LOCK: i64 = 0x6174_6461_7461;

/// Every column a row's entry can need, completed by a `WHERE`/`ORDER BY` tail. `created_at`
/// is read as RFC 3339 text in UTC, the form our entries carry. Rows we wrote carry 0.7's
/// columns in `atdata_info` too, so those are sent only for rows without it (0.7's): listing
/// 10k entries then formats no timestamps and sends about half the bytes.
macro_rules! select_entry {
    ($tail:literal) => {
        concat!(
            "SELECT atdata_seq, atdata_version, atdata_info, cid, name, \
             CASE WHEN atdata_info IS NULL THEN schema_ref END, \
             CASE WHEN atdata_info IS NULL THEN data_urls END, \
             CASE WHEN atdata_info IS NULL THEN metadata END, \
             CASE WHEN atdata_info IS NULL THEN to_char(created_at AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END FROM dataset_entries ",
            $tail
        )
    };
}

/// The index in a PostgreSQL database (Python atdata 0.7's tables plus columns of ours).
pub struct PostgresProvider {
    conn: Mutex<Conn>,
    config: Config,
    /// The server and database, without the password: how errors and listings name it.
    shown: String,
}

impl fmt::Debug for PostgresProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the config: it holds the password.
        f.debug_struct("PostgresProvider")
            .field("database", &self.shown)
            .finish()
    }
}

impl PostgresProvider {
    /// Connects to the database at `dsn` (`postgresql://user:password@host:port/dbname`, or
    /// libpq's `key=value` form) and creates what is missing: 0.7's tables, our columns and
    /// the index identity. An unreachable server is [`Error::Database`] naming host and
    /// database (never the password).
    pub fn connect(dsn: &str) -> Result<Self> {
        Self::connect_with(dsn, false)
    }

    /// [`connect`](Self::connect) for commands that only read: a database holding no atdata
    /// index (no `dataset_entries` table) is [`Error::NotFound`] naming it, and nothing is
    /// created in it. A database Python atdata 0.7 made still gets our columns, which 0.7
    /// ignores, since our reads need them.
    pub fn connect_existing(dsn: &str) -> Result<Self> {
        Self::connect_with(dsn, true)
    }

    fn connect_with(dsn: &str, existing: bool) -> Result<Self> {
        let config = Config::from_str(dsn).map_err(|e| {
            Error::invalid(format!(
                "'{}' is not a PostgreSQL connection URL: {e}",
                redact(dsn)
            ))
        })?;
        let shown = describe(&config);
        let mut client = open(&config, &shown)?;
        if existing && !has_index(&mut client).map_err(|e| name_db(&shown, e))? {
            return Err(Error::not_found(format!(
                "atdata index in the PostgreSQL database {shown} (it has no dataset_entries \
                 table; reading creates none)"
            )));
        }
        prepare(&mut client).map_err(|e| name_db(&shown, e))?;
        Ok(PostgresProvider {
            conn: Mutex::new(Conn {
                client,
                statements: HashMap::new(),
            }),
            config,
            shown,
        })
    }

    /// The connection, opened again if the server closed it (a restart, an idle timeout).
    fn lock(&self) -> Result<MutexGuard<'_, Conn>> {
        // A panic while holding the lock leaves at worst an open transaction, which the
        // `Transaction`'s drop rolled back: the client is still usable.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.client.is_closed() {
            guard.client = open(&self.config, &self.shown)?;
            // Prepared statements live and die with their connection.
            guard.statements.clear();
        }
        Ok(guard)
    }

    /// Runs a read on the connection, naming the database in its errors. A read that finds
    /// the connection lost (a server restart, an idle timeout) runs once more on a new one:
    /// reading twice changes nothing.
    fn read<T>(&self, mut f: impl FnMut(&mut Db<'_, Client>) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            let mut guard = self.lock()?;
            let Conn { client, statements } = &mut *guard;
            let out = f(&mut Db {
                c: client,
                statements,
            });
            match out {
                Err(_) if attempt == 0 && self.heal(&mut guard) => attempt += 1,
                other => return other.map_err(|e| name_db(&self.shown, e)),
            }
        }
    }

    /// After an error: whether the connection was lost, in which case a new one replaces it
    /// (or, if the server cannot be reached now, the next call tries again).
    #[cold]
    fn heal(&self, conn: &mut Conn) -> bool {
        let lost = conn.client.is_closed() || conn.client.is_valid(Duration::from_secs(2)).is_err();
        if lost {
            if let Ok(client) = open(&self.config, &self.shown) {
                conn.client = client;
            }
            // Prepared statements live and die with their connection.
            conn.statements.clear();
        }
        lost
    }
}

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: Statements,
}

/// Statements prepared once per connection, by their SQL: a query by text costs two round
/// trips (prepare, then execute), a prepared one one.
type Statements = HashMap<&'static str, Statement>;

/// A client (the connection, or a transaction on it) with the connection's statements.
struct Db<'a, C> {
    c: &'a mut C,
    statements: &'a mut Statements,
}

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        Ok(self.c.query(&s, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let s = self.statement(sql)?;
        Ok(self.c.query_opt(&s, params)?)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        Ok(self.c.execute(&s, params)?)
    }
}

fn open(config: &Config, shown: &str) -> Result<Client> {
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.connect(NoTls).map_err(|e| {
        Error::Database(format!(
            "cannot connect to the PostgreSQL index {shown}: {e}"
        ))
    })
}

/// Whether the database holds an index (0.7's or ours): its `dataset_entries` table.
fn has_index(client: &mut Client) -> Result<bool> {
    let row = client.query_one("SELECT to_regclass('dataset_entries') IS NOT NULL", &[])?;
    Ok(row.get(0))
}

/// Creates 0.7's tables and our layout, under the write lock: `CREATE ... IF NOT EXISTS` is
/// not safe against another process creating the same table at the same moment.
fn prepare(client: &mut Client) -> Result<()> {
    retry(|| {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        tx.batch_execute(CREATE_TABLES)?;
        tx.batch_execute(OUR_LAYOUT)?;
        tx.commit()?;
        Ok(())
    })
}

/// `postgresql://user@host:port/dbname` of `config`: what errors and listings show.
fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("postgresql://{user}{host}:{port}/{db}")
}

/// A DSN without its password, for the error about a DSN that cannot be parsed.
fn redact(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &dsn[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &dsn[..scheme + 3], &dsn[at..])
        }
        _ if dsn.contains("password") => "(a connection string with a password)".to_string(),
        _ => dsn.to_string(),
    }
}

/// PostgreSQL's errors become ours here, in the backend: a serialization failure, a deadlock
/// or a lock timeout is a retryable [`Error::Conflict`]; anything else [`Error::Database`].
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let retryable = e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE
        });
        if retryable {
            return Error::Conflict {
                what: format!("index database conflict: {e}"),
            };
        }
        if e.is_closed() {
            return Error::Database(format!("the connection to the server was lost: {e}"));
        }
        // The server's message and detail, not just "db error".
        match e.as_db_error() {
            Some(db) => Error::Database(format!("{}: {}", db.code().code(), db.message())),
            None => Error::Database(e.to_string()),
        }
    }
}

/// The message of a write whose connection was lost, saying what became of the write:
/// before COMMIT was sent the server rolled it back; during COMMIT nobody can know.
fn lost_write(m: String, committing: bool) -> String {
    if committing {
        format!(
            "{m} (while the server committed: whether the write took effect is unknown; \
             committing the same entries again is safe, they dedup by CID)"
        )
    } else {
        format!("{m} (before the commit: nothing was written)")
    }
}

/// Adds the database's name to an error that lacks it.
fn name_db(shown: &str, e: Error) -> Error {
    e.with_index(shown)
}

/// `prefix` as a `LIKE` pattern matching the names that start with it (`\`, `%` and `_`
/// escaped, `\` being `LIKE`'s default escape character).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One row of a `select_entry!` query: its order, our version (`None` on rows 0.7 wrote) and
/// its entry, or why it cannot be read.
struct Read {
    seq: i64,
    version: Option<i64>,
    entry: Result<Entry>,
}

/// Reads one row into an entry through the decoding SQLite shares (index/columns/).
fn read_one(row: &Row) -> Result<Read> {
    let seq: i64 = row.try_get(0)?;
    let version: Option<i64> = row.try_get(1)?;
    let entry = decode(row, seq, version);
    Ok(Read {
        seq,
        version,
        entry,
    })
}

fn decode(row: &Row, seq: i64, version: Option<i64>) -> Result<Entry> {
    let info_blob: Option<&[u8]> = row.try_get(2)?;
    let cid: &str = row.try_get(3)?;
    let mut out = RawRows::with_capacity(1);
    let corrupt = |what: &str, e: Error| crate::index::columns::raw::corrupt_in(cid, what, e);
    let (origin, copy) = match info_blob {
        Some(blob) => {
            let (facts, copy) =
                info::read(blob, &mut out).map_err(|e| corrupt("atdata_info", e))?;
            (Origin::Ours(facts), Some(copy))
        }
        None => {
            let metadata: Option<&[u8]> = row.try_get(7)?;
            let created_at: Option<&str> = row.try_get(8)?;
            let origin = Origin::Py07 {
                metadata: metadata.map(|b| out.push_bytes(b)),
                created_at: created_at.map(|t| out.push_text(t.as_bytes())),
            };
            (origin, None)
        }
    };
    let columns_in_info = copy.is_some();
    let (cid, name, schema_ref, urls) = match copy {
        Some(c) => (c.cid, c.name, c.schema_ref, c.urls),
        None => {
            let cid_span = out.push_text(cid.as_bytes());
            let name: &str = row.try_get(4)?;
            let name = out.push_text(name.as_bytes());
            let schema_ref: &str = row.try_get(5)?;
            let schema_ref = out.push_text(schema_ref.as_bytes());
            let data_urls: &[u8] = row.try_get(6)?;
            let urls =
                info::read_texts(&mut MsgReader::new(data_urls), &mut out, "data_urls", |o| {
                    &mut o.urls
                })
                .map_err(|e| corrupt("data_urls", e))?;
            (cid_span, name, schema_ref, urls)
        }
    };
    out.rows.push(RawRow {
        rowid: seq,
        version,
        cid,
        name,
        schema_ref,
        urls,
        columns_in_info,
        origin,
    });
    let checked = out.checked()?;
    let mut entry = read_row(&checked, &checked.rows()[0])?;
    if let Some(v) = version {
        entry.version = v.to_string();
    }
    Ok(entry)
}

/// The versions of `name`'s rows, oldest first, as `(seq, version)`; rows after `upto` are
/// not read.
fn versions_of(
    c: &mut Db<'_, impl GenericClient>,
    name: &str,
    upto: i64,
) -> Result<Vec<(i64, i64)>> {
    let rows = c.query(
        "SELECT atdata_seq, atdata_version FROM dataset_entries \
         WHERE name = $1 AND atdata_seq <= $2 ORDER BY atdata_seq",
        &[&name, &upto],
    )?;
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(rows.len());
    for row in rows {
        let previous = out.last().map_or(0, |(_, v)| *v);
        out.push((row.try_get(0)?, next_version(row.try_get(1)?, previous)));
    }
    Ok(out)
}

/// The entries of `rows` with their versions, and an error per row that cannot be read.
/// `all_rows` says the rows are the whole table in order, so the versions of 0.7's rows
/// follow from the list itself; otherwise each such name's rows are read.
fn complete(c: &mut Db<'_, impl GenericClient>, rows: Vec<Row>, all_rows: bool) -> Result<Listing> {
    let mut out = Listing::default();
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut of_name: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for row in &rows {
        let Read {
            seq,
            version,
            entry,
        } = read_one(row)?;
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let name: Option<&str> = row.try_get(4).ok();
                let cid: Option<&str> = row.try_get(3).ok();
                out.skipped.push(unreadable(name, cid, seq, e));
                continue;
            }
        };
        if all_rows {
            // One allocation per name, not per row.
            let previous = last.get(entry.name.as_str()).copied().unwrap_or(0);
            let v = next_version(version, previous);
            match last.get_mut(entry.name.as_str()) {
                Some(slot) => *slot = v,
                None => {
                    last.insert(entry.name.clone(), v);
                }
            }
            if version.is_none() {
                entry.version = v.to_string();
            }
        } else if version.is_none() {
            if !of_name.contains_key(&entry.name) {
                let versions = versions_of(c, &entry.name, i64::MAX)?;
                of_name.insert(entry.name.clone(), versions);
            }
            let v = of_name[&entry.name]
                .iter()
                .find(|(s, _)| *s == seq)
                .map_or(1, |(_, v)| *v);
            entry.version = v.to_string();
        }
        out.entries.push(entry);
    }
    Ok(out)
}

/// The error of a row that cannot be read, naming its dataset and CID.
#[cold]
fn unreadable(name: Option<&str>, cid: Option<&str>, seq: i64, e: Error) -> Error {
    let cid = cid.unwrap_or("(unreadable cid)");
    let reason = match e {
        Error::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    };
    let reason = if reason.contains(&format!("'{cid}'")) {
        reason
    } else {
        format!("index entry '{cid}' (row {seq}): {reason}")
    };
    Error::corrupt(reason).with_dataset(name.unwrap_or("(unreadable name)"))
}

/// The one entry a `select_entry!` query finds, with its version; a row that cannot be read
/// is its error.
fn query_one(
    c: &mut Db<'_, impl GenericClient>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Entry>> {
    let rows = c.query(sql, params)?;
    let Listing {
        mut entries,
        skipped,
    } = complete(c, rows, false)?;
    if let Some(e) = skipped.into_iter().next() {
        return Err(e);
    }
    Ok(entries.pop())
}

/// Every entry, in order.
fn listing(c: &mut Db<'_, impl GenericClient>) -> Result<Listing> {
    let rows = c.query(select_entry!("ORDER BY atdata_seq"), &[])?;
    complete(c, rows, true)
}

fn entry_by_cid(c: &mut Db<'_, impl GenericClient>, cid: &str) -> Result<Option<Entry>> {
    query_one(c, select_entry!("WHERE cid = $1"), &[&cid])
}

fn parse_schema(name: &str, version: String, json: &str) -> Result<Schema> {
    stored_schema(name, &version, json)
}

/// Rows a write transaction queues before sending them in one statement.
const FLUSH_ROWS: usize = 2000;

/// What [`WriteTx::prefetch`] asks in one round trip: which CIDs exist (kind 0), and the
/// version of each name's last row (kind 1; no row for a name without rows).
const PREFETCH: &str = "SELECT 0, cid, NULL::bigint FROM dataset_entries WHERE cid = ANY($1) \
     UNION ALL \
     SELECT 1, n.name, l.atdata_version FROM unnest($2::text[]) AS n(name) \
     JOIN LATERAL (SELECT atdata_version FROM dataset_entries d WHERE d.name = n.name \
     ORDER BY atdata_seq DESC LIMIT 1) l ON true";

/// The queued entries in one statement, in order (their `atdata_seq` follows it).
const INSERT_ENTRIES: &str = "INSERT INTO dataset_entries \
     (cid, name, schema_ref, data_urls, metadata, atdata_version, atdata_info) \
     SELECT cid, name, schema_ref, data_urls, metadata, atdata_version, atdata_info \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::int8[], \
     $7::bytea[]) WITH ORDINALITY \
     AS u(cid, name, schema_ref, data_urls, metadata, atdata_version, atdata_info, ord) \
     ORDER BY ord ON CONFLICT (cid) DO NOTHING";

/// The queued labels in one statement (at most one per name and version).
const UPSERT_LABELS: &str = "INSERT INTO labels (name, cid, version, description) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
     ON CONFLICT (name, version) DO UPDATE SET cid = EXCLUDED.cid, \
     description = EXCLUDED.description, created_at = now()";

/// Entry rows waiting to be sent, column by column.
#[derive(Default)]
struct QueuedRows {
    cid: Vec<String>,
    name: Vec<String>,
    schema_ref: Vec<String>,
    data_urls: Vec<Vec<u8>>,
    metadata: Vec<Vec<u8>>,
    version: Vec<i64>,
    info: Vec<Vec<u8>>,
}

/// Labels waiting to be sent, and where each `(name, version)` is among them.
#[derive(Default)]
struct QueuedLabels {
    name: Vec<String>,
    cid: Vec<String>,
    version: Vec<String>,
    description: Vec<Option<String>>,
    at: HashMap<(String, String), usize>,
}

/// One open write transaction holding the write lock; rolls back when dropped uncommitted.
///
/// Entries and labels are queued and sent in statements of up to [`FLUSH_ROWS`] rows (one
/// round trip each, not one per row); [`prefetch`](WriteTx::prefetch) learns beforehand which
/// CIDs exist and each name's highest version. Every read of the tables these rows go to
/// sends the queue first, so the transaction always reads its own writes.
struct PgTx<'c> {
    tx: postgres::Transaction<'c>,
    statements: &'c mut Statements,
    /// CIDs `prefetch` found absent, not inserted yet.
    absent: HashSet<String>,
    /// Each name's highest version as this transaction leaves it, where known without a
    /// query (prefetched, or written by this transaction).
    highest: HashMap<String, i64>,
    /// The entries queued in `rows`, by CID.
    queued: HashMap<String, Entry>,
    rows: QueuedRows,
    labels: QueuedLabels,
}

impl<'c> PgTx<'c> {
    fn new(tx: postgres::Transaction<'c>, statements: &'c mut Statements) -> Self {
        PgTx {
            tx,
            statements,
            absent: HashSet::new(),
            highest: HashMap::new(),
            queued: HashMap::new(),
            rows: QueuedRows::default(),
            labels: QueuedLabels::default(),
        }
    }

    fn db(&mut self) -> Db<'_, postgres::Transaction<'c>> {
        Db {
            c: &mut self.tx,
            statements: self.statements,
        }
    }

    /// Sends the queued entries, then the queued labels.
    fn flush(&mut self) -> Result<()> {
        if !self.rows.cid.is_empty() {
            let r = std::mem::take(&mut self.rows);
            self.db().execute(
                INSERT_ENTRIES,
                &[
                    &r.cid,
                    &r.name,
                    &r.schema_ref,
                    &r.data_urls,
                    &r.metadata,
                    &r.version,
                    &r.info,
                ],
            )?;
            self.queued.clear();
        }
        if !self.labels.name.is_empty() {
            let l = std::mem::take(&mut self.labels);
            self.db().execute(
                UPSERT_LABELS,
                &[&l.name, &l.cid, &l.version, &l.description],
            )?;
        }
        Ok(())
    }
}

impl WriteTx for PgTx<'_> {
    fn schemas_of(&mut self, name: &str) -> Result<Vec<Schema>> {
        let rows = self.db().query(
            "SELECT version, schema_json FROM schemas WHERE name = $1",
            &[&name],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let version: String = row.try_get(0)?;
            let json: &str = row.try_get(1)?;
            out.push(stored_schema_or_placeholder(name, &version, json));
        }
        Ok(out)
    }

    fn insert_schema(&mut self, schema: &Schema) -> Result<()> {
        self.db().execute(
            "INSERT INTO schemas (name, version, schema_json) VALUES ($1, $2, $3)",
            &[&schema.name, &schema.version, &schema.to_json()],
        )?;
        Ok(())
    }

    /// Versions grow with the row order, so it is the version of the name's last row
    /// (counted through the rows before it if 0.7 wrote that one).
    fn highest_version(&mut self, name: &str) -> Result<u64> {
        if let Some(v) = self.highest.get(name) {
            return Ok(u64::try_from(*v).unwrap_or(0));
        }
        // No entry of `name` is queued (those are in `highest`): the table alone answers.
        let last = self.db().query_opt(
            "SELECT atdata_seq, atdata_version FROM dataset_entries \
             WHERE name = $1 ORDER BY atdata_seq DESC LIMIT 1",
            &[&name],
        )?;
        let v = match last {
            None => 0,
            Some(row) => match row.try_get::<_, Option<i64>>(1)? {
                Some(v) => v,
                None => versions_of(&mut self.db(), name, row.try_get(0)?)?
                    .last()
                    .map_or(0, |(_, v)| *v),
            },
        };
        // Under the write lock only this transaction changes it, and it keeps `highest` up
        // to date.
        self.highest.insert(name.to_string(), v);
        Ok(u64::try_from(v).unwrap_or(0))
    }

    fn insert_entry(&mut self, entry: &Entry) -> Result<Option<Entry>> {
        if let Some(e) = self.queued.get(&entry.cid) {
            return Ok(Some(e.clone()));
        }
        if !self.absent.remove(&entry.cid) {
            if let Some(e) = entry_by_cid(&mut self.db(), &entry.cid)? {
                return Ok(Some(e));
            }
        }
        let NewRow {
            version,
            data_urls,
            metadata,
            facts,
        } = NewRow::of(entry)?;
        let r = &mut self.rows;
        r.cid.push(entry.cid.clone());
        r.name.push(entry.name.clone());
        r.schema_ref.push(entry.schema_ref.clone());
        r.data_urls.push(data_urls);
        r.metadata.push(metadata);
        r.version.push(version);
        r.info.push(facts);
        match self.highest.get_mut(entry.name.as_str()) {
            Some(h) => *h = (*h).max(version),
            None => {
                // What the table holds for the name (0.7's rows too) comes first.
                let before = i64::try_from(self.highest_version(&entry.name)?).unwrap_or(0);
                self.highest.insert(entry.name.clone(), before.max(version));
            }
        }
        self.queued.insert(entry.cid.clone(), entry.clone());
        if self.rows.cid.len() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(None)
    }

    fn set_label(&mut self, name: &str, version: Option<&str>, entry: &Entry) -> Result<()> {
        let l = &mut self.labels;
        let key = (name.to_string(), version.unwrap_or("").to_string());
        match l.at.get(&key) {
            // Replaces what this transaction queued for that label.
            Some(&i) => {
                l.cid[i].clone_from(&entry.cid);
                l.description[i].clone_from(&entry.description);
            }
            None => {
                l.at.insert(key.clone(), l.name.len());
                l.name.push(key.0);
                l.version.push(key.1);
                l.cid.push(entry.cid.clone());
                l.description.push(entry.description.clone());
            }
        }
        Ok(())
    }

    fn entry_by_cid(&mut self, cid: &str) -> Result<Option<Entry>> {
        if let Some(e) = self.queued.get(cid) {
            return Ok(Some(e.clone()));
        }
        entry_by_cid(&mut self.db(), cid)
    }

    fn prefetch(&mut self, entries: &[Entry]) -> Result<()> {
        let (cids, names) = super::provider::unknown_keys(
            entries,
            |c| self.queued.contains_key(c),
            |n| self.highest.contains_key(n),
        );
        if cids.is_empty() && names.is_empty() {
            return Ok(());
        }
        let rows = self.db().query(PREFETCH, &[&cids, &names])?;
        let mut found: HashSet<&str> = HashSet::new();
        let mut named: HashSet<String> = HashSet::new();
        let mut highest = Vec::new();
        for row in &rows {
            let kind: i32 = row.try_get(0)?;
            let key: &str = row.try_get(1)?;
            if kind == 0 {
                found.insert(key);
            } else {
                named.insert(key.to_string());
                // A last row 0.7 wrote has no version: `highest_version` counts the rows.
                if let Some(v) = row.try_get::<_, Option<i64>>(2)? {
                    highest.push((key.to_string(), v));
                }
            }
        }
        for c in cids {
            if !found.contains(c) {
                self.absent.insert(c.to_string());
            }
        }
        for n in names {
            if !named.contains(n) {
                self.highest.insert(n.to_string(), 0);
            }
        }
        self.highest.extend(highest);
        Ok(())
    }

    fn update_shards(&mut self, entry: &Entry) -> Result<()> {
        self.flush()?;
        // It may set the version of an entry 0.7 wrote: the name's highest is read again.
        self.highest.remove(&entry.name);
        let cid = &entry.cid;
        let version: i64 = entry.version.parse().map_err(|_| {
            Error::Database(format!("entry '{cid}' has version '{}'", entry.version))
        })?;
        let facts = info::encode(&Info::of(entry));
        let data_urls = strings_to_msgpack(entry.data_urls());
        let stored = self.db().query_opt(
            "SELECT data_urls FROM dataset_entries WHERE cid = $1",
            &[cid],
        )?;
        let Some(stored) = stored else {
            return Err(Error::not_found(format!("index entry '{cid}'")));
        };
        let stored: &[u8] = stored.try_get(0)?;
        if stored == data_urls.as_slice() {
            // Same places: 0.7's columns stay byte for byte as they are.
            self.db().execute(
                "UPDATE dataset_entries SET atdata_version = $2, atdata_info = $3 \
                 WHERE cid = $1",
                &[cid, &version, &facts],
            )?;
        } else {
            // 0.7's `data_urls` and its `checksums` keys follow the new URLs.
            let metadata = compat_metadata_msgpack(entry.metadata.as_ref(), &entry.shards)?;
            self.db().execute(
                "UPDATE dataset_entries SET data_urls = $2, metadata = $3, \
                 atdata_version = $4, atdata_info = $5 WHERE cid = $1",
                &[cid, &data_urls, &metadata, &version, &facts],
            )?;
        }
        Ok(())
    }

    fn listing(&mut self) -> Result<Listing> {
        self.flush()?;
        listing(&mut self.db())
    }
}

impl Provider for PostgresProvider {
    fn kind(&self) -> &'static str {
        "PostgresProvider"
    }

    fn location(&self) -> Option<String> {
        Some(self.shown.clone())
    }

    fn index_id(&self) -> Result<Option<String>> {
        self.read(|c| {
            let row = c.query_opt("SELECT value FROM atdata_index WHERE key = 'id'", &[])?;
            Ok(match row {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            })
        })
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        retry(|| {
            let mut guard = self.lock()?;
            // Whether COMMIT was sent: a connection lost before it rolled everything back.
            let mut committing = false;
            let done = {
                let Conn { client, statements } = &mut *guard;
                client.transaction().map_err(Error::from).and_then(|tx| {
                    let mut w = PgTx::new(tx, statements);
                    w.db()
                        .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
                    f(&mut w)?;
                    w.flush()?;
                    committing = true;
                    Ok(w.tx.commit()?)
                })
            };
            match done {
                // Not run again here (whether a lost commit took effect is unknown), but the
                // next call gets a working connection.
                Err(Error::Database(m)) if self.heal(&mut guard) => {
                    Err(Error::Database(lost_write(m, committing)))
                }
                Err(e) => {
                    self.heal(&mut guard);
                    Err(e)
                }
                ok => ok,
            }
        })
        .map_err(|e| name_db(&self.shown, e))
    }

    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>> {
        self.read(|c| entry_by_cid(c, cid))
    }

    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>> {
        self.read(|c| {
            // Our versions and 0.7's free-form ones both have a label row.
            let number = version_number(version);
            let found = query_one(
                c,
                select_entry!(
                    "WHERE cid = (SELECT cid FROM labels WHERE name = $1 AND version = $2) \
                     AND name = $1"
                ),
                &[&name, &version],
            )?
            .filter(|e| number.is_none() || e.version == version);
            if found.is_some() {
                return Ok(found);
            }
            // A number without a fitting label (0.7's entries have none; 0.7 may relabel).
            let Some(n) = number else {
                return Ok(None);
            };
            let seq = versions_of(c, name, i64::MAX)?
                .into_iter()
                .find(|(_, v)| u64::try_from(*v) == Ok(n))
                .map(|(seq, _)| seq);
            match seq {
                Some(seq) => query_one(c, select_entry!("WHERE atdata_seq = $1"), &[&seq]),
                None => Ok(None),
            }
        })
    }

    fn latest_entry(&self, name: &str) -> Result<Option<Entry>> {
        // Versions grow with the row order, so the newest is the name's last row.
        self.read(|c| {
            query_one(
                c,
                select_entry!("WHERE name = $1 ORDER BY atdata_seq DESC LIMIT 1"),
                &[&name],
            )
        })
    }

    fn versions(&self, name: &str) -> Result<Vec<String>> {
        let mut versions: Vec<i64> = self
            .read(|c| versions_of(c, name, i64::MAX))?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        versions.sort_unstable();
        Ok(versions.into_iter().map(|v| v.to_string()).collect())
    }

    fn names(&self) -> Result<Vec<String>> {
        self.read(|c| {
            // Byte order, as every other backend sorts, whatever the database's collation.
            let rows = c.query(
                "SELECT DISTINCT name COLLATE \"C\" AS n FROM dataset_entries ORDER BY n",
                &[],
            )?;
            rows.iter()
                .map(|r| r.try_get(0).map_err(Error::from))
                .collect()
        })
    }

    /// Name prefix, schema reference, cursor (a row's `atdata_seq`) and limit go into the
    /// query; tags are applied to its rows (they live in `atdata_info`).
    fn list(&self, q: &ListQuery) -> Result<Page> {
        let pushed = q.name_prefix.is_some()
            || q.schema_ref.is_some()
            || q.cursor.is_some()
            || q.limit.is_some();
        let after: i64 = match q.cursor.as_deref() {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                Error::invalid(format!("listing cursor '{c}' is not one this index gave"))
            })?,
        };
        let limit: Option<i64> = q.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let pattern = q.name_prefix.as_deref().map(like_prefix);
        let (rows_read, listing) = self.read(|c| {
            if !pushed {
                let l = listing(c)?;
                return Ok((None, l));
            }
            let rows = c.query(
                select_entry!(
                    "WHERE atdata_seq > $1 AND ($2::text IS NULL OR name LIKE $2) \
                     AND ($3::text IS NULL OR schema_ref = $3) ORDER BY atdata_seq LIMIT $4"
                ),
                &[&after, &pattern, &q.schema_ref, &limit],
            )?;
            let last = rows.last().map(|r| r.try_get::<_, i64>(0)).transpose()?;
            let n = rows.len();
            let l = complete(c, rows, false)?;
            Ok((Some((n, last)), l))
        })?;
        let Listing {
            mut entries,
            skipped,
        } = listing;
        if !q.tags.is_empty() {
            entries.retain(|e| q.matches(e));
        }
        let next = match (rows_read, limit) {
            (Some((n, Some(last))), Some(l)) if n as i64 == l => Some(last.to_string()),
            _ => None,
        };
        Ok(Page {
            entries,
            skipped,
            next,
        })
    }

    fn schemas(&self) -> Result<Vec<Schema>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT name, version, schema_json FROM schemas \
                 ORDER BY created_at, name, version",
                &[],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let (name, version, json): (&str, String, &str) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                // Listing skips records no reader could use; `schema()` reports them.
                if let Ok(s) = parse_schema(name, version, json) {
                    out.push(s);
                }
            }
            Ok(out)
        })
    }

    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT schema_json FROM schemas WHERE name = $1 AND version = $2",
                &[&name, &version],
            )?;
            match row {
                None => Ok(None),
                Some(r) => parse_schema(name, version.to_string(), r.try_get(0)?).map(Some),
            }
        })
    }

    fn newest_schema(&self, name: &str) -> Result<Option<Schema>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT version, schema_json FROM schemas WHERE name = $1",
                &[&name],
            )?;
            let mut newest: Option<Schema> = None;
            for row in rows {
                let (version, json): (String, &str) = (row.try_get(0)?, row.try_get(1)?);
                if newest
                    .as_ref()
                    .is_some_and(|n| semver_key(&n.version) >= semver_key(&version))
                {
                    continue;
                }
                // As in `schemas()`: records no reader could use are not candidates.
                if let Ok(s) = parse_schema(name, version, json) {
                    newest = Some(s);
                }
            }
            Ok(newest)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::index::conformance;
    use std::sync::Arc;

    /// The test server (trust auth for `postgres` on loopback); `ATDATA_TEST_PG` overrides.
    pub(crate) fn server() -> String {
        std::env::var("ATDATA_TEST_PG")
            .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432".to_string())
    }

    /// A database of its own for one test, dropped (with any connections left) on drop,
    /// also when the test fails.
    pub(crate) struct TestDb {
        pub dsn: String,
        name: String,
    }

    impl TestDb {
        pub(crate) fn new() -> TestDb {
            let name = format!("atdata_test_{:016x}", rand::random::<u64>());
            let mut admin = Client::connect(&format!("{}/postgres", server()), NoTls)
                .expect("the test PostgreSQL server answers (scripts/services.sh)");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            TestDb {
                dsn: format!("{}/{name}", server()),
                name,
            }
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Ok(mut admin) = Client::connect(&format!("{}/postgres", server()), NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }

    #[test]
    fn postgres_databases_pass_the_conformance_suite() {
        let dbs = Mutex::new(Vec::new());
        conformance::run_all(&|| {
            let db = TestDb::new();
            let p = PostgresProvider::connect(&db.dsn).unwrap();
            dbs.lock().unwrap().push(db);
            Arc::new(p) as Arc<dyn Provider>
        });
    }

    #[test]
    fn many_connections_writing_at_once_lose_nothing() {
        let db = TestDb::new();
        let handles: Vec<PostgresProvider> = (0..4)
            .map(|_| PostgresProvider::connect(&db.dsn).unwrap())
            .collect();
        let refs: Vec<&dyn Provider> = handles.iter().map(|h| h as &dyn Provider).collect();
        conformance::many_writers(&refs, 10);
    }

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }

    #[test]
    fn name_prefix_with_wildcards_matches_only_itself() {
        use crate::index::provider::ProviderExt;
        let db = TestDb::new();
        let p = PostgresProvider::connect(&db.dsn).unwrap();
        for name in ["a_b", "axb", "a%c", "azc"] {
            p.commit(&conformance::sample_entry(name, 1, name)).unwrap();
        }
        for (prefix, want) in [("a_", vec!["a_b"]), ("a%", vec!["a%c"])] {
            let page = p
                .list(&ListQuery {
                    name_prefix: Some(prefix.into()),
                    ..ListQuery::default()
                })
                .unwrap();
            let names: Vec<&str> = page.entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, want, "prefix {prefix}");
        }
    }

    #[test]
    fn unreachable_server_names_host_and_database_not_the_password() {
        // Port 1 on loopback: nothing listens there.
        let e =
            PostgresProvider::connect("postgresql://alice:s3cret@127.0.0.1:1/labdb").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Database(_)), "{e:?}");
        assert!(text.contains("127.0.0.1:1/labdb"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        let e = PostgresProvider::connect("postgresql://alice:s3cret@[bad").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn a_lost_connection_is_opened_again_and_the_password_never_shown() {
        let db = TestDb::new();
        // Trust authentication ignores the password; it must still appear nowhere.
        let dsn = db.dsn.replace("postgres@", "postgres:s3cret@");
        let p = PostgresProvider::connect(&dsn).unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(!p.location().unwrap().contains("s3cret"));
        use crate::index::provider::ProviderExt;
        let c = p
            .commit(&conformance::sample_entry("docs", 1, "a"))
            .unwrap();
        // The server ends every connection to the database (as a restart would).
        let mut admin = Client::connect(&format!("{}/postgres", server()), NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name],
            )
            .unwrap();
        let e = p.latest_entry("docs").unwrap().unwrap();
        assert_eq!(e.cid, c.entry.cid, "a read reconnects by itself");
        // A write after a lost connection reconnects too.
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name],
            )
            .unwrap();
        let first = p.commit(&conformance::sample_entry("docs", 1, "b"));
        let second = match first {
            Ok(c) => c,
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains(&db.name) && !text.contains("s3cret"),
                    "{text}"
                );
                p.commit(&conformance::sample_entry("docs", 1, "b"))
                    .unwrap()
            }
        };
        assert_eq!(second.entry.version, "2");
    }

    #[test]
    fn connecting_twice_keeps_the_identity() {
        let db = TestDb::new();
        let a = PostgresProvider::connect(&db.dsn).unwrap();
        let id = a.index_id().unwrap().unwrap();
        assert_eq!(id.len(), 32);
        let b = PostgresProvider::connect(&db.dsn).unwrap();
        assert_eq!(b.index_id().unwrap(), Some(id));
    }
}
