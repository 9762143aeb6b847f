//! Checking that a dataset's shards are still what the index recorded.
//!
//! Every shard is re-hashed and compared with the digest we recorded and with the one Python
//! atdata 0.7 keeps in `metadata["checksums"]`; sizes are compared too. The report names every
//! shard that is missing or differs, so one flipped byte points at one file.

use std::fmt;

use crate::error::{Error, Result};
use crate::index::entry::{Entry, ShardInfo};
use crate::index::reference::DatasetRef;
use crate::index::scan::{expand_url, hash_file, source_of};
use crate::index::{resolve, Index};
use crate::progress::{NoProgress, Progress};
use crate::store::ShardSource;

/// Something wrong with one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardProblem {
    /// The file is not there.
    Missing {
        /// Shard URL.
        url: String,
    },
    /// The file's sha256 differs from the recorded one.
    DigestMismatch {
        /// Shard URL.
        url: String,
        /// Recorded digest.
        expected: String,
        /// Digest of the file now.
        actual: String,
    },
    /// The file's size differs from the recorded one.
    SizeMismatch {
        /// Shard URL.
        url: String,
        /// Recorded size.
        expected: u64,
        /// Size now.
        actual: u64,
    },
    /// The file could not be read.
    Unreadable {
        /// Shard URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ShardProblem {
    /// The shard concerned.
    pub fn url(&self) -> &str {
        match self {
            ShardProblem::Missing { url }
            | ShardProblem::DigestMismatch { url, .. }
            | ShardProblem::SizeMismatch { url, .. }
            | ShardProblem::Unreadable { url, .. } => url,
        }
    }
}

impl fmt::Display for ShardProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardProblem::Missing { url } => write!(f, "shard '{url}' is missing"),
            ShardProblem::DigestMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "shard '{url}' has sha256 {actual}, the index recorded {expected}"
            ),
            ShardProblem::SizeMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "shard '{url}' is {actual} bytes, the index recorded {expected}"
            ),
            ShardProblem::Unreadable { url, reason } => {
                write!(f, "shard '{url}' cannot be read: {reason}")
            }
        }
    }
}

/// The outcome of [`Index::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The dataset checked, pinned: `@repo/name@version`.
    pub dataset: String,
    /// Its CID.
    pub cid: String,
    /// Shards whose digest was recomputed and compared.
    pub checked: Vec<String>,
    /// Shards without a recorded digest (some entries of Python atdata 0.7): only their
    /// presence was checked.
    pub unverifiable: Vec<String>,
    /// Every problem found, in shard order.
    pub problems: Vec<ShardProblem>,
}

impl VerifyReport {
    /// True when no shard is missing or differs.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// True when every shard was checked against a recorded digest and matched: no problem,
    /// and no shard without a digest (whose content nothing vouches for).
    pub fn is_verified(&self) -> bool {
        self.is_ok() && self.unverifiable.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            write!(
                f,
                "{}: ok ({} shards verified",
                self.dataset,
                self.checked.len()
            )?;
            if !self.unverifiable.is_empty() {
                write!(f, ", {} without a recorded digest", self.unverifiable.len())?;
            }
            return f.write_str(")");
        }
        write!(f, "{}: {} problem(s)", self.dataset, self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl Index {
    /// Re-hashes every shard of the dataset a reference names and compares digests and sizes
    /// with what the index recorded. Damage is reported, not returned as an error; errors are
    /// for an unknown dataset or an unusable index.
    pub fn verify(&self, reference: &str) -> Result<VerifyReport> {
        self.verify_with_progress(reference, &NoProgress)
    }

    /// [`verify`](Self::verify), telling `progress` how many bytes there are to hash and how
    /// many are done.
    pub fn verify_with_progress(
        &self,
        reference: &str,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        let r = DatasetRef::parse(reference)?;
        let repo = self.repo(&r.repo)?;
        let entry = resolve(&repo, &r)?;
        let source = source_of(&repo);
        Ok(verify_entry(source.as_ref(), &r.repo, &entry, progress))
    }
}

/// The bytes verifying `entry` reads: recorded sizes, else the files' sizes now.
fn bytes_to_hash(source: &dyn ShardSource, entry: &Entry) -> u64 {
    entry
        .shards
        .iter()
        .filter(|s| s.sha256.is_some())
        .map(|s| {
            s.bytes
                .unwrap_or_else(|| source.size(&s.url).ok().flatten().unwrap_or(0))
        })
        .sum()
}

/// Checks every shard of `entry` (of repository `repo`), read from `source`.
fn verify_entry(
    source: &dyn ShardSource,
    repo: &str,
    entry: &Entry,
    progress: &dyn Progress,
) -> VerifyReport {
    progress.start(bytes_to_hash(source, entry));
    let mut report = VerifyReport {
        dataset: format!("@{repo}/{}@{}", entry.name, entry.version),
        cid: entry.cid.clone(),
        checked: Vec::new(),
        unverifiable: Vec::new(),
        problems: Vec::new(),
    };
    for shard in &entry.shards {
        let urls = match expand_url(source, entry, &shard.url) {
            Ok(u) => u,
            Err(e) => {
                report.problems.push(problem_of(&shard.url, e));
                continue;
            }
        };
        let recorded = Recorded::of(shard, &urls);
        for url in urls {
            let size = match source.size(&url) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    report.problems.push(ShardProblem::Missing { url });
                    continue;
                }
                Err(e) => {
                    report.problems.push(problem_of(&url, e));
                    continue;
                }
            };
            if let Some(p) = recorded.size_problem(&url, size) {
                report.problems.push(p);
            }
            if recorded.sha256.is_none() {
                report.unverifiable.push(url);
                continue;
            }
            match hash_file(source, &url, progress) {
                Ok(actual) => {
                    let problem = recorded.digest_problem(&url, &actual);
                    report.checked.push(url);
                    report.problems.extend(problem);
                }
                Err(e) => report.problems.push(problem_of(&url, e)),
            }
        }
    }
    report
}

