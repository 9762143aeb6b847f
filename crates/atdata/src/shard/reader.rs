//! Reading shards: a streaming tar parser that applies the WebDataset grouping rule.
//!
//! Input is hostile until proven otherwise: every header checksum is verified, member sizes are
//! capped (and checked against the shard length when it is known) before anything is allocated,
//! buffers grow with the bytes that actually arrive rather than with a declared size, and every
//! failure names the shard URL and the byte offset of the header concerned (plus the sample key
//! once one is known). Nothing here panics on any input. Shard files are opened only through
//! [`open_shard_file`], which refuses FIFOs, devices and directories instead of blocking on them.
//!
//! Gzip-compressed shards (`.tar.gz`, as WebDataset reads them) are recognised by their magic
//! bytes, whatever their name, and decompressed as they stream; byte offsets in errors are then
//! offsets in the decompressed tar.
//!
//! Grouping rule (WebDataset): a member's basename is split at its first dot into a prefix (with
//! the directory) and a suffix; consecutive members with the same prefix form one sample, whose
//! key is the prefix. Basenames starting with `__` (`__key__`), without a dot or starting with a
//! dot have no key and are skipped, as are directories, links and other non-regular members. We
//! keep only the `msgpack` member (suffix compared case-insensitively); a sample without one is
//! an error. So are two members with the same key and suffix, and a key whose members are not
//! adjacent (it would come out as two samples under one key): WebDataset writers never produce
//! either, and reading on would hand the consumer a sample other than the one written.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{self, BufReader, Read};
use std::iter::FusedIterator;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::tar_header::{padding, until_nul, Header, Kind, BLOCK, MAX_MEMBER_SIZE};
use crate::{Error, Result};

/// Largest PAX or GNU long-name header we accept: they hold a few records or one path.
const MAX_EXTENDED_HEADER: u64 = 1 << 20;

/// Member buffers are reserved at most this far ahead of the bytes read into them, so that a
/// declared size (from a damaged header, a sparse file or a gzip stream) cannot commit memory the
/// data never fills; members up to this size still get one exact allocation.
const RESERVE_AHEAD: u64 = 8 << 20;
/// Members below this size are read into a zeroed buffer; larger ones into uninitialised capacity.
const ZEROED_READ_LIMIT: u64 = 64 << 10;

/// Read buffer for shard files.
const FILE_BUFFER: usize = 256 << 10;

/// The two bytes every gzip stream starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens the shard file at `path` for reading (`url` names it in errors) and returns it with its
/// length. The one place shard files are opened: anything but a regular file (a FIFO, a device,
/// a directory, a socket) is refused with an error naming it, where reading it would block
/// forever or never end. A symlink to a regular file is fine.
///
/// The file is opened non-blocking so that opening a FIFO returns at once rather than waiting
/// for a writer; on a regular file that flag changes nothing.
pub fn open_shard_file(path: &Path, url: &str) -> Result<(File, u64)> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let file = opts.open(path).map_err(|e| Error::io(url, e))?;
    let meta = file.metadata().map_err(|e| Error::io(url, e))?;
    if !meta.is_file() {
        return Err(not_a_regular_file(url, &meta.file_type()));
    }
    Ok((file, meta.len()))
}

/// The error for a shard URL naming something other than a regular file (of type `t`).
pub(crate) fn not_a_regular_file(url: &str, t: &std::fs::FileType) -> Error {
    let what = file_kind(t);
    Error::io(
        url,
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file but {what}; shards are read from regular files"),
        ),
    )
}

/// What a non-regular file is, for [`open_shard_file`]'s error.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// The bytes under the tar parser: the input as given, or its gzip decompression. Which one is
/// decided by the first bytes, so every reader of shards reads `.tar.gz` alike.
enum Input<R: Read> {
    /// Not looked at yet.
    Unsniffed(R),
    /// An uncompressed tar.
    Plain(R),
    /// A gzip stream; the bytes read while sniffing are put back in front.
    Gzip(Box<MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>>),
    /// Only while switching from `Unsniffed`.
    Switching,
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Unsniffed(r) | Input::Plain(r) => r.read(buf),
            Input::Gzip(g) => g.read(buf),
            Input::Switching => Ok(0),
        }
    }
}

