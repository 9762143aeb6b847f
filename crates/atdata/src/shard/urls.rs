//! Turning what a user types into a list of shard files.
//!
//! WebDataset users name shard sets with bash-style brace patterns (`data-{000000..000009}.tar`),
//! so we expand those the same way Python's `braceexpand` does: `{a,b}` alternatives, numeric
//! ranges that keep zero padding, letter ranges, optional steps, nesting, several groups in one
//! pattern, and `\` escapes. Local results may be globs or directories. Every expansion is
//! checked: a pattern that names nothing is an error, never an empty dataset.
//!
//! Only what a user types is a pattern, and only where it does not name a path as it stands: a
//! target that exists (a file `run[1].tar`, a folder `out-{a,b}`) is that path. URLs read back
//! from an index are never passed through here (see `index::scan::expand_url`): they are
//! literal.
//!
//! The URL schemes we read locally are decided once, in [`local_path`]: plain paths and
//! `file://`. `store::LocalFiles`, the local read side of every store, applies it.

use std::fs;
use std::path::Path;

use crate::{Error, Result};

/// Most names one brace pattern may expand to; protects against patterns like
/// `{0..99999999999}`.
pub const MAX_EXPANSIONS: usize = 1_000_000;

/// Most bytes the names of one brace expansion may hold together (a short pattern with a long
/// literal and a large range must not fill memory).
pub const MAX_EXPANDED_BYTES: usize = 64 << 20;

/// Deepest brace nesting accepted (recursion bound for hostile patterns).
pub const MAX_BRACE_DEPTH: usize = 64;

/// A shard path, brace pattern (`data-{000000..000009}.tar` keeps zero padding, `{a,b}`,
/// nested/multiple braces), glob (`*.tar`, `**`), or directory (every *.tar below it, recursively,
/// sorted), or a `file://` URL of any of those. Error if nothing matches / path missing / bad
/// pattern.
///
/// A target that exists as typed is taken literally (a file named `run[1].tar` is that file,
/// not a glob); only a target that names nothing is brace-expanded, and then each name that
/// does not exist is a glob if it holds `*`, `?` or `[`. Glob matches are files only, sorted
/// within each pattern. URL schemes other than `file://` are an error naming the scheme (see
/// [`local_path`]). A path, pattern or directory that names no file is an [`Error::Io`] of kind
/// [`NotFound`](std::io::ErrorKind::NotFound) on that path.
pub fn expand(target: &str) -> Result<Vec<String>> {
    if target.trim().is_empty() {
        return Err(Error::invalid("empty shard path"));
    }
    #[cfg(feature = "s3")]
    if is_remote(target) {
        return expand_remote(target);
    }
    let literal = local_path(target)?;
    if Path::new(literal).exists() {
        return local_files(literal);
    }
    let mut out = Vec::new();
    for candidate in expand_braces(target)? {
        let candidate = local_path(&candidate)?;
        if Path::new(candidate).exists() {
            out.extend(local_files(candidate)?);
        } else if candidate.contains(['*', '?', '[']) {
            let found = glob_files(candidate)?;
            if found.is_empty() {
                return Err(missing(candidate, "no shard file matches this pattern"));
            }
            out.extend(found);
        } else {
            return Err(missing(candidate, "shard file not found"));
        }
    }
    Ok(out)
}

/// The local path a shard URL names: a plain path as it is, or a `file://` URL
/// (`file:///data/x.tar`, `file://localhost/data/x.tar`) without its scheme. Any other scheme
/// (`s3://`, `https://`) is [`Error::InvalidArgument`] naming the scheme and the URL: this
/// build reads local files only. The one place that decides which URLs we can read.
pub fn local_path(url: &str) -> Result<&str> {
    let Some(scheme) = scheme_of(url) else {
        return Ok(url);
    };
    let rest = url.get(scheme.len() + 3..).unwrap_or_default();
    if scheme.eq_ignore_ascii_case("file") {
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if path.starts_with('/') {
            return Ok(path);
        }
        return Err(Error::invalid(format!(
            "file URL '{url}' names a host; write file:///absolute/path"
        )));
    }
    #[cfg(feature = "s3")]
    if is_remote(url) {
        return Err(Error::invalid(format!(
            "unsupported URL scheme '{scheme}' in '{url}' for a local file: {scheme}:// URLs \
             are read through an object store source (store::UrlSource, or an S3 store)"
        )));
    }
    Err(Error::invalid(format!(
        "unsupported URL scheme '{scheme}' in '{url}': only local paths and file:// URLs can \
         be read"
    )))
}

