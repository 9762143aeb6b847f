//! Progress bars on stderr for long writes and reads.
//!
//! The Python API takes `progress=None | True | False`:
//! - `None` (auto): a bar only when stderr is a terminal, and only once the operation has run for
//!   [`auto_delay`] — short calls (the usual interactive case, or a loop that breaks after one
//!   batch) draw nothing, so their terminal output is not interleaved with half-drawn bars;
//! - `True`: a bar from the start, drawn on stderr even when it is not a terminal;
//! - `False`: never.
//!
//! Bars are updated per chunk or batch, never per sample, and are cleared when the operation ends
//! so finished work leaves no line behind.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{
    HumanBytes, HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike,
};

/// Environment variable overriding [`auto_delay`] (seconds, e.g. `0` or `2.5`).
pub const DELAY_ENV: &str = "ATDATA_PROGRESS_DELAY";

/// How long an auto-mode operation runs before its bar appears (default 1 s).
pub fn auto_delay() -> Duration {
    parse_delay(std::env::var(DELAY_ENV).ok().as_deref())
}

fn parse_delay(value: Option<&str>) -> Duration {
    value
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(1))
}

/// What the bar counts, which decides its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Samples written (with the bytes they encode to).
    Write,
    /// Samples read.
    Read,
}

/// A progress bar that may be hidden, delayed or forced (see the module docs).
pub struct Progress {
    bar: ProgressBar,
    /// When the hidden bar of an auto-mode operation should start drawing.
    reveal_at: Option<Instant>,
    /// Encoded bytes so far (writes), read by the bar's template when it draws.
    bytes: Arc<AtomicU64>,
}

impl Progress {
    /// A bar for `what` (dataset name or file stem), of `total` samples when known, following
    /// the caller's `progress` argument.
    pub fn new(progress: Option<bool>, kind: Kind, what: &str, total: Option<u64>) -> Self {
        let (target, reveal_at) = match progress {
            Some(false) => (None, None),
            Some(true) if io::stderr().is_terminal() => (Some(ProgressDrawTarget::stderr()), None),
            Some(true) => (
                Some(ProgressDrawTarget::term_like(Box::new(PlainStderr))),
                None,
            ),
            None if io::stderr().is_terminal() => (
                Some(ProgressDrawTarget::hidden()),
                Some(Instant::now() + auto_delay()),
            ),
            None => (None, None),
        };
        Progress::with_target(target, reveal_at, kind, what, total)
    }

    fn with_target(
        target: Option<ProgressDrawTarget>,
        reveal_at: Option<Instant>,
        kind: Kind,
        what: &str,
        total: Option<u64>,
    ) -> Self {
        let bytes = Arc::new(AtomicU64::new(0));
        let bar = match target {
            None => ProgressBar::hidden(),
            Some(target) => {
                let bar = ProgressBar::with_draw_target(total, target)
                    .with_style(style(kind, total.is_some(), bytes.clone()))
                    .with_prefix(format!("{} {what}", verb(kind)));
                if reveal_at.is_none() {
                    // Draw the empty bar now: a forced bar shows even for a quick call.
                    bar.tick();
                }
                bar
            }
        };
        Progress {
            bar,
            reveal_at,
            bytes,
        }
    }

