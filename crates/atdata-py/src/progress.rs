//! The Python package's one renderer of [`atdata::Progress`]: samples written or read, on
//! stderr.
//!
//! The Python API takes `progress=None | True | False`:
//! - `None` (auto): a bar only when stderr is a terminal, and only once the operation has run for
//!   [`auto_delay`]: short calls (the usual interactive case, or a loop that breaks after one
//!   batch) draw nothing, so their terminal output is not interleaved with half-drawn bars;
//! - `True`: from the start; on a terminal a bar, elsewhere (a pipe, a log file) plain lines
//!   without any terminal control codes, one every [`LINE_EVERY`] at most and one when the
//!   operation ends;
//! - `False`: never.
//!
//! A bar is updated per chunk or batch, never per sample, and cleared when the operation ends
//! so finished work leaves no line behind.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Environment variable overriding [`auto_delay`] (seconds, e.g. `0` or `2.5`).
pub const DELAY_ENV: &str = "ATDATA_PROGRESS_DELAY";

/// Shortest time between two plain progress lines.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

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

/// What is counted, which decides the wording and whether bytes are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Samples written (with the bytes they encode to).
    Write,
    /// Samples read.
    Read,
}

/// The counters of one operation and their text.
#[derive(Debug)]
struct Counts {
    kind: Kind,
    /// `writing docs`.
    label: String,
    total: Option<u64>,
    samples: AtomicU64,
    bytes: AtomicU64,
    started: Instant,
}

