//! Reading shards: a streaming tar parser that applies the WebDataset grouping rule.
//!
//! Input is hostile until proven otherwise: every header checksum is verified, member sizes are
//! capped (and checked against the shard length when it is known) before anything is allocated,
//! and every failure names the shard URL and the byte offset of the header concerned (plus the
//! sample key once one is known). Nothing here panics on any input.
//!
//! Grouping rule (WebDataset): a member's basename is split at its first dot into a prefix (with
//! the directory) and a suffix; consecutive members with the same prefix form one sample, whose
//! key is the prefix. Basenames starting with `__` (`__key__`), without a dot or starting with a
//! dot have no key and are skipped, as are directories, links and other non-regular members. We
//! keep only the `msgpack` member (suffix compared case-insensitively); a sample without one is
//! an error.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::iter::FusedIterator;
use std::path::Path;

use super::tar_header::{padding, until_nul, Header, Kind, BLOCK, MAX_MEMBER_SIZE};
use crate::{Error, Result};

/// Largest PAX or GNU long-name header we accept: they hold a few records or one path.
const MAX_EXTENDED_HEADER: u64 = 1 << 20;

/// Larger members are read incrementally when the shard length is unknown, so that a lying size
/// field in a stream cannot make us allocate more than the bytes that actually arrive.
const EAGER_ALLOC_LIMIT: u64 = 1 << 20;
/// Members below this size are read into a zeroed buffer; larger ones into uninitialised capacity.
const ZEROED_READ_LIMIT: u64 = 64 << 10;

/// Read buffer for shard files.
const FILE_BUFFER: usize = 256 << 10;

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
/// Yields `Result<RawSample>`. A sample without a msgpack member yields an error and reading
/// goes on with the next sample; any damage to the tar structure yields one error and ends the
/// iteration (samples completed before the damage are yielded first).
pub struct ShardReader<R: Read> {
    inner: R,
    url: String,
    total_len: Option<u64>,
    /// Bytes consumed from `inner` so far.
    pos: u64,
    /// Boxed so that readers stay small to move around (a dataset holds one per open shard).
    block: Box<[u8; BLOCK]>,
    /// Path of the member most recently returned by `next_member`.
    name: Vec<u8>,
    pending: Option<Pending>,
    /// An error to yield after the sample that was completed when it happened.
    deferred: Option<Error>,
    done: bool,
}

/// A sample whose members are still being collected.
struct Pending {
    key: String,
    offset: u64,
    data: Option<Vec<u8>>,
    /// Suffixes of the other members, kept for the missing-msgpack message.
    others: Vec<String>,
}

/// A member with a sample key, its data not read yet.
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
    /// Opens a shard file; its length bounds every member size. The URL in errors is the path.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_buffered(path, FILE_BUFFER)
    }

    /// Opens a shard file read through a buffer of `capacity` bytes.
    pub(crate) fn open_buffered(path: &Path, capacity: usize) -> Result<Self> {
        let url = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(url.clone(), e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(url.clone(), e))?
            .len();
        Ok(ShardReader::new(
            BufReader::with_capacity(capacity, file),
            &url,
            Some(len),
        ))
    }
}

impl<R: Read> ShardReader<R> {
    /// A reader over `reader`, named `url` in errors. `total_len`, when known, is the shard's size
    /// in bytes: members claiming more than what remains are rejected before allocation.
    pub fn new(reader: R, url: &str, total_len: Option<u64>) -> Self {
        ShardReader {
            inner: reader,
            url: url.to_string(),
            total_len,
            pos: 0,
            block: Box::new([0; BLOCK]),
            name: Vec::new(),
            pending: None,
            deferred: None,
            done: false,
        }
    }

