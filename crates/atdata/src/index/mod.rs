//! The index: which datasets exist, their versions, schemas, shards and checksums.
//!
//! This module owns [`Index`], the facade users call (`write`, `insert`, `get`, `load`,
//! `list_datasets`, `search`, `verify`, `gc`, `copy_to`), the [`Provider`] trait its backends implement
//! (SQLite, and PostgreSQL and Redis behind their features; [`open_location`] picks one from a
//! location text), [`Entry`] and the rules every backend
//! shares (CID recipe, schema versions; see [`entry`]). It does not read or write tar bytes
//! (`shard`), place files (`store`) or iterate samples (`dataset`).
//!
//! Why a trait with only primitives: the index is where concurrency and crash safety are
//! decided, and a backend can only get that right if its duties are few and written down (the
//! `# Contract` of [`Provider`]). Everything else is built once, here, on top of them, and one
//! conformance suite checks every backend.
//!
//! Writing goes: samples -> shard writer (staged temp files in the store) -> store publishes
//! them (atomic, no clobber, named by content) -> provider commits entry + version + schema in
//! one transaction. A crash at any point leaves either the committed entry, or unreferenced
//! files that [`Index::gc`] removes; never a partial entry.

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
mod columns;
pub mod commit;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod copy;
pub mod default;
pub mod entry;
pub mod gc;
pub mod inspect;
pub mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod provider;
#[cfg(feature = "redis")]
pub mod redis;
pub mod reference;
mod scan;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod verify;
pub mod write;

use std::collections::BTreeMap;
#[cfg(feature = "sqlite")]
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
#[cfg(feature = "sqlite")]
use crate::home::default_paths;
use crate::schema::{Schema, SchemaRef};
use crate::store::{self, DataStore, LocalDiskStore};

#[cfg(feature = "redis")]
pub use self::redis::RedisProvider;
pub use copy::{copy_dataset, CopiedVersion, CopyOptions, CopyReport};
pub use default::{default_index, index_for_reading, set_default_index, set_default_index_shared};
pub use entry::{Committed, Entry, NewEntry, ShardInfo};
pub use gc::{GcOptions, GcReport};
pub use inspect::{inspect_shards, Inspection, ShardSummary};
pub use open::{open_location, open_location_for_reading, Location};
#[cfg(feature = "postgres")]
pub use postgres::PostgresProvider;
pub use provider::{list_all, ListQuery, Listing, Page, Provider, ProviderExt, WriteTx};
pub use reference::{DatasetRef, LOCAL};
pub use scan::shard_sha256;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteProvider;
pub use verify::{ShardProblem, VerifyReport};
pub use write::{InsertOptions, WriteOptions};

/// A named storage unit of an index: where entries are recorded and where shards are kept.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The index backend.
    pub provider: Arc<dyn Provider>,
    /// The shard store. Without one, writes go to the default store
    /// (`$ATDATA_HOME/data`), like Python atdata 0.7.
    pub store: Option<Arc<dyn DataStore>>,
}

impl Repository {
    /// A repository over `provider` and, optionally, `store`.
    pub fn new(provider: impl Provider + 'static, store: Option<Arc<dyn DataStore>>) -> Self {
        Repository {
            provider: Arc::new(provider),
            store,
        }
    }
}

/// Datasets by name and version, over one or more repositories (`local` always).
///
/// `Index` is `Send + Sync`: share it with `Arc` (see [`default_index`]).
#[derive(Debug)]
pub struct Index {
    local: Repository,
    mounted: RwLock<BTreeMap<String, Repository>>,
    /// The store writes use when their repository has none; created on first use.
    fallback_store: Mutex<Option<Arc<dyn DataStore>>>,
}

impl Index {
    /// An index over `provider` (the `local` repository) with an optional store.
    pub fn new(provider: Arc<dyn Provider>, store: Option<Arc<dyn DataStore>>) -> Self {
        Index {
            local: Repository { provider, store },
            mounted: RwLock::new(BTreeMap::new()),
            fallback_store: Mutex::new(None),
        }
    }

