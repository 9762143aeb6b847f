//! Writing datasets through the index: encode -> stage shards -> publish -> commit.
//!
//! The order is what makes a crash harmless: shards are complete, hashed files before they are
//! published (atomic rename, no clobber, named after their content), and the entry that makes
//! them visible is committed last, in one transaction. Killing the writer at any instant leaves
//! either nothing visible or the whole dataset.

use crate::codec::{decode_sample, encode_sample, validate_sample};
use crate::error::{Error, Result};
use crate::index::entry::{compat_metadata, content_tag, Committed, Entry, NewEntry, ShardInfo};
use crate::index::inspect::infer_from_shards;
use crate::index::provider::{Provider, ProviderExt};
use crate::index::reference::{check_dataset_name, DatasetRef, LOCAL};
use crate::index::scan::scan_shard;
use crate::index::{claim_unowned, Index, Repository};
use crate::packable::Packable;
use crate::progress::{NoProgress, Progress};
use crate::schema::Schema;
use crate::shard::{expand, stage_shards, RawSample, ShardOptions, ShardWriter, StagedShard};
use crate::store::{DataStore, LocalFiles, ShardSource};
use crate::value::{Sample, Value};

/// Samples per shard when `maxcount` is not given (Python atdata 0.7's default).
pub const DEFAULT_MAXCOUNT: usize = 10_000;

/// How to write a dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOptions {
    /// Dataset name, or `@repo/name` to write into a mounted repository.
    pub name: String,
    /// Free-text description (stored, listed, searchable).
    pub description: Option<String>,
    /// Tags (stored, listed, searchable).
    pub tags: Vec<String>,
    /// License identifier.
    pub license: Option<String>,
    /// Extra metadata: a [`Value::Map`] (the key `checksums` is reserved).
    pub metadata: Option<Value>,
    /// Most samples per shard ([`DEFAULT_MAXCOUNT`] when `None`).
    pub maxcount: Option<usize>,
    /// Most bytes per shard file (no limit when `None`).
    pub maxsize: Option<u64>,
    /// Repository to write into (`local` when `None`).
    pub repo: Option<String>,
}

impl WriteOptions {
    /// Options writing to dataset `name`, everything else default.
    pub fn new(name: impl Into<String>) -> Self {
        WriteOptions {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Sets the tags.
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the license.
    pub fn license(mut self, l: impl Into<String>) -> Self {
        self.license = Some(l.into());
        self
    }

    /// Sets the metadata map.
    pub fn metadata(mut self, m: Value) -> Self {
        self.metadata = Some(m);
        self
    }

    /// Sets the most samples per shard.
    pub fn maxcount(mut self, n: usize) -> Self {
        self.maxcount = Some(n);
        self
    }

    /// Sets the most bytes per shard.
    pub fn maxsize(mut self, n: u64) -> Self {
        self.maxsize = Some(n);
        self
    }

    /// Sets the repository.
    pub fn repo(mut self, r: impl Into<String>) -> Self {
        self.repo = Some(r.into());
        self
    }
}

/// How to index shards that already exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsertOptions {
    /// Copy the shards into the store (`true`) or index them where they are (`false`).
    pub copy: bool,
    /// The samples' schema. When `None`, it is inferred over every sample of the shards
    /// ([`inspect`](crate::index::inspect), the engine `atdata inspect` shows), in a first
    /// pass before the one that checks, counts and hashes them: so `atdata add` and `atdata
    /// inspect` always agree, and a sample unlike the first ones never fails an insert its
    /// schema would have covered. That first pass is one more read of the shards; give the
    /// schema to skip it.
    pub schema: Option<Schema>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// License identifier.
    pub license: Option<String>,
    /// Extra metadata ([`Value::Map`]).
    pub metadata: Option<Value>,
    /// Repository to insert into (`local` when `None`).
    pub repo: Option<String>,
}

/// The descriptive part of a new entry.
struct Describe<'a> {
    description: &'a Option<String>,
    tags: &'a [String],
    license: &'a Option<String>,
    metadata: &'a Option<Value>,
}

