//! Reading shard files for the index: counting samples, hashing, and expanding stored URLs.
//! Used where the index must look at bytes: inserting existing shards, counting entries whose
//! length is unknown, and verifying. Every read goes through a [`ShardSource`]: the
//! repository's store for what an entry names, [`LocalFiles`](crate::store::LocalFiles) for
//! paths the user gave.

use std::io::{self, BufReader, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::codec::python_entry_cid;
use crate::error::{Error, Result};
use crate::index::entry::Entry;
use crate::index::Repository;
use crate::progress::Progress;
use crate::shard::{expand_braces, RawSample, ShardReader};
use crate::store::ShardSource;

/// What a pass over one shard file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardScan {
    /// sha256 of the whole file, when asked for.
    pub sha256: Option<String>,
    /// Samples in the shard.
    pub samples: u64,
    /// File size.
    pub bytes: u64,
}

/// Where the shards of `repo`'s entries are read from: its store, else local files (what the
/// default store reads; reading must not create the default store's folder); with the
/// feature `s3`, remote URLs by their scheme too (see [`crate::store::source_over`]).
pub(crate) fn source_of(repo: &Repository) -> Arc<dyn ShardSource> {
    match &repo.store {
        Some(store) => crate::store::source_over(store.clone().as_source()),
        None => crate::store::default_source(),
    }
}

/// The shard files a URL stored in `entry` names.
///
/// A stored URL is literal: glob and brace characters in it (a dataset named `a?`, a store root
/// `/data/run[1]`) are part of the file name. The one exception is an entry Python atdata 0.7
/// wrote, because 0.7 indexes what its user typed as one URL and brace-expands every URL when
/// it reads: for such an entry (its CID is 0.7's recipe over its `schema_ref` and `data_urls`,
/// see [`python_entry_cid`]), a local URL that holds a `{` and names no existing file is
/// brace-expanded, as 0.7 would. Never globbed (0.7 does not glob), never a directory listing.
/// Nothing here reads `source` except that one existence check.
pub(crate) fn expand_url<S: ShardSource + ?Sized>(
    source: &S,
    entry: &Entry,
    url: &str,
) -> Result<Vec<String>> {
    let brace_pattern =
        url.contains('{') && written_by_py07(entry) && !source.size(url).is_ok_and(|s| s.is_some());
    if brace_pattern {
        expand_braces(url).map_err(|e| {
            Error::corrupt(format!("stored shard URL '{url}' cannot be expanded: {e}"))
                .with_dataset(&entry.name)
        })
    } else {
        Ok(vec![url.to_string()])
    }
}

/// Whether Python atdata 0.7 wrote `entry`: its CID is that package's recipe. Our CIDs cover
/// the name and the shard digests, not the URLs, so ours never match it.
fn written_by_py07(entry: &Entry) -> bool {
    let urls: Vec<String> = entry.data_urls().map(str::to_string).collect();
    python_entry_cid(&entry.schema_ref, &urls).is_ok_and(|cid| cid == entry.cid)
}

/// A reader that hashes what passes through it and reports how much did.
struct Hashing<'p, R> {
    inner: R,
    hasher: Option<Sha256>,
    progress: &'p dyn Progress,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(buf.get(..n).unwrap_or_default());
        }
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Reads every sample of the shard at `url` from `source`, calling `each` on it, and counts
/// them; with `hash`, also computes the file's sha256 in the same pass.
pub(crate) fn scan_shard(
    source: &dyn ShardSource,
    url: &str,
    hash: bool,
    progress: &dyn Progress,
    mut each: impl FnMut(&RawSample) -> Result<()>,
) -> Result<ShardScan> {
    // Regular files only (the source's contract): a FIFO in place of a shard would block.
    let opened = source.open(url)?;
    progress.shard(url);
    let mut hashing = Hashing {
        inner: opened.reader,
        hasher: hash.then(Sha256::new),
        progress,
    };
    let mut samples = 0u64;
    {
        let reader = ShardReader::new(
            BufReader::with_capacity(256 << 10, &mut hashing),
            url,
            opened.len,
        );
        for sample in reader {
            let sample = sample?;
            each(&sample)?;
            samples += 1;
        }
    }
    // The tar reader stops at the end-of-archive marker; the digest covers the whole file.
    if hash {
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::io(url, e))?;
    }
    let bytes = match opened.len {
        Some(n) => n,
        None => source.size(url)?.unwrap_or_default(),
    };
    Ok(ShardScan {
        sha256: hashing.hasher.map(|h| hex::encode(h.finalize())),
        samples,
        bytes,
    })
}

