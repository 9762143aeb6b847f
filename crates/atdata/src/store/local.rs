//! [`LocalDiskStore`]: shards as files under a root directory, in the layout of Python atdata
//! 0.7 (`{root}/{name}/data--{tag}--{000000}.tar`), recorded by absolute path.
//!
//! Shards are staged in `{root}/.staging` (same filesystem, so publishing is a rename; the
//! leading dot keeps it out of the dataset namespace) and renamed into place without
//! clobbering by [`StagedShard::publish`], which also fsyncs the file and its folder.
//!
//! Reading is [`LocalFiles`]: every local path or `file://` URL, inside the root or not (an
//! entry indexed in place names files outside it), opened only through
//! [`open_shard_file`] (regular files only). The store's read side is that.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::shard::{open_shard_file, StagedShard};
use crate::store::{
    check_dataset_name, is_shard_file_name, DataStore, OpenedShard, ShardSource, StoreOwner,
    StoredFile,
};

/// The read side for shards on local filesystems: plain paths and `file://` URLs (the scheme
/// rule is [`shard::local_path`](crate::shard::local_path)), wherever they are. What a
/// `Dataset` over paths the user gave reads through, and what
/// [`LocalDiskStore`] reads through.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFiles;

impl LocalFiles {
    /// `LocalFiles` shared, as a `Dataset` holds its source.
    pub fn shared() -> Arc<dyn ShardSource> {
        Arc::new(LocalFiles)
    }

    fn path(url: &str) -> Result<&Path> {
        crate::shard::local_path(url).map(Path::new)
    }
}

impl ShardSource for LocalFiles {
    fn check_url(&self, url: &str) -> Result<()> {
        Self::path(url).map(|_| ())
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        let (file, len) = open_shard_file(Self::path(url)?, url)?;
        Ok(OpenedShard {
            reader: Box::new(file),
            len: Some(len),
        })
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let (mut file, size) = open_shard_file(Self::path(url)?, url)?;
        let past_end = offset.checked_add(len).is_none_or(|end| end > size);
        if past_end {
            return Err(Error::io(
                url,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{len} bytes at offset {offset} run past the end ({size} bytes)"),
                ),
            ));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(url, e))?;
        let mut out = Vec::with_capacity(len as usize);
        let got = file
            .take(len)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(url, e))?;
        // The file shrank since it was measured.
        if (got as u64) < len {
            return Err(Error::io(
                url,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("only {got} of {len} bytes at offset {offset}: the file ends there"),
                ),
            ));
        }
        Ok(out)
    }

    fn size(&self, url: &str) -> Result<Option<u64>> {
        match fs::metadata(Self::path(url)?) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(m) => Err(crate::shard::not_a_regular_file(url, &m.file_type())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(url, e)),
        }
    }

    fn local_path(&self, url: &str) -> Option<PathBuf> {
        Self::path(url).ok().map(Path::to_path_buf)
    }
}

/// Name of the staging folder inside the root.
const STAGING: &str = ".staging";

/// Name of the file in the root recording which index owns the store ([`StoreOwner`] as
/// JSON). The leading dot keeps it out of the dataset namespace.
pub const OWNER_FILE: &str = ".atdata-store";

/// Shards on a local (or mounted) filesystem under one root directory.
#[derive(Debug, Clone)]
pub struct LocalDiskStore {
    root: PathBuf,
}

impl LocalDiskStore {
    /// A store rooted at `root` (created if missing; kept as an absolute, resolved path since
    /// entries record absolute shard paths).
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let shown = root.display().to_string();
        fs::create_dir_all(root).map_err(|e| Error::io(&shown, e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io(&shown, e))?;
        Ok(LocalDiskStore { root })
    }

    /// The store at `root` if it exists, creating nothing: a missing root (or one that is not
    /// a directory) is an error naming it. For operations that only read or remove.
    pub fn open_existing(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let shown = root.display().to_string();
        match fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::invalid(format!(
                    "data store root '{shown}' is not a directory"
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "no data store at '{shown}' (nothing has been written there)"
                )))
            }
            Err(e) => return Err(Error::io(shown, e)),
        }
        let root = fs::canonicalize(root).map_err(|e| Error::io(&shown, e))?;
        Ok(LocalDiskStore { root })
    }

    /// The default store (created if missing): `$ATDATA_HOME/data`, `~/.atdata/data` when
    /// unset (see [`default_paths`](crate::home::default_paths)).
    pub fn at_default_root() -> Result<Self> {
        Self::new(crate::home::default_paths()?.store)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn staging(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// The path of `url` if it lies inside the root (by path components, so `..` tricks and
    /// sibling folders sharing a prefix do not count).
    fn inside(&self, url: &str) -> Option<PathBuf> {
        inside_dir(&self.root, url)
    }
}

/// The path of `url` (a path or `file://` URL) if it lies strictly inside `dir`, by path
/// components, so `..` tricks and sibling folders sharing a prefix do not count. Stores use it
/// for their root and their staging directory.
pub(crate) fn inside_dir(dir: &Path, url: &str) -> Option<PathBuf> {
    let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
    let normal = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::RootDir
        )
    });
    (normal && path.starts_with(dir) && path != dir).then(|| path.to_path_buf())
}

