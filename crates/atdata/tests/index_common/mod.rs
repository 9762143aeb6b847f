//! Sample types and fixtures shared by the index integration tests.
#![allow(dead_code)]

use atdata::{Index, LocalDiskStore, NdArray, Packable};

/// Simple text document.
#[derive(Packable, Debug, Clone, PartialEq)]
pub struct TextSample {
    pub text: String,
    pub language: String,
    pub word_count: i64,
}

/// Dense embedding with label.
#[derive(Packable, Debug, Clone, PartialEq)]
pub struct EmbeddingSample {
    pub vector: NdArray,
    pub label: String,
    pub source: String,
}

/// `n` text samples; `tag` changes their content.
pub fn texts(n: usize, tag: &str) -> Vec<TextSample> {
    (0..n)
        .map(|i| {
            let text = format!("Document {tag} number {i} about topic {}.", i % 5);
            TextSample {
                word_count: text.split_whitespace().count() as i64,
                text,
                language: if i % 3 == 0 { "es" } else { "en" }.to_string(),
            }
        })
        .collect()
}

/// `n` deterministic 8-d embeddings.
pub fn embeddings(n: usize) -> Vec<EmbeddingSample> {
    (0..n)
        .map(|i| EmbeddingSample {
            vector: NdArray::from_vec(vec![8], (0..8).map(|j| (i * 8 + j) as f32).collect())
                .unwrap(),
            label: format!("class_{}", i % 10),
            source: "synthetic".to_string(),
        })
        .collect()
}

/// A file index at `{dir}/index.db` with a store at `{dir}/data`.
pub fn file_index(dir: &std::path::Path) -> Index {
    Index::open(dir.join("index.db"))
        .unwrap()
        .with_store(LocalDiskStore::new(dir.join("data")).unwrap())
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