/// The sha256 (lower-case hex) of the shard file at `url` in `source`, streamed: how a
/// caller checks a shard against a recorded digest outside [`Index::verify`](crate::Index).
pub fn shard_sha256(source: &dyn ShardSource, url: &str) -> Result<String> {
    hash_file(source, url, &crate::NoProgress)
}

/// The sha256 of the file at `url` in `source`, streamed.
pub(crate) fn hash_file(
    source: &dyn ShardSource,
    url: &str,
    progress: &dyn Progress,
) -> Result<String> {
    let opened = source.open(url)?;
    progress.shard(url);
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(256 << 10, opened.reader),
        hasher: Some(Sha256::new()),
        progress,
    };
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::io(url, e))?;
    Ok(hashing
        .hasher
        .map(|h| hex::encode(h.finalize()))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{write_shards, ShardOptions};
    use crate::store::LocalFiles;

    #[test]
    fn counts_and_hashes_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let shards = write_shards(
            dir.path(),
            "s",
            (0..5).map(|_| vec![0x80u8]),
            ShardOptions::default(),
        )
        .unwrap();
        let url = shards[0].path.display().to_string();
        let mut keys = Vec::new();
        let scan = scan_shard(&LocalFiles, &url, true, &crate::NoProgress, |s| {
            keys.push(s.key.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(scan.samples, 5);
        assert_eq!(keys.len(), 5);
        assert_eq!(scan.bytes, shards[0].bytes);
        assert_eq!(scan.sha256.as_deref(), Some(shards[0].sha256.as_str()));
        assert_eq!(
            hash_file(&LocalFiles, &url, &crate::NoProgress).unwrap(),
            shards[0].sha256
        );
        assert_eq!(
            hash_file(&LocalFiles, &format!("file://{url}"), &crate::NoProgress).unwrap(),
            shards[0].sha256
        );
    }

    fn entry_with(urls: &[&str], py07: bool) -> Entry {
        let schema_ref = "atdata://local/schema/T@1.0.0";
        let owned: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        let cid = if py07 {
            python_entry_cid(schema_ref, &owned).unwrap()
        } else {
            crate::index::entry::entry_cid("d", schema_ref, &[]).unwrap()
        };
        Entry {
            name: "d".into(),
            version: "1".into(),
            cid,
            schema_ref: schema_ref.into(),
            shards: owned
                .iter()
                .map(|u| crate::index::ShardInfo {
                    url: u.clone(),
                    sha256: None,
                    samples: None,
                    bytes: None,
                })
                .collect(),
            num_samples: None,
            description: None,
            tags: vec![],
            license: None,
            metadata: None,
            created_at: String::new(),
        }
    }

    #[test]
    fn stored_urls_are_literal_except_a_py07_brace_pattern_naming_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let literal = dir.path().join("x-{0..1}.tar");
        std::fs::write(&literal, b"").unwrap();
        let literal = literal.display().to_string();
        let pattern = "/no/such/x-{0..1}.tar";
        let glob = "/no/such/*.tar";
        for py07 in [false, true] {
            let e = entry_with(&[&literal, pattern, glob], py07);
            assert_eq!(
                expand_url(&LocalFiles, &e, &literal).unwrap(),
                vec![literal.clone()]
            );
            assert_eq!(expand_url(&LocalFiles, &e, glob).unwrap(), vec![glob]);
            let got = expand_url(&LocalFiles, &e, pattern).unwrap();
            if py07 {
                assert_eq!(got, vec!["/no/such/x-0.tar", "/no/such/x-1.tar"]);
            } else {
                assert_eq!(got, vec![pattern]);
            }
        }
        let e = entry_with(&["/no/{a,b"], true);
        let err = expand_url(&LocalFiles, &e, "/no/{a,b")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unbalanced") && err.contains("dataset 'd'"),
            "{err}"
        );
    }
}
