//! Writing shards: deterministic tar files, hashed while written, staged as temp files and
//! published by an atomic no-clobber rename.
//!
//! Determinism is what makes content addressing work: the same samples under the same keys give
//! byte-identical shards, hence the same sha256 and the same dataset CID. So headers carry no
//! time, owner or PAX records. Staging in a temp file and publishing by rename means a reader
//! never sees a partial shard, and a crash leaves at most a hidden temp file behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempPath;

use super::tar_header::{self, archive_len, member_len, BLOCK, ZEROS};
use crate::{Error, Result};

/// Buffer between the writer and the temp file. Members at least this large bypass it (BufWriter
/// passes big writes straight through), so large arrays are never copied twice. Hashing the
/// bytes as they pass costs more than writing them to the page cache (sha256 runs at about
/// 0.8 GB/s here); hashing on a second thread was measured and gained nothing worth its code.
const WRITE_BUFFER: usize = 1 << 20;

/// When to roll to a new shard. `None` means no limit.
#[derive(Debug, Clone, Default)]
pub struct ShardOptions {
    /// Most samples in one shard.
    pub maxcount: Option<usize>,
    /// Most bytes in one shard file (the finished file, with headers, padding and the trailer);
    /// a sample larger than this on its own still gets a shard.
    pub maxsize: Option<u64>,
}

/// Writes WebDataset tar shards of msgpack samples into temporary files inside `staging_dir`
/// (which must be on the same filesystem as the final destination so publishing is a rename).
///
/// Each shard is a POSIX ustar archive with one member `{key}.msgpack` per sample, ended by two
/// zero blocks and zero-padded to a multiple of 10240 bytes, like Python's `tarfile`. Shards
/// close when the next sample would break [`ShardOptions`]; closed shards wait in the writer
/// until [`take_staged`](Self::take_staged) or [`finish`](Self::finish) hands them out.
///
/// After an error the writer refuses further samples; dropping it removes its temp files.
pub struct ShardWriter {
    staging_dir: PathBuf,
    opts: ShardOptions,
    current: Option<OpenShard>,
    staged: Vec<StagedShard>,
    failed: bool,
}

/// The shard being written.
struct OpenShard {
    out: BufWriter<File>,
    temp: TempPath,
    hasher: Sha256,
    samples: u64,
    /// Bytes written so far (members only, no trailer yet).
    bytes: u64,
    last_key: String,
}

impl OpenShard {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(self.temp.display().to_string(), e))
    }

    fn close(mut self) -> Result<StagedShard> {
        let trailer_and_padding = archive_len(self.bytes) - self.bytes;
        let mut left = trailer_and_padding;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            self.write(&ZEROS[..n])?;
            left -= n as u64;
        }
        let bytes = self.bytes + trailer_and_padding;
        let path = self.temp.display().to_string();
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(path.clone(), e.into_error()))?;
        Ok(StagedShard {
            sha256: hex::encode(self.hasher.finalize()),
            samples: self.samples,
            bytes,
            temp: self.temp,
            _in_use: Some(file),
        })
    }
}

impl ShardWriter {
    /// A writer staging shards in `staging_dir` (created if missing). A `maxcount` of 0 is
    /// rejected: a shard always holds at least one sample.
    pub fn new(staging_dir: impl AsRef<Path>, opts: ShardOptions) -> Result<Self> {
        if opts.maxcount == Some(0) {
            return Err(Error::invalid("maxcount must be at least 1"));
        }
        let staging_dir = staging_dir.as_ref().to_path_buf();
        fs::create_dir_all(&staging_dir)
            .map_err(|e| Error::io(staging_dir.display().to_string(), e))?;
        Ok(ShardWriter {
            staging_dir,
            opts,
            current: None,
            staged: Vec::new(),
            failed: false,
        })
    }

