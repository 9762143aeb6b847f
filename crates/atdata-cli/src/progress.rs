//! Progress bars for long work, shown only when stderr is a terminal.
//!
//! Scripts and tests read our stderr for error messages; a bar redrawing itself there would
//! bury them, so off a terminal the bar is hidden and costs nothing.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over the bytes a core operation reads (inspect, verify, add), driven by the core through
/// [`atdata::Progress`]; hidden unless stderr is a terminal. Clear it with [`Bytes::finish`].
pub struct Bytes(ProgressBar);

impl Bytes {
    /// A bar labelled `what` (`verifying @local/docs@1`).
    pub fn new(what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Bytes(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} \
             {wide_msg} (eta {eta})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Bytes(bar)
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl atdata::Progress for Bytes {
    fn start(&self, total_bytes: u64) {
        self.0.set_length(total_bytes);
    }

    fn shard(&self, url: &str) {
        let file = url.rsplit('/').next().unwrap_or(url);
        self.0.set_message(file.to_string());
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}