/// Whether `url` is an object-store URL this build reads (`s3://`, `http://`, `https://`).
#[cfg(feature = "s3")]
pub(crate) fn is_remote(url: &str) -> bool {
    scheme_of(url).is_some_and(|s| {
        ["s3", "http", "https"]
            .iter()
            .any(|r| s.eq_ignore_ascii_case(r))
    })
}

/// A remote target: brace patterns expand (as 0.7 and WebDataset do); globs and directories
/// cannot be listed over HTTP, and nothing is checked to exist here (readers say what is
/// missing).
#[cfg(feature = "s3")]
fn expand_remote(target: &str) -> Result<Vec<String>> {
    let urls = expand_braces(target)?;
    if let Some(bad) = urls.iter().find(|u| !is_remote(u)) {
        return Err(Error::invalid(format!(
            "'{target}' expands to '{bad}', which is not an s3:// or http(s):// URL"
        )));
    }
    Ok(urls)
}

/// The scheme of `s` when it starts with one (`s3` of `s3://b/k`): a letter, then letters,
/// digits, `+`, `-` or `.`, then `://` (RFC 3986 scheme characters), so `C:\data\x.tar` and
/// `./a://b` stay paths. The one rule for every location text (shards, index, store).
pub(crate) fn scheme_of(s: &str) -> Option<&str> {
    let i = s.find("://")?;
    let scheme = s.get(..i)?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic() && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
        .then_some(scheme)
}

/// `url` with the password of its `user:password@` replaced by `***`: how a location is shown
/// in messages (index and store locations may carry credentials).
pub(crate) fn without_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) else {
        return url.to_string();
    };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_string(),
    }
}

/// The error for a target that names no shard file: an I/O error of kind `NotFound` on that
/// path (not [`Error::NotFound`], which is for names an index looks up), so that every binding
/// reports it as the missing file it is (Python: `ShardNotFoundError`, a `FileNotFoundError`,
/// as atdata 0.7 raised). `what` says what is missing.
fn missing(path: &str, what: &str) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::NotFound, what),
    )
}

fn path_string(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid(format!("path {} is not UTF-8", p.display())))
}

fn glob_files(pattern: &str) -> Result<Vec<String>> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let paths = glob::glob_with(pattern, opts)
        .map_err(|e| Error::invalid(format!("bad glob pattern '{pattern}': {e}")))?;
    let mut out = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| Error::io(e.path().display().to_string(), e.into()))?;
        if path.is_file() {
            out.push(path_string(&path)?);
        }
    }
    out.sort();
    Ok(out)
}

/// The shard files an existing local path names: the file itself, or every `.tar` below a
/// directory.
fn local_files(candidate: &str) -> Result<Vec<String>> {
    let meta = match fs::metadata(candidate) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing(candidate, "shard file not found"))
        }
        Err(e) => return Err(Error::io(candidate, e)),
    };
    if !meta.is_dir() {
        return Ok(vec![candidate.to_string()]);
    }
    // Recursive, like HF `data_dir`: split folders (`train/`, `validation/`) live below it.
    let mut out = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(candidate)];
    while let Some(dir) = dirs.pop() {
        let shown = dir.display().to_string();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&shown, e))? {
            let entry = entry.map_err(|e| Error::io(&shown, e))?;
            let path = entry.path();
            // Symlinked folders are not followed: a link cycle must not loop forever.
            let kind = entry.file_type().map_err(|e| Error::io(&shown, e))?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if kind.is_dir() && !hidden {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "tar") && path.is_file() {
                out.push(path_string(&path)?);
            }
        }
    }
    if out.is_empty() {
        return Err(missing(candidate, "no .tar shard in this directory"));
    }
    out.sort();
    Ok(out)
}

