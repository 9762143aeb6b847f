//! Loading by name or by path: the one entry point, in the manner of HF `load_dataset`.
//!
//! `@repo/name[@version|@cid]` resolves through an index (the given one, else the process
//! default, else the atdata home's index read-only: see [`index_for_reading`]); anything else is a shard path, brace pattern, glob or directory, split by the
//! words in its paths (see [`crate::dataset::split`]). A dataset from an index is one split,
//! `train`, as `load_dataset("@local/docs-v1", split="train")` in `examples/` expects.

use std::collections::BTreeMap;

use crate::dataset::{load_path, Dataset, DatasetDict};
use crate::error::Result;
use crate::index::{index_for_reading, Index};

/// The split an index dataset is loaded as.
pub const INDEX_SPLIT: &str = "train";

/// Every split of the dataset at `path`: an index reference (through `index`, else
/// [`index_for_reading`]: the process default index if one was set, else the atdata home's
/// index, read-only and never created) or shard files.
pub fn load_dataset(path: &str, index: Option<&Index>) -> Result<DatasetDict> {
    if !path.starts_with('@') {
        return load_path(path);
    }
    let ds = match index {
        Some(ix) => ix.load(path)?,
        None => index_for_reading()?.load(path)?,
    };
    Ok(DatasetDict {
        source: path.to_string(),
        splits: BTreeMap::from([(INDEX_SPLIT.to_string(), ds)]),
    })
}

/// One split of the dataset at `path`; an unknown split is an error that lists the splits.
pub fn load_split(path: &str, split: &str, index: Option<&Index>) -> Result<Dataset> {
    load_dataset(path, index)?.split(split).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::WriteOptions;
    use crate::schema::{Field, FieldType, Primitive, Schema};
    use crate::store::LocalDiskStore;
    use crate::value::{Sample, Value};

    #[test]
    fn index_refs_have_one_train_split_and_paths_split_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::in_memory()
            .unwrap()
            .with_store(LocalDiskStore::new(dir.path().join("data")).unwrap());
        let schema = Schema::new(
            "T",
            vec![Field::new("x", FieldType::Primitive(Primitive::Int))],
        );
        let samples = (0..3).map(|i| Sample::new(vec![("x".into(), Value::Int(i))]));
        index
            .write_samples(&schema, samples, &WriteOptions::new("nums"))
            .unwrap();
        let ds = load_split("@local/nums", "train", Some(&index)).unwrap();
        assert_eq!(ds.len().unwrap(), 3);
        let e = load_split("@local/nums", "test", Some(&index))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("split 'test'") && e.contains("available splits: train"),
            "{e}"
        );
        let e = load_split("@local/nope", "train", Some(&index))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nums"), "unknown names list what exists: {e}");

        let files = dir.path().join("files");
        for split in ["train", "test"] {
            crate::shard::write_shards(&files, split, [vec![0x80u8]], Default::default()).unwrap();
        }
        let dict = load_dataset(&files.display().to_string(), None).unwrap();
        assert_eq!(
            dict.splits.keys().collect::<Vec<_>>(),
            vec!["test", "train"]
        );
    }
}