/// What an entry vouches for about one file of one of its shards: the digest and size it
/// recorded. The one rule by which bytes are checked against an entry (by verify, and by
/// `index::copy` on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded<'a> {
    /// The recorded sha256, if any.
    pub sha256: Option<&'a str>,
    /// The recorded size, if any.
    pub bytes: Option<u64>,
}

impl<'a> Recorded<'a> {
    /// What `shard` records for each of `files`, what [`expand_url`] made of its URL. Only a
    /// URL naming that one file has a digest and size of its own; the files of a 0.7 brace
    /// pattern have none (their presence is all that can be checked).
    pub fn of(shard: &'a ShardInfo, files: &[String]) -> Self {
        let single = files.len() == 1 && files.first() == Some(&shard.url);
        if single {
            Recorded {
                sha256: shard.sha256.as_deref(),
                bytes: shard.bytes,
            }
        } else {
            Recorded {
                sha256: None,
                bytes: None,
            }
        }
    }

    /// The problem of the file at `url` being `actual` bytes, if a different size is recorded.
    pub fn size_problem(&self, url: &str, actual: u64) -> Option<ShardProblem> {
        let expected = self.bytes?;
        (expected != actual).then(|| ShardProblem::SizeMismatch {
            url: url.to_string(),
            expected,
            actual,
        })
    }

    /// The problem of the file at `url` having sha256 `actual`, if another digest is recorded.
    pub fn digest_problem(&self, url: &str, actual: &str) -> Option<ShardProblem> {
        let expected = self.sha256?;
        (expected != actual).then(|| ShardProblem::DigestMismatch {
            url: url.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

fn problem_of(url: &str, e: Error) -> ShardProblem {
    match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ShardProblem::Missing {
                url: url.to_string(),
            }
        }
        Error::NotFound { .. } => ShardProblem::Missing {
            url: url.to_string(),
        },
        other => ShardProblem::Unreadable {
            url: url.to_string(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(shards: Vec<ShardInfo>) -> Entry {
        Entry {
            name: "d".into(),
            version: "1".into(),
            cid: "bafy".into(),
            schema_ref: "atdata://local/schema/T@1.0.0".into(),
            shards,
            num_samples: None,
            description: None,
            tags: vec![],
            license: None,
            metadata: None,
            created_at: String::new(),
        }
    }

    #[derive(Default)]
    struct Seen {
        total: std::sync::Mutex<u64>,
        done: std::sync::Mutex<u64>,
        shards: std::sync::Mutex<Vec<String>>,
    }

    impl Progress for Seen {
        fn start(&self, total: u64) {
            *self.total.lock().unwrap() = total;
        }
        fn shard(&self, url: &str) {
            self.shards.lock().unwrap().push(url.to_string());
        }
        fn advance(&self, bytes: u64) {
            *self.done.lock().unwrap() += bytes;
        }
    }

    #[test]
    fn names_every_bad_shard() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.tar");
        let bad = dir.path().join("bad.tar");
        let short = dir.path().join("short.tar");
        let nodigest = dir.path().join("nodigest.tar");
        for p in [&good, &bad, &short, &nodigest] {
            std::fs::write(p, b"hello").unwrap();
        }
        let h = crate::codec::sha256_hex(b"hello");
        let s = |p: &std::path::Path| p.display().to_string();
        let e = entry(vec![
            ShardInfo::new(s(&good), h.clone(), 1, 5),
            ShardInfo::new(s(&bad), "00".repeat(32), 1, 5),
            ShardInfo::new(s(&short), h.clone(), 1, 6),
            ShardInfo::new(s(&dir.path().join("gone.tar")), h.clone(), 1, 5),
            ShardInfo {
                url: s(&nodigest),
                sha256: None,
                samples: None,
                bytes: None,
            },
        ]);
        let seen = Seen::default();
        let r = verify_entry(&crate::store::LocalFiles, "local", &e, &seen);
        assert!(!r.is_ok());
        assert_eq!(r.dataset, "@local/d@1");
        assert_eq!(r.problems.len(), 3, "{r}");
        assert!(
            matches!(&r.problems[0], ShardProblem::DigestMismatch { url, .. } if url.ends_with("bad.tar"))
        );
        assert!(
            matches!(&r.problems[1], ShardProblem::SizeMismatch { url, expected: 6, actual: 5 } if url.ends_with("short.tar"))
        );
        assert!(
            matches!(&r.problems[2], ShardProblem::Missing { url } if url.ends_with("gone.tar"))
        );
        assert_eq!(r.unverifiable, vec![s(&nodigest)]);
        // Three files hashed (good, bad, short), five bytes each, announced up front: the
        // recorded sizes, 5 + 5 + 6 + 5 (the missing one's recorded size counts too).
        assert_eq!(*seen.total.lock().unwrap(), 21);
        assert_eq!(*seen.done.lock().unwrap(), 15);
        assert_eq!(seen.shards.lock().unwrap().len(), 3);
        assert_eq!(r.checked.len(), 3);
        let text = r.to_string();
        assert!(
            text.contains("bad.tar") && text.contains("gone.tar"),
            "{text}"
        );
    }
}