/// Whether a writer holds the staging file at `path` (see [`hold_shared`]); a file that
/// cannot be opened is not held.
pub(crate) fn staging_in_use(path: &Path) -> bool {
    match fs::File::open(path) {
        Ok(f) => held_by_a_writer(&f),
        Err(_) => false,
    }
}

/// The files of a staging directory (none when it does not exist): what
/// [`DataStore::staging_files`] lists for every store that stages locally.
pub(crate) fn list_staging(dir: &Path) -> Result<Vec<StoredFile>> {
    let mut out = Vec::new();
    for file in read_dir(dir)? {
        let path = file.path();
        match file.metadata() {
            Ok(meta) if meta.is_file() => out.push(stored_file(&path, &meta)),
            Ok(_) => {}
            // A writer published or dropped it since listed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path.display().to_string(), e)),
        }
    }
    Ok(out)
}

fn stored_file(path: &Path, meta: &fs::Metadata) -> StoredFile {
    StoredFile {
        url: path.display().to_string(),
        bytes: meta.len(),
        modified: meta.modified().ok(),
    }
}

/// Marks a just-published file as fresh (see the store contract). Best effort: a file we
/// cannot touch (read-only) is still published.
fn touch(path: &Path) {
    if let Ok(f) = fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Takes a shared lock on a staging file for as long as `file` stays open: writers hold
/// their staging files this way, so garbage collection can tell them from a dead writer's
/// leftovers ([`held_by_a_writer`]). Best effort: where locks are not supported, only the
/// grace period protects a write in progress.
pub(crate) fn hold_shared(file: &fs::File) {
    #[cfg(unix)]
    {
        let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockShared);
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Whether a writer holds the staging file `file` was opened from (see [`hold_shared`]).
pub(crate) fn held_by_a_writer(file: &fs::File) -> bool {
    #[cfg(unix)]
    {
        // Our own exclusive lock, if we get it, goes with `file`.
        matches!(
            rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK
        )
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let shown = || dir.display().to_string();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(shown(), e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        out.push(entry.map_err(|e| Error::io(shown(), e))?);
    }
    out.sort_by_key(|e| e.file_name());
    Ok(out)
}

impl ShardSource for LocalDiskStore {
    fn check_url(&self, url: &str) -> Result<()> {
        LocalFiles.check_url(url)
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        LocalFiles.open(url)
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        LocalFiles.read_range(url, offset, len)
    }

    fn size(&self, url: &str) -> Result<Option<u64>> {
        LocalFiles.size(url)
    }

    fn local_path(&self, url: &str) -> Option<PathBuf> {
        LocalFiles.local_path(url)
    }
}

impl DataStore for LocalDiskStore {
    fn as_source(self: Arc<Self>) -> Arc<dyn ShardSource> {
        self
    }

    fn kind(&self) -> &'static str {
        "LocalDiskStore"
    }

    fn check_name(&self, dataset: &str) -> Result<()> {
        check_dataset_name(dataset)
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn owner(&self) -> Result<Option<StoreOwner>> {
        let path = self.root.join(OWNER_FILE);
        let shown = || path.display().to_string();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(shown(), e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::corrupt(format!(
                "store owner file '{}' is not the JSON atdata writes ({e}); remove it and \
                 claim the store again",
                shown()
            ))
        })
    }

    fn set_owner(&self, owner: &StoreOwner, replace: bool) -> Result<StoreOwner> {
        let path = self.root.join(OWNER_FILE);
        let shown = path.display().to_string();
        let mut json = serde_json::to_vec_pretty(owner)
            .map_err(|e| Error::invalid(format!("store owner: {e}")))?;
        json.push(b'\n');
        // Written whole in a temp file, then renamed (claim) or linked without clobbering
        // (first write: two writers racing to claim agree on whoever came first).
        let mut temp = tempfile::Builder::new()
            .prefix(".atdata-store-")
            .suffix(".tmp")
            .tempfile_in(&self.root)
            .map_err(|e| Error::io(&shown, e))?;
        std::io::Write::write_all(&mut temp, &json).map_err(|e| Error::io(&shown, e))?;
        temp.as_file()
            .sync_all()
            .map_err(|e| Error::io(&shown, e))?;
        if replace {
            temp.persist(&path)
                .map_err(|e| Error::io(&shown, e.error))?;
        } else {
            match temp.persist_noclobber(&path) {
                Ok(_) => {}
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(&shown, e.error)),
            }
        }
        self.owner()?
            .ok_or_else(|| Error::not_found(format!("store owner file '{shown}' vanished")))
    }

    fn in_use(&self, url: &str) -> bool {
        self.inside(url).is_some_and(|p| staging_in_use(&p))
    }

    fn staging_dir(&self) -> Result<PathBuf> {
        let dir = self.staging();
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        Ok(dir)
    }

    fn publish(
        &self,
        dataset: &str,
        tag: &str,
        index: usize,
        shard: StagedShard,
    ) -> Result<String> {
        let rel = super::published_shard_path(dataset, tag, index)?;
        let dest = self.root.join(rel);
        shard.publish(&dest)?;
        touch(&dest);
        Ok(dest.display().to_string())
    }

    fn shards(&self) -> Result<Vec<StoredFile>> {
        let mut out = Vec::new();
        for dir in read_dir(&self.root)? {
            let name = dir.file_name();
            let is_dataset = name.to_str().is_some_and(|n| check_dataset_name(n).is_ok());
            let is_dir = dir.file_type().is_ok_and(|t| t.is_dir());
            if !is_dataset || !is_dir {
                continue;
            }
            for file in read_dir(&dir.path())? {
                let fname = file.file_name();
                if !fname.to_str().is_some_and(is_shard_file_name) {
                    continue;
                }
                let path = file.path();
                match file.metadata() {
                    Ok(meta) if meta.is_file() => out.push(stored_file(&path, &meta)),
                    Ok(_) => {}
                    // Removed since listed (a concurrent gc): not there any more.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(path.display().to_string(), e)),
                }
            }
        }
        Ok(out)
    }

    fn staging_files(&self) -> Result<Vec<StoredFile>> {
        list_staging(&self.staging())
    }

    fn owns(&self, url: &str) -> bool {
        self.inside(url).is_some()
    }

    fn remove(&self, url: &str) -> Result<()> {
        let path = self.inside(url).ok_or_else(|| {
            Error::invalid(format!(
                "'{url}' is not inside the store at '{}'",
                self.root.display()
            ))
        })?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::not_found(format!("shard file '{url}'")))
            }
            Err(e) => Err(Error::io(url, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[test]
    fn every_store_behaviour_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        conformance::run_all(|| {
            n += 1;
            LocalDiskStore::new(dir.path().join(format!("data-{n}"))).unwrap()
        });
    }

    #[test]
    fn urls_are_absolute_paths_in_the_python_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path().join("a/../data")).unwrap();
        assert!(store.root().is_absolute());
        assert!(!store.root().display().to_string().contains(".."));
        let url = conformance::publish_one(&store, "docs-v1", "078fef77", 0, &[b"\x80"]);
        let want = store.root().join("docs-v1/data--078fef77--000000.tar");
        assert_eq!(url, want.display().to_string());
        assert!(want.is_file());
        assert!(store.staging_dir().unwrap().starts_with(store.root()));
    }

    #[test]
    fn sibling_prefix_and_dotdot_are_not_inside() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path().join("data")).unwrap();
        let root = store.root().display().to_string();
        assert!(!store.owns(&format!("{root}-other/x/data--a--000000.tar")));
        assert!(!store.owns(&format!("{root}/x/../../y.tar")));
        assert!(!store.owns(&root));
        assert!(store.owns(&format!("{root}/x/data--a--000000.tar")));
        assert!(store.owns(&format!("file://{root}/x/data--a--000000.tar")));
    }

    #[test]
    fn foreign_files_in_the_root_are_not_shards() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        fs::create_dir_all(store.root().join("d")).unwrap();
        fs::write(store.root().join("d/notes.txt"), b"x").unwrap();
        fs::write(store.root().join("index.db"), b"x").unwrap();
        assert!(store.shards().unwrap().is_empty());
    }

    #[test]
    fn the_owner_is_recorded_once_and_replaced_only_by_a_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::new(dir.path()).unwrap();
        assert_eq!(store.owner().unwrap(), None);
        let a = StoreOwner {
            index_id: "a".into(),
            index_path: Some("/a.db".into()),
        };
        let b = StoreOwner {
            index_id: "b".into(),
            index_path: None,
        };
        assert_eq!(store.set_owner(&a, false).unwrap(), a);
        assert_eq!(store.set_owner(&b, false).unwrap(), a, "first owner stays");
        assert_eq!(store.set_owner(&b, true).unwrap(), b, "a claim replaces it");
        assert_eq!(store.owner().unwrap(), Some(b));
        // The marker is the store's own file, not a dataset or a shard.
        assert!(store.shards().unwrap().is_empty());
        assert!(check_dataset_name(OWNER_FILE).is_err());
        fs::write(store.root().join(OWNER_FILE), b"{").unwrap();
        let e = store.owner().unwrap_err().to_string();
        assert!(e.contains(OWNER_FILE), "{e}");
    }

    #[test]
    fn open_existing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = LocalDiskStore::open_existing(&missing).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(!missing.exists());
    }
}