/// Bash-style brace expansion, as Python's `braceexpand`: `{a,b}`, `{1..10}`, `{01..10}` (zero
/// padded to the wider end), `{a..e}`, `{0..10..2}`, descending ranges, nesting, and `\` to
/// escape a special character. A group without a comma or range (`{x}`) stays literal.
///
/// Pure text, no filesystem. Errors ([`Error::InvalidArgument`], each naming the limit it hit):
/// unbalanced braces, more than [`MAX_EXPANSIONS`] names, more than [`MAX_EXPANDED_BYTES`] bytes
/// of names, braces nested deeper than [`MAX_BRACE_DEPTH`].
pub fn expand_braces(pattern: &str) -> Result<Vec<String>> {
    let raw = expand_seq(pattern, pattern, 0)?;
    Ok(raw.iter().map(|s| unescape(s)).collect())
}

fn unbalanced(pattern: &str) -> Error {
    Error::invalid(format!("unbalanced braces in shard pattern '{pattern}'"))
}

fn too_many(pattern: &str) -> Error {
    Error::invalid(format!(
        "shard pattern '{pattern}' expands to more than {MAX_EXPANSIONS} names"
    ))
}

/// Errors when `count` names of `bytes` bytes in all would pass a limit.
fn check_size(count: usize, bytes: usize, pattern: &str) -> Result<()> {
    if count > MAX_EXPANSIONS {
        return Err(too_many(pattern));
    }
    if bytes > MAX_EXPANDED_BYTES {
        return Err(Error::invalid(format!(
            "shard pattern '{pattern}' expands to more than {MAX_EXPANDED_BYTES} bytes of names"
        )));
    }
    Ok(())
}

fn total_len(names: &[String]) -> usize {
    names.iter().map(String::len).sum()
}

/// Removes the backslash of every escape pair.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Byte length of the escape starting at `i` (the backslash and the character after it).
fn escape_len(s: &str, i: usize) -> usize {
    1 + s
        .get(i + 1..)
        .and_then(|r| r.chars().next())
        .map_or(0, char::len_utf8)
}

/// Index of the `}` closing the `{` at `open`, honouring nesting and escapes.
fn matching_close(s: &str, open: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                i += escape_len(s, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Expands a sequence of literal text and brace groups into the product of its parts.
fn expand_seq(s: &str, whole: &str, depth: usize) -> Result<Vec<String>> {
    if depth > MAX_BRACE_DEPTH {
        return Err(Error::invalid(format!(
            "shard pattern '{whole}' nests braces deeper than {MAX_BRACE_DEPTH}"
        )));
    }
    let bytes = s.as_bytes();
    let mut results = vec![String::new()];
    // Bytes held by `results`, so each product is sized before it is built.
    let mut held = 0usize;
    let mut literal_start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                i += escape_len(s, i);
                continue;
            }
            b'{' => {
                let close = matching_close(s, i).ok_or_else(|| unbalanced(whole))?;
                let literal = s.get(literal_start..i).unwrap_or("");
                let inner = s.get(i + 1..close).unwrap_or("");
                let options = expand_group(inner, whole, depth + 1)?;
                let count = results.len().saturating_mul(options.len());
                let bytes = held
                    .saturating_mul(options.len())
                    .saturating_add(count.saturating_mul(literal.len()))
                    .saturating_add(total_len(&options).saturating_mul(results.len()));
                check_size(count, bytes, whole)?;
                let mut next = Vec::with_capacity(count);
                for r in &results {
                    for o in &options {
                        next.push(format!("{r}{literal}{o}"));
                    }
                }
                results = next;
                held = bytes;
                i = close + 1;
                literal_start = i;
                continue;
            }
            b'}' => return Err(unbalanced(whole)),
            _ => {}
        }
        i += 1;
    }
    let tail = s.get(literal_start..).unwrap_or("");
    let bytes = held.saturating_add(results.len().saturating_mul(tail.len()));
    check_size(results.len(), bytes, whole)?;
    for r in &mut results {
        r.push_str(tail);
    }
    Ok(results)
}

