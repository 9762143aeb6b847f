//! Copying datasets from one index and store to another (`atdata copy`).
//!
//! A copy moves shard bytes, never samples: each shard is read through the source's
//! [`ShardSource`], written byte for byte into the destination store's staging area while it is
//! hashed, checked against what the source entry recorded (the rule `verify` uses), published
//! under its content-tagged name, and only then is the entry committed in the destination, with
//! its schema record, all versions of one copy in one transaction. So a copy that fails (a
//! damaged shard, an unreachable destination) commits nothing; shards it already published are
//! referenced by nothing, and `gc` removes them, as after any failed write.
//!
//! The CID covers the name, the schema reference and the shard digests, never where the
//! shards are: a copy under the same name keeps its CID, and copying it again finds that CID
//! in the destination and does nothing. The destination's own schema records decide schema
//! versions; if they would give the structure another version (hence another CID), the copy
//! is refused rather than renamed silently. Entries Python atdata 0.7 wrote have a CID of 0.7's
//! recipe, which covers shard URLs; their copy gets our CID, and shards whose digest 0.7 never
//! recorded get one computed on the way (the report says which).

use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::index::entry::{decide_schema_version, entry_cid, Entry, NewEntry};
use crate::index::reference::DatasetRef;
use crate::index::scan::{expand_url, source_of};
use crate::index::verify::Recorded;
use crate::index::write::{publish_and_commit_all, target_of};
use crate::index::{resolve, schema_of, unknown_name, Index, Repository};
use crate::progress::{NoProgress, Progress};
use crate::schema::{Schema, SchemaRef};
use crate::shard::{ShardReader, StagedShard, StagingCopy};
use crate::store::ShardSource;

/// How to copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Copy every version of the name, oldest first (the reference then names no version).
    pub all_versions: bool,
    /// The name in the destination, or `@repo/name`; the source's name when `None`. Another
    /// name gives another CID (the CID covers the name).
    pub rename: Option<String>,
    /// The destination repository (`local` when `None`).
    pub repo: Option<String>,
}

/// What happened to one version.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedVersion {
    /// The source entry.
    pub source: Entry,
    /// The entry now in the destination.
    pub entry: Entry,
    /// False when the destination had this CID already: nothing was copied or committed.
    pub created: bool,
    /// The source files whose digest the source index did not record (entries of Python atdata
    /// 0.7): their digest was computed while copying, and nothing vouches that they are what
    /// was written.
    pub digests_computed: Vec<String>,
    /// Bytes copied (0 when nothing was).
    pub bytes: u64,
}

impl CopiedVersion {
    /// Whether the copy has the source's CID (false for another name, or for an entry of
    /// Python atdata 0.7, whose CID recipe covers shard URLs).
    pub fn cid_kept(&self) -> bool {
        self.entry.cid == self.source.cid
    }
}

/// The outcome of [`Index::copy_to`]: one item per version, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CopyReport {
    /// Every version copied or found already there.
    pub versions: Vec<CopiedVersion>,
}

impl CopyReport {
    /// Versions newly committed in the destination.
    pub fn created(&self) -> usize {
        self.versions.iter().filter(|v| v.created).count()
    }

    /// Bytes copied in all.
    pub fn bytes(&self) -> u64 {
        self.versions.iter().map(|v| v.bytes).sum()
    }
}

impl Index {
    /// Copies the dataset `reference` names (one version, or every version with
    /// [`CopyOptions::all_versions`]) into `dest` (which may be this index, for another
    /// repository), with its shards in the store of the destination repository (the default
    /// store when it has none). See the module documentation for what is checked and kept.
    pub fn copy_to(&self, reference: &str, dest: &Index, opts: &CopyOptions) -> Result<CopyReport> {
        self.copy_to_with_progress(reference, dest, opts, &NoProgress)
    }

    /// [`copy_to`](Self::copy_to), telling `progress` how many bytes there are to copy and how
    /// many are done.
    pub fn copy_to_with_progress(
        &self,
        reference: &str,
        dest: &Index,
        opts: &CopyOptions,
        progress: &dyn Progress,
    ) -> Result<CopyReport> {
        copy_dataset(self, reference, dest, opts, progress)
    }
}