/// Remembers byte strings (sample keys, member suffixes) as 128-bit hashes with random keys:
/// 16 bytes each whatever their length, so that a shard of millions of samples, or a hostile one
/// with long names, costs a bounded fraction of its size. Two different strings collide with
/// probability 2^-128.
#[derive(Default)]
struct Seen {
    hashers: (RandomState, RandomState),
    set: HashSet<u128, BuildHasherDefault<Prehashed>>,
}

/// The set's hasher: its items are keyed hashes already, so hashing them again would only cost.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

impl Seen {
    fn digest(&self, bytes: &[u8]) -> u128 {
        let (a, b) = (&self.hashers.0, &self.hashers.1);
        (u128::from(a.hash_one(bytes)) << 64) | u128::from(b.hash_one(bytes))
    }

    /// Records `bytes`; false if they were recorded before.
    fn insert(&mut self, bytes: &[u8]) -> bool {
        let d = self.digest(bytes);
        self.set.insert(d)
    }
}

/// The sample keys of one shard, to tell a new key from one seen before.
///
/// Writers mostly give keys in increasing order (ours, and WebDataset's numbered keys): while
/// they come so, they are kept as they are in one buffer, sorted by arrival, which costs a copy
/// and a comparison per key and answers exactly (by binary search) once the order breaks. Keys
/// after the break (say random UUIDs) go to a [`Seen`] set.
#[derive(Default)]
struct Keys {
    /// The leading run of strictly increasing keys, end to end.
    run: Vec<u8>,
    /// End offset in `run` of each key of the run.
    ends: Vec<usize>,
    /// Keys after the run, once it has ended.
    rest: Option<Seen>,
}

impl Keys {
    fn run_key(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.run.get(start..end).unwrap_or(&[])
    }

    fn in_run(&self, key: &[u8]) -> bool {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.run_key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Records `key`; false if it was recorded before.
    fn insert(&mut self, key: &[u8]) -> bool {
        if self.rest.is_none() {
            let last = self.ends.len().checked_sub(1).map(|i| self.run_key(i));
            if last.is_none_or(|l| key > l) {
                self.run.extend_from_slice(key);
                self.ends.push(self.run.len());
                return true;
            }
        }
        if self.in_run(key) {
            return false;
        }
        self.rest.get_or_insert_with(Seen::default).insert(key)
    }
}

/// One sample of a shard: its key and the bytes of its `.msgpack` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSample {
    /// WebDataset key: the member name before the first dot of its basename, with directory.
    pub key: String,
    /// Byte offset of the sample's first tar header (a PAX or long-name header if it has one).
    pub offset: u64,
    /// The `.msgpack` member's data.
    pub data: Vec<u8>,
}

/// Streaming reader over a tar shard applying the WebDataset grouping rule.
///
/// Yields `Result<RawSample>`; [`next_msgpack_into`](Self::next_msgpack_into) streams the same
/// samples to a callback instead. Both run one grouping loop, so they yield the same samples
/// and the same errors in the same order: a sample comes out once its last member has been
/// read (at the next key, the end of the archive, or damage). A sample without a msgpack member
/// yields an error and reading goes on with the next sample; any other fault in a sample (two
/// members with one suffix, a member cut short) and any damage to the tar structure yield one
/// error and end the iteration (samples completed before the damage are yielded first).
/// Datasets end at the first error of either kind, as atdata 0.7 does.
pub struct ShardReader<R: Read> {
    inner: Input<R>,
    url: String,
    total_len: Option<u64>,
    /// Keys of the samples started so far, to refuse a key whose members are not adjacent
    /// (boxed, like `block`, to keep the reader small).
    keys: Box<Keys>,
    /// Bytes consumed from `inner` so far.
    pos: u64,
    /// Boxed so that readers stay small to move around (a dataset holds one per open shard).
    block: Box<[u8; BLOCK]>,
    /// Path of the member most recently returned by `next_member`.
    name: Vec<u8>,
    /// The member whose header was read last (by `next_keyed_member`).
    member: KeyedMember,
    /// Whether `member` is still to be taken: the first member of the next sample, whose
    /// header ended the sample before.
    ahead: bool,
    /// An error to yield after the sample that was completed when it happened.
    deferred: Option<Error>,
    done: bool,
}

/// A sample whose members are still being read; `data` is what became of its `.msgpack`
/// member.
struct Pending<T> {
    key: String,
    offset: u64,
    data: Option<T>,
    /// Its other members, if any: boxed, so that the common one-member sample stays small to
    /// move around and allocates nothing for them.
    others: Option<Box<Others>>,
}