/// Expands the text between a pair of braces: a range, a comma list, or literal braces.
fn expand_group(inner: &str, whole: &str, depth: usize) -> Result<Vec<String>> {
    if let Some(range) = parse_range(inner) {
        return range.expand(whole);
    }
    let items = split_top_level_commas(inner);
    if items.len() < 2 {
        let inside = expand_seq(inner, whole, depth)?;
        let bytes = total_len(&inside).saturating_add(inside.len().saturating_mul(2));
        check_size(inside.len(), bytes, whole)?;
        return Ok(inside.into_iter().map(|s| format!("{{{s}}}")).collect());
    }
    let mut out = Vec::new();
    let mut held = 0usize;
    for item in items {
        let expanded = expand_seq(item, whole, depth)?;
        held = held.saturating_add(total_len(&expanded));
        check_size(out.len().saturating_add(expanded.len()), held, whole)?;
        out.extend(expanded);
    }
    Ok(out)
}

fn split_top_level_commas(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut items = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                i += escape_len(s, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                items.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    items.push(s.get(start..).unwrap_or(""));
    items
}

/// `{start..end[..step]}` over integers or ASCII letters.
enum Range {
    Int {
        start: i64,
        end: i64,
        step: u64,
        width: usize,
    },
    Letter {
        start: usize,
        end: usize,
        step: u64,
    },
}

/// Letters in range order: `{X..b}` runs through the upper case then the lower case.
const ALPHABET: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_range(inner: &str) -> Option<Range> {
    let parts: Vec<&str> = inner.split("..").collect();
    let (a, b, step) = match parts.as_slice() {
        [a, b] => (*a, *b, None),
        [a, b, step] => (*a, *b, Some(*step)),
        _ => return None,
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // As braceexpand: the sign of a step is ignored and a zero step means 1.
            digits.parse::<u64>().ok()?.max(1)
        }
    };
    if let (Some(start), Some(end)) = (parse_int(a), parse_int(b)) {
        let padded = [a, b]
            .iter()
            .any(|s| *s != "0" && *s != "-0" && (s.starts_with('0') || s.starts_with("-0")));
        let width = if padded { a.len().max(b.len()) } else { 0 };
        return Some(Range::Int {
            start,
            end,
            step,
            width,
        });
    }
    let letter = |s: &str| match s.as_bytes() {
        [c] => ALPHABET.iter().position(|x| x == c),
        _ => None,
    };
    Some(Range::Letter {
        start: letter(a)?,
        end: letter(b)?,
        step,
    })
}

