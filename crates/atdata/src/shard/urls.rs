//! Turning what a user types into a list of shard URLs.
//!
//! WebDataset users name shard sets with bash-style brace patterns (`data-{000000..000009}.tar`),
//! so we expand those the same way Python's `braceexpand` does: `{a,b}` alternatives, numeric
//! ranges that keep zero padding, letter ranges, optional steps, nesting, several groups in one
//! pattern, and `\` escapes. Local results may be globs or directories. Every expansion is
//! checked: a pattern that names nothing is an error, never an empty dataset.

use std::fs;
use std::path::Path;

use crate::{Error, Result};

/// Most names one pattern may expand to; protects against patterns like `{0..99999999999}`.
const MAX_EXPANSIONS: usize = 1_000_000;

/// Deepest brace nesting accepted (recursion bound for hostile patterns).
const MAX_DEPTH: usize = 64;

/// A shard path, brace pattern (`data-{000000..000009}.tar` keeps zero padding, `{a,b}`,
/// nested/multiple braces), glob (`*.tar`, `**`), or directory (every *.tar below it, recursively, sorted).
/// Error if nothing matches / path missing / bad pattern.
///
/// Strings with a URL scheme (`s3://bucket/a-{0..3}.tar`) are brace-expanded but not checked:
/// their store resolves them. Glob matches are files only, sorted within each pattern.
pub fn expand(target: &str) -> Result<Vec<String>> {
    if target.trim().is_empty() {
        return Err(Error::invalid("empty shard path"));
    }
    let mut out = Vec::new();
    for candidate in expand_braces(target)? {
        if has_scheme(&candidate) {
            out.push(candidate);
        } else if candidate.contains(['*', '?', '[']) {
            let found = glob_files(&candidate)?;
            if found.is_empty() {
                return Err(Error::not_found(format!(
                    "no shard file matches '{candidate}'"
                )));
            }
            out.extend(found);
        } else {
            out.extend(local_path(&candidate)?);
        }
    }
    Ok(out)
}

fn has_scheme(s: &str) -> bool {
    match s.find("://") {
        Some(i) if i > 0 => s.get(..i).is_some_and(|scheme| {
            scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        }),
        _ => false,
    }
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

fn local_path(candidate: &str) -> Result<Vec<String>> {
    let meta = match fs::metadata(candidate) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::not_found(format!("shard '{candidate}'")))
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
        return Err(Error::not_found(format!(
            "no .tar shard in directory '{candidate}'"
        )));
    }
    out.sort();
    Ok(out)
}

/// Bash-style brace expansion, as Python's `braceexpand`: `{a,b}`, `{1..10}`, `{01..10}` (zero
/// padded to the wider end), `{a..e}`, `{0..10..2}`, descending ranges, nesting, and `\` to
/// escape a special character. A group without a comma or range (`{x}`) stays literal.
/// Unbalanced braces are an error.
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
    if depth > MAX_DEPTH {
        return Err(Error::invalid(format!(
            "shard pattern '{whole}' nests braces deeper than {MAX_DEPTH}"
        )));
    }
    let bytes = s.as_bytes();
    let mut results = vec![String::new()];
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
                if results.len().saturating_mul(options.len()) > MAX_EXPANSIONS {
                    return Err(too_many(whole));
                }
                let mut next = Vec::with_capacity(results.len() * options.len());
                for r in &results {
                    for o in &options {
                        next.push(format!("{r}{literal}{o}"));
                    }
                }
                results = next;
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
        return Ok(expand_seq(inner, whole, depth)?
            .into_iter()
            .map(|s| format!("{{{s}}}"))
            .collect());
    }
    let mut out = Vec::new();
    for item in items {
        let expanded = expand_seq(item, whole, depth)?;
        if out.len() + expanded.len() > MAX_EXPANSIONS {
            return Err(too_many(whole));
        }
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
    fn schemes_pass_through() {
        assert_eq!(
            expand("s3://b/x-{0..1}.tar").unwrap(),
            ["s3://b/x-0.tar", "s3://b/x-1.tar"]
        );
        assert!(!has_scheme("/a/b://c"));
    }
}