/// The non-msgpack members of a sample.
struct Others {
    /// Suffixes of the first few, for the missing-msgpack message.
    shown: Vec<String>,
    /// Suffix of the first; later ones go to `more`, so that a two-member sample needs no set.
    first: Vec<u8>,
    more: Option<Seen>,
}

impl<T> Pending<T> {
    fn new(key: String, offset: u64) -> Self {
        Pending {
            key,
            offset,
            data: None,
            others: None,
        }
    }

    /// Records a non-msgpack member's suffix; false if the sample has one with it already.
    fn add_suffix(&mut self, suffix: &[u8]) -> bool {
        let shown = || String::from_utf8_lossy(suffix).into_owned();
        let Some(o) = &mut self.others else {
            self.others = Some(Box::new(Others {
                shown: vec![shown()],
                first: suffix.to_vec(),
                more: None,
            }));
            return true;
        };
        if o.first == suffix {
            return false;
        }
        let new = o.more.get_or_insert_with(Seen::default).insert(suffix);
        if new && o.shown.len() < 8 {
            o.shown.push(shown());
        }
        new
    }
}

/// A member with a sample key, its data not read yet. The reader keeps one and refills it, so
/// that the buffers of its key and suffix are reused from member to member.
#[derive(Default)]
struct KeyedMember {
    /// Offset of its first header (extended headers included).
    offset: u64,
    /// Offset of its own header.
    at: u64,
    size: u64,
    key: String,
    suffix: Vec<u8>,
}

/// What `next_member` found.
enum Step {
    /// A member header (after any extended headers); its data has not been read yet.
    Member {
        offset: u64,
        header_offset: u64,
        size: u64,
        regular: bool,
    },
    /// The end-of-archive marker.
    End,
}

impl ShardReader<BufReader<File>> {
    /// Opens a shard file (through [`open_shard_file`]: regular files only); its length bounds
    /// every member size. The URL in errors is the path.
    pub fn open(path: &Path) -> Result<Self> {
        let url = path.display().to_string();
        let (file, len) = open_shard_file(path, &url)?;
        Ok(ShardReader::new(
            BufReader::with_capacity(FILE_BUFFER, file),
            &url,
            Some(len),
        ))
    }
}

impl<R: Read> ShardReader<R> {
    /// A reader over `reader`, named `url` in errors. `total_len`, when known, is the shard's size
    /// in bytes: members claiming more than what remains are rejected before allocation. A gzip
    /// stream is recognised by its first bytes and read decompressed (its compressed length then
    /// bounds nothing).
    pub fn new(reader: R, url: &str, total_len: Option<u64>) -> Self {
        ShardReader {
            inner: Input::Unsniffed(reader),
            url: url.to_string(),
            total_len,
            keys: Box::default(),
            pos: 0,
            block: Box::new([0; BLOCK]),
            name: Vec::new(),
            member: KeyedMember::default(),
            ahead: false,
            deferred: None,
            done: false,
        }
    }

