//! Progress of long operations, as events and counters, for callers that show it.
//!
//! This is the one progress abstraction: whoever does the work reports through [`Progress`]
//! (the core for verifying, inserting and inspecting shards, in bytes read; a binding for the
//! samples it writes or reads), and each front end renders it once: the CLI as a bar on a
//! terminal (`crates/atdata-cli/src/progress.rs`), the Python package as a bar on a terminal
//! or plain lines when asked (`crates/atdata-py/src/progress.rs`). The core never draws, and
//! front ends draw nothing unless stderr is a terminal or their caller asks.

/// Receives the progress of one long operation. Calls come from the threads doing the work
/// (several at once for some operations), so implementations should be cheap (a counter, a
/// throttled redraw). Every method defaults to doing nothing: a front end implements the
/// events it shows.
pub trait Progress: Send + Sync {
    /// The work ahead: `total_bytes` in all (files to read), before anything is read.
    fn start(&self, _total_bytes: u64) {}

    /// Now reading the shard at `url`.
    fn shard(&self, _url: &str) {}

    /// `bytes` more have been read.
    fn advance(&self, _bytes: u64) {}

    /// `samples` more samples are done (written or read), which took `bytes` encoded (0 when
    /// not counted).
    fn samples(&self, _samples: u64, _bytes: u64) {}
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
