//! Telling a dataset of the index from shard files on the command line: the one rule every
//! command that takes an argument naming either uses.
//!
//! The rule looks at the text only, never at the filesystem, so an argument means the same in
//! every directory (`atdata preview '*'` is the dataset named `*`, whatever files are around):
//!
//! 1. With `--files`, the argument is shard files.
//! 2. Starting with `@`, it is a dataset reference (`@local/name`, `@local/name@2`).
//! 3. With a URL scheme (`file://...`, `s3://...`), a `/`, or ending in `.tar`, `.tar.gz` or
//!    `.tgz`, it is shard files: a path, brace pattern, glob or directory (`./shards`,
//!    `data-{0..9}.tar`).
//! 4. Anything else is a dataset name of the `local` repository, with an optional `@version`
//!    (`docs`, `docs@2`, `*`). To read a folder named `shards`, write `./shards` or `--files`;
//!    to reach a dataset whose name ends in `.tar`, write `@local/name.tar`.

use anyhow::{bail, Result};

/// What a command-line argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A dataset of the index, by reference.
    Dataset(&'a str),
    /// Shard files: a path, pattern, directory or `file://` URL.
    Files(&'a str),
}

/// Reads `arg` by the rule of this module; `files` is the `--files` flag.
pub fn classify(arg: &str, files: bool) -> Source<'_> {
    let looks_like_files = arg.contains("://")
        || arg.contains('/')
        || [".tar", ".tar.gz", ".tgz"].iter().any(|x| arg.ends_with(x));
    if files || (!arg.starts_with('@') && looks_like_files) {
        Source::Files(arg)
    } else {
        Source::Dataset(arg)
    }
}

/// For commands that read shard files only (`inspect`, the target of `add`): a dataset
/// reference there is a mistake worth naming, not a file to look for.
pub fn files_only<'a>(arg: &'a str, command: &str) -> Result<&'a str> {
    match classify(arg, false) {
        Source::Dataset(r) if r.starts_with('@') => bail!(
            "'{r}' is a dataset reference, but `atdata {command}` reads shard files (a path, \
             pattern or directory); for a dataset of the index use `atdata show` or \
             `atdata preview`"
        ),
        _ => Ok(arg),
    }
}

/// A hint for a dataset name that was not found but names a path here: the rule read it as a
/// dataset name, and the user may have meant the files.
pub fn hint_for_missing_dataset(arg: &str) -> Option<String> {
    std::path::Path::new(arg).exists().then(|| {
        format!("'{arg}' is read as a dataset name; to read the files there, write ./{arg} or use --files")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_files_are_told_apart_by_their_text_alone() {
        for arg in [
            "*",
            "docs",
            "docs@2",
            "{a,b}",
            "c[1]",
            "a?",
            "@local/x.tar",
            "@lab/d",
        ] {
            assert_eq!(classify(arg, false), Source::Dataset(arg), "{arg}");
        }
        for arg in [
            "./x",
            "/abs/dir",
            "dir/",
            "x.tar",
            "x.tar.gz",
            "x.tgz",
            "data-{0..9}.tar",
            "shards/*.tar",
            "file:///a/x.tar",
            "s3://b/k.tar",
        ] {
            assert_eq!(classify(arg, false), Source::Files(arg), "{arg}");
        }
        assert_eq!(classify("*", true), Source::Files("*"));
        assert_eq!(classify("@local/d", true), Source::Files("@local/d"));
    }

    #[test]
    fn file_only_commands_name_a_reference_as_a_mistake() {
        assert!(files_only("x.tar", "inspect").is_ok());
        assert!(files_only("shards", "inspect").is_ok());
        let e = files_only("@local/d", "inspect").unwrap_err().to_string();
        assert!(
            e.contains("dataset reference") && e.contains("inspect"),
            "{e}"
        );
    }
}