    /// The shard URL used in errors.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn is_gzip(&self) -> bool {
        matches!(self.inner, Input::Gzip(_))
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        let reason = reason.into();
        let reason = if self.is_gzip() {
            format!("{reason} (gzip-compressed shard; offsets are in the decompressed tar)")
        } else {
            reason
        };
        Error::corrupt(reason).with_shard(&self.url, offset)
    }

    /// An error from reading the input. A damaged gzip stream is corrupt data at the offset
    /// reached in the decompressed tar, not an I/O failure.
    fn io_error(&self, e: io::Error) -> Error {
        let bad_stream = matches!(
            e.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if self.is_gzip() && bad_stream {
            return self.corrupt(self.pos, format!("bad gzip stream: {e}"));
        }
        Error::io(self.url.clone(), e)
    }

    /// Reads the next header block; returns how many bytes arrived (512 unless input ended).
    /// The first call also decides whether the input is gzip-compressed.
    fn read_block(&mut self) -> Result<usize> {
        if matches!(self.inner, Input::Unsniffed(_)) {
            return self.sniff();
        }
        fill(&mut self.inner, &mut self.pos, &mut self.block[..]).map_err(|e| self.io_error(e))
    }

    /// Reads the first block; if it starts a gzip stream, puts it back in front of the rest
    /// under a decoder and reads the first block of the decompressed tar instead.
    fn sniff(&mut self) -> Result<usize> {
        let got = fill(&mut self.inner, &mut self.pos, &mut self.block[..])
            .map_err(|e| self.io_error(e))?;
        let raw = match std::mem::replace(&mut self.inner, Input::Switching) {
            Input::Unsniffed(r) => r,
            other => {
                self.inner = other;
                return Ok(got);
            }
        };
        let head = self.block.get(..got).unwrap_or(&[]);
        if !head.starts_with(&GZIP_MAGIC) {
            self.inner = Input::Plain(raw);
            return Ok(got);
        }
        let put_back = io::Cursor::new(head.to_vec());
        self.inner = Input::Gzip(Box::new(MultiGzDecoder::new(put_back.chain(raw))));
        // Sizes in the tar inside are not bounded by the compressed length.
        self.total_len = None;
        self.pos = 0;
        fill(&mut self.inner, &mut self.pos, &mut self.block[..]).map_err(|e| self.io_error(e))
    }

    /// Reads exactly `n` bytes into a fresh buffer (member data), then skips the padding.
    fn read_data(&mut self, size: u64, header_offset: u64) -> Result<Vec<u8>> {
        self.check_size(size, header_offset)?;
        let truncated = |got: u64, s: &Self| {
            s.corrupt(
                header_offset,
                format!("truncated: member data ends after {got} of {size} bytes"),
            )
        };
        let data = if size < ZEROED_READ_LIMIT {
            // Small members: a zeroed buffer filled in place is the cheapest.
            let len = usize::try_from(size).map_err(|_| truncated(0, self))?;
            let mut data = vec![0u8; len];
            let got =
                fill(&mut self.inner, &mut self.pos, &mut data).map_err(|e| self.io_error(e))?;
            if got < len {
                return Err(truncated(got as u64, self));
            }
            data
        } else {
            // Large members are read into uninitialised capacity (no zeroing pass over a
            // megabyte array), reserved step by step at most RESERVE_AHEAD (or the bytes read
            // so far, whichever is larger) beyond what has arrived: memory follows the bytes
            // read, not the size a header declares, even when a sparse file or a gzip stream
            // vouches for that size. A failed reservation is an error, not an abort.
            let mut data: Vec<u8> = Vec::new();
            let mut got = 0u64;
            while got < size {
                let step = (size - got).min(got.max(RESERVE_AHEAD));
                let step_len = usize::try_from(step).map_err(|_| truncated(got, self))?;
                if data.try_reserve_exact(step_len).is_err() {
                    let reason = format!(
                        "out of memory for the member at byte offset {header_offset} \
                         ({size} bytes, {got} read)"
                    );
                    let e = io::Error::new(io::ErrorKind::OutOfMemory, reason);
                    return Err(Error::io(self.url.clone(), e));
                }
                let n = (&mut self.inner)
                    .take(step)
                    .read_to_end(&mut data)
                    .map_err(|e| self.io_error(e));
                let n = n? as u64;
                self.pos += n;
                got += n;
                if n < step {
                    return Err(truncated(got, self));
                }
            }
            data
        };
        self.skip_exact(padding(size), header_offset)?;
        Ok(data)
    }

    /// Skips `n` bytes of member data and its padding.
    fn skip_data(&mut self, size: u64, header_offset: u64) -> Result<()> {
        self.check_size(size, header_offset)?;
        self.skip_exact(size + padding(size), header_offset)
    }

    fn skip_exact(&mut self, n: u64, header_offset: u64) -> Result<()> {
        let mut left = n;
        let mut scratch = [0u8; BLOCK];
        while left > 0 {
            let want = left.min(BLOCK as u64) as usize;
            let dst = scratch.get_mut(..want).unwrap_or(&mut []);
            let got = fill(&mut self.inner, &mut self.pos, dst).map_err(|e| self.io_error(e))?;
            if got == 0 {
                return Err(self.corrupt(
                    header_offset,
                    format!(
                        "truncated: member ends {left} bytes early (shard length {})",
                        self.pos
                    ),
                ));
            }
            left -= got as u64;
        }
        Ok(())
    }

    /// Rejects a member size before anything is allocated or skipped for it.
    fn check_size(&self, size: u64, header_offset: u64) -> Result<()> {
        if size > MAX_MEMBER_SIZE {
            return Err(self.corrupt(
                header_offset,
                format!("member size {size} exceeds the {MAX_MEMBER_SIZE}-byte limit"),
            ));
        }
        if let Some(total) = self.total_len {
            if self.pos.saturating_add(size) > total {
                return Err(self.corrupt(
                    header_offset,
                    format!(
                        "truncated: member of {size} bytes runs past the end of the shard \
                         ({total} bytes)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reads the next member header, consuming any PAX / GNU long-name headers before it, and
    /// leaves its path in `self.name`.
    fn next_member(&mut self) -> Result<Step> {
        let start = self.pos;
        let mut pax_path: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        let mut long_name: Option<Vec<u8>> = None;
        loop {
            let at = self.pos;
            let extended = pax_path.is_some() || pax_size.is_some() || long_name.is_some();
            let got = self.read_block()?;
            if got == 0 {
                let reason = if at == 0 {
                    "not a tar file: empty"
                } else if extended || at != start {
                    "truncated: the archive ends after an extended header"
                } else {
                    "truncated: the archive ends without its end-of-archive marker"
                };
                return Err(self.corrupt(at, reason));
            }
            let partial = self.block.get(..got).unwrap_or(&[]);
            if got < BLOCK && at == start && partial.iter().all(|&b| b == 0) {
                // The end marker itself was cut short: every member is complete, so this is
                // the end of the archive, as for Python's tarfile.
                self.finish_gzip()?;
                return Ok(Step::End);
            }
            if got < BLOCK {
                return Err(self.corrupt(
                    at,
                    format!("truncated: tar header has only {got} of {BLOCK} bytes"),
                ));
            }
            if super::tar_header::is_zero_block(&self.block) {
                if at != start {
                    return Err(
                        self.corrupt(at, "end-of-archive marker right after an extended header")
                    );
                }
                self.finish_gzip()?;
                return Ok(Step::End);
            }
            let (kind, mut size) = match Header::parse(&self.block) {
                Ok(h) => {
                    let named_by_extension = pax_path.is_some() || long_name.is_some();
                    if matches!(h.kind, Kind::Regular | Kind::Other) && !named_by_extension {
                        self.name.clear();
                        h.path_into(&mut self.name);
                    }
                    (h.kind, h.size)
                }
                Err(reason) if at == 0 => {
                    return Err(self.corrupt(at, format!("not a tar file: {reason}")))
                }
                Err(reason) => return Err(self.corrupt(at, reason)),
            };
            if matches!(kind, Kind::Regular | Kind::Other) {
                if let Some(s) = pax_size.take() {
                    size = s;
                }
            }
            match kind {
                Kind::PaxLocal => {
                    let data = self.read_extended(size, at)?;
                    parse_pax(&data, &mut pax_path, &mut pax_size)
                        .map_err(|r| self.corrupt(at, format!("bad PAX header: {r}")))?;
                }
                Kind::GnuLongName => {
                    let data = self.read_extended(size, at)?;
                    long_name = Some(until_nul(&data).to_vec());
                }
                Kind::PaxGlobal | Kind::GnuLongLink => self.skip_data(size, at)?,
                Kind::GnuSparse => {
                    return Err(self.corrupt(at, "GNU sparse members are not supported"))
                }
                Kind::Regular | Kind::Other => {
                    if let Some(path) = pax_path.take().or(long_name.take()) {
                        self.name = path;
                    }
                    let regular = kind == Kind::Regular && !self.name.ends_with(b"/");
                    return Ok(Step::Member {
                        offset: start,
                        header_offset: at,
                        size,
                        regular,
                    });
                }
            }
        }
    }

    /// At the end of the archive in a gzip stream, decompresses what is left of it (the tar's
    /// padding) so that the stream's CRC and length are checked: a damaged compressed shard
    /// must not pass for a good one because its tar happened to parse.
    fn finish_gzip(&mut self) -> Result<()> {
        if !self.is_gzip() {
            return Ok(());
        }
        let mut scratch = [0u8; BLOCK];
        loop {
            let got =
                fill(&mut self.inner, &mut self.pos, &mut scratch).map_err(|e| self.io_error(e))?;
            if got == 0 {
                return Ok(());
            }
        }
    }

    fn read_extended(&mut self, size: u64, at: u64) -> Result<Vec<u8>> {
        if size > MAX_EXTENDED_HEADER {
            return Err(self.corrupt(
                at,
                format!(
                    "extended header of {size} bytes exceeds the {MAX_EXTENDED_HEADER}-byte limit"
                ),
            ));
        }
        self.read_data(size, at)
    }

    /// The sample `p` as it ended: its key, first offset and `.msgpack` data, or the error
    /// for a sample without a `.msgpack` member.
    fn complete<T>(&self, p: Pending<T>) -> Result<(String, u64, T)> {
        match p.data {
            Some(data) => Ok((p.key, p.offset, data)),
            None => {
                let found = match p.others {
                    Some(o) => format!(" (found: .{})", o.shown.join(", .")),
                    None => String::new(),
                };
                Err(self
                    .corrupt(p.offset, format!("sample has no .msgpack member{found}"))
                    .with_key(&p.key))
            }
        }
    }

    /// Records a non-msgpack member of sample `p`; a second member with the same suffix is an
    /// error (which of the two would be the sample's?).
    fn note_other<T>(&self, p: &mut Pending<T>, suffix: &[u8], at: u64) -> Result<()> {
        if !p.add_suffix(suffix) {
            let suffix = String::from_utf8_lossy(suffix);
            return Err(self.corrupt(at, format!("sample has two .{suffix} members")));
        }
        Ok(())
    }

    /// Records the key of a sample that starts at `offset`; a key seen before in this shard is
    /// an error, since its members are not adjacent and it would be read as two samples.
    fn note_key(&mut self, key: &str, offset: u64) -> Result<()> {
        if self.keys.insert(key.as_bytes()) {
            return Ok(());
        }
        Err(self
            .corrupt(
                offset,
                "sample key appears again after other samples: a sample's members must be \
                 adjacent and its key unique in the shard",
            )
            .with_key(key))
    }
}

/// Reads until `dst` is full or input ends; returns the bytes read and advances `pos` by them.
// Inlined: it is called once or twice per member, on the hot path of every read.
#[inline(always)]
fn fill<R: Read>(inner: &mut R, pos: &mut u64, dst: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = dst.get_mut(filled..).filter(|r| !r.is_empty()) {
        match inner.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                *pos += filled as u64;
                return Err(e);
            }
        }
    }
    *pos += filled as u64;
    Ok(filled)
}

/// Splits a member path into (end of prefix, start of suffix) by the grouping rule, or `None`
/// when the member carries no sample key.
fn split_name(name: &[u8]) -> Option<(usize, usize)> {
    let base_start = name
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |slash| slash + 1);
    let base = name.get(base_start..)?;
    if base.starts_with(b"__") {
        return None;
    }
    let dot = base.iter().position(|&b| b == b'.')?;
    if dot == 0 {
        return None;
    }
    Some((base_start + dot, base_start + dot + 1))
}

/// Parses PAX records (`"{len} {key}={value}\n"`, `len` counting the whole record), keeping
/// `path` and `size`. Lengths are checked against the data, never trusted.
fn parse_pax(
    data: &[u8],
    path: &mut Option<Vec<u8>>,
    size: &mut Option<u64>,
) -> std::result::Result<(), String> {
    let mut rest = data;
    let mut at = 0usize;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break; // some writers pad the record area with NULs
        }
        let space = rest
            .iter()
            .take(20)
            .position(|&b| b == b' ')
            .ok_or_else(|| format!("record at {at} has no length"))?;
        let digits = rest.get(..space).unwrap_or(&[]);
        let len = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<usize>().ok())
            .ok_or_else(|| format!("record at {at} has a bad length"))?;
        if len <= space + 1 || len > rest.len() {
            return Err(format!(
                "record at {at} claims {len} bytes, {} remain",
                rest.len()
            ));
        }
        let record = rest.get(space + 1..len).unwrap_or(&[]);
        let Some(body) = record.strip_suffix(b"\n") else {
            return Err(format!("record at {at} does not end with a newline"));
        };
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| format!("record at {at} has no '='"))?;
        let (key, value) = (
            body.get(..eq).unwrap_or(&[]),
            body.get(eq + 1..).unwrap_or(&[]),
        );
        match key {
            b"path" => *path = Some(value.to_vec()),
            b"size" => {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| format!("record at {at} has a bad size"))?;
                *size = Some(parsed);
            }
            _ => {}
        }
        rest = rest.get(len..).unwrap_or(&[]);
        at += len;
    }
    Ok(())
}