    /// Appends one sample as member "{key}.msgpack". Rolls to a new shard BEFORE this sample if it
    /// would exceed maxcount samples or maxsize bytes (a shard always holds at least one sample).
    ///
    /// The key must be non-empty, must not contain `.` or NUL (the grouping rule splits member
    /// names at the first dot), must not start with `__` or end with `/`, and must differ from the
    /// previous key in the shard (equal neighbours would merge into one sample on read).
    pub fn write_sample(&mut self, key: &str, msgpack: &[u8]) -> Result<()> {
        if self.failed {
            return Err(Error::invalid(
                "shard writer failed earlier; its shards are incomplete",
            ));
        }
        validate_key(key)?;
        if self.current.as_ref().is_some_and(|c| c.last_key == key) {
            return Err(Error::invalid(format!(
                "sample key '{key}' repeats the previous key"
            )));
        }
        let size = msgpack.len() as u64;
        let name = format!("{key}.msgpack");
        let header = tar_header::ustar_header(&name, size)?;
        let result = self.append(key, &header, msgpack);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn append(&mut self, key: &str, header: &[u8; BLOCK], data: &[u8]) -> Result<()> {
        let size = data.len() as u64;
        if let Some(cur) = &self.current {
            if cur.samples > 0 && self.would_overflow(cur, size) {
                if let Some(full) = self.current.take() {
                    self.staged.push(full.close()?);
                }
            }
        }
        let cur = match &mut self.current {
            Some(cur) => cur,
            None => self.current.insert(self.open_shard()?),
        };
        cur.write(header)?;
        cur.write(data)?;
        let pad = tar_header::padding(size) as usize;
        cur.write(&ZEROS[..pad])?;
        cur.samples += 1;
        cur.bytes += member_len(size);
        cur.last_key.clear();
        cur.last_key.push_str(key);
        Ok(())
    }

    fn would_overflow(&self, cur: &OpenShard, size: u64) -> bool {
        let count_full = self
            .opts
            .maxcount
            .is_some_and(|max| cur.samples >= max as u64);
        let size_full = self
            .opts
            .maxsize
            .is_some_and(|max| archive_len(cur.bytes + member_len(size)) > max);
        count_full || size_full
    }

    fn open_shard(&self) -> Result<OpenShard> {
        let (file, temp) = staging_temp(&self.staging_dir)?;
        Ok(OpenShard {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            temp,
            hasher: Sha256::new(),
            samples: 0,
            bytes: 0,
            last_key: String::new(),
        })
    }

    /// Hands out the shards closed so far (by rolling), oldest first, so callers can publish
    /// them while writing goes on.
    pub fn take_staged(&mut self) -> Vec<StagedShard> {
        std::mem::take(&mut self.staged)
    }

    /// Closes the last shard and returns every shard not yet taken; no samples -> empty vec.
    pub fn finish(mut self) -> Result<Vec<StagedShard>> {
        if self.failed {
            return Err(Error::invalid(
                "shard writer failed earlier; its shards are incomplete",
            ));
        }
        if let Some(cur) = self.current.take() {
            if cur.samples > 0 {
                self.staged.push(cur.close()?);
            }
        }
        Ok(std::mem::take(&mut self.staged))
    }
}

/// A new staging temp file in `staging_dir`, share-locked (see [`StagedShard`]).
fn staging_temp(staging_dir: &Path) -> Result<(File, TempPath)> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".atdata-shard-").suffix(".tmp");
    // tempfile creates 0600 files; a shard must follow the umask like every other file we
    // create (0644 under the usual 022), or other accounts cannot read a shared store. The
    // name stays random and the file is still created with O_EXCL.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let named = builder
        .tempfile_in(staging_dir)
        .map_err(|e| Error::io(staging_dir.display().to_string(), e))?;
    let (file, temp) = named.into_parts();
    // Tells garbage collection the file is in use (see `StagedShard`); where locks are not
    // supported, only the grace period protects it.
    crate::store::local::hold_shared(&file);
    Ok((file, temp))
}

/// A shard file copied byte for byte into a staging area (from another store, by
/// `index::copy`), hashed as it is written: the bytes are kept exactly, so the digest an
/// index recorded for them still holds. [`finish`](Self::finish) makes it a [`StagedShard`]
/// to publish; dropping it first removes the temp file.
pub struct StagingCopy {
    out: BufWriter<File>,
    temp: TempPath,
    hasher: Sha256,
    bytes: u64,
}

