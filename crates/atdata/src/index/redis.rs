//! [`RedisProvider`]: the index in a Redis server, in the keys of Python atdata 0.7's
//! `RedisProvider`, so each side reads and writes what the other wrote.
//!
//! # Keys
//!
//! 0.7's keys, with 0.7's fields (docs/FORMAT.md section 6):
//! - `LocalDatasetEntry:<cid>`: a hash of `name`, `schema_ref`, `cid`, `data_urls` (msgpack
//!   array of str) and `metadata` (msgpack map, the checksums in it). We add two fields 0.7's
//!   reader ignores (it reads fields by name): `atdata_version` (our version number, decimal)
//!   and `atdata_info` (our facts, the same bytes as SQLite's `atdata_info` column, written by
//!   the same encoder), plus `atdata_tags` (the tags as `\n`-separated text, so listings filter
//!   by tag on the server).
//! - `LocalSchema:<name>@<version>`: the schema JSON; `Label:<name>@<version>`: a hash of
//!   `cid`, `name`, `version` (empty for the unversioned label), `description`.
//!
//! Ours, so that no lookup or listing SCANs the keyspace (0.7's lookup by name does, about
//! 60 ms at 10k entries):
//! - `atdata:entries`: sorted set of every CID, scored by insertion sequence (listing order
//!   and its cursor); `atdata:seq`: the last sequence number handed out;
//! - `atdata:name:<name>`: sorted set of the name's CIDs scored by version;
//! - `atdata:names`: sorted set of names (all score 0, so in byte order: name prefixes are a
//!   lexicographic range);
//! - `atdata:schemas`: sorted set of `name@version` scored by sequence (storage order);
//!   `atdata:schema:<name>`: set of the name's schema versions;
//! - `atdata:index_id`: the index identity; `atdata:lock`: the write lease.
//!
//! Every key is preceded by the handle's prefix ([`RedisProvider::with_prefix`], none by
//! default, as 0.7 has none).
//!
//! # Writes
//!
//! A write needs a lock over several reads and writes (the version a commit hands out must not
//! be taken meanwhile), so [`Provider::write`] takes a lease: `SET atdata:lock <token> NX PX`,
//! retried with backoff for up to a minute (then [`Error::Conflict`]). The transaction's reads
//! go to the server (and to what it wrote so far, kept beside it); its writes are queued and
//! sent at the end as one `MULTI`/`EXEC` under `WATCH atdata:lock`, after checking the lease
//! still holds our token: if the lease expired and another writer took it, `EXEC` aborts and
//! the write is a retryable conflict, so two writers never both commit under one lease. The
//! lease is released by a Lua compare-and-delete (only our token). A lease rather than
//! optimistic `WATCH` on every key read: many writers of one name would all read the same
//! highest version and all but one retry, again and again; a lease queues them.
//!
//! # Entries 0.7 wrote
//!
//! 0.7 writes entries without our keys and versions. The first operation of a handle adopts
//! them, under the write lease: ONE `SCAN` of `LocalDatasetEntry:*` and `LocalSchema:*` (the
//! only scans there are), then each entry not in `atdata:entries` is numbered one above its
//! name's highest version, in CID order (0.7 stores no creation time in Redis, so there is no
//! other order to follow), and added to our keys with `atdata_version` set. Entries 0.7 writes
//! after that are adopted by the next handle opened; until then they are found by CID only.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::{Commands, Connection};

use crate::codec::MsgReader;
use crate::error::{Error, Result};
use crate::index::columns::info::{self, Info};
use crate::index::columns::raw::{corrupt_in, Origin, RawRow, RawRows};
use crate::index::columns::read_row;
use crate::index::entry::{
    compat_metadata_msgpack, semver_key, stored_schema, strings_to_msgpack, version_number, Entry,
};
use crate::index::provider::{ListQuery, Listing, Page, Provider, WriteTx};
use crate::schema::Schema;

/// 0.7's key prefixes (its `providers/_redis.py`).
const ENTRY: &str = "LocalDatasetEntry:";
const SCHEMA: &str = "LocalSchema:";
const LABEL: &str = "Label:";

/// How long a write lease lasts: longer than any one transaction should take.
const LEASE: Duration = Duration::from_secs(30);
/// How long a writer waits for another's lease before a retryable conflict.
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Attempts of a write whose lease was lost before it committed.
const ATTEMPTS: u32 = 5;
/// Rows a listing script examines per call, so one call never blocks the server long.
const LIST_BUDGET: usize = 2000;

/// The newest entry of a name: its highest-scored CID and that entry's hash, in one call.
const LATEST: &str = r"
local c = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if #c == 0 then return {} end
return redis.call('HGETALL', ARGV[1] .. c[1])";

/// The entry of a name at a version number, or (text versions) through 0.7's label.
const AT_VERSION: &str = r"
local c
if ARGV[3] == '1' then
  c = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[2], 'LIMIT', 0, 1)[1]
else
  c = redis.call('HGET', KEYS[2], 'cid')
end
if not c then return {} end
return redis.call('HGETALL', ARGV[1] .. c)";