    #[cfg(feature = "sqlite")]
    /// An index in memory (SQLite), gone when dropped; the default of `atdata.Index()` and
    /// what tests use. (The process default index is the atdata home's: see
    /// [`default_index`].)
    pub fn in_memory() -> Result<Self> {
        Ok(Self::new(Arc::new(SqliteProvider::in_memory()?), None))
    }

    #[cfg(feature = "sqlite")]
    /// The index in the SQLite file at `path`, opened for writing (created if missing).
    /// Several processes may use the same file at once. To only read, use
    /// [`open_read_only`](Self::open_read_only), which never creates or changes a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(Arc::new(SqliteProvider::open(path)?), None))
    }

    #[cfg(feature = "sqlite")]
    /// The existing index in the SQLite file at `path`, to read only (see
    /// [`SqliteProvider::open_read_only`]): a missing, empty or foreign file is an error
    /// naming it, nothing is ever written, and read-only media can be read.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(
            Arc::new(SqliteProvider::open_read_only(path)?),
            None,
        ))
    }

    #[cfg(feature = "sqlite")]
    /// The existing index in the SQLite file at `path`, opened for writing; unlike
    /// [`open`](Self::open) a missing, empty or foreign file is an error naming it. For
    /// writes that must not start a new index (garbage collection).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(
            Arc::new(SqliteProvider::open_existing(path)?),
            None,
        ))
    }

    #[cfg(feature = "sqlite")]
    /// The index of the atdata home, opened for writing (created if missing):
    /// `$ATDATA_HOME/index.db` with the store `$ATDATA_HOME/data`, `~/.atdata` for an unset
    /// or empty `$ATDATA_HOME` (see [`default_paths`]). What
    /// [`default_index`] becomes when none was set, as Python's `get_default_index()`.
    pub fn open_default() -> Result<Self> {
        let paths = default_paths()?;
        Ok(Self::open(&paths.index)?.with_store(LocalDiskStore::new(&paths.store)?))
    }

    /// Sets the store of the `local` repository.
    pub fn with_store(self, store: impl DataStore + 'static) -> Self {
        self.with_shared_store(Arc::new(store))
    }

    /// Sets the store of the `local` repository to a shared one.
    pub fn with_shared_store(mut self, store: Arc<dyn DataStore>) -> Self {
        self.local.store = Some(store);
        self
    }

    /// Every repository by name (`local` included).
    pub fn repos(&self) -> BTreeMap<String, Repository> {
        let mut all = self
            .mounted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        all.insert(LOCAL.to_string(), self.local.clone());
        all
    }

    /// Mounts another repository, addressed as `@{name}/dataset`. `local` is reserved (an
    /// invalid name, as Python atdata 0.7 refuses it) and a name can be mounted once.
    pub fn mount(&self, name: &str, repo: Repository) -> Result<()> {
        if name.is_empty() || name.contains(['/', '@']) || name.chars().any(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "repository name {name:?} must be non-empty without '/', '@' or spaces"
            )));
        }
        if name == LOCAL {
            return Err(Error::invalid(format!(
                "repository name '{LOCAL}' is reserved for the index's own repository; mount \
                 the repository under another name"
            )));
        }
        let mut repos = self.mounted.write().unwrap_or_else(|p| p.into_inner());
        if repos.contains_key(name) {
            return Err(Error::AlreadyExists {
                what: format!("repository '{name}' is already mounted"),
            });
        }
        repos.insert(name.to_string(), repo);
        Ok(())
    }

    /// The repository called `name`; the error lists the mounted ones.
    pub fn repo(&self, name: &str) -> Result<Repository> {
        if name == LOCAL {
            return Ok(self.local.clone());
        }
        let repos = self.mounted.read().unwrap_or_else(|p| p.into_inner());
        repos.get(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = std::iter::once(LOCAL)
                .chain(repos.keys().map(String::as_str))
                .collect();
            // "Unknown repository": the words atdata 0.7 users match on.
            Error::not_found(format!(
                "Unknown repository '{name}'; mounted: {}",
                names.join(", ")
            ))
        })
    }

    /// The `local` repository's provider.
    pub fn provider(&self) -> Arc<dyn Provider> {
        self.local.provider.clone()
    }

    /// The `local` repository's store, if one was given.
    pub fn data_store(&self) -> Option<Arc<dyn DataStore>> {
        self.local.store.clone()
    }

    /// The store writes to `repo` use: its own, else the default store (which other indexes
    /// share: see [`claim_unowned`]).
    fn store_for(&self, repo: &Repository) -> Result<Arc<dyn DataStore>> {
        if let Some(s) = &repo.store {
            return Ok(s.clone());
        }
        let mut fallback = self
            .fallback_store
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(s) = fallback.as_ref() {
            return Ok(s.clone());
        }
        let s: Arc<dyn DataStore> = Arc::new(LocalDiskStore::at_default_root()?);
        *fallback = Some(s.clone());
        Ok(s)
    }

    /// The entry a reference names (see [`DatasetRef`]): the newest version, or the pinned
    /// version or CID. An unknown name or version is [`Error::NotFound`] listing what exists.
    pub fn get(&self, reference: &str) -> Result<Entry> {
        let r = DatasetRef::parse(reference)?;
        let repo = self.repo(&r.repo)?;
        resolve(&repo, &r)
    }

    /// The dataset a reference names, ready to iterate, with its schema (rebuilt from the
    /// stored record) and exact length. An entry whose length is unknown (written by Python
    /// atdata 0.7) is counted once and the count kept in the index.
    pub fn load(&self, reference: &str) -> Result<Dataset> {
        let r = DatasetRef::parse(reference)?;
        let repo = self.repo(&r.repo)?;
        let entry = resolve(&repo, &r)?;
        let schema = schema_of(&repo, &entry)?;
        let len = num_samples(&repo, &entry)?;
        // The dataset reads through the repository's store (local files without one).
        let source = scan::source_of(&repo);
        let mut urls = Vec::with_capacity(entry.shards.len());
        for u in entry.data_urls() {
            for file in scan::expand_url(source.as_ref(), &entry, u)? {
                // A URL the store cannot read fails here, by scheme, not at the first read.
                source.check_url(&file)?;
                urls.push(file);
            }
        }
        Ok(Dataset::new(urls, Some(schema))
            .with_source(source)
            .with_name(reference.trim())
            .with_len(len))
    }

    /// The exact number of samples of the dataset a reference names (see [`Index::load`]).
    pub fn sample_count(&self, reference: &str) -> Result<u64> {
        let r = DatasetRef::parse(reference)?;
        let repo = self.repo(&r.repo)?;
        num_samples(&repo, &resolve(&repo, &r)?)
    }

    /// Every version of every dataset of every repository (`local` first, then the mounted
    /// ones by name), oldest first within each. A row that cannot be read is an error naming
    /// its dataset and CID; [`listing`](Self::listing) lists the others and says what it
    /// skipped.
    pub fn list_datasets(&self) -> Result<Vec<Entry>> {
        self.listing()?.strict()
    }

    /// [`list_datasets`](Self::list_datasets), going on past rows that cannot be read: the
    /// entries read, and an error naming each row skipped.
    pub fn listing(&self) -> Result<Listing> {
        let mut out = Listing::default();
        for (_, repo) in self.ordered_repos() {
            let mut listing = repo.provider.listing()?;
            // Appending to nothing would copy every entry once more.
            if out.entries.is_empty() {
                out.entries = listing.entries;
            } else {
                out.entries.append(&mut listing.entries);
            }
            out.skipped.append(&mut listing.skipped);
        }
        Ok(out)
    }

    /// [`listing`](Self::listing) split by repository, in the same order (`local` first, then
    /// the mounted ones by name): for callers that say which repository each entry is in.
    pub fn listing_by_repo(&self) -> Result<Vec<(String, Listing)>> {
        self.ordered_repos()
            .into_iter()
            .map(|(name, repo)| Ok((name, repo.provider.listing()?)))
            .collect()
    }

    /// Every version of every dataset of one repository, oldest first.
    pub fn list_datasets_in(&self, repo: &str) -> Result<Vec<Entry>> {
        self.repo(repo)?.provider.entries()
    }

    /// Dataset names of the `local` repository, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        self.provider().names()
    }

    /// The versions of a dataset (`name` or `@repo/name`), oldest first; unknown names are
    /// [`Error::NotFound`].
    pub fn versions(&self, reference: &str) -> Result<Vec<String>> {
        let r = DatasetRef::parse(reference)?;
        let repo = self.repo(&r.repo)?;
        let versions = repo.provider.versions(&r.name)?;
        if versions.is_empty() {
            return Err(unknown_name(&repo, &r));
        }
        Ok(versions)
    }

    /// Entries of every repository whose name, description or a tag contains `query`
    /// (case-insensitive), every version, in listing order. An empty query matches all.
    pub fn search(&self, query: &str) -> Result<Vec<Entry>> {
        let q = query.to_lowercase();
        let hit = |e: &Entry| {
            e.name.to_lowercase().contains(&q)
                || e.description
                    .as_ref()
                    .is_some_and(|d| d.to_lowercase().contains(&q))
                || e.tags.iter().any(|t| t.to_lowercase().contains(&q))
        };
        Ok(self.list_datasets()?.into_iter().filter(hit).collect())
    }

    /// Every schema record of the `local` repository, in the order they were stored.
    pub fn schemas(&self) -> Result<Vec<Schema>> {
        self.provider().schemas()
    }

    /// A schema record by reference: `atdata://{repo}/schema/Name@1.0.0`, Python 0.7's legacy
    /// `local://schemas/module.Name@1.0.0`, `Name@1.0.0`, or `Name` (its newest version); the
    /// last two also as `@repo/Name@1.0.0` and `@repo/Name`, like dataset references.
    pub fn get_schema(&self, reference: &str) -> Result<Schema> {
        let (repo_name, name, version) = parse_schema_ref(reference)?;
        let repo = self.repo(&repo_name)?;
        let version = match version {
            Some(v) => v,
            None => {
                return repo
                    .provider
                    .newest_schema(&name)?
                    .ok_or_else(|| unknown_schema(&repo, &name, reference))
            }
        };
        repo.provider
            .schema(&name, &version)?
            .ok_or_else(|| unknown_schema(&repo, &name, reference))
    }

    /// Commits ready-made entries to the `local` repository in one transaction (bulk import;
    /// see [`ProviderExt::commit_many`]). Their shards must already be where they say. Every name
    /// must pass [`check_dataset_name`](reference::check_dataset_name), like any other way in.
    pub fn commit_entries(&self, entries: &[NewEntry]) -> Result<Vec<Committed>> {
        for e in entries {
            reference::check_dataset_name(&e.name)?;
        }
        self.provider().commit_many(entries)
    }

    /// Repositories in listing order: `local` first, then by name.
    fn ordered_repos(&self) -> Vec<(String, Repository)> {
        let mounted = self.mounted.read().unwrap_or_else(|p| p.into_inner());
        std::iter::once((LOCAL.to_string(), self.local.clone()))
            .chain(mounted.iter().map(|(n, r)| (n.clone(), r.clone())))
            .collect()
    }
}

