//! Printing results: aligned text tables, JSON documents and byte sizes.
//!
//! Everything a command prints on stdout goes through [`Out`], which returns write errors
//! instead of panicking (as `println!` does) so that `atdata ls | head -1` ends quietly.
//! Diagnostics go to stderr, never here.

use std::io::{self, Write};

use anyhow::Result;

/// Buffered standard output that reports write failures as errors.
pub struct Out {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    /// Locks stdout for the rest of the command.
    pub fn new() -> Self {
        Out {
            inner: io::BufWriter::new(io::stdout().lock()),
        }
    }

    /// Writes one line.
    pub fn line(&mut self, text: impl AsRef<str>) -> Result<()> {
        self.inner.write_all(text.as_ref().as_bytes())?;
        self.inner.write_all(b"\n")?;
        Ok(())
    }

    /// Writes a JSON document, pretty-printed, followed by a newline.
    pub fn json(&mut self, value: &serde_json::Value) -> Result<()> {
        serde_json::to_writer_pretty(&mut self.inner, value)?;
        self.inner.write_all(b"\n")?;
        Ok(())
    }

    /// Writes a table: a header row, then the rows, columns padded to their widest cell.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
        let mut all = Vec::with_capacity(rows.len() + 1);
        all.push(header.iter().map(|h| h.to_string()).collect());
        all.extend(rows.iter().cloned());
        self.rows(&all)
    }

    /// Writes rows with columns padded to their widest cell. The last column is not padded,
    /// so lines carry no trailing spaces.
    pub fn rows(&mut self, rows: &[Vec<String>]) -> Result<()> {
        let mut widths: Vec<usize> = Vec::new();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(cur) => *cur = (*cur).max(w),
                    None => widths.push(w),
                }
            }
        }
        for row in rows {
            self.line(format_row(row, &widths))?;
        }
        Ok(())
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush()?;
        Ok(())
    }
}

fn format_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    let last = cells.len().saturating_sub(1);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        if i < last {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    line.truncate(line.trim_end().len());
    line
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
}

/// Shortens text to at most `max` characters, marking the cut with `...`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut s: String = text.chars().take(keep).collect();
    s.push_str("...");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_align_without_trailing_spaces() {
        let widths = [4, 2];
        assert_eq!(format_row(&["a".into(), "bb".into()], &widths), "a     bb");
        assert_eq!(format_row(&["abcd".into(), "".into()], &widths), "abcd");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("abcdefghij", 6), "abc...");
    }
}