/// One page of the listing: CIDs after the cursor in insertion order, filtered by name prefix,
/// schema reference and tags (a pre-filter: the client checks again), with their hashes.
/// Returns `{last score examined, whether more may follow, cid, hash, cid, hash, ...}`.
const LIST: &str = r"
local after, limit, budget = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local np, sr = ARGV[5], ARGV[6]
local min = '(' .. after
if after == '-inf' then min = after end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], min, '+inf', 'WITHSCORES', 'LIMIT', 0, budget)
local out = {after, '0'}
local n = 0
for i = 1, #ids, 2 do
  out[1] = ids[i + 1]
  local h = redis.call('HGETALL', ARGV[1] .. ids[i])
  if #h > 0 then
    local name, ref, tags = '', '', ''
    for j = 1, #h, 2 do
      local k = h[j]
      if k == 'name' then name = h[j + 1]
      elseif k == 'schema_ref' then ref = h[j + 1]
      elseif k == 'atdata_tags' then tags = h[j + 1] end
    end
    local ok = (np == '' or string.sub(name, 1, #np) == np) and (sr == '' or ref == sr)
    for t = 7, #ARGV do
      if ok and not string.find(tags, '\n' .. ARGV[t] .. '\n', 1, true) then ok = false end
    end
    if ok then
      out[#out + 1] = ids[i]
      out[#out + 1] = h
      n = n + 1
    end
  end
  if limit > 0 and n >= limit then
    if i + 1 < #ids or #ids == budget * 2 then out[2] = '1' end
    return out
  end
end
if #ids == budget * 2 then out[2] = '1' end
return out";

/// Releases the lease only if it still holds our token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// The index in a Redis server (Python atdata 0.7's keys plus secondary keys of ours).
pub struct RedisProvider {
    client: redis::Client,
    /// The server as shown in errors (without a password).
    shown: String,
    prefix: String,
    /// Idle connections: reads from several threads do not queue behind one.
    pool: Mutex<Vec<Connection>>,
    /// Whether this handle adopted the entries 0.7 wrote (see the module docs).
    adopted: AtomicBool,
    /// Tokens of write leases this handle took but could not release (the connection broke
    /// mid-write): released first by its next write, so that write does not wait for its own
    /// lease to expire.
    stale_leases: Mutex<Vec<String>>,
}

impl std::fmt::Debug for RedisProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProvider")
            .field("server", &self.shown)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The URL without its password, for messages.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// `*?[]\` escaped for a SCAN pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisProvider {
    /// Connects to the Redis server at `url` (`redis://host:port/db`), checking that it
    /// answers: an unreachable server is an [`Error::Database`] naming it.
    pub fn connect(url: &str) -> Result<Self> {
        let shown = without_password(url);
        let client = redis::Client::open(url)
            .map_err(|e| Error::invalid(format!("Redis URL '{shown}': {e}")))?;
        let p = RedisProvider {
            client,
            shown,
            prefix: String::new(),
            pool: Mutex::new(Vec::new()),
            adopted: AtomicBool::new(false),
            stale_leases: Mutex::new(Vec::new()),
        };
        let conn = p.conn()?;
        p.give_back(conn);
        Ok(p)
    }

    /// This handle with every key preceded by `prefix` (for several indexes in one database,
    /// or tests; 0.7 reads only unprefixed keys).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.adopted = AtomicBool::new(false);
        self
    }

    /// The key prefix (empty by default).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key of this handle's prefix (tests and tools; one SCAN). Refused
    /// without a prefix, where it would delete 0.7's keys and anything else in the database.
    pub fn delete_all_keys(&self) -> Result<()> {
        if self.prefix.is_empty() {
            return Err(Error::invalid(
                "refusing to delete every key of a Redis database without a key prefix",
            ));
        }
        let mut conn = self.conn()?;
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let keys: Vec<String> = conn
            .scan_match::<_, String>(&pattern)
            .and_then(|it| it.collect())
            .map_err(|e| self.err(e))?;
        for chunk in keys.chunks(500) {
            let _: () = conn.del(chunk).map_err(|e| self.err(e))?;
        }
        self.give_back(conn);
        Ok(())
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    fn name_key(&self, name: &str) -> String {
        format!("{}atdata:name:{name}", self.prefix)
    }

    fn schema_set_key(&self, name: &str) -> String {
        format!("{}atdata:schema:{name}", self.prefix)
    }

    /// Redis errors become ours here: an aborted transaction or a busy server is a retryable
    /// [`Error::Conflict`], anything else (a refused connection) [`Error::Database`] naming
    /// the server.
    fn err(&self, e: redis::RedisError) -> Error {
        if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
            || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ExecAbort)
        {
            return Error::Conflict {
                what: format!("Redis index at '{}': {e}", self.shown),
            };
        }
        Error::Database(format!("Redis index at '{}': {e}", self.shown))
    }

    /// A connection from the pool, or a new one.
    fn conn(&self) -> Result<Connection> {
        if let Some(c) = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        self.new_conn()
    }

    /// A new connection, and no pooled ones: called when a connection was found lost, since
    /// the others to the same server (a restart, a network cut) are most likely lost too.
    fn new_conn(&self) -> Result<Connection> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.client
            .get_connection_with_timeout(Duration::from_secs(10))
            .map_err(|e| {
                Error::Database(format!(
                    "cannot reach the Redis index server at '{}': {e}",
                    self.shown
                ))
            })
    }

    fn give_back(&self, c: Connection) {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }

    /// Runs `f` on a pooled connection (after adopting 0.7's entries once); the connection
    /// goes back only when `f` succeeded (a failed one may be broken). A read that finds its
    /// connection lost (the server restarted or the network broke since it was pooled) runs
    /// once more on a new one: reading twice changes nothing.
    fn with_conn<T>(
        &self,
        mut f: impl FnMut(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.adopt()?;
        let mut c = self.conn()?;
        let out = match f(&mut c) {
            Err(e) if lost(&e) => {
                c = self.new_conn()?;
                f(&mut c)
            }
            other => other,
        }
        .map_err(|e| self.err(e))?;
        self.give_back(c);
        Ok(out)
    }

    /// Releases the leases a broken connection left (see `stale_leases`); those that cannot
    /// be released now stay for the next write (or expire).
    fn release_stale(&self, conn: &mut Connection) {
        let mut stale = self.stale_leases.lock().unwrap_or_else(|p| p.into_inner());
        let lock = self.key("atdata:lock");
        stale.retain(|token| {
            let released: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                .key(&lock)
                .arg(token)
                .invoke(conn);
            released.is_err()
        });
    }

    /// Adopts the entries and schemas 0.7 wrote, once per handle (see the module docs).
    fn adopt(&self) -> Result<()> {
        if self.adopted.load(Ordering::Acquire) {
            return Ok(());
        }
        self.locked(&mut |tx| tx.adopt_py07())?;
        self.adopted.store(true, Ordering::Release);
        Ok(())
    }

    /// Runs `f` holding the write lease, committing its queued writes atomically.
    fn locked(&self, f: &mut dyn FnMut(&mut RedisTx<'_>) -> Result<()>) -> Result<()> {
        let mut attempt = 0;
        loop {
            let mut conn = self.conn()?;
            self.release_stale(&mut conn);
            let token = format!("{:032x}", rand::random::<u128>());
            let lock = self.key("atdata:lock");
            self.acquire(&mut conn, &lock, &token)?;
            let run = (|| {
                let mut tx = RedisTx::new(self, &mut conn);
                f(&mut tx)?;
                tx.commit(&lock, &token)
            })();
            let released: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                .key(&lock)
                .arg(&token)
                .invoke(&mut conn);
            if released.is_ok() {
                self.give_back(conn);
            } else {
                self.stale_leases
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(token);
            }
            match run {
                Err(e) if e.is_retryable() && attempt + 1 < ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    /// Takes the lease, waiting with backoff for another writer's to go. A pooled connection
    /// found lost is replaced once (nothing was written yet; a `SET` whose reply was lost may
    /// have taken the lease, which then holds our token).
    fn acquire(&self, conn: &mut Connection, lock: &str, token: &str) -> Result<()> {
        let start = Instant::now();
        let mut wait = Duration::from_millis(1);
        let mut reconnected = false;
        loop {
            let got: redis::RedisResult<Option<String>> = redis::cmd("SET")
                .arg(lock)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(LEASE.as_millis() as u64)
                .query(conn);
            let got = match got {
                Err(e) if lost(&e) && !reconnected => {
                    reconnected = true;
                    *conn = self.new_conn()?;
                    self.release_stale(conn);
                    let holder: Option<String> = conn.get(lock).map_err(|e| self.err(e))?;
                    if holder.as_deref() == Some(token) {
                        return Ok(());
                    }
                    continue;
                }
                other => other.map_err(|e| self.err(e))?,
            };
            if got.is_some() {
                return Ok(());
            }
            if start.elapsed() > LOCK_WAIT {
                return Err(Error::Conflict {
                    what: format!(
                        "Redis index at '{}': another writer held the write lock for {}s",
                        self.shown,
                        LOCK_WAIT.as_secs()
                    ),
                });
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(50));
        }
    }

    /// Builds entries from `(cid, hash)` pairs, unreadable ones into `skipped`.
    fn decode_all(
        &self,
        rows: Vec<(String, Hash)>,
        out: &mut Vec<Entry>,
        skipped: &mut Vec<Error>,
    ) {
        for (cid, h) in rows {
            match decode(&cid, &h) {
                Ok(e) => out.push(e),
                Err(e) => skipped.push(e),
            }
        }
    }
}

/// Whether `e` says the connection is gone (closed, reset, broken), not that a command failed.
fn lost(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// One entry's hash, field -> bytes.
type Hash = HashMap<String, Vec<u8>>;

fn field_text(h: &Hash, cid: &str, field: &str) -> Result<String> {
    let b = h
        .get(field)
        .ok_or_else(|| Error::corrupt(format!("index entry '{cid}': field {field} is missing")))?;
    String::from_utf8(b.clone())
        .map_err(|_| Error::corrupt(format!("index entry '{cid}': field {field} is not UTF-8")))
}

/// The entry of one `LocalDatasetEntry` hash: from our facts when we wrote it, from 0.7's
/// fields when 0.7 did (through the decoder the SQLite backend uses).
fn decode(cid: &str, h: &Hash) -> Result<Entry> {
    let version = match h.get("atdata_version") {
        Some(v) => Some(
            std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| {
                    Error::corrupt(format!(
                        "index entry '{cid}': atdata_version is not a number"
                    ))
                })?,
        ),
        None => None,
    };
    let mut out = RawRows::with_capacity(1);
    let row = match h.get("atdata_info").filter(|b| info::has_columns(b)) {
        Some(blob) => {
            let (facts, c) =
                info::read(blob, &mut out).map_err(|e| corrupt_in(cid, "atdata_info", e))?;
            RawRow {
                rowid: 0,
                version,
                cid: c.cid,
                name: c.name,
                schema_ref: c.schema_ref,
                urls: c.urls,
                columns_in_info: true,
                origin: Origin::Ours(facts),
            }
        }
        None => {
            let cid_span = out.push_text(cid.as_bytes());
            let name = out.push_text(field_text(h, cid, "name")?.as_bytes());
            let schema_ref = out.push_text(field_text(h, cid, "schema_ref")?.as_bytes());
            let urls = match h.get("data_urls") {
                Some(b) => info::read_texts(&mut MsgReader::new(b), &mut out, "data_urls", |o| {
                    &mut o.urls
                })
                .map_err(|e| corrupt_in(cid, "data_urls", e))?,
                None => out.urls.len()..out.urls.len(),
            };
            let metadata = h.get("metadata").map(|b| out.push_bytes(b));
            RawRow {
                rowid: 0,
                version,
                cid: cid_span,
                name,
                schema_ref,
                urls,
                columns_in_info: false,
                origin: Origin::Py07 {
                    metadata,
                    created_at: None,
                },
            }
        }
    };
    out.rows.push(row);
    let checked = out.checked()?;
    read_row(&checked, &checked.rows()[0])
}

/// A hash reply as field -> bytes (an empty reply: no such key).
fn hash_of(v: redis::Value) -> redis::RedisResult<Option<Hash>> {
    let h: Hash = redis::from_redis_value(v)?;
    Ok(if h.is_empty() { None } else { Some(h) })
}

/// The tags as the `atdata_tags` field holds them: `\n` around each.
fn tags_field(tags: &[String]) -> String {
    let mut s = String::from("\n");
    for t in tags {
        s.push_str(t);
        s.push('\n');
    }
    s
}

/// One write transaction: reads go to the server (the lease keeps them stable) and to what
/// this transaction wrote so far; writes are queued for one `MULTI`/`EXEC`.
struct RedisTx<'a> {
    p: &'a RedisProvider,
    conn: &'a mut Connection,
    queued: redis::Pipeline,
    /// Entries written by this transaction, by CID.
    entries: HashMap<String, Entry>,
    /// Highest version per name as this transaction leaves it.
    highest: HashMap<String, u64>,
    /// CIDs [`WriteTx::prefetch`] found absent, not inserted yet.
    absent: HashSet<String>,
    schemas: Vec<Schema>,
    /// The next sequence number and the one the server holds (read on first use).
    seq: Option<(u64, u64)>,
    now: String,
}

impl<'a> RedisTx<'a> {
    fn new(p: &'a RedisProvider, conn: &'a mut Connection) -> Self {
        let mut queued = redis::pipe();
        queued.atomic();
        RedisTx {
            p,
            conn,
            queued,
            entries: HashMap::new(),
            highest: HashMap::new(),
            absent: HashSet::new(),
            schemas: Vec::new(),
            seq: None,
            now: chrono::Utc::now().to_rfc3339(),
        }
    }

    fn err(&self, e: redis::RedisError) -> Error {
        self.p.err(e)
    }

    fn next_seq(&mut self) -> Result<u64> {
        if self.seq.is_none() {
            let at: Option<u64> = self
                .conn
                .get(self.p.key("atdata:seq"))
                .map_err(|e| self.p.err(e))?;
            let at = at.unwrap_or(0);
            self.seq = Some((at + 1, at));
        }
        let (next, _) = self.seq.as_mut().expect("set above");
        let n = *next;
        *next += 1;
        Ok(n)
    }

    /// Sends the queued writes under `WATCH` of the lease, if it still holds our token.
    fn commit(mut self, lock: &str, token: &str) -> Result<()> {
        if let Some((next, _)) = self.seq {
            self.queued.set(self.p.key("atdata:seq"), next - 1).ignore();
        }
        if self.queued.is_empty() {
            return Ok(());
        }
        let id_key = self.p.key("atdata:index_id");
        if !self.entries.is_empty() || !self.schemas.is_empty() {
            let id = format!("{:032x}", rand::random::<u128>());
            self.queued.set_nx(&id_key, id).ignore();
        }
        let _: () = redis::cmd("WATCH")
            .arg(lock)
            .query(self.conn)
            .map_err(|e| self.err(e))?;
        let holder: Option<String> = self.conn.get(lock).map_err(|e| self.err(e))?;
        if holder.as_deref() != Some(token) {
            let _: redis::RedisResult<()> = redis::cmd("UNWATCH").query(self.conn);
            return Err(Error::Conflict {
                what: format!(
                    "Redis index at '{}': the write lease expired before the commit",
                    self.p.shown
                ),
            });
        }
        let done: Option<redis::Value> = self.queued.query(self.conn).map_err(|e| self.err(e))?;
        match done {
            Some(_) => Ok(()),
            None => Err(Error::Conflict {
                what: format!(
                    "Redis index at '{}': the write lease changed hands during the commit",
                    self.p.shown
                ),
            }),
        }
    }

    /// Queues `entry` as a new hash with its secondary keys.
    fn queue_entry(&mut self, entry: &Entry, version: u64) -> Result<()> {
        let seq = self.next_seq()?;
        let p = self.p;
        let fields = entry_fields(entry, version)?;
        let key = p.key(&format!("{ENTRY}{}", entry.cid));
        self.queued.del(&key).ignore();
        self.queued.hset_multiple(&key, &fields).ignore();
        self.queued
            .zadd(p.name_key(&entry.name), &entry.cid, version)
            .ignore();
        self.queued
            .zadd(p.key("atdata:names"), &entry.name, 0)
            .ignore();
        self.queued
            .zadd(p.key("atdata:entries"), &entry.cid, seq)
            .ignore();
        Ok(())
    }

    /// The highest version of `name` on the server.
    fn server_highest(&mut self, name: &str) -> Result<u64> {
        let top: Vec<(String, f64)> = self
            .conn
            .zrevrange_withscores(self.p.name_key(name), 0, 0)
            .map_err(|e| self.p.err(e))?;
        Ok(top.first().map_or(0, |(_, v)| *v as u64))
    }

    /// The score of each member in our sorted set `set` (one pipelined round trip).
    fn scores(&mut self, set: &str, members: &[String]) -> Result<Vec<Option<f64>>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.p.key(set);
        let mut pipe = redis::pipe();
        for m in members {
            pipe.zscore(&key, m);
        }
        pipe.query(self.conn).map_err(|e| self.p.err(e))
    }

    /// Adds to our keys every entry and schema 0.7 wrote that they lack (module docs).
    fn adopt_py07(&mut self) -> Result<()> {
        let p = self.p;
        let prefix = glob_escape(&p.prefix);
        let scan = |conn: &mut Connection, what: &str| -> redis::RedisResult<Vec<String>> {
            conn.scan_match::<_, String>(format!("{prefix}{what}*"))?
                .collect()
        };
        let entry_keys = scan(self.conn, ENTRY).map_err(|e| p.err(e))?;
        let schema_keys = scan(self.conn, SCHEMA).map_err(|e| p.err(e))?;
        let strip = |k: &str, what: &str| k[p.prefix.len() + what.len()..].to_string();
        // Entries not in `atdata:entries`.
        let cids: Vec<String> = entry_keys.iter().map(|k| strip(k, ENTRY)).collect();
        let scores = self.scores("atdata:entries", &cids)?;
        let mut missing: Vec<String> = cids
            .into_iter()
            .zip(scores)
            .filter(|(_, s)| s.is_none())
            .map(|(c, _)| c)
            .collect();
        missing.sort_unstable();
        for cid in missing {
            let key = p.key(&format!("{ENTRY}{cid}"));
            let (name, version): (Option<String>, Option<u64>) = self
                .conn
                .hmget(&key, &["name", "atdata_version"])
                .map_err(|e| p.err(e))?;
            let Some(name) = name else { continue };
            let version = match version {
                Some(v) => v,
                None => {
                    let h = match self.highest.get(&name) {
                        Some(h) => *h,
                        None => self.server_highest(&name)?,
                    };
                    self.queued.hset(&key, "atdata_version", h + 1).ignore();
                    h + 1
                }
            };
            let h = self.highest.entry(name.clone()).or_insert(0);
            *h = (*h).max(version);
            let seq = self.next_seq()?;
            self.queued.zadd(p.name_key(&name), &cid, version).ignore();
            self.queued.zadd(p.key("atdata:names"), &name, 0).ignore();
            self.queued
                .zadd(p.key("atdata:entries"), &cid, seq)
                .ignore();
        }
        // Schemas not in `atdata:schemas`.
        let mut ids: Vec<String> = schema_keys.iter().map(|k| strip(k, SCHEMA)).collect();
        ids.sort_unstable();
        let scores = self.scores("atdata:schemas", &ids)?;
        for (id, score) in ids.into_iter().zip(scores) {
            let Some((name, version)) = id.rsplit_once('@').filter(|_| score.is_none()) else {
                continue;
            };
            let seq = self.next_seq()?;
            self.queued.sadd(p.schema_set_key(name), version).ignore();
            self.queued.zadd(p.key("atdata:schemas"), &id, seq).ignore();
        }
        Ok(())
    }
}

/// The hash fields of an entry: 0.7's and ours.
fn entry_fields(entry: &Entry, version: u64) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let metadata = compat_metadata_msgpack(entry.metadata.as_ref(), &entry.shards)?;
    Ok(vec![
        ("name", entry.name.as_bytes().to_vec()),
        ("schema_ref", entry.schema_ref.as_bytes().to_vec()),
        ("data_urls", strings_to_msgpack(entry.data_urls())),
        ("cid", entry.cid.as_bytes().to_vec()),
        ("metadata", metadata),
        ("atdata_version", version.to_string().into_bytes()),
        ("atdata_info", info::encode(&Info::of(entry))),
        ("atdata_tags", tags_field(&entry.tags).into_bytes()),
    ])
}

impl WriteTx for RedisTx<'_> {
    fn schemas_of(&mut self, name: &str) -> Result<Vec<Schema>> {
        let p = self.p;
        let versions: Vec<String> = self
            .conn
            .smembers(p.schema_set_key(name))
            .map_err(|e| p.err(e))?;
        let mut out = Vec::new();
        if !versions.is_empty() {
            let keys: Vec<String> = versions
                .iter()
                .map(|v| p.key(&format!("{SCHEMA}{name}@{v}")))
                .collect();
            let jsons: Vec<Option<String>> = self.conn.mget(&keys).map_err(|e| p.err(e))?;
            for (v, json) in versions.into_iter().zip(jsons) {
                let mut s = json
                    .and_then(|j| Schema::from_json(&j).ok())
                    .unwrap_or_else(|| Schema::new(name, Vec::new()));
                s.name = name.to_string();
                s.version = v;
                out.push(s);
            }
        }
        out.extend(self.schemas.iter().filter(|s| s.name == name).cloned());
        Ok(out)
    }

    fn insert_schema(&mut self, schema: &Schema) -> Result<()> {
        let p = self.p;
        let id = format!("{}@{}", schema.name, schema.version);
        let key = p.key(&format!("{SCHEMA}{id}"));
        let exists: bool = self.conn.exists(&key).map_err(|e| p.err(e))?;
        if exists
            || self
                .schemas
                .iter()
                .any(|s| s.name == schema.name && s.version == schema.version)
        {
            return Err(Error::Database(format!(
                "Redis index at '{}': schema record '{id}' exists already",
                p.shown
            )));
        }
        let seq = self.next_seq()?;
        self.queued.set(&key, schema.to_json()).ignore();
        self.queued
            .sadd(p.schema_set_key(&schema.name), &schema.version)
            .ignore();
        self.queued.zadd(p.key("atdata:schemas"), &id, seq).ignore();
        self.schemas.push(schema.clone());
        Ok(())
    }

    fn highest_version(&mut self, name: &str) -> Result<u64> {
        match self.highest.get(name) {
            Some(h) => Ok(*h),
            None => self.server_highest(name),
        }
    }

    fn insert_entry(&mut self, entry: &Entry) -> Result<Option<Entry>> {
        if let Some(e) = self.entries.get(&entry.cid) {
            return Ok(Some(e.clone()));
        }
        if !self.absent.remove(&entry.cid) {
            if let Some(e) = WriteTx::entry_by_cid(self, &entry.cid)? {
                return Ok(Some(e));
            }
        }
        let version = version_number(&entry.version)
            .ok_or_else(|| Error::invalid(format!("entry version '{}'", entry.version)))?;
        let mut stored = entry.clone();
        if stored.created_at.is_empty() {
            stored.created_at = self.now.clone();
        }
        self.queue_entry(&stored, version)?;
        let h = self.highest.entry(entry.name.clone()).or_insert(0);
        *h = (*h).max(version);
        self.entries.insert(entry.cid.clone(), stored);
        Ok(None)
    }

    fn set_label(&mut self, name: &str, version: Option<&str>, entry: &Entry) -> Result<()> {
        let key = self
            .p
            .key(&format!("{LABEL}{name}@{}", version.unwrap_or("")));
        let mut fields = vec![
            ("cid", entry.cid.clone()),
            ("name", name.to_string()),
            ("version", version.unwrap_or("").to_string()),
        ];
        if let Some(d) = &entry.description {
            fields.push(("description", d.clone()));
        }
        self.queued.del(&key).ignore();
        self.queued.hset_multiple(&key, &fields).ignore();
        Ok(())
    }

    fn entry_by_cid(&mut self, cid: &str) -> Result<Option<Entry>> {
        if let Some(e) = self.entries.get(cid) {
            return Ok(Some(e.clone()));
        }
        let v: redis::Value = self
            .conn
            .hgetall(self.p.key(&format!("{ENTRY}{cid}")))
            .map_err(|e| self.p.err(e))?;
        match hash_of(v).map_err(|e| self.p.err(e))? {
            Some(h) => decode(cid, &h).map(Some),
            None => Ok(None),
        }
    }

    fn update_shards(&mut self, entry: &Entry) -> Result<()> {
        let cid = &entry.cid;
        if WriteTx::entry_by_cid(self, cid)?.is_none() {
            return Err(Error::not_found(format!("index entry '{cid}'")));
        }
        let version = version_number(&entry.version).ok_or_else(|| {
            Error::Database(format!("entry '{cid}' has version '{}'", entry.version))
        })?;
        let key = self.p.key(&format!("{ENTRY}{cid}"));
        let mut fields = entry_fields(entry, version)?;
        // 0.7's name and schema reference stay as they are.
        fields.retain(|(f, _)| !matches!(*f, "name" | "schema_ref" | "cid"));
        self.queued.hset_multiple(&key, &fields).ignore();
        self.queued
            .zadd(self.p.name_key(&entry.name), cid, version)
            .ignore();
        self.entries.insert(cid.clone(), entry.clone());
        Ok(())
    }

    /// One pipelined round trip: `EXISTS` of each CID's hash and the top of each name's
    /// sorted set.
    fn prefetch(&mut self, entries: &[Entry]) -> Result<()> {
        let (cids, names) = super::provider::unknown_keys(
            entries,
            |c| self.entries.contains_key(c),
            |n| self.highest.contains_key(n),
        );
        if cids.is_empty() && names.is_empty() {
            return Ok(());
        }
        let p = self.p;
        let mut pipe = redis::pipe();
        for c in &cids {
            pipe.exists(p.key(&format!("{ENTRY}{c}")));
        }
        for n in &names {
            pipe.zrevrange_withscores(p.name_key(n), 0, 0);
        }
        let replies: Vec<redis::Value> = pipe.query(self.conn).map_err(|e| p.err(e))?;
        let mut replies = replies.into_iter();
        for c in cids {
            let there: bool = redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))
                .map_err(|e| p.err(e.into()))?;
            if !there {
                self.absent.insert(c.to_string());
            }
        }
        for n in names {
            let top: Vec<(String, f64)> =
                redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))
                    .map_err(|e| p.err(e.into()))?;
            self.highest
                .insert(n.to_string(), top.first().map_or(0, |(_, v)| *v as u64));
        }
        Ok(())
    }

    fn listing(&mut self) -> Result<Listing> {
        let mut out = Listing::default();
        let mut query = ListQuery::default();
        loop {
            let page = list_page(self.p, self.conn, &query).map_err(|e| self.p.err(e))?;
            self.p
                .decode_all(page.rows, &mut out.entries, &mut out.skipped);
            match page.next {
                Some(n) => query.cursor = Some(n),
                None => break,
            }
        }
        for e in &mut out.entries {
            if let Some(mine) = self.entries.get(&e.cid) {
                *e = mine.clone();
            }
        }
        let known: std::collections::HashSet<String> =
            out.entries.iter().map(|e| e.cid.clone()).collect();
        let mut mine: Vec<&Entry> = self
            .entries
            .values()
            .filter(|e| !known.contains(&e.cid))
            .collect();
        mine.sort_by(|a, b| a.cid.cmp(&b.cid));
        out.entries.extend(mine.into_iter().cloned());
        Ok(out)
    }
}

