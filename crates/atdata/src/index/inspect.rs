//! Reading shard files no entry describes yet: how many samples each holds, and the field
//! types over every sample ([`Inference`]). `atdata inspect` shows it; [`Index::insert`]
//! without a schema takes its schema from it, so the two never disagree.
//!
//! Shards are read by a few threads at once, each shard to its end or its first error;
//! results are merged in shard order, so nothing depends on timing.
//!
//! [`Index::insert`]: crate::Index::insert

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::codec::{decode_sample, Inference};
use crate::error::{Error, Location, Result};
use crate::index::scan::scan_shard;
use crate::progress::Progress;
use crate::schema::{schema_name_for, Schema};
use crate::store::{LocalFiles, ShardSource};

/// Most threads reading shards at once: enough to overlap I/O and decoding, few enough to
/// leave the machine usable.
const MAX_READERS: usize = 4;

/// What reading one shard file found.
#[derive(Debug)]
pub struct ShardSummary {
    /// The shard's URL.
    pub url: String,
    /// File size (0 when it could not be opened).
    pub bytes: u64,
    /// Samples read (up to the error, if any).
    pub samples: u64,
    /// The first error, naming the shard, byte offset and key; reading that shard stopped there.
    pub error: Option<Error>,
}

/// What reading a set of shard files found.
#[derive(Debug)]
pub struct Inspection {
    /// One summary per shard, in the order given.
    pub shards: Vec<ShardSummary>,
    /// Field types over every sample read.
    pub inference: Inference,
}

impl Inspection {
    /// The sum of the shard sizes.
    pub fn total_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.bytes)
            .fold(0, u64::saturating_add)
    }

    /// The errors, in shard order.
    pub fn errors(&self) -> impl Iterator<Item = &Error> {
        self.shards.iter().filter_map(|s| s.error.as_ref())
    }
}

/// Reads every sample of the shards at `urls` (local paths or `file://` URLs), decoding each
/// without a schema. Reports to `progress` the bytes ahead (`start`) and read.
pub fn inspect_shards(urls: &[String], progress: &dyn Progress) -> Inspection {
    let source = LocalFiles;
    let total = urls
        .iter()
        .filter_map(|u| source.size(u).ok().flatten())
        .fold(0, u64::saturating_add);
    progress.start(total);
    read_all(&source, urls, progress)
}

/// The schema named after dataset `name` ([`schema_name_for`]) that every sample of the
/// shards at `urls` (read from `source`) fits; the first unreadable shard or a field of mixed
/// kinds is an error. Reports to `progress` the bytes read, not the work ahead (the caller's).
pub(crate) fn infer_from_shards(
    source: &dyn ShardSource,
    name: &str,
    urls: &[String],
    progress: &dyn Progress,
) -> Result<Schema> {
    let Inspection { shards, inference } = read_all(source, urls, progress);
    if let Some(e) = shards.into_iter().find_map(|s| s.error) {
        return Err(e.with_dataset(name));
    }
    if inference.samples() == 0 {
        return Err(Error::invalid(format!(
            "cannot infer a schema for '{name}': its shards hold no samples"
        )));
    }
    inference
        .schema(&schema_name_for(name))
        .map_err(|e| e.with_dataset(name))
}

/// Reads every shard with a few threads, merging the results in shard order.
fn read_all(source: &dyn ShardSource, urls: &[String], progress: &dyn Progress) -> Inspection {
    let slots: Vec<Mutex<Option<(ShardSummary, Inference)>>> =
        urls.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_READERS)
        .min(urls.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(url) = urls.get(i) else { return };
                let found = read_shard(source, url, progress);
                if let Some(Ok(mut slot)) = slots.get(i).map(Mutex::lock) {
                    *slot = Some(found);
                }
            });
        }
    });
    let mut inspection = Inspection {
        shards: Vec::with_capacity(urls.len()),
        inference: Inference::new(),
    };
    for (slot, url) in slots.into_iter().zip(urls) {
        let (summary, inference) = slot.into_inner().ok().flatten().unwrap_or_else(|| {
            let e = Error::corrupt("reader thread failed").with_shard(url, 0);
            (summary(url, 0, 0, Some(e)), Inference::new())
        });
        inspection.shards.push(summary);
        inspection.inference.absorb(inference);
    }
    inspection
}