/// Records `provider`'s index as the owner of `store` if the store records none: what a
/// write does just before it first puts a shard there. An index kept in memory has no lasting
/// identity and claims nothing; neither does a write to the default store, which indexes
/// share (`shared`).
fn claim_unowned(provider: &dyn Provider, store: &dyn DataStore, shared: bool) -> Result<()> {
    if shared {
        return Ok(());
    }
    let (Some(id), Some(path)) = (provider.index_id()?, provider.location()) else {
        return Ok(());
    };
    if store.owner()?.is_none() {
        let owner = store::StoreOwner {
            index_id: id,
            index_path: Some(path),
        };
        store.set_owner(&owner, false)?;
    }
    Ok(())
}

/// Finds the entry `r` names in `repo`.
fn resolve(repo: &Repository, r: &DatasetRef) -> Result<Entry> {
    let p = &repo.provider;
    let found = match r.selector.as_deref() {
        None => p.latest_entry(&r.name)?,
        Some(s) if reference::looks_like_cid(s) => p.entry_by_cid(s)?.filter(|e| e.name == r.name),
        Some(s) => p.entry_by_version(&r.name, s)?,
    };
    match found {
        Some(e) => Ok(e),
        None if r.selector.is_some() => {
            let versions = p.versions(&r.name)?;
            if versions.is_empty() {
                return Err(unknown_name(repo, r));
            }
            Err(Error::not_found(format!(
                "dataset '{r}': '{}' has no version {}; its versions are {} (the newest is \
                 '@{}/{}')",
                r.name,
                r.selector.as_deref().unwrap_or_default(),
                versions.join(", "),
                r.repo,
                r.name
            )))
        }
        None => Err(unknown_name(repo, r)),
    }
}