/// One file to copy: a source URL and what the source entry records for it.
struct File<'e> {
    url: String,
    recorded: Recorded<'e>,
    samples: Option<u64>,
}

/// One version to copy, as planned before any byte moves.
struct Plan<'e> {
    source: &'e Entry,
    schema: Schema,
    files: Vec<File<'e>>,
    /// The destination's CID, when every digest is recorded.
    cid: Option<String>,
}

/// [`Index::copy_to_with_progress`].
pub fn copy_dataset(
    source: &Index,
    reference: &str,
    dest: &Index,
    opts: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let r = DatasetRef::parse(reference)?;
    let src_repo = source.repo(&r.repo)?;
    let entries = source_entries(&src_repo, &r, opts.all_versions)?;
    let (dest_repo_name, name) = match &opts.rename {
        Some(n) => target_of(n, opts.repo.as_deref())?,
        None => target_of(&r.name, opts.repo.as_deref())?,
    };
    let dest_repo = dest.repo(&dest_repo_name)?;
    let reader = source_of(&src_repo);
    let shown = |e: &Entry| format!("@{}/{}@{}", r.repo, e.name, e.version);

    // Plan every version, and find those the destination has already, before any byte moves.
    let mut report = CopyReport::default();
    let mut plans = Vec::new();
    let mut dest_schemas = dest_repo.provider.schemas()?;
    for entry in &entries {
        let plan = plan(reader.as_ref(), &src_repo, entry, &name)
            .map_err(|e| e.with_dataset(&shown(entry)))?;
        if let Some(existing) = already_there(&dest_repo, plan.cid.as_deref())? {
            report.versions.push(done(entry, existing));
            continue;
        }
        check_schema_version(&plan.schema, &mut dest_schemas, &dest_repo_name)
            .map_err(|e| e.with_dataset(&shown(entry)))?;
        plans.push(plan);
    }
    if plans.is_empty() {
        return Ok(report);
    }

    let store = dest.store_for(&dest_repo)?;
    store.check_name(&name)?;
    let staging = store.staging_dir()?;
    progress.start(
        plans
            .iter()
            .flat_map(|p| &p.files)
            .map(|f| {
                f.recorded
                    .bytes
                    .unwrap_or_else(|| reader.size(&f.url).ok().flatten().unwrap_or(0))
            })
            .sum(),
    );
    let mut writes = Vec::with_capacity(plans.len());
    let mut expected = Vec::with_capacity(plans.len());
    let mut copied = Vec::with_capacity(plans.len());
    for plan in plans {
        let entry = plan.source;
        let mut staged = Vec::with_capacity(plan.files.len());
        let mut computed = Vec::new();
        for f in &plan.files {
            let s = stage(reader.as_ref(), f, &staging, progress)
                .map_err(|e| e.with_dataset(&shown(entry)))?;
            if f.recorded.sha256.is_none() {
                computed.push(f.url.clone());
            }
            staged.push(s);
        }
        let cid = match plan.cid {
            Some(cid) => cid,
            None => {
                let digests: Vec<&str> = staged.iter().map(|s| s.sha256.as_str()).collect();
                let cid = cid_of(&name, &plan.schema, &digests)?;
                // Known only now that the bytes are hashed: the destination may have it.
                if let Some(existing) = already_there(&dest_repo, Some(&cid))? {
                    report.versions.push(done(entry, existing));
                    continue;
                }
                cid
            }
        };
        let bytes = staged.iter().map(|s| s.bytes).sum();
        writes.push((new_entry(entry, &name, plan.schema), staged));
        expected.push(cid);
        copied.push((entry, computed, bytes));
    }
    if writes.is_empty() {
        return Ok(report);
    }
    let committed = publish_and_commit_all(&dest_repo, store.as_ref(), writes, Some(&expected))?;
    for (c, (entry, digests_computed, bytes)) in committed.into_iter().zip(copied) {
        report.versions.push(CopiedVersion {
            source: entry.clone(),
            entry: c.entry,
            created: c.created,
            digests_computed,
            bytes,
        });
    }
    // Oldest first, whichever were found already there.
    report
        .versions
        .sort_by_key(|v| entries.iter().position(|e| e.cid == v.source.cid));
    Ok(report)
}