/// Rows of one listing page before decoding.
struct RawPage {
    rows: Vec<(String, Hash)>,
    next: Option<String>,
}

/// One call of the listing script.
fn list_page(
    p: &RedisProvider,
    conn: &mut Connection,
    q: &ListQuery,
) -> redis::RedisResult<RawPage> {
    let after = q.cursor.clone().unwrap_or_else(|| "-inf".to_string());
    let limit = q.limit.unwrap_or(0);
    let budget: i64 = match q.limit {
        Some(l) => LIST_BUDGET.max(l).min(i32::MAX as usize) as i64,
        // Everything in one page (`LIMIT 0 -1`: no limit).
        None => -1,
    };
    let script = redis::Script::new(LIST);
    let mut inv = script.key(p.key("atdata:entries"));
    inv.arg(p.key(ENTRY))
        .arg(&after)
        .arg(limit)
        .arg(budget)
        .arg(q.name_prefix.as_deref().unwrap_or(""))
        .arg(q.schema_ref.as_deref().unwrap_or(""));
    for t in &q.tags {
        inv.arg(t);
    }
    let reply: Vec<redis::Value> = inv.invoke(conn)?;
    let mut it = reply.into_iter();
    let last: String = redis::from_redis_value(it.next().unwrap_or(redis::Value::Nil))
        .unwrap_or_else(|_| after.clone());
    let more: String =
        redis::from_redis_value(it.next().unwrap_or(redis::Value::Nil)).unwrap_or_default();
    let mut rows = Vec::new();
    while let (Some(cid), Some(h)) = (it.next(), it.next()) {
        let cid: String = redis::from_redis_value(cid)?;
        let h: Hash = redis::from_redis_value(h)?;
        rows.push((cid, h));
    }
    Ok(RawPage {
        rows,
        next: (more == "1").then_some(last),
    })
}

