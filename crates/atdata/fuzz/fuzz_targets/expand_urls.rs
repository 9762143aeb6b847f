//! Any text as a brace pattern: a list of names or an error, never a panic, never more than the
//! documented limits (count, total bytes, nesting), and an error that hits a limit says which.
//! Pure text: `expand_braces` never touches the filesystem. The scheme rule (`local_path`) is
//! fuzzed on the same input; it is pure too.
#![no_main]

use atdata::shard::{
    expand_braces, local_path, MAX_BRACE_DEPTH, MAX_EXPANDED_BYTES, MAX_EXPANSIONS,
};
use atdata::Error;
use libfuzzer_sys::fuzz_target;

/// Longest pattern tried: enough for every construct, short enough that the limits, not the
/// input, bound the work.
const MAX_INPUT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > MAX_INPUT {
        return;
    }
    match expand_braces(text) {
        Ok(names) => {
            assert!(!names.is_empty(), "an expansion names something");
            assert!(names.len() <= MAX_EXPANSIONS, "{} names", names.len());
            let bytes: usize = names.iter().map(String::len).sum();
            // Unescaping only removes characters, so the cap on raw names holds after it.
            assert!(bytes <= MAX_EXPANDED_BYTES, "{bytes} bytes");
            if !text.contains(['{', '\\']) {
                assert_eq!(names, [text], "no braces, no escapes: the text itself");
            }
        }
        Err(Error::InvalidArgument(msg)) => {
            let known = msg.contains("unbalanced braces")
                || msg.contains(&format!("more than {MAX_EXPANSIONS} names"))
                || msg.contains(&format!("more than {MAX_EXPANDED_BYTES} bytes"))
                || msg.contains(&format!("deeper than {MAX_BRACE_DEPTH}"));
            assert!(known, "an error that names its cause: {msg}");
        }
        Err(other) => panic!("brace expansion only fails on its argument: {other}"),
    }
    match local_path(text) {
        Ok(path) => assert!(text.ends_with(path), "a path is a suffix of its URL"),
        Err(e) => assert!(matches!(e, Error::InvalidArgument(_)), "{e}"),
    }
});