impl StagingCopy {
    /// An empty copy staged in `staging_dir` (created if missing).
    pub fn new(staging_dir: &Path) -> Result<Self> {
        fs::create_dir_all(staging_dir)
            .map_err(|e| Error::io(staging_dir.display().to_string(), e))?;
        let (file, temp) = staging_temp(staging_dir)?;
        Ok(StagingCopy {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            temp,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The staged shard: its digest and size as written, with `samples` (counted by the
    /// caller).
    pub fn finish(self, samples: u64) -> Result<StagedShard> {
        let path = self.temp.display().to_string();
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        Ok(StagedShard {
            sha256: hex::encode(self.hasher.finalize()),
            samples,
            bytes: self.bytes,
            temp: self.temp,
            _in_use: Some(file),
        })
    }
}

impl Write for StagingCopy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl std::fmt::Debug for StagingCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagingCopy")
            .field("temp", &self.temp.display().to_string())
            .field("bytes", &self.bytes)
            .finish()
    }
}

fn validate_key(key: &str) -> Result<()> {
    let basename = key.rsplit('/').next().unwrap_or(key);
    let problem = if key.is_empty() {
        Some("is empty")
    } else if key.contains('.') {
        Some("contains '.'")
    } else if key.contains('\0') {
        Some("contains NUL")
    } else if basename.is_empty() {
        Some("ends with '/'")
    } else if basename.starts_with("__") {
        Some("starts with '__' (readers skip such members)")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(format!("sample key {key:?} {p}"))),
        None => Ok(()),
    }
}

/// A closed shard in its staging temp file, with the digest computed while it was written.
/// Dropping it deletes the temp file.
///
/// While it lives it holds a shared lock on the file (from the moment the file is created),
/// which garbage collection checks before removing a staging file, so that a write in progress
/// never loses its staged shards, however long it takes.
#[derive(Debug)]
pub struct StagedShard {
    /// Lower-case hex sha256 of the whole tar file.
    pub sha256: String,
    /// Number of samples in the shard.
    pub samples: u64,
    /// Size of the tar file in bytes.
    pub bytes: u64,
    temp: TempPath,
    /// The open, share-locked file (see above).
    _in_use: Option<File>,
}

impl StagedShard {
    /// Where the staged file is now.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// fsync, create parent dirs, atomic rename to `dest` without clobbering: if `dest` exists with
    /// the same sha256 this is Ok (temp dropped: dedup); if it exists with other content ->
    /// Error::AlreadyExists. fsync the dir.
    pub fn publish(self, dest: &Path) -> Result<()> {
        match self.place(dest)? {
            Placed::New => sync_dir(parent_dir(dest)),
            Placed::Existing => Ok(()),
        }
    }

    /// [`publish`](Self::publish) without the final fsync of the directory, saying whether
    /// the file is new (so that a failed [`publish_all`] removes only what it created).
    fn place(self, dest: &Path) -> Result<Placed> {
        let temp_name = self.temp.display().to_string();
        File::open(&self.temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(temp_name, e))?;
        let parent = parent_dir(dest);
        fs::create_dir_all(parent).map_err(|e| Error::io(parent.display().to_string(), e))?;
        let dest_name = dest.display().to_string();
        match self.temp.persist_noclobber(dest) {
            Ok(()) => Ok(Placed::New),
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
                // `err.path` is the temp file again; it is deleted when this scope ends.
                let existing = file_sha256(dest)?;
                if existing == self.sha256 {
                    return Ok(Placed::Existing);
                }
                Err(Error::AlreadyExists {
                    what: format!(
                        "shard '{dest_name}' with different content (sha256 {existing}, \
                         new shard {}); shards are never replaced: remove the file or write \
                         to another path",
                        self.sha256
                    ),
                })
            }
            Err(err) => Err(Error::io(dest_name, err.error)),
        }
    }