impl<R: Read> ShardReader<R> {
    /// Streams the next sample's `.msgpack` member to `sink` (key, offset of its first header,
    /// member size, and a reader of exactly those bytes) instead of collecting it into a buffer,
    /// so that a consumer can read large payloads straight to where they belong.
    ///
    /// The samples and errors are those of [`Iterator::next`] (one grouping loop serves both,
    /// and the two styles may be mixed on one reader). `sink` runs when the `.msgpack` member
    /// is reached, before the sample's later members are read: if one of those turns out bad
    /// (say a second `.json`), this returns the error, not the sink's result, and what the
    /// sink did with the sample is to be discarded. An error from `sink` ends the iteration.
    pub fn next_msgpack_into<T>(
        &mut self,
        sink: impl FnOnce(&str, u64, u64, &mut dyn Read) -> Result<T>,
    ) -> Option<Result<T>> {
        let streamed = self.next_sample(|this, key, offset, size, at| {
            this.check_size(size, at)?;
            let mut member = (&mut this.inner).take(size);
            let out = sink(key, offset, size, &mut member);
            let left = member.limit();
            this.pos += size - left;
            let out = out.map_err(|e| e.with_shard(&this.url, offset))?;
            // Whatever the sink did not read, then the padding.
            this.skip_exact(left + padding(size), at)?;
            Ok(out)
        });
        streamed.map(|r| r.map(|(_key, _offset, out)| out))
    }

