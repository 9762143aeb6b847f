//! Progress of long operations (verifying and inserting shards), for callers that show it.
//!
//! The core never draws anything: a command-line tool turns these calls into a bar on a
//! terminal, a notebook into its own widget, and everyone else passes [`NoProgress`].

/// Receives the progress of one long operation, in bytes. Calls come from the thread doing
/// the work, so implementations should be cheap (a counter, a throttled redraw).
pub trait Progress: Send + Sync {
    /// The work ahead: `total_bytes` in all (files to read), before anything is read.
    fn start(&self, _total_bytes: u64) {}

    /// Now reading the shard at `url`.
    fn shard(&self, _url: &str) {}

    /// `bytes` more have been read.
    fn advance(&self, _bytes: u64) {}
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