/// The entries a copy reads: the one `r` names, or every version of its name.
fn source_entries(repo: &Repository, r: &DatasetRef, all_versions: bool) -> Result<Vec<Entry>> {
    if !all_versions {
        return Ok(vec![resolve(repo, r)?]);
    }
    if let Some(s) = &r.selector {
        return Err(Error::invalid(format!(
            "copying every version of '{}' takes the name alone, not '@{s}'",
            r.name
        )));
    }
    let versions = repo.provider.versions(&r.name)?;
    if versions.is_empty() {
        return Err(unknown_name(repo, r));
    }
    versions
        .iter()
        .map(|v| {
            repo.provider
                .entry_by_version(&r.name, v)?
                .ok_or_else(|| Error::not_found(format!("dataset '@{}/{}@{v}'", r.repo, r.name)))
        })
        .collect()
}

/// What copying `entry` as `name` reads, and its CID there when its digests are all recorded.
fn plan<'e>(
    reader: &dyn ShardSource,
    repo: &Repository,
    entry: &'e Entry,
    name: &str,
) -> Result<Plan<'e>> {
    let schema = schema_of(repo, entry)?;
    let mut files = Vec::with_capacity(entry.shards.len());
    for shard in &entry.shards {
        let urls = expand_url(reader, entry, &shard.url)?;
        let recorded = Recorded::of(shard, &urls);
        let samples = if urls.len() == 1 { shard.samples } else { None };
        for url in urls {
            // A URL the source cannot read fails here, by scheme, before anything is staged.
            reader.check_url(&url)?;
            files.push(File {
                url,
                recorded,
                samples,
            });
        }
    }
    if files.is_empty() {
        return Err(Error::corrupt("the entry has no shards"));
    }
    let digests: Option<Vec<&str>> = files.iter().map(|f| f.recorded.sha256).collect();
    let cid = digests.map(|d| cid_of(name, &schema, &d)).transpose()?;
    Ok(Plan {
        source: entry,
        schema,
        files,
        cid,
    })
}

/// The CID of `name` with `schema` (at the version it has) and these shard digests: the
/// recipe of every commit ([`entry_cid`]).
fn cid_of(name: &str, schema: &Schema, digests: &[&str]) -> Result<String> {
    entry_cid(
        name,
        &SchemaRef::local(&schema.name, &schema.version).to_string(),
        digests,
    )
}

/// The destination's entry with `cid`, if any.
fn already_there(repo: &Repository, cid: Option<&str>) -> Result<Option<Entry>> {
    match cid {
        Some(cid) => repo.provider.entry_by_cid(cid),
        None => Ok(None),
    }
}

fn done(source: &Entry, existing: Entry) -> CopiedVersion {
    CopiedVersion {
        source: source.clone(),
        entry: existing,
        created: false,
        digests_computed: Vec::new(),
        bytes: 0,
    }
}

/// Refuses, before any byte moves, a copy whose schema the destination would store under
/// another version (the commit checks again, inside its transaction); `stored` are the
/// destination's records of the names concerned, and gets this one.
fn check_schema_version(schema: &Schema, stored: &mut Vec<Schema>, repo: &str) -> Result<()> {
    let same_name: Vec<Schema> = stored
        .iter()
        .filter(|s| s.name == schema.name)
        .cloned()
        .collect();
    let decided = decide_schema_version(schema, &same_name);
    if decided.version() != schema.version {
        return Err(Error::invalid(format!(
            "schema '{}@{}' would be version {} in repository '{repo}' of the destination \
             (its records of '{}' hold another structure under that version, or this structure \
             under another): the copy would not keep its CID; nothing was copied",
            schema.name,
            schema.version,
            decided.version(),
            schema.name
        )));
    }
    if !same_name.iter().any(|s| s.version == schema.version) {
        stored.push(schema.clone());
    }
    Ok(())
}

fn new_entry(source: &Entry, name: &str, schema: Schema) -> NewEntry {
    NewEntry {
        name: name.to_string(),
        schema,
        shards: Vec::new(),
        description: source.description.clone(),
        tags: source.tags.clone(),
        license: source.license.clone(),
        metadata: source.metadata.clone(),
    }
}