    /// The grouping loop, the one place the rule is applied: reads the members of the next
    /// sample (consecutive members with one key), handing its `.msgpack` member to `take`
    /// (`take(reader, key, offset of the sample's first header, member size, offset of the
    /// member's header)`, which must check the size and consume the member's data and
    /// padding), and returns the sample's key, offset and what `take` made of it once the
    /// sample has ended.
    fn next_sample<T>(
        &mut self,
        take: impl FnOnce(&mut Self, &str, u64, u64, u64) -> Result<T>,
    ) -> Option<Result<(String, u64, T)>> {
        if let Some(e) = self.deferred.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let mut take = Some(take);
        let mut sample: Option<Pending<T>> = None;
        loop {
            if !std::mem::take(&mut self.ahead) {
                match self.next_keyed_member() {
                    Ok(true) => {}
                    Ok(false) => {
                        self.done = true;
                        return sample.map(|p| self.complete(p));
                    }
                    Err(e) => {
                        // The sample read so far ended before the damage: it comes first.
                        self.done = true;
                        return Some(match sample {
                            Some(p) => {
                                self.deferred = Some(e);
                                self.complete(p)
                            }
                            None => Err(e),
                        });
                    }
                }
            }
            let (offset, at, size) = (self.member.offset, self.member.at, self.member.size);
            let p = match sample {
                Some(ref mut p) if p.key == self.member.key => p,
                Some(p) => {
                    // A new key ends this sample; its member is taken on the next call.
                    self.ahead = true;
                    return Some(self.complete(p));
                }
                None => {
                    let key = std::mem::take(&mut self.member.key);
                    if let Err(e) = self.note_key(&key, offset) {
                        self.done = true;
                        return Some(Err(e));
                    }
                    sample.insert(Pending::new(key, offset))
                }
            };
            let read = if !self.member.suffix.eq_ignore_ascii_case(b"msgpack") {
                self.note_other(p, &self.member.suffix, at)
                    .and_then(|()| self.skip_data(size, at))
            } else {
                match take.take() {
                    Some(take) if p.data.is_none() => {
                        take(self, &p.key, p.offset, size, at).map(|out| p.data = Some(out))
                    }
                    _ => Err(self.corrupt(at, "sample has two .msgpack members")),
                }
            };
            if let Err(e) = read {
                self.done = true;
                return Some(Err(e.with_key(&p.key)));
            }
        }
    }