impl Index {
    /// Writes typed samples as a new version of dataset `opts.name` and returns its entry.
    /// Writing the same samples under the same name again returns the existing entry (same
    /// CID, no new version, no second copy of the shards).
    pub fn write<T: Packable>(
        &self,
        samples: impl IntoIterator<Item = T>,
        opts: &WriteOptions,
    ) -> Result<Entry> {
        let encoded = samples.into_iter().map(|s| {
            let mut buf = Vec::new();
            s.encode(&mut buf);
            Ok(buf)
        });
        self.write_encoded(&T::schema(), encoded, opts)
    }

    /// Writes dynamic samples of `schema`. Each is checked against the schema first (the error
    /// names the sample's index and the field) and written in the schema's field order, with
    /// missing optional fields as None.
    pub fn write_samples(
        &self,
        schema: &Schema,
        samples: impl IntoIterator<Item = Sample>,
        opts: &WriteOptions,
    ) -> Result<Entry> {
        let name = opts.name.clone();
        let encoded = samples.into_iter().enumerate().map(|(i, mut s)| {
            validate_sample(&s.fields, schema).map_err(|e| e.with_sample(i).with_dataset(&name))?;
            let ordered: Vec<(&str, Value)> = schema
                .fields
                .iter()
                .map(|f| (f.name.as_str(), s.take(&f.name).unwrap_or(Value::Nil)))
                .collect();
            let mut buf = Vec::new();
            encode_sample(&ordered, &mut buf);
            Ok(buf)
        });
        self.write_encoded(schema, encoded, opts)
    }

    /// Writes samples already encoded as msgpack maps (what the Python binding feeds). The
    /// bytes are stored as given; an `Err` item aborts the write.
    pub fn write_encoded(
        &self,
        schema: &Schema,
        encoded: impl IntoIterator<Item = Result<Vec<u8>>>,
        opts: &WriteOptions,
    ) -> Result<Entry> {
        let (repo_name, name) = target_of(&opts.name, opts.repo.as_deref())?;
        let repo = self.repo(&repo_name)?;
        let store = self.store_for(&repo)?;
        store.check_name(&name)?;
        compat_metadata(opts.metadata.as_ref(), &[])?;
        let shard_opts = ShardOptions {
            maxcount: Some(opts.maxcount.unwrap_or(DEFAULT_MAXCOUNT)),
            maxsize: opts.maxsize,
        };
        let staged = stage_shards(&store.staging_dir()?, encoded, shard_opts)
            .map_err(|e| e.with_dataset(&name))?;
        if staged.is_empty() {
            return Err(Error::invalid(format!(
                "no samples to write to dataset '{name}'"
            )));
        }
        let describe = Describe {
            description: &opts.description,
            tags: &opts.tags,
            license: &opts.license,
            metadata: &opts.metadata,
        };
        publish_and_commit(&repo, store.as_ref(), &name, schema, staged, describe)
    }

    /// Indexes shards that already exist: a path, brace pattern, glob or directory (see
    /// [`expand`]). With `copy`, each shard is copied into the store (sample by sample; keys
    /// kept unless they would leave their folder, see `store_key`), and the entry's shards are
    /// the store's copies, also when the same content was indexed in place before (that entry,
    /// which has the same CID, is moved onto the copies); otherwise entries point at the files
    /// where they are. Every sample is read, checked against the schema (given, or inferred
    /// over every sample: see [`InsertOptions::schema`]), counted and hashed. The name must pass
    /// [`check_dataset_name`] whether or not a store is involved.
    pub fn insert(&self, name: &str, target: &str, opts: &InsertOptions) -> Result<Entry> {
        self.insert_with_progress(name, target, opts, &NoProgress)
    }

    /// [`insert`](Self::insert), telling `progress` how many bytes of shards there are to
    /// read and how many are done.
    pub fn insert_with_progress(
        &self,
        name: &str,
        target: &str,
        opts: &InsertOptions,
        progress: &dyn Progress,
    ) -> Result<Entry> {
        self.insert_files_with_progress(name, &expand(target)?, opts, progress)
    }