/// A reader that copies what passes through it into the staging file and reports progress.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut StagingCopy,
    progress: &'a dyn Progress,
    /// Why writing the staging file failed (a read error then would blame the source).
    write_error: Option<io::Error>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.out.write_all(buf.get(..n).unwrap_or_default()) {
            self.write_error = Some(e);
            return Err(io::Error::other("writing the staging file failed"));
        }
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Copies one file into the staging area and checks it against what the entry recorded.
fn stage(
    reader: &dyn ShardSource,
    f: &File<'_>,
    staging: &Path,
    progress: &dyn Progress,
) -> Result<StagedShard> {
    let url = f.url.as_str();
    let opened = reader.open(url)?;
    progress.shard(url);
    let mut copy = StagingCopy::new(staging)?;
    // One byte past the recorded size is enough to know the file differs: a source that
    // grew (or never ends) cannot fill the staging disk.
    let limit = f.recorded.bytes.map_or(u64::MAX, |b| b.saturating_add(1));
    let mut tee = Tee {
        inner: opened.reader.take(limit),
        out: &mut copy,
        progress,
        write_error: None,
    };
    let counted = match f.samples {
        Some(_) => None,
        // The entry does not say how many samples (0.7): read them as the bytes pass.
        None => {
            let len = opened.len.or(f.recorded.bytes);
            let reader = ShardReader::new(BufReader::with_capacity(256 << 10, &mut tee), url, len);
            let mut n = 0u64;
            let mut failed = None;
            for sample in reader {
                match sample {
                    Ok(_) => n += 1,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                return Err(match tee.write_error.take() {
                    Some(w) => Error::io(staging.display().to_string(), w),
                    None => e,
                });
            }
            Some(n)
        }
    };
    // The rest of the file (all of it, or what follows the end-of-archive marker).
    let drained = io::copy(&mut tee, &mut io::sink());
    match (tee.write_error.take(), drained) {
        (Some(e), _) => return Err(Error::io(staging.display().to_string(), e)),
        (None, Err(e)) => {
            let at = copy.bytes();
            return Err(Error::io(
                url,
                io::Error::new(e.kind(), format!("{e} (after byte {at} of the shard)")),
            ));
        }
        (None, Ok(_)) => {}
    }
    copy.flush()
        .map_err(|e| Error::io(staging.display().to_string(), e))?;
    if f.recorded.bytes.is_some_and(|b| copy.bytes() > b) {
        return Err(Error::corrupt(format!(
            "shard '{url}' is larger than the {} bytes the index recorded; nothing was committed",
            f.recorded.bytes.unwrap_or_default()
        )));
    }
    let staged = copy.finish(counted.or(f.samples).unwrap_or_default())?;
    let problem = f
        .recorded
        .size_problem(url, staged.bytes)
        .or_else(|| f.recorded.digest_problem(url, &staged.sha256));
    match problem {
        Some(p) => Err(Error::corrupt(format!("{p}; nothing was committed"))),
        None => Ok(staged),
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::index::commit::commit_many_expecting;
    use crate::index::{ProviderExt, ShardInfo, SqliteProvider};

    #[test]
    fn a_commit_that_would_not_keep_the_expected_cid_commits_nothing() {
        let p = SqliteProvider::in_memory().unwrap();
        let schema = Schema::from_json(
            r#"{"name":"T","version":"1.0.0","fields":[{"name":"x","fieldType":{"$type":"local#primitive","primitive":"int"},"optional":false}]}"#,
        )
        .unwrap();
        let new = NewEntry {
            name: "d".into(),
            schema: schema.clone(),
            shards: vec![ShardInfo::new("/x.tar", "ab".repeat(32), 1, 10240)],
            description: None,
            tags: vec![],
            license: None,
            metadata: None,
        };
        let right = cid_of("d", &schema, &["ab".repeat(32).as_str()]).unwrap();
        let e = commit_many_expecting(
            &p,
            std::slice::from_ref(&new),
            &["bafywrong".to_string()],
            &mut || Ok(()),
        )
        .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(e.to_string().contains("bafywrong"), "{e}");
        assert!(p.entries().unwrap().is_empty());
        assert!(crate::index::Provider::schemas(&p).unwrap().is_empty());
        let done = commit_many_expecting(&p, &[new], std::slice::from_ref(&right), &mut || Ok(()))
            .unwrap();
        assert_eq!(done[0].entry.cid, right);
    }
}