fn unknown_name(repo: &Repository, r: &DatasetRef) -> Error {
    const SHOWN: usize = 50;
    let names = repo.provider.names().unwrap_or_default();
    let listed = if names.is_empty() {
        format!("repository '{}' has no datasets", r.repo)
    } else {
        let more = names.len().saturating_sub(SHOWN);
        let mut s = format!(
            "datasets in '{}': {}",
            r.repo,
            names
                .iter()
                .take(SHOWN)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    };
    Error::not_found(format!("no dataset named '{}' ({listed})", r.name))
}

fn unknown_schema(repo: &Repository, name: &str, reference: &str) -> Error {
    let versions: Vec<String> = repo
        .provider
        .schemas()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.name == name)
        .map(|s| s.version)
        .collect();
    if versions.is_empty() {
        Error::not_found(format!("schema '{reference}': no schema named '{name}'"))
    } else {
        Error::not_found(format!(
            "schema '{reference}'; versions of '{name}': {}",
            versions.join(", ")
        ))
    }
}

/// Splits a schema reference into (repository, name, version).
fn parse_schema_ref(text: &str) -> Result<(String, String, Option<String>)> {
    let text = text.trim();
    if text.starts_with("atdata://") {
        let r = SchemaRef::parse(text)?;
        return Ok((r.authority, r.name, Some(r.version)));
    }
    if let Some(rest) = text.strip_prefix("local://schemas/") {
        let (path, version) = rest
            .rsplit_once('@')
            .ok_or_else(|| Error::invalid(format!("schema reference '{text}' has no @version")))?;
        let name = path.rsplit('.').next().unwrap_or(path);
        return Ok((
            LOCAL.to_string(),
            name.to_string(),
            Some(version.to_string()),
        ));
    }
    let bad = || {
        Error::invalid(format!(
            "bad schema reference '{text}': expected atdata://local/schema/Name@1.0.0, \
             Name@1.0.0, Name, or @repo/ before either of the last two"
        ))
    };
    // `@repo/Name[@version]` splits as a dataset reference does.
    let (repo, rest) = match text.strip_prefix('@') {
        Some(r) => r.split_once('/').ok_or_else(bad)?,
        None => (LOCAL, text),
    };
    if repo.is_empty() || repo.contains('@') || rest.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    Ok(match rest.split_once('@') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() => {
            (repo.to_string(), n.to_string(), Some(v.to_string()))
        }
        Some(_) => return Err(bad()),
        None => (repo.to_string(), rest.to_string(), None),
    })
}