    /// [`insert_with_progress`](Self::insert_with_progress) for shard files named one by one
    /// (paths or `file://` URLs, in order) rather than by one pattern: how a dataset whose
    /// shards are listed (atdata 0.7's `Index.insert_dataset`) is indexed.
    pub fn insert_files_with_progress(
        &self,
        name: &str,
        files: &[String],
        opts: &InsertOptions,
        progress: &dyn Progress,
    ) -> Result<Entry> {
        let (repo_name, name) = target_of(name, opts.repo.as_deref())?;
        let repo = self.repo(&repo_name)?;
        compat_metadata(opts.metadata.as_ref(), &[])?;
        if files.is_empty() {
            return Err(Error::invalid(format!(
                "no shard files given for dataset '{name}'"
            )));
        }
        let target = files.join(", ");
        // What the user names are local files, whichever store the repository has: they are
        // read as such (and copied into the store with `copy`).
        let source = LocalFiles;
        let mut urls = Vec::new();
        let mut total = 0u64;
        for u in files {
            let u = u.as_str();
            let path = crate::shard::local_path(u)?;
            let abs = std::fs::canonicalize(path).map_err(|e| Error::io(u, e))?;
            let abs = abs.display().to_string();
            total += source.size(&abs).ok().flatten().unwrap_or(0);
            urls.push(abs);
        }
        // Inferring reads every shard once more: the work ahead counts it.
        progress.start(if opts.schema.is_some() {
            total
        } else {
            total.saturating_mul(2)
        });
        let schema = match &opts.schema {
            Some(s) => s.clone(),
            None => infer_from_shards(&source, &name, &urls, progress)?,
        };
        let check = |url: &str, raw: &RawSample| {
            decode_sample(&raw.data, Some(&schema))
                .and_then(|s| validate_sample(&s.fields, &schema))
                .map_err(|e| {
                    e.with_key(&raw.key)
                        .with_shard(url, raw.offset)
                        .with_dataset(&name)
                })
        };
        let describe = Describe {
            description: &opts.description,
            tags: &opts.tags,
            license: &opts.license,
            metadata: &opts.metadata,
        };
        if !opts.copy {
            let mut shards = Vec::with_capacity(urls.len());
            for url in &urls {
                let scan = scan_shard(&source, url, true, progress, |raw| check(url, raw))?;
                let sha = scan.sha256.unwrap_or_default();
                shards.push(ShardInfo::new(url.clone(), sha, scan.samples, scan.bytes));
            }
            let new = new_entry(&name, &schema, shards, &describe);
            return Ok(repo.provider.commit(&new)?.entry);
        }
        let store = self.store_for(&repo)?;
        store.check_name(&name)?;
        let staging = store.staging_dir()?;
        let mut staged = Vec::with_capacity(urls.len());
        for url in &urls {
            let mut writer = ShardWriter::new(&staging, ShardOptions::default())?;
            scan_shard(&source, url, false, progress, |raw| {
                check(url, raw)?;
                writer
                    .write_sample(store_key(&raw.key), &raw.data)
                    .map_err(|e| e.with_shard(url, raw.offset).with_dataset(&name))
            })?;
            staged.extend(writer.finish()?);
        }
        if staged.is_empty() {
            return Err(Error::invalid(format!(
                "'{target}' holds no samples for dataset '{name}'"
            )));
        }
        publish_and_commit(&repo, store.as_ref(), &name, &schema, staged, describe)
    }
}

/// Times a write publishes its shards again when a concurrent gc removed one before the
/// commit, before giving up with a retryable error.
const REPUBLISH_ATTEMPTS: usize = 5;

/// Publishes staged shards under names derived from their digests, then commits the entry.
fn publish_and_commit(
    repo: &Repository,
    store: &dyn DataStore,
    name: &str,
    schema: &Schema,
    staged: Vec<StagedShard>,
    describe: Describe<'_>,
) -> Result<Entry> {
    let new = new_entry(name, schema, Vec::new(), &describe);
    publish_and_commit_all(repo, store, vec![(new, staged)], None)?
        .pop()
        .map(|c| c.entry)
        .ok_or_else(|| Error::Database("commit returned no result for one entry".into()))
}