    /// A second staged copy of this shard, with the same digest and counts: a hard link beside
    /// it (no bytes copied; a copy where links are not supported). The index's write path
    /// keeps one until its entry is committed, to publish the shard again if a concurrent
    /// garbage collection removed the published file meanwhile.
    pub fn duplicate(&self) -> Result<StagedShard> {
        let dir = self.temp.parent().unwrap_or(Path::new("."));
        let shown = self.temp.display().to_string();
        let mut last = None;
        for _ in 0..8 {
            let path = dir.join(format!(".atdata-keep-{:016x}.tmp", rand::random::<u64>()));
            let made = fs::hard_link(&self.temp, &path).or_else(|e| match e.kind() {
                io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound => Err(e),
                _ => fs::copy(&self.temp, &path).map(|_| ()),
            });
            match made {
                Ok(()) => {
                    let temp = TempPath::try_from_path(&path).map_err(|e| {
                        let _ = fs::remove_file(&path);
                        Error::io(path.display().to_string(), e)
                    })?;
                    let in_use = File::open(&temp).ok();
                    if let Some(f) = &in_use {
                        crate::store::local::hold_shared(f);
                    }
                    return Ok(StagedShard {
                        sha256: self.sha256.clone(),
                        samples: self.samples,
                        bytes: self.bytes,
                        temp,
                        _in_use: in_use,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(Error::io(shown, e)),
            }
        }
        Err(Error::io(
            shown,
            last.unwrap_or_else(|| io::Error::other("no free name for a copy")),
        ))
    }
}

/// What [`StagedShard::place`] found at the destination.
enum Placed {
    /// The staged file is now the destination.
    New,
    /// A file with the same content was there already; the staged one was dropped.
    Existing,
}

/// The directory a file goes into (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename in `dir` durable. Some platforms cannot open directories; that is not an error.
fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir) {
        Ok(f) => f
            .sync_all()
            .map_err(|e| Error::io(dir.display().to_string(), e)),
        Err(_) => Ok(()),
    }
}

/// Hex sha256 of a file's contents, streamed. The file is opened as a shard (regular files
/// only): a FIFO in place of an existing shard must not block publishing forever.
pub(crate) fn file_sha256(path: &Path) -> Result<String> {
    let name = || path.display().to_string();
    let (mut file, _) = super::reader::open_shard_file(path, &name())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(name(), e)),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Deterministic sample key for the n-th sample of a dataset (e.g. format!("{n:09}")): same
/// samples -> same bytes. Nine digits keep keys of datasets below a billion samples sortable.
pub fn sample_key(n: u64) -> String {
    format!("{n:09}")
}

/// A shard published by [`try_write_shards`] or [`write_shards_at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedShard {
    /// Final path of the shard.
    pub path: PathBuf,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Number of samples in it.
    pub samples: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// Writes `samples` (msgpack bytes each; an `Err` item aborts) into shards staged in
/// `staging_dir`, rolling to a new shard by `opts`. Sample `n` (counting across shards) gets
/// key [`sample_key`]`(n)`, and an error names it. This is the one loop every write runs
/// (the index's and the plain-file ones). Nothing is published here, so the caller publishes
/// every shard or none: dropping a staged shard removes its temp file, and a failure here
/// removes the temp files of this call before it returns.
pub fn stage_shards(
    staging_dir: &Path,
    samples: impl IntoIterator<Item = Result<Vec<u8>>>,
    opts: ShardOptions,
) -> Result<Vec<StagedShard>> {
    let mut writer = ShardWriter::new(staging_dir, opts)?;
    for (n, item) in samples.into_iter().enumerate() {
        let bytes = item.map_err(|e| e.with_sample(n))?;
        writer
            .write_sample(&sample_key(n as u64), &bytes)
            .map_err(|e| e.with_sample(n))?;
    }
    writer.finish()
}

/// Writes samples to `dir/{prefix}-000000.tar`, `...-000001.tar`, ... and publishes them all
/// or none (see [`try_write_shards`], which takes samples that may fail).
pub fn write_shards(
    dir: &Path,
    prefix: &str,
    samples: impl IntoIterator<Item = Vec<u8>>,
    opts: ShardOptions,
) -> Result<Vec<PublishedShard>> {
    try_write_shards(dir, prefix, samples.into_iter().map(Ok), opts)
}

/// Writes samples to `dir/{prefix}-000000.tar`, `...-000001.tar`, ... (see [`stage_shards`]).
/// The shards are published only once every sample is written, and all or none: an `Err`
/// item, a failed write or a shard that cannot be published (a different file under its
/// name) leaves no shard of this call behind.
pub fn try_write_shards(
    dir: &Path,
    prefix: &str,
    samples: impl IntoIterator<Item = Result<Vec<u8>>>,
    opts: ShardOptions,
) -> Result<Vec<PublishedShard>> {
    let staged = stage_shards(dir, samples, opts)?;
    publish_all(staged, |i| dir.join(numbered_name(prefix, i)))
}

/// Writes samples to the shard file `path`, the way Python's `write_samples(samples, path)`
/// names its output (atdata 0.7, WebDataset's `ShardWriter`):
///
/// - a file name holding one printf-style integer conversion (`shard-%04d.tar`, `%d`, `%06i`;
///   see [`ShardNamePattern`]) is a pattern: shard `i` is the name formatted with `i`, with or
///   without a limit in `opts` (without one there is one shard, number 0);
/// - otherwise, without a limit the output is the one file `path` (a `%` that is no conversion,
///   as in `100%.tar`, is then a plain character);
/// - otherwise, with `maxcount` or `maxsize`, shards `{stem}-000000.tar`, `{stem}-000001.tar`,
///   ... beside it, where the stem is the name without `.tar` (`docs.tar` -> `docs-000000.tar`;
///   `data` when nothing is left).
///
/// With a limit, a name whose `%` is no valid conversion is refused before anything is written.
/// Only the file name is a pattern; commas, braces and brackets anywhere are plain characters.
/// Published all or none, like [`try_write_shards`]; the shards are staged in the output folder
/// (created if missing).
pub fn write_shards_at(
    path: &Path,
    samples: impl IntoIterator<Item = Result<Vec<u8>>>,
    opts: ShardOptions,
) -> Result<Vec<PublishedShard>> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            Error::invalid(format!(
                "cannot write shards to '{}': it names no file",
                path.display()
            ))
        })?
        .to_string_lossy()
        .into_owned();
    let dir = parent_dir(path);
    let limited = opts.maxcount.is_some() || opts.maxsize.is_some();
    let pattern = match ShardNamePattern::parse(&name) {
        Ok(p) => p,
        Err(why) if limited => {
            return Err(Error::invalid(format!(
                "cannot number the shards of '{}': {why}",
                path.display()
            )))
        }
        Err(_) => None,
    };
    let staged = stage_shards(dir, samples, opts)?;
    if let Some(p) = pattern {
        return publish_all(staged, |i| dir.join(p.format(i)));
    }
    if !limited {
        return publish_all(staged, |_| path.to_path_buf());
    }
    let stem = match name.strip_suffix(".tar").unwrap_or(&name) {
        "" => "data",
        s => s,
    };
    publish_all(staged, |i| dir.join(numbered_name(stem, i)))
}