/// The schema an entry was written with.
fn schema_of(repo: &Repository, entry: &Entry) -> Result<Schema> {
    let (_, name, version) = parse_schema_ref(&entry.schema_ref).map_err(|e| {
        Error::corrupt(format!(
            "dataset '{}' version {}: bad schema reference: {e}",
            entry.name, entry.version
        ))
    })?;
    let version = version.unwrap_or_else(|| "1.0.0".to_string());
    repo.provider.schema(&name, &version)?.ok_or_else(|| {
        Error::not_found(format!(
            "schema record '{}' of dataset '{}' version {}",
            entry.schema_ref, entry.name, entry.version
        ))
    })
}

/// The entry's sample count; counted by reading its shards (and remembered) when unknown.
fn num_samples(repo: &Repository, entry: &Entry) -> Result<u64> {
    if let Some(n) = entry.num_samples {
        return Ok(n);
    }
    let source = scan::source_of(repo);
    let mut facts = Vec::with_capacity(entry.shards.len());
    for shard in &entry.shards {
        let (mut samples, mut bytes) = (0u64, 0u64);
        for url in scan::expand_url(source.as_ref(), entry, &shard.url)? {
            let s = scan::scan_shard(source.as_ref(), &url, false, &crate::NoProgress, |_| Ok(()))
                .map_err(|e| e.with_dataset(&entry.name))?;
            samples += s.samples;
            bytes += s.bytes;
        }
        facts.push(ShardInfo {
            url: shard.url.clone(),
            sha256: None,
            samples: Some(samples),
            bytes: Some(bytes),
        });
    }
    let total = facts.iter().filter_map(|f| f.samples).sum();
    // The count is a cache: failing to store it must not fail the load.
    let _ = repo.provider.record_shard_info(&entry.cid, &facts);
    Ok(total)
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Index>();
        check::<Arc<Index>>();
    }

    #[test]
    fn schema_refs() {
        let p = |s| parse_schema_ref(s).unwrap();
        assert_eq!(
            p("atdata://local/schema/T@1.0.0"),
            ("local".into(), "T".into(), Some("1.0.0".into()))
        );
        assert_eq!(
            p("local://schemas/my.mod.T@2.0.0"),
            ("local".into(), "T".into(), Some("2.0.0".into()))
        );
        assert_eq!(
            p("T@1.0.0"),
            ("local".into(), "T".into(), Some("1.0.0".into()))
        );
        assert_eq!(p("T"), ("local".into(), "T".into(), None));
        assert_eq!(
            p("@lab/T@2.0.0"),
            ("lab".into(), "T".into(), Some("2.0.0".into()))
        );
        assert_eq!(p("@lab/T"), ("lab".into(), "T".into(), None));
        for bad in [
            "", "a/b", "@lab", "@/T", "@lab/", "@lab/a/b", "T@", "@T", "@lab/T@",
        ] {
            assert!(parse_schema_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounting() {
        let index = Index::in_memory().unwrap();
        assert_eq!(index.repos().keys().collect::<Vec<_>>(), vec!["local"]);
        let lab = Repository::new(SqliteProvider::in_memory().unwrap(), None);
        index.mount("lab", lab.clone()).unwrap();
        assert!(matches!(
            index.mount("lab", lab.clone()),
            Err(Error::AlreadyExists { .. })
        ));
        let e = index.mount("local", lab.clone()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m.contains("reserved")),
            "{e}"
        );
        assert!(index.mount("a/b", lab).is_err());
        assert_eq!(index.repos().len(), 2);
        let e = index.repo("nope").unwrap_err().to_string();
        assert!(e.contains("lab") && e.contains("local"), "{e}");
        let e = index.get("@nope/x").unwrap_err().to_string();
        assert!(e.contains("repository 'nope'"), "{e}");
        assert_eq!(index.provider().kind(), "SqliteProvider");
        let names: Vec<String> = index
            .listing_by_repo()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["local", "lab"]);
    }
}