impl Provider for RedisProvider {
    fn kind(&self) -> &'static str {
        "RedisProvider"
    }

    fn location(&self) -> Option<String> {
        Some(if self.prefix.is_empty() {
            self.shown.clone()
        } else {
            format!("{} (key prefix '{}')", self.shown, self.prefix)
        })
    }

    fn index_id(&self) -> Result<Option<String>> {
        let k = self.key("atdata:index_id");
        self.with_conn(|c| c.get(&k))
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.adopt()?;
        self.locked(&mut |tx| f(tx))
    }

    fn entry_by_cid(&self, cid: &str) -> Result<Option<Entry>> {
        let k = self.key(&format!("{ENTRY}{cid}"));
        match self.with_conn(|c| hash_of(c.hgetall(&k)?))? {
            Some(h) => decode(cid, &h).map(Some),
            None => Ok(None),
        }
    }

    fn entry_by_version(&self, name: &str, version: &str) -> Result<Option<Entry>> {
        let number = version_number(version);
        let found = self.with_conn(|c| {
            hash_of(
                redis::Script::new(AT_VERSION)
                    .key(self.name_key(name))
                    .key(self.key(&format!("{LABEL}{name}@{version}")))
                    .arg(self.key(ENTRY))
                    .arg(version)
                    .arg(if number.is_some() { "1" } else { "0" })
                    .invoke(c)?,
            )
        })?;
        match found {
            Some(h) => {
                let cid = String::from_utf8_lossy(h.get("cid").map_or(&[][..], |v| v)).to_string();
                let e = decode(&cid, &h)?;
                Ok((e.name == name).then_some(e))
            }
            None => Ok(None),
        }
    }

    fn latest_entry(&self, name: &str) -> Result<Option<Entry>> {
        let found = self.with_conn(|c| {
            hash_of(
                redis::Script::new(LATEST)
                    .key(self.name_key(name))
                    .arg(self.key(ENTRY))
                    .invoke(c)?,
            )
        })?;
        match found {
            Some(h) => {
                let cid = String::from_utf8_lossy(h.get("cid").map_or(&[][..], |v| v)).to_string();
                decode(&cid, &h).map(Some)
            }
            None => Ok(None),
        }
    }

    fn versions(&self, name: &str) -> Result<Vec<String>> {
        let k = self.name_key(name);
        let got: Vec<(String, f64)> = self.with_conn(|c| c.zrange_withscores(&k, 0, -1))?;
        Ok(got
            .into_iter()
            .map(|(_, v)| (v as u64).to_string())
            .collect())
    }

    fn names(&self) -> Result<Vec<String>> {
        let k = self.key("atdata:names");
        self.with_conn(|c| c.zrange(&k, 0, -1))
    }

    fn list(&self, query: &ListQuery) -> Result<Page> {
        // A cursor is the sequence number of the last row examined (`Page::next`).
        if let Some(c) = query
            .cursor
            .as_deref()
            .filter(|c| c.parse::<u64>().is_err())
        {
            return Err(Error::invalid(format!(
                "listing cursor '{c}' is not one this index handed out"
            )));
        }
        let raw = self.with_conn(|c| list_page(self, c, query))?;
        let mut page = Page {
            next: raw.next,
            ..Page::default()
        };
        self.decode_all(raw.rows, &mut page.entries, &mut page.skipped);
        page.entries.retain(|e| query.matches(e));
        Ok(page)
    }

    fn schemas(&self) -> Result<Vec<Schema>> {
        let ids: Vec<String> = {
            let k = self.key("atdata:schemas");
            self.with_conn(|c| c.zrange(&k, 0, -1))?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|i| self.key(&format!("{SCHEMA}{i}")))
            .collect();
        let jsons: Vec<Option<String>> = self.with_conn(|c| c.mget(&keys))?;
        let mut out = Vec::new();
        for (id, json) in ids.into_iter().zip(jsons) {
            let (Some((name, version)), Some(json)) = (id.rsplit_once('@'), json) else {
                continue;
            };
            if let Ok(mut s) = Schema::from_json(&json) {
                s.name = name.to_string();
                s.version = version.to_string();
                out.push(s);
            }
        }
        Ok(out)
    }

    fn schema(&self, name: &str, version: &str) -> Result<Option<Schema>> {
        let k = self.key(&format!("{SCHEMA}{name}@{version}"));
        let json: Option<String> = self.with_conn(|c| c.get(&k))?;
        match json {
            None => Ok(None),
            Some(json) => stored_schema(name, version, &json).map(Some),
        }
    }

    fn newest_schema(&self, name: &str) -> Result<Option<Schema>> {
        let k = self.schema_set_key(name);
        let mut versions: Vec<String> = self.with_conn(|c| c.smembers(&k))?;
        versions.sort_by_key(|v| std::cmp::Reverse(semver_key(v)));
        for v in versions {
            // As in `schemas()`: records no reader could use are not candidates.
            if let Ok(Some(s)) = self.schema(name, &v) {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::conformance;
    use std::sync::Arc;

    /// The test server (a real one: see CONTRIBUTING.md).
    const SERVER: &str = "redis://127.0.0.1:6379";

    /// A handle on a prefix of its own.
    fn fresh(tag: &str) -> RedisProvider {
        let prefix = format!(
            "atdata-test-{tag}-{}-{:x}:",
            std::process::id(),
            rand::random::<u64>()
        );
        RedisProvider::connect(SERVER).unwrap().with_prefix(prefix)
    }

    /// Deletes the keys of every handle it holds when dropped, failed test or not.
    #[derive(Default)]
    struct Cleanup(Mutex<Vec<Arc<RedisProvider>>>);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            for p in self.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = p.delete_all_keys();
            }
        }
    }

    #[test]
    fn redis_passes_the_conformance_suite() {
        let cleanup = Cleanup::default();
        conformance::run_all(&|| {
            let p = Arc::new(fresh("conf"));
            cleanup.0.lock().unwrap().push(Arc::clone(&p));
            p as Arc<dyn Provider>
        });
    }

    #[test]
    fn many_handles_on_one_prefix_lose_nothing() {
        let first = Arc::new(fresh("many"));
        let cleanup = Cleanup::default();
        cleanup.0.lock().unwrap().push(Arc::clone(&first));
        let handles: Vec<RedisProvider> = (0..6)
            .map(|_| {
                RedisProvider::connect(SERVER)
                    .unwrap()
                    .with_prefix(first.prefix())
            })
            .collect();
        let refs: Vec<&dyn Provider> = handles.iter().map(|h| h as &dyn Provider).collect();
        conformance::many_writers(&refs, 15);
    }

    #[test]
    fn a_write_whose_lease_changed_hands_commits_nothing_and_is_retried() {
        let p = Arc::new(fresh("lease"));
        let cleanup = Cleanup::default();
        cleanup.0.lock().unwrap().push(Arc::clone(&p));
        let mut other = p.conn().unwrap();
        let lock = p.key("atdata:lock");
        let entry = |cid: &str| Entry {
            name: "leased".into(),
            version: "1".into(),
            cid: cid.into(),
            schema_ref: "atdata://local/schema/S@1.0.0".into(),
            shards: conformance::sample_entry("leased", 1, cid).shards,
            num_samples: Some(10),
            description: None,
            tags: Vec::new(),
            license: None,
            metadata: None,
            created_at: String::new(),
        };
        let mut runs = 0;
        p.write(&mut |tx| {
            runs += 1;
            if runs == 1 {
                tx.insert_entry(&entry("cid-lost"))?;
                // Another writer takes the lease meanwhile (as after ours expired), for 200 ms.
                let _: () = redis::cmd("SET")
                    .arg(&lock)
                    .arg("someone-else")
                    .arg("PX")
                    .arg(200)
                    .query(&mut other)
                    .unwrap();
            } else {
                tx.insert_entry(&entry("cid-kept"))?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(runs, 2, "the lost commit is retried once the lease is free");
        assert!(p.entry_by_cid("cid-lost").unwrap().is_none());
        assert_eq!(p.entry_by_cid("cid-kept").unwrap().unwrap().version, "1");
        assert_eq!(p.versions("leased").unwrap(), vec!["1"]);
    }

    #[test]
    fn deleting_every_key_needs_a_prefix() {
        let p = RedisProvider::connect(SERVER).unwrap();
        assert!(p.delete_all_keys().is_err());
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("redis://user:secret@host:6379/2"),
            "redis://***@host:6379/2"
        );
        assert_eq!(without_password("redis://host/1"), "redis://host/1");
    }

    #[test]
    fn scan_patterns_escape_the_prefix() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn tags_field_surrounds_each_tag() {
        assert_eq!(tags_field(&["a".into(), "b".into()]), "\na\nb\n");
        assert_eq!(tags_field(&[]), "\n");
    }
}