impl Range {
    fn expand(&self, whole: &str) -> Result<Vec<String>> {
        match *self {
            Range::Int {
                start,
                end,
                step,
                width,
            } => {
                let span = (i128::from(end) - i128::from(start)).unsigned_abs();
                let count = span / u128::from(step) + 1;
                if count > MAX_EXPANSIONS as u128 {
                    return Err(too_many(whole));
                }
                // An i64 takes at most 20 characters; padding may make each name wider.
                let count_usize = usize::try_from(count).unwrap_or(usize::MAX);
                check_size(
                    count_usize,
                    count_usize.saturating_mul(width.max(20)),
                    whole,
                )?;
                let dir: i128 = if end >= start { 1 } else { -1 };
                Ok((0..count)
                    .map(|k| {
                        let v = i128::from(start) + dir * (k as i128) * i128::from(step);
                        format!("{v:0width$}")
                    })
                    .collect())
            }
            Range::Letter { start, end, step } => {
                let step = usize::try_from(step).unwrap_or(usize::MAX);
                let picked: Vec<usize> = if start <= end {
                    (start..=end).step_by(step).collect()
                } else {
                    (end..=start).rev().step_by(step).collect()
                };
                Ok(picked
                    .into_iter()
                    .filter_map(|i| ALPHABET.get(i).map(|&c| char::from(c).to_string()))
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(p: &str) -> Vec<String> {
        expand_braces(p).unwrap()
    }

    #[test]
    fn braceexpand_cases() {
        assert_eq!(ex("item{1..3}"), ["item1", "item2", "item3"]);
        assert_eq!(ex("{a..c}"), ["a", "b", "c"]);
        assert_eq!(
            ex("index.html{,.backup}"),
            ["index.html", "index.html.backup"]
        );
        assert_eq!(
            ex("python{2.{5..7},3.{2,3}}"),
            [
                "python2.5",
                "python2.6",
                "python2.7",
                "python3.2",
                "python3.3"
            ]
        );
        assert_eq!(ex("{07..10}"), ["07", "08", "09", "10"]);
        assert_eq!(ex("{a..g..2}"), ["a", "c", "e", "g"]);
        assert_eq!(ex("{4..1}"), ["4", "3", "2", "1"]);
        assert_eq!(ex("{2..-1}"), ["2", "1", "0", "-1"]);
        assert_eq!(ex("{-01..1}"), ["-01", "000", "001"]);
        assert_eq!(ex("{0..10..5}"), ["0", "5", "10"]);
        assert_eq!(ex("{0..3..0}"), ["0", "1", "2", "3"]);
        assert_eq!(ex("{Y..b}"), ["Y", "Z", "a", "b"]);
        assert_eq!(ex("{c..a}"), ["c", "b", "a"]);
        assert_eq!(ex(r"{1\{2,3}"), ["1{2", "3"]);
        assert_eq!(ex("{x}"), ["{x}"]);
        assert_eq!(ex("{}"), ["{}"]);
        assert_eq!(ex("plain"), ["plain"]);
        assert_eq!(ex("{a,b}{1,2}"), ["a1", "a2", "b1", "b2"]);
        assert_eq!(
            ex("data-{000000..000002}.tar"),
            ["data-000000.tar", "data-000001.tar", "data-000002.tar"]
        );
        assert_eq!(ex("é{1,2}ü"), ["é1ü", "é2ü"]);
    }

    #[test]
    fn bad_patterns() {
        for bad in ["{1{2,3}", "a}", "{a,b", "}{"] {
            assert!(expand_braces(bad).is_err(), "{bad}");
        }
        let huge = expand_braces("{0..99999999999}").unwrap_err().to_string();
        assert!(huge.contains("more than"), "{huge}");
        assert!(expand_braces("{0..999}{0..999}{0..9}").is_err());
        let deep = format!("{}{}", "{a,".repeat(200), "}".repeat(200));
        assert!(expand_braces(&deep).is_err());
    }

    #[test]
    fn only_plain_paths_and_file_urls_are_local() {
        assert_eq!(local_path("/a/b.tar").unwrap(), "/a/b.tar");
        assert_eq!(local_path("rel/b.tar").unwrap(), "rel/b.tar");
        assert_eq!(local_path("file:///a/b.tar").unwrap(), "/a/b.tar");
        assert_eq!(local_path("FILE:///a/b.tar").unwrap(), "/a/b.tar");
        assert_eq!(local_path("file://localhost/a/b.tar").unwrap(), "/a/b.tar");
        assert_eq!(local_path("/a/b://c").unwrap(), "/a/b://c");
        assert_eq!(local_path("{s3,x}://c").unwrap(), "{s3,x}://c");
        let e = local_path("s3://bucket/k.tar").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("unsupported URL scheme 's3'") && text.contains("s3://bucket/k.tar"),
            "{text}"
        );
        assert!(local_path("file://host/a.tar").is_err());
        let e = expand("gs://h/x-{0..1}.tar").unwrap_err().to_string();
        assert!(e.contains("'gs'"), "{e}");
    }

    #[test]
    fn expansion_output_is_bounded_in_count_bytes_and_depth() {
        let long = "x".repeat(1000);
        let e = expand_braces(&format!("{long}{{0..99999}}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes of names"), "{e}");
        let e = expand_braces(&format!("{{0..99999}}{long}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes of names"), "{e}");
        let wide = format!("{{{}1..99999}}", "0".repeat(2000));
        let e = expand_braces(&wide).unwrap_err().to_string();
        assert!(e.contains("bytes of names"), "{e}");
        let e = expand_braces(&"{a,b}".repeat(21)).unwrap_err().to_string();
        assert!(e.contains("more than 1000000 names"), "{e}");
        let deep = format!("{}{}", "{a,".repeat(65), "}".repeat(65));
        let e = expand_braces(&deep).unwrap_err().to_string();
        assert!(e.contains("deeper than 64"), "{e}");
        let ok = format!("{}{}", "{a,".repeat(60), "}".repeat(60));
        assert_eq!(expand_braces(&ok).unwrap().len(), 61);
    }
}