    /// Reads the header of the next member that carries a sample key into `self.member`
    /// (others are skipped); false at the end of the archive.
    fn next_keyed_member(&mut self) -> Result<bool> {
        loop {
            let (offset, at, size, regular) = match self.next_member()? {
                Step::End => return Ok(false),
                Step::Member {
                    offset,
                    header_offset,
                    size,
                    regular,
                } => (offset, header_offset, size, regular),
            };
            let split = if regular {
                split_name(&self.name)
            } else {
                None
            };
            let Some((prefix_end, suffix_start)) = split else {
                self.skip_data(size, at)?;
                continue;
            };
            let m = &mut self.member;
            (m.offset, m.at, m.size) = (offset, at, size);
            m.key.clear();
            m.key.push_str(&String::from_utf8_lossy(
                self.name.get(..prefix_end).unwrap_or(&[]),
            ));
            m.suffix.clear();
            m.suffix
                .extend_from_slice(self.name.get(suffix_start..).unwrap_or(&[]));
            return Ok(true);
        }
    }
}

impl<R: Read> Iterator for ShardReader<R> {
    type Item = Result<RawSample>;

    fn next(&mut self) -> Option<Self::Item> {
        let sample = self.next_sample(|this, _key, _offset, size, at| this.read_data(size, at));
        sample.map(|r| r.map(|(key, offset, data)| RawSample { key, offset, data }))
    }
}