/// A shard file name with one printf-style integer conversion, as Python's `%` operator reads
/// it: `%` then flags (`-`, `0`, `+`, space), an optional width, an ignored length modifier
/// (`h`, `l`, `L`) and `d`, `i` or `u`. `%%` is a literal `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNamePattern {
    before: String,
    after: String,
    width: usize,
    left: bool,
    zero: bool,
    sign: Option<char>,
}

impl ShardNamePattern {
    /// `Ok(None)` for a name without `%`; `Err` (the reason) for a `%` that is no conversion
    /// this supports, or for more than one conversion.
    pub fn parse(name: &str) -> std::result::Result<Option<Self>, String> {
        if !name.contains('%') {
            return Ok(None);
        }
        let mut before = String::new();
        let mut after = String::new();
        let mut spec: Option<(usize, bool, bool, Option<char>)> = None;
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            let out = if spec.is_some() {
                &mut after
            } else {
                &mut before
            };
            if c != '%' {
                out.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                out.push('%');
                continue;
            }
            let (mut left, mut zero, mut sign) = (false, false, None);
            while let Some(&f) = chars.peek() {
                match f {
                    '-' => left = true,
                    '0' => zero = true,
                    '+' => sign = Some('+'),
                    ' ' if sign.is_none() => sign = Some(' '),
                    ' ' => {}
                    _ => break,
                }
                chars.next();
            }
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let width = if digits.is_empty() {
                0
            } else {
                digits
                    .parse::<usize>()
                    .ok()
                    .filter(|w| *w <= 64)
                    .ok_or_else(|| format!("width {digits} in its % pattern is too large"))?
            };
            while chars.peek().is_some_and(|m| matches!(m, 'h' | 'l' | 'L')) {
                chars.next();
            }
            match chars.next() {
                Some('d' | 'i' | 'u') => {}
                Some(other) => {
                    return Err(format!(
                        "'%{other}' is not a shard number pattern: use %d or %06d (write %% for a \
                         literal %)"
                    ))
                }
                None => {
                    return Err(
                        "the name ends in an unfinished % pattern: use %d or %06d (write %% for \
                         a literal %)"
                            .to_string(),
                    )
                }
            }
            if spec.is_some() {
                return Err(
                    "the name holds more than one % pattern: a shard name takes one \
                            number"
                        .to_string(),
                );
            }
            spec = Some((width, left, zero, sign));
        }
        Ok(spec.map(|(width, left, zero, sign)| ShardNamePattern {
            before,
            after,
            width,
            left,
            zero,
            sign,
        }))
    }

    /// The name of shard `i`.
    pub fn format(&self, i: usize) -> String {
        let sign = self.sign.map(String::from).unwrap_or_default();
        let digits = i.to_string();
        let len = sign.len() + digits.len();
        let pad = self.width.saturating_sub(len);
        let number = if self.left {
            format!("{sign}{digits}{}", " ".repeat(pad))
        } else if self.zero {
            format!("{sign}{}{digits}", "0".repeat(pad))
        } else {
            format!("{}{sign}{digits}", " ".repeat(pad))
        };
        format!("{}{number}{}", self.before, self.after)
    }
}

