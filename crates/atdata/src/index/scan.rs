//! Reading shard files for the index: counting samples, hashing, and turning stored URLs into
//! local paths. Used where the index must look at bytes: inserting existing shards, counting
//! entries whose length is unknown, and verifying.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::shard::{expand, RawSample, ShardReader};

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

/// The local path a shard URL names: a plain path or `file://` URL. Other schemes belong to
/// stores this build cannot read directly.
pub(crate) fn local_path(url: &str) -> Result<PathBuf> {
    if let Some(p) = url.strip_prefix("file://") {
        return Ok(PathBuf::from(p));
    }
    match url.find("://") {
        Some(i) if i > 0 => Err(Error::invalid(format!(
            "shard '{url}': cannot read '{}://' URLs from the local index yet",
            url.get(..i).unwrap_or_default()
        ))),
        _ => Ok(PathBuf::from(url)),
    }
}

/// Expands a stored URL that is a brace pattern or glob (Python atdata 0.7 may index a pattern
/// as one URL); plain URLs are kept as they are without touching the filesystem.
pub(crate) fn expand_url(url: &str) -> Result<Vec<String>> {
    if url.contains(['{', '*', '?', '[']) {
        expand(url)
    } else {
        Ok(vec![url.to_string()])
    }
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

/// Reads every sample of the shard at `url`, calling `each` on it, and counts them; with
/// `hash`, also computes the file's sha256 in the same pass.
pub(crate) fn scan_shard(
    url: &str,
    hash: bool,
    progress: &dyn Progress,
    mut each: impl FnMut(&RawSample) -> Result<()>,
) -> Result<ShardScan> {
    let path = local_path(url)?;
    let file = File::open(&path).map_err(|e| Error::io(url, e))?;
    let bytes = file.metadata().map_err(|e| Error::io(url, e))?.len();
    progress.shard(url);
    let mut hashing = Hashing {
        inner: file,
        hasher: hash.then(Sha256::new),
        progress,
    };
    let mut samples = 0u64;
    {
        let reader = ShardReader::new(
            BufReader::with_capacity(256 << 10, &mut hashing),
            url,
            Some(bytes),
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
    Ok(ShardScan {
        sha256: hashing.hasher.map(|h| hex::encode(h.finalize())),
        samples,
        bytes,
    })
}

/// The sha256 of the file at `url`, streamed.
pub(crate) fn hash_file(url: &str, progress: &dyn Progress) -> Result<String> {
    let path = local_path(url)?;
    let file = File::open(&path).map_err(|e| Error::io(url, e))?;
    progress.shard(url);
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(256 << 10, file),
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
        let scan = scan_shard(&url, true, &crate::NoProgress, |s| {
            keys.push(s.key.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(scan.samples, 5);
        assert_eq!(keys.len(), 5);
        assert_eq!(scan.bytes, shards[0].bytes);
        assert_eq!(scan.sha256.as_deref(), Some(shards[0].sha256.as_str()));
        assert_eq!(
            hash_file(&url, &crate::NoProgress).unwrap(),
            shards[0].sha256
        );
        assert_eq!(
            hash_file(&format!("file://{url}"), &crate::NoProgress).unwrap(),
            shards[0].sha256
        );
    }

    #[test]
    fn urls() {
        assert_eq!(local_path("/a/b.tar").unwrap(), PathBuf::from("/a/b.tar"));
        assert!(local_path("s3://b/k.tar").is_err());
        assert_eq!(
            expand_url("/no/such/x.tar").unwrap(),
            vec!["/no/such/x.tar"]
        );
        assert!(expand_url("/no/such/x-{0..1}.tar").is_err());
    }
}