    /// The shard URL used in errors.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::corrupt(reason).with_shard(&self.url, offset)
    }

    fn io_error(&self, e: io::Error) -> Error {
        Error::io(self.url.clone(), e)
    }

    /// Reads the next header block; returns how many bytes arrived (512 unless input ended).
    fn read_block(&mut self) -> Result<usize> {
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
            // megabyte array). The whole size is reserved only when the shard's length vouches
            // for it; otherwise the buffer grows as bytes really arrive.
            let reserve = if self.total_len.is_some() {
                size
            } else {
                size.min(EAGER_ALLOC_LIMIT)
            };
            let mut data =
                Vec::with_capacity(usize::try_from(reserve).map_err(|_| truncated(0, self))?);
            let got = (&mut self.inner)
                .take(size)
                .read_to_end(&mut data)
                .map_err(|e| Error::io(self.url.clone(), e))?;
            self.pos += got as u64;
            if (got as u64) < size {
                return Err(truncated(got as u64, self));
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

    fn complete(&self, p: Pending) -> Result<RawSample> {
        match p.data {
            Some(data) => Ok(RawSample {
                key: p.key,
                offset: p.offset,
                data,
            }),
            None => {
                let found = if p.others.is_empty() {
                    String::new()
                } else {
                    format!(" (found: .{})", p.others.join(", ."))
                };
                Err(self
                    .corrupt(p.offset, format!("sample has no .msgpack member{found}"))
                    .with_key(&p.key))
            }
        }
    }

    /// Reads the data of the member just found into (or past) the pending sample.
    fn take_member(&mut self, is_msgpack: bool, suffix: String, size: u64, at: u64) -> Result<()> {
        if is_msgpack {
            if self.pending.as_ref().is_some_and(|p| p.data.is_some()) {
                return Err(self.corrupt(at, "sample has two .msgpack members"));
            }
            let data = self.read_data(size, at)?;
            if let Some(p) = &mut self.pending {
                p.data = Some(data);
            }
        } else {
            self.skip_data(size, at)?;
            if let Some(p) = &mut self.pending {
                if p.others.len() < 8 {
                    p.others.push(suffix);
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, e: Error, finished: Option<Pending>) -> Option<Result<RawSample>> {
        self.done = true;
        match finished {
            Some(p) => {
                self.deferred = Some(e);
                Some(self.complete(p))
            }
            None => Some(Err(e)),
        }
    }
}

/// Reads until `dst` is full or input ends; returns the bytes read and advances `pos` by them.
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
    /// For samples of one member, which atdata and WebDataset writers produce, this is the
    /// grouping rule of [`Iterator::next`]; other members are skipped, a key whose members hold
    /// no `.msgpack` and a second `.msgpack` under one key are errors. Do not mix the two
    /// iteration styles on one reader.
    pub fn next_msgpack_into<T>(
        &mut self,
        sink: impl FnOnce(&str, u64, u64, &mut dyn Read) -> Result<T>,
    ) -> Option<Result<T>> {
        loop {
            if let Some(e) = self.deferred.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let m = match self.next_keyed_member() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.done = true;
                    return self.orphan_error().map(Err);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let (offset, at, size) = (m.offset, m.at, m.size);
            let (key, suffix) = (m.key, m.suffix);
            let is_msgpack = suffix.eq_ignore_ascii_case(b"msgpack");
            let same = self.pending.as_ref().is_some_and(|p| p.key == key);
            if !same {
                if let Some(e) = self.orphan_error() {
                    self.done = true;
                    return Some(Err(e));
                }
                self.pending = Some(Pending {
                    key: key.clone(),
                    offset,
                    data: None,
                    others: Vec::new(),
                });
            }
            if !is_msgpack {
                let suffix = String::from_utf8_lossy(&suffix).into_owned();
                if let Some(p) = &mut self.pending {
                    if p.others.len() < 8 {
                        p.others.push(suffix);
                    }
                }
                if let Err(e) = self.skip_data(size, at) {
                    self.done = true;
                    return Some(Err(e.with_key(&key)));
                }
                continue;
            }
            let first_offset = match &mut self.pending {
                Some(p) if p.data.is_some() => {
                    self.done = true;
                    return Some(Err(self
                        .corrupt(at, "sample has two .msgpack members")
                        .with_key(&key)));
                }
                // Marks the key as having its msgpack member.
                Some(p) => {
                    p.data = Some(Vec::new());
                    p.offset
                }
                None => offset,
            };
            if let Err(e) = self.check_size(size, at) {
                self.done = true;
                return Some(Err(e.with_key(&key)));
            }
            let mut member = (&mut self.inner).take(size);
            let out = sink(&key, first_offset, size, &mut member);
            let left = member.limit();
            self.pos += size - left;
            let out = out.map_err(|e| e.with_key(&key).with_shard(&self.url, first_offset));
            if out.is_err() {
                self.done = true;
                return Some(out);
            }
            if left > 0 {
                // The sink did not read it all: skip the rest.
                if let Err(e) = self.skip_exact(left, at) {
                    self.done = true;
                    return Some(Err(e.with_key(&key)));
                }
            }
            if let Err(e) = self.skip_exact(padding(size), at) {
                self.done = true;
                return Some(Err(e.with_key(&key)));
            }
            return Some(out);
        }
    }

    /// The next member that carries a sample key (others are skipped), or `None` at the end.
    fn next_keyed_member(&mut self) -> Result<Option<KeyedMember>> {
        loop {
            let (offset, at, size, regular) = match self.next_member()? {
                Step::End => return Ok(None),
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
            return Ok(Some(KeyedMember {
                offset,
                at,
                size,
                key: String::from_utf8_lossy(self.name.get(..prefix_end).unwrap_or(&[]))
                    .into_owned(),
                suffix: self.name.get(suffix_start..).unwrap_or(&[]).to_vec(),
            }));
        }
    }

    /// The error for a finished key that had members but no `.msgpack` one, if any.
    fn orphan_error(&mut self) -> Option<Error> {
        let p = self.pending.take()?;
        if p.data.is_some() {
            return None;
        }
        self.complete(p).err()
    }
}

impl<R: Read> Iterator for ShardReader<R> {
    type Item = Result<RawSample>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.deferred.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let m = match self.next_keyed_member() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.done = true;
                    return self.pending.take().map(|p| self.complete(p));
                }
                Err(e) => {
                    let finished = self.pending.take();
                    return self.fail(e, finished);
                }
            };
            let (offset, at, size) = (m.offset, m.at, m.size);
            let prefix = m.key;
            let is_msgpack = m.suffix.eq_ignore_ascii_case(b"msgpack");
            let suffix = if is_msgpack {
                String::new()
            } else {
                String::from_utf8_lossy(&m.suffix).into_owned()
            };
            let same = self.pending.as_ref().is_some_and(|p| p.key == prefix);
            let finished = if same {
                None
            } else {
                let next = Pending {
                    key: prefix,
                    offset,
                    data: None,
                    others: Vec::new(),
                };
                self.pending.replace(next)
            };
            if let Err(e) = self.take_member(is_msgpack, suffix, size, at) {
                let key = self.pending.as_ref().map(|p| p.key.clone());
                let e = match key {
                    Some(k) => e.with_key(&k),
                    None => e,
                };
                self.pending = None;
                return self.fail(e, finished);
            }
            if let Some(p) = finished {
                return Some(self.complete(p));
            }
        }
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