/// Publishes each entry's staged shards into `store` (appended to its `shards`, in order),
/// then commits every entry in one transaction: all or nothing. With `expected`, an entry
/// that would get another CID than the one at its position refuses the whole commit (see
/// `commit::commit_many_expecting`; `index::copy` keeps CIDs). Shards published when the
/// commit fails are referenced by nothing, and `gc` removes them.
///
/// Until the entries are committed a concurrent garbage collection may remove a published
/// shard (re-publishing identical content only touches the file already there, and gc may
/// have listed it just before). So a copy of each staged shard is kept until the commit, which
/// checks inside its transaction, under the lock gc deletes under, that every shard is in
/// place; if one vanished, it is published again and the commit retried. No entry is ever
/// committed pointing at a missing shard.
pub(super) fn publish_and_commit_all(
    repo: &Repository,
    store: &dyn DataStore,
    writes: Vec<(NewEntry, Vec<StagedShard>)>,
    expected: Option<&[String]>,
) -> Result<Vec<Committed>> {
    let provider = repo.provider.as_ref();
    // The store learns which index it belongs to before its first shard lands there.
    claim_unowned(provider, store, repo.store.is_none())?;
    let mut news = Vec::with_capacity(writes.len());
    let mut kept = Vec::with_capacity(writes.len());
    for (mut new, staged) in writes {
        let name = new.name.clone();
        let mut keep = Vec::with_capacity(staged.len());
        for s in staged {
            let (sha, samples, bytes) = (s.sha256.clone(), s.samples, s.bytes);
            keep.push(s.duplicate().map_err(|e| e.with_dataset(&name))?);
            let url = store
                .publish(&name, &content_tag(&sha), new.shards.len(), s)
                .map_err(|e| e.with_dataset(&name))?;
            new.shards.push(ShardInfo::new(url, sha, samples, bytes));
        }
        news.push(new);
        kept.push(keep);
    }
    let mut attempt = 0;
    loop {
        let mut vanished = false;
        let result = {
            let mut check = || {
                news.iter()
                    .try_for_each(|new| shards_in_place(store, new, &mut vanished))
            };
            commit_onto_store(provider, &news, expected, &mut check)
        };
        match result {
            Ok(committed) => return Ok(committed),
            Err(_) if vanished && attempt < REPUBLISH_ATTEMPTS => {
                attempt += 1;
                for (new, keep) in news.iter().zip(&kept) {
                    for (i, (k, s)) in keep.iter().zip(&new.shards).enumerate() {
                        if store.size(&s.url)?.is_none() {
                            store
                                .publish(&new.name, &content_tag(&k.sha256), i, k.duplicate()?)
                                .map_err(|e| e.with_dataset(&new.name))?;
                        }
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Commits `news`, whose shards were just published to the store, running `check` (are the
/// shards in place?) inside each transaction. The same content committed before under the same
/// name has the same CID, so the commit returns that entry; if its shards are elsewhere
/// (indexed in place by `insert` without copy), it is moved onto the store's copies
/// ([`ProviderExt::relocate_shards`]; same digests, so the same bytes), in a transaction of its
/// own that checks again: until then the copies are referenced by nothing, and gc may have
/// taken them. Otherwise the copies would be orphans that `gc` deletes while the entry still
/// depends on files outside the store.
fn commit_onto_store(
    provider: &dyn Provider,
    news: &[NewEntry],
    expected: Option<&[String]>,
    check: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Committed>> {
    let mut committed = match expected {
        Some(cids) => crate::index::commit::commit_many_expecting(provider, news, cids, check)?,
        None => provider.commit_many_if(news, check)?,
    };
    if committed.len() != news.len() {
        return Err(Error::Database(format!(
            "commit returned {} result(s) for {} entries",
            committed.len(),
            news.len()
        )));
    }
    for (c, new) in committed.iter_mut().zip(news) {
        let published: Vec<String> = new.shards.iter().map(|s| s.url.clone()).collect();
        if c.created || c.entry.data_urls().eq(published.iter().map(String::as_str)) {
            continue;
        }
        c.entry = provider.relocate_shards(&c.entry.cid, &published, check)?;
    }
    Ok(committed)
}

/// Checks that every shard of `new` is published with its size (inside the commit's
/// transaction); `vanished` tells the caller a shard was missing.
fn shards_in_place(store: &dyn DataStore, new: &NewEntry, vanished: &mut bool) -> Result<()> {
    for s in &new.shards {
        match store.size(&s.url)? {
            Some(n) if Some(n) == s.bytes || s.bytes.is_none() => {}
            Some(n) => {
                return Err(Error::corrupt(format!(
                    "shard '{}' is {n} bytes in the store, the write staged {} bytes",
                    s.url,
                    s.bytes.unwrap_or_default()
                ))
                .with_dataset(&new.name))
            }
            None => {
                *vanished = true;
                return Err(Error::Conflict {
                    what: format!(
                        "shard '{}' of dataset '{}' was removed (by a concurrent gc) before its \
                         entry was committed; nothing was committed, the write can be retried",
                        s.url, new.name
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The key a sample copied into the store gets. A key that is a clean relative path (no
/// leading `/`, no empty, `.` or `..` component, no `\`) is kept as it is; any other (a tar
/// member named `/etc/x` or `../x`) becomes its last component, so that no shard in the store
/// holds a member that would be extracted outside its folder. (Keys are what the reader found
/// before the first dot of a member's base name, so that component is never empty, `.` or
/// `..`.) Two consecutive samples that end up with one key are refused by the writer, naming
/// the key.
fn store_key(key: &str) -> &str {
    let clean = !key.starts_with('/')
        && !key.contains('\\')
        && key
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if clean {
        key
    } else {
        key.rsplit(['/', '\\']).next().unwrap_or(key)
    }
}

fn new_entry(name: &str, schema: &Schema, shards: Vec<ShardInfo>, d: &Describe<'_>) -> NewEntry {
    NewEntry {
        name: name.to_string(),
        schema: schema.clone(),
        shards,
        description: d.description.clone(),
        tags: d.tags.to_vec(),
        license: d.license.clone(),
        metadata: d.metadata.clone(),
    }
}

/// (repository, dataset name) a write goes to: `name` may carry `@repo/`, or `repo` name it.
/// Every way a dataset comes in (write, insert with or without copy) passes here, so the name
/// rule ([`check_dataset_name`]) is applied before anything is read or written.
pub(super) fn target_of(name: &str, repo: Option<&str>) -> Result<(String, String)> {
    // Only the `@repo/` form selects a repository here: a bare name with a '/' is refused
    // (it would be a path, not a name).
    if !name.starts_with('@') {
        check_dataset_name(name)?;
        return Ok((repo.unwrap_or(LOCAL).to_string(), name.to_string()));
    }
    let r = DatasetRef::parse(name)?;
    if r.selector.is_some() {
        return Err(Error::invalid(format!(
            "cannot write to '{name}': versions are assigned by the index"
        )));
    }
    if let Some(other) = repo.filter(|o| *o != r.repo) {
        return Err(Error::invalid(format!(
            "dataset '{name}' names repository '{}' but the options say '{other}'",
            r.repo
        )));
    }
    check_dataset_name(&r.name)?;
    Ok((r.repo, r.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target_of("d", None).unwrap(), ("local".into(), "d".into()));
        assert_eq!(
            target_of("d", Some("lab")).unwrap(),
            ("lab".into(), "d".into())
        );
        assert_eq!(
            target_of("@lab/d", None).unwrap(),
            ("lab".into(), "d".into())
        );
        assert_eq!(
            target_of("@lab/d", Some("lab")).unwrap(),
            ("lab".into(), "d".into())
        );
        assert!(target_of("@lab/d", Some("local")).is_err());
        assert!(target_of("@local/d@2", None).is_err());
        assert!(target_of("d@2", None).is_err());
        assert!(target_of("", None).is_err());
        assert!(matches!(
            target_of("../x", None),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn copied_keys_never_leave_their_folder() {
        for (key, want) in [
            ("000000001", "000000001"),
            ("dir/key", "dir/key"),
            ("/etc/passwd", "passwd"),
            ("/abs/dir/k", "k"),
            ("../k", "k"),
            ("a/../../k", "k"),
            ("./k", "k"),
            ("a//k", "k"),
            ("a\\b", "b"),
            ("C:\\x\\k", "k"),
        ] {
            assert_eq!(store_key(key), want, "{key:?}");
        }
    }

    #[test]
    fn builder() {
        let o = WriteOptions::new("d")
            .description("x")
            .tags(["a", "b"])
            .license("MIT")
            .maxcount(5)
            .maxsize(1 << 20)
            .repo("lab")
            .metadata(Value::Map(vec![]));
        assert_eq!(o.tags, vec!["a", "b"]);
        assert_eq!(o.maxcount, Some(5));
        assert_eq!(o.repo.as_deref(), Some("lab"));
    }
}
