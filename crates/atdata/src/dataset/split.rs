//! Loading datasets from paths, with splits detected from file and folder names
//! (`train`, `test`, `validation`), the way HF `datasets` does for data files.

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Split names recognised in paths, and the canonical name each maps to.
const SPLIT_WORDS: &[(&str, &str)] = &[
    ("train", "train"),
    ("training", "train"),
    ("test", "test"),
    ("testing", "test"),
    ("eval", "test"),
    ("validation", "validation"),
    ("valid", "validation"),
    ("val", "validation"),
    ("dev", "validation"),
];

/// Datasets by split name.
#[derive(Debug, Clone, Default)]
pub struct DatasetDict {
    /// What was loaded (a path or an index reference), for error messages.
    pub source: String,
    /// Split name -> dataset, sorted by name.
    pub splits: BTreeMap<String, Dataset>,
}

impl DatasetDict {
    /// The dataset of `split`, or an error listing the splits that exist.
    pub fn split(&self, split: &str) -> Result<&Dataset> {
        self.splits.get(split).ok_or_else(|| {
            Error::not_found(format!(
                "split '{split}' of dataset '{}'; available splits: {}",
                self.source,
                self.splits.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// The split a shard path belongs to: the last path component (file name words first, then
/// folders from the innermost) containing a split word as a whole token.
pub fn detect_split(url: &str) -> Option<&'static str> {
    let parts: Vec<&str> = url.rsplit(['/', '\\']).collect();
    for part in parts {
        for token in part.split(|c: char| !c.is_ascii_alphanumeric()) {
            let token = token.to_ascii_lowercase();
            if let Some((_, canon)) = SPLIT_WORDS.iter().find(|(w, _)| *w == token) {
                return Some(canon);
            }
        }
    }
    None
}

/// The directory a target is rooted at: the target itself for a directory, else the part of
/// its path before the first component holding a pattern character. Only path components
/// below it can name a split, so that a parent folder such as `/tmp/test_x/` does not.
fn base_dir(target: &str) -> &str {
    if std::path::Path::new(target).is_dir() {
        return target;
    }
    let first_pattern = target.find(['*', '?', '[', '{']).unwrap_or(target.len());
    match target[..first_pattern].rfind('/') {
        Some(i) => &target[..i],
        None => "",
    }
}

/// Loads the shards at `target` (a path, brace pattern, glob or directory) grouped by split.
/// Shards whose paths name no split (below the target's own directory) form `train`.
pub fn load_path(target: &str) -> Result<DatasetDict> {
    let urls = crate::shard::expand(target)?;
    let base = base_dir(target);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in urls {
        let inside = u.strip_prefix(base).unwrap_or(&u);
        let split = detect_split(inside).unwrap_or("train");
        groups.entry(split.to_string()).or_default().push(u);
    }
    Ok(DatasetDict {
        source: target.to_string(),
        splits: groups
            .into_iter()
            .map(|(s, urls)| {
                let ds = Dataset::new(urls, None).with_name(format!("{target} [{s}]"));
                (s, ds)
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_splits() {
        assert_eq!(detect_split("/d/train-000000.tar"), Some("train"));
        assert_eq!(detect_split("/d/mnist_test_0001.tar"), Some("test"));
        assert_eq!(
            detect_split("/d/validation/shard-0.tar"),
            Some("validation")
        );
        assert_eq!(detect_split("/d/val/x.tar"), Some("validation"));
        assert_eq!(detect_split("/d/data-000000.tar"), None);
        assert_eq!(detect_split("/d/contest/x.tar"), None);
        // The file name wins over the folder.
        assert_eq!(detect_split("/train/test-1.tar"), Some("test"));
    }

    #[test]
    fn folders_above_the_target_name_no_split() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("test_run").join("data");
        std::fs::create_dir_all(dir.join("validation")).unwrap();
        let shard = |p: &std::path::Path| {
            crate::shard::write_shards(p, "x", [vec![0x80u8]], Default::default()).unwrap()
        };
        shard(&dir);
        shard(&dir.join("validation"));
        let target = dir.display().to_string();
        let dict = load_path(&target).unwrap();
        assert_eq!(
            dict.splits.keys().collect::<Vec<_>>(),
            vec!["train", "validation"]
        );
        let glob = format!("{target}/*.tar");
        let dict = load_path(&glob).unwrap();
        assert_eq!(dict.splits.keys().collect::<Vec<_>>(), vec!["train"]);
        let e = dict.split("test").unwrap_err().to_string();
        assert!(e.contains("available splits: train"), "{e}");
    }
}