fn summary(url: &str, bytes: u64, samples: u64, error: Option<Error>) -> ShardSummary {
    ShardSummary {
        url: url.to_string(),
        bytes,
        samples,
        error,
    }
}

/// Reads one shard to its end, stopping at the first error.
fn read_shard(
    source: &dyn ShardSource,
    url: &str,
    progress: &dyn Progress,
) -> (ShardSummary, Inference) {
    let mut inference = Inference::new();
    let mut samples = 0u64;
    let scanned = scan_shard(source, url, false, progress, |raw| {
        let sample = decode_sample(&raw.data, None)
            .map_err(|e| e.with_key(&raw.key).with_shard(url, raw.offset))?;
        inference.add_at(&sample, || Location {
            shard: Some(url.to_string()),
            offset: Some(raw.offset),
            key: Some(raw.key.clone()),
            ..Location::default()
        });
        samples += 1;
        Ok(())
    });
    let found = match scanned {
        Ok(scan) => summary(url, scan.bytes, scan.samples, None),
        Err(e) => {
            let bytes = source.size(url).ok().flatten().unwrap_or(0);
            summary(url, bytes, samples, Some(e))
        }
    };
    (found, inference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_sample;
    use crate::progress::NoProgress;
    use crate::shard::{write_shards, ShardOptions};
    use crate::value::Value;

    fn shards(dir: &std::path::Path, samples: Vec<Vec<(&str, Value)>>) -> Vec<String> {
        let encoded = samples.into_iter().map(|s| {
            let mut buf = Vec::new();
            encode_sample(&s, &mut buf);
            buf
        });
        let opts = ShardOptions {
            maxcount: Some(2),
            maxsize: None,
        };
        write_shards(dir, "part", encoded, opts)
            .unwrap()
            .into_iter()
            .map(|s| s.path.display().to_string())
            .collect()
    }

    #[test]
    fn every_sample_of_every_shard_in_shard_order() {
        let dir = tempfile::tempdir().unwrap();
        let urls = shards(
            dir.path(),
            vec![
                vec![("a", Value::Int(1))],
                vec![("a", Value::Int(2))],
                vec![("a", Value::Nil), ("b", Value::from("x"))],
            ],
        );
        let found = inspect_shards(&urls, &NoProgress);
        assert_eq!(found.shards.len(), 2);
        assert_eq!(
            found.shards.iter().map(|s| s.samples).collect::<Vec<_>>(),
            [2, 1]
        );
        assert!(found.errors().next().is_none());
        assert_eq!(found.inference.samples(), 3);
        let s = infer_from_shards(&LocalFiles, "my-points", &urls, &NoProgress).unwrap();
        assert_eq!(s.name, "MyPoints");
        assert!(s.field("a").unwrap().optional && s.field("b").unwrap().optional);
    }

    #[test]
    fn a_type_conflict_across_shards_names_the_later_shard_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let urls = shards(
            dir.path(),
            vec![
                vec![("a", Value::Int(1))],
                vec![("a", Value::Int(2))],
                vec![("a", Value::from("three"))],
            ],
        );
        let e = infer_from_shards(&LocalFiles, "x", &urls, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dataset 'x'") && e.contains("field 'a'"), "{e}");
        assert!(
            e.contains(&format!("str first at shard '{}'", urls[1])),
            "{e}"
        );
    }

    #[test]
    fn shards_without_samples_have_no_schema() {
        let e = infer_from_shards(&LocalFiles, "x", &[], &NoProgress).unwrap_err();
        assert!(
            e.to_string().contains("'x': its shards hold no samples"),
            "{e}"
        );
    }
}