/// The file name of shard `i` of a numbered write.
fn numbered_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:06}.tar")
}

/// Publishes every staged shard (shard `i` to `dest(i)`) or none: if one fails, the files
/// this call created are removed again (files that were there already with the same content
/// stay) and the shards not yet published are dropped with their temp files.
fn publish_all(
    staged: Vec<StagedShard>,
    dest: impl Fn(usize) -> PathBuf,
) -> Result<Vec<PublishedShard>> {
    let mut created = Vec::new();
    let placed = place_all(staged, &dest, &mut created);
    if placed.is_err() {
        for path in &created {
            let _ = fs::remove_file(path);
        }
    }
    placed
}

fn place_all(
    staged: Vec<StagedShard>,
    dest: &dyn Fn(usize) -> PathBuf,
    created: &mut Vec<PathBuf>,
) -> Result<Vec<PublishedShard>> {
    let mut published = Vec::with_capacity(staged.len());
    for (i, shard) in staged.into_iter().enumerate() {
        let path = dest(i);
        let (sha256, samples, bytes) = (shard.sha256.clone(), shard.samples, shard.bytes);
        if let Placed::New = shard.place(&path)? {
            created.push(path.clone());
        }
        published.push(PublishedShard {
            path,
            sha256,
            samples,
            bytes,
        });
    }
    let mut synced: Vec<&Path> = Vec::new();
    for path in created.iter() {
        let dir = parent_dir(path);
        if !synced.contains(&dir) {
            sync_dir(dir)?;
            synced.push(dir);
        }
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_not_read_back_are_refused() {
        for bad in ["", "a.b", "__key__", "dir/", "a\0b", "d/__x"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        for good in ["000000001", "dir/key", "a_b", "x__"] {
            assert!(validate_key(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn repeated_key_is_refused_without_harming_the_shard() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
        w.write_sample("a", b"\x80").unwrap();
        assert!(w.write_sample("a", b"\x80").is_err());
        w.write_sample("b", b"\x80").unwrap();
        let shards = w.finish().unwrap();
        assert_eq!(shards.len(), 1);
        assert_eq!(shards[0].samples, 2);
    }

    #[test]
    fn maxcount_zero_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ShardOptions {
            maxcount: Some(0),
            maxsize: None,
        };
        assert!(ShardWriter::new(dir.path(), opts).is_err());
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn by_two() -> ShardOptions {
        ShardOptions {
            maxcount: Some(2),
            maxsize: None,
        }
    }

    #[test]
    fn a_failing_sample_iterator_publishes_no_shard() {
        let dir = tempfile::tempdir().unwrap();
        // Two shards are closed before the failure.
        let samples = (0..5).map(|i| {
            if i == 4 {
                Err(Error::invalid("the source went away"))
            } else {
                Ok(vec![0x80])
            }
        });
        let e = try_write_shards(dir.path(), "f", samples, by_two()).unwrap_err();
        assert!(e.to_string().contains("the source went away"), "{e}");
        assert!(
            files_in(dir.path()).is_empty(),
            "{:?}",
            files_in(dir.path())
        );
    }

    #[test]
    fn a_shard_that_cannot_be_published_takes_back_the_ones_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let samples = || (0..6u8).map(|i| Ok(vec![0x81, 0xa1, b'x', i]));
        // The first shard is there already with the same content: it must stay.
        let first = try_write_shards(dir.path(), "p", samples().take(2), by_two()).unwrap();
        fs::write(dir.path().join("p-000002.tar"), b"someone else's file").unwrap();
        let e = try_write_shards(dir.path(), "p", samples(), by_two()).unwrap_err();
        assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
        assert_eq!(files_in(dir.path()), ["p-000000.tar", "p-000002.tar"]);
        assert_eq!(file_sha256(&first[0].path).unwrap(), first[0].sha256);
    }

    #[test]
    fn write_shards_at_names_one_file_or_numbered_shards_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let samples = |n: u8| (0..n).map(|i| Ok(vec![0x81, 0xa1, b'x', i]));
        let one = write_shards_at(&dir.path().join("one.tar"), samples(3), Default::default());
        assert_eq!(one.unwrap()[0].path, dir.path().join("one.tar"));
        let many = write_shards_at(&dir.path().join("docs.tar"), samples(3), by_two()).unwrap();
        let names: Vec<_> = many.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            names,
            [
                dir.path().join("docs-000000.tar"),
                dir.path().join("docs-000001.tar")
            ]
        );
        let pattern = dir.path().join("data-%06d.tar");
        let out = write_shards_at(&pattern, samples(1), Default::default()).unwrap();
        assert_eq!(out[0].path, dir.path().join("data-000000.tar"));
        let bare = write_shards_at(&dir.path().join("%06d"), samples(1), by_two()).unwrap();
        assert_eq!(bare[0].path, dir.path().join("000000"));
        let short = write_shards_at(&dir.path().join("s_%02d.tar"), samples(5), by_two()).unwrap();
        let names: Vec<_> = short.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            names,
            ["s_00.tar", "s_01.tar", "s_02.tar"].map(|n| dir.path().join(n))
        );
        // Without a limit, a % that is no conversion is a plain character; with one, refused
        // before any file is made.
        let plain = write_shards_at(&dir.path().join("100%.tar"), samples(1), Default::default());
        assert_eq!(plain.unwrap()[0].path, dir.path().join("100%.tar"));
        let e = write_shards_at(&dir.path().join("x-%s.tar"), samples(3), by_two()).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("%s"),
            "{e}"
        );
        assert!(!dir.path().join("x-%s.tar").exists());
        assert!(write_shards_at(Path::new("/"), samples(1), Default::default()).is_err());
    }

    #[test]
    fn write_shards_at_takes_pattern_characters_literally() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a,b{c,d}[e]*?");
        let samples = (0..3u8).map(|i| Ok(vec![0x81, 0xa1, b'x', i]));
        let out = write_shards_at(&odd.join("x,{y}.tar"), samples, by_two()).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(files_in(&odd), ["x,{y}-000000.tar", "x,{y}-000001.tar"]);
        assert_eq!(out[1].path, odd.join("x,{y}-000001.tar"));
    }

    #[test]
    fn shard_name_patterns_format_as_python_percent_does() {
        let f = |pat: &str, i: usize| ShardNamePattern::parse(pat).unwrap().unwrap().format(i);
        assert_eq!(f("shard-%04d.tar", 7), "shard-0007.tar");
        assert_eq!(f("shard-%d.tar", 12), "shard-12.tar");
        assert_eq!(f("s%i", 3), "s3");
        assert_eq!(f("s%ld", 3), "s3");
        assert_eq!(f("a%%b-%03u.tar", 5), "a%b-005.tar");
        assert_eq!(f("x%4d", 5), "x   5");
        assert_eq!(f("x%-4d.", 5), "x5   .");
        assert_eq!(f("x%+03d", 5), "x+05");
        assert_eq!(f("x-%02d", 1234), "x-1234");
        assert_eq!(ShardNamePattern::parse("plain.tar"), Ok(None));
        assert_eq!(ShardNamePattern::parse("only%%.tar"), Ok(None));
        for bad in [
            "a%s.tar",
            "a%",
            "a%5",
            "%d-%d",
            "a%(x)d",
            "%999999999999999999999d",
        ] {
            assert!(ShardNamePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dropping_the_writer_removes_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = ShardWriter::new(dir.path(), ShardOptions::default()).unwrap();
            w.write_sample("a", b"\x80").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