    /// Counts `samples` more samples (and `bytes` more encoded bytes, for writes).
    pub fn advance(&mut self, samples: u64, bytes: u64) {
        if self.bar.is_hidden() && self.reveal_at.is_none() {
            return;
        }
        if let Some(at) = self.reveal_at {
            if Instant::now() >= at {
                self.reveal_at = None;
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if samples > 0 {
            self.bar.inc(samples);
        }
    }

    /// Removes the bar (also done on drop).
    pub fn finish(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn verb(kind: Kind) -> &'static str {
    match kind {
        Kind::Write => "writing",
        Kind::Read => "reading",
    }
}

fn style(kind: Kind, bounded: bool, bytes: Arc<AtomicU64>) -> ProgressStyle {
    // The bar takes whatever width the text leaves, so the line fits narrow terminals.
    let template = if bounded {
        "{prefix} {human_pos}/{human_len} {rates} eta {eta} [{wide_bar}]"
    } else {
        "{prefix} {spinner} {human_pos} samples {rates}"
    };
    // Average rates since the start: steadier to read than indicatif's recent-window estimate.
    let rates = move |state: &ProgressState, w: &mut dyn fmt::Write| {
        let secs = state.elapsed().as_secs_f64().max(1e-3);
        let per_sec = |n: u64| (n as f64 / secs) as u64;
        let samples = state.pos();
        let _ = match kind {
            Kind::Write => {
                let bytes = bytes.load(Ordering::Relaxed);
                write!(
                    w,
                    "({}, {}/s, {}/s)",
                    HumanBytes(bytes),
                    HumanCount(per_sec(samples)),
                    HumanBytes(per_sec(bytes))
                )
            }
            Kind::Read => write!(w, "({}/s)", HumanCount(per_sec(samples))),
        };
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rates", rates)
        .progress_chars("=> ")
}

/// stderr as a draw target even when it is not a terminal (`progress=True`): each redraw
/// returns to the start of the line, like on a terminal.
#[derive(Debug)]
struct PlainStderr;

impl PlainStderr {
    fn emit(s: &str) -> io::Result<()> {
        io::stderr().lock().write_all(s.as_bytes())
    }
}

impl TermLike for PlainStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => Self::emit(&format!("\x1b[{n}A")),
        }
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => Self::emit(&format!("\x1b[{n}B")),
        }
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => Self::emit(&format!("\x1b[{n}C")),
        }
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => Self::emit(&format!("\x1b[{n}D")),
        }
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        Self::emit(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        Self::emit(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        Self::emit("\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records what a bar draws; `clear_line` wipes the current line like a terminal would.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn contents(&self) -> String {
            self.0.lock().map(|s| s.clone()).unwrap_or_default()
        }
        fn edit(&self, f: impl FnOnce(&mut String)) -> io::Result<()> {
            let mut s = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
            f(&mut s);
            Ok(())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            200
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> io::Result<()> {
            self.edit(|s| {
                s.push_str(line);
                s.push('\n');
            })
        }
        fn write_str(&self, text: &str) -> io::Result<()> {
            self.edit(|s| s.push_str(text))
        }
        fn clear_line(&self) -> io::Result<()> {
            self.edit(|s| {
                let keep = s.rfind('\n').map_or(0, |i| i + 1);
                s.truncate(keep);
            })
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn on_screen(kind: Kind, total: Option<u64>) -> (Progress, Screen) {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let p = Progress::with_target(Some(target), None, kind, "docs", total);
        (p, screen)
    }

    #[test]
    fn disabled_bar_is_hidden_and_counts_nothing() {
        let mut p = Progress::new(Some(false), Kind::Write, "x", Some(10));
        assert!(p.bar.is_hidden());
        p.advance(5, 100);
        assert_eq!(p.bar.position(), 0);
    }

    #[test]
    fn write_bar_shows_samples_and_bytes_then_clears() {
        let (mut p, term) = on_screen(Kind::Write, Some(10));
        p.advance(4, 1000);
        p.advance(6, 24);
        assert_eq!(p.bar.position(), 10);
        p.bar.tick();
        let shown = term.contents();
        assert!(shown.contains("writing docs"), "{shown}");
        assert!(shown.contains("10/10 ("), "{shown}");
        assert!(shown.contains("(1.00 KiB, "), "{shown}");
        p.finish();
        assert_eq!(term.contents().trim(), "");
    }

    #[test]
    fn read_bar_without_length_counts_samples() {
        let (mut p, term) = on_screen(Kind::Read, None);
        p.advance(256, 0);
        p.bar.tick();
        assert!(term.contents().contains("reading docs"));
        assert!(term.contents().contains("256 samples"));
    }

    #[test]
    fn delayed_bar_stays_hidden_until_its_time() {
        let later = Instant::now() + Duration::from_secs(3600);
        let mut p = Progress::with_target(
            Some(ProgressDrawTarget::hidden()),
            Some(later),
            Kind::Read,
            "docs",
            Some(10),
        );
        p.advance(3, 0);
        assert!(p.bar.is_hidden());
        assert_eq!(p.bar.position(), 3);
    }

    #[test]
    fn delay_parses_seconds_and_falls_back_to_one_second() {
        assert_eq!(parse_delay(Some("0")), Duration::ZERO);
        assert_eq!(parse_delay(Some(" 2.5 ")), Duration::from_millis(2500));
        assert_eq!(parse_delay(Some("soon")), Duration::from_secs(1));
        assert_eq!(parse_delay(Some("-1")), Duration::from_secs(1));
        assert_eq!(parse_delay(None), Duration::from_secs(1));
    }
}