impl Counts {
    fn new(kind: Kind, what: &str, total: Option<u64>) -> Self {
        let verb = match kind {
            Kind::Write => "writing",
            Kind::Read => "reading",
        };
        Counts {
            kind,
            label: format!("{verb} {what}"),
            total,
            samples: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// `(1.00 KiB, 3,000/s, 1.00 KiB/s)` for writes, `(3,000/s)` for reads: averages since the
    /// start, steadier to read than a recent-window estimate.
    fn rates(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let per_sec = |n: u64| (n as f64 / secs) as u64;
        let samples = self.samples.load(Ordering::Relaxed);
        match self.kind {
            Kind::Write => {
                let bytes = self.bytes.load(Ordering::Relaxed);
                format!(
                    "({}, {}/s, {}/s)",
                    HumanBytes(bytes),
                    HumanCount(per_sec(samples)),
                    HumanBytes(per_sec(bytes))
                )
            }
            Kind::Read => format!("({}/s)", HumanCount(per_sec(samples))),
        }
    }

    /// One plain progress line: `writing docs 1,000/3,000 samples (...)`.
    fn line(&self) -> String {
        let n = HumanCount(self.samples.load(Ordering::Relaxed));
        let count = match self.total {
            Some(t) => format!("{n}/{}", HumanCount(t)),
            None => n.to_string(),
        };
        format!("{} {count} samples {}", self.label, self.rates())
    }
}

/// Where the progress goes.
enum Output {
    /// Nowhere.
    Silent,
    /// A bar on the terminal; in auto mode hidden until `reveal_at`.
    Bar {
        bar: ProgressBar,
        reveal_at: Option<Instant>,
        revealed: AtomicBool,
    },
    /// Plain lines on stderr, when asked for off a terminal; `last` is when one was written.
    Lines { last: Mutex<Instant> },
}

/// The progress of one write or read (see the module docs), fed through
/// [`atdata::Progress::samples`]; finished (bar cleared, last line written) when dropped.
pub struct Progress {
    counts: Arc<Counts>,
    out: Output,
}

impl Progress {
    /// Progress for `what` (dataset name or file stem), of `total` samples when known,
    /// following the caller's `progress` argument.
    pub fn new(progress: Option<bool>, kind: Kind, what: &str, total: Option<u64>) -> Self {
        let terminal = io::stderr().is_terminal();
        let counts = Arc::new(Counts::new(kind, what, total));
        let out = match progress {
            Some(true) if terminal => bar(&counts, ProgressDrawTarget::stderr(), None),
            Some(true) => Output::Lines {
                last: Mutex::new(Instant::now()),
            },
            None if terminal => bar(
                &counts,
                ProgressDrawTarget::hidden(),
                Some(Instant::now() + auto_delay()),
            ),
            Some(false) | None => Output::Silent,
        };
        Progress { counts, out }
    }
}

impl Drop for Progress {
    /// Clears the bar, or writes the last line.
    fn drop(&mut self) {
        match &self.out {
            Output::Silent => {}
            Output::Bar { bar, .. } => bar.finish_and_clear(),
            Output::Lines { .. } => write_line(&self.counts),
        }
    }
}

impl atdata::Progress for Progress {
    fn samples(&self, samples: u64, bytes: u64) {
        if matches!(self.out, Output::Silent) {
            return;
        }
        self.counts.samples.fetch_add(samples, Ordering::Relaxed);
        self.counts.bytes.fetch_add(bytes, Ordering::Relaxed);
        match &self.out {
            Output::Silent => {}
            Output::Bar {
                bar,
                reveal_at,
                revealed,
            } => {
                if let Some(at) = reveal_at {
                    if Instant::now() >= *at && !revealed.swap(true, Ordering::Relaxed) {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                    }
                }
                bar.inc(samples);
            }
            Output::Lines { last } => {
                let due = last.lock().is_ok_and(|mut last| {
                    let due = last.elapsed() >= LINE_EVERY;
                    if due {
                        *last = Instant::now();
                    }
                    due
                });
                if due {
                    write_line(&self.counts);
                }
            }
        }
    }
}

/// A bar drawn on `target` (hidden until `reveal_at` when given).
fn bar(counts: &Arc<Counts>, target: ProgressDrawTarget, reveal_at: Option<Instant>) -> Output {
    // The bar takes whatever width the text leaves, so the line fits narrow terminals.
    let template = if counts.total.is_some() {
        "{prefix} {human_pos}/{human_len} {rates} eta {eta} [{wide_bar}]"
    } else {
        "{prefix} {spinner} {human_pos} samples {rates}"
    };
    let shown = counts.clone();
    let rates = move |_: &indicatif::ProgressState, w: &mut dyn fmt::Write| {
        let _ = w.write_str(&shown.rates());
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rates", rates)
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(counts.total, target)
        .with_style(style)
        .with_prefix(counts.label.clone());
    if reveal_at.is_none() {
        // Draw the empty bar now: a forced bar shows even for a quick call.
        bar.tick();
    }
    Output::Bar {
        bar,
        reveal_at,
        revealed: AtomicBool::new(false),
    }
}

fn write_line(counts: &Counts) {
    // Progress must never fail the work it reports on: a closed stderr loses the line.
    let _ = writeln!(io::stderr().lock(), "{}", counts.line());
}

#[cfg(test)]
mod tests {
    use atdata::Progress as _;

    use super::*;

    fn counted(
        kind: Kind,
        total: Option<u64>,
        out: impl FnOnce(&Arc<Counts>) -> Output,
    ) -> Progress {
        let counts = Arc::new(Counts::new(kind, "docs", total));
        let out = out(&counts);
        Progress { counts, out }
    }

    #[test]
    fn disabled_progress_counts_nothing() {
        let p = Progress::new(Some(false), Kind::Write, "x", Some(10));
        assert!(matches!(p.out, Output::Silent));
        p.samples(5, 100);
        assert_eq!(p.counts.samples.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn plain_lines_show_counts_and_rates_without_terminal_codes() {
        let p = counted(Kind::Write, Some(10), |_| Output::Silent);
        p.counts.samples.store(10, Ordering::Relaxed);
        p.counts.bytes.store(1024, Ordering::Relaxed);
        let line = p.counts.line();
        assert!(
            line.starts_with("writing docs 10/10 samples (1.00 KiB, "),
            "{line}"
        );
        assert!(!line.contains(['\x1b', '\r', '\n']), "{line:?}");
        let read = Counts::new(Kind::Read, "docs", None);
        assert!(
            read.line().starts_with("reading docs 0 samples ("),
            "{}",
            read.line()
        );
    }

    #[test]
    fn delayed_bar_stays_hidden_until_its_time() {
        let later = Instant::now() + Duration::from_secs(3600);
        let p = counted(Kind::Read, Some(10), |c| {
            bar(c, ProgressDrawTarget::hidden(), Some(later))
        });
        p.samples(3, 0);
        let Output::Bar { bar, .. } = &p.out else {
            panic!("a bar")
        };
        assert!(bar.is_hidden());
        assert_eq!(bar.position(), 3);
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