impl<R: Read> FusedIterator for ShardReader<R> {}

/// Reads every sample of an in-memory shard (for fuzzing and tests).
pub fn read_shard_bytes(bytes: &[u8], url: &str) -> Result<Vec<RawSample>> {
    ShardReader::new(bytes, url, Some(bytes.len() as u64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_split() {
        fn s(n: &str) -> Option<(&str, &str)> {
            split_name(n.as_bytes()).map(|(p, x)| (&n[..p], &n[x..]))
        }
        assert_eq!(s("a.msgpack"), Some(("a", "msgpack")));
        assert_eq!(s("dir/a.b.msgpack"), Some(("dir/a", "b.msgpack")));
        assert_eq!(s("d.x/a.msgpack"), Some(("d.x/a", "msgpack")));
        assert_eq!(s("__key__"), None);
        assert_eq!(s("d/__key__.txt"), None);
        assert_eq!(s("noext"), None);
        assert_eq!(s(".hidden"), None);
    }

    #[test]
    fn repeated_keys_and_suffixes_are_noticed_and_only_they() {
        let mut seen = Seen::default();
        let keys: Vec<String> = (0..10_000).map(|i| format!("{i:09}")).collect();
        assert!(keys.iter().all(|k| seen.insert(k.as_bytes())));
        assert!(keys.iter().all(|k| !seen.insert(k.as_bytes())));
        assert!(seen.insert(b""));
        assert!(!seen.insert(b""));
        let mut p = Pending::<()>::new("k".into(), 0);
        for suffix in ["json", "cls", "jpg", "JSON", "txt"] {
            assert!(p.add_suffix(suffix.as_bytes()), "{suffix}");
        }
        for suffix in ["json", "cls", "txt"] {
            assert!(!p.add_suffix(suffix.as_bytes()), "{suffix}");
        }
    }

    #[test]
    fn keys_in_order_out_of_order_and_repeated() {
        let mut keys = Keys::default();
        // A run in order, then keys out of order: new ones are new, each repeat is noticed,
        // whether it was in the run or after it.
        for k in ["b", "c", "e", "g", "a", "d", "f", "z", "h"] {
            assert!(keys.insert(k.as_bytes()), "{k}");
        }
        assert_eq!(
            keys.ends.len(),
            4,
            "the run ends at the first key out of order"
        );
        for k in ["b", "c", "e", "g", "a", "d", "f", "z", "h", "z", "b"] {
            assert!(!keys.insert(k.as_bytes()), "{k}");
        }
        assert!(keys.insert(b"ca"));
        assert!(keys.insert(b""));
        assert!(!keys.insert(b""));
        // Numbered keys stay in the run.
        let mut numbered = Keys::default();
        for i in 0..1000 {
            assert!(numbered.insert(format!("{i:09}").as_bytes()));
        }
        assert!(numbered.rest.is_none());
        assert!(!numbered.insert(b"000000500"));
    }

    #[test]
    fn pax_records() {
        let (mut p, mut s) = (None, None);
        parse_pax(b"28 mtime=1795501624.0775979\n", &mut p, &mut s).unwrap();
        assert_eq!((p.as_deref(), s), (None, None));
        parse_pax(b"12 path=a/b\n11 size=42\n", &mut p, &mut s).unwrap();
        assert_eq!((p.as_deref(), s), (Some(&b"a/b"[..]), Some(42)));
        for bad in [
            &b"99 path=a\n"[..],
            b"0 path=a\n",
            b"3 path=a\n",
            b"x path=a\n",
            b"10 path=ab",
            b"9 pathab\n",
            b"11 size=-1\n",
            b"99999999999999999999999 a=b\n",
        ] {
            assert!(parse_pax(bad, &mut p, &mut s).is_err(), "{bad:?}");
        }
    }
}
