//! The seed's walkthrough (`examples/index_workflow.py`, the seed's Python code) step by step in Rust:
//! define two sample types, write them through an index into a local store, list them, load
//! them by name without naming their type, and look at schemas and repositories.
//!
//! `cargo run --example index_workflow [DIR]`: with DIR the index (`DIR/index.db`) and the
//! store (`DIR/data`) stay there; without it a temp dir is used and removed at the end.

use atdata::dataset::Column;
use atdata::index::{Index, WriteOptions};
use atdata::store::LocalDiskStore;
use atdata::{NdArray, Packable};
use rand::{Rng, SeedableRng};

/// Simple text document.
#[derive(Packable)]
struct TextSample {
    text: String,
    language: String,
    word_count: i64,
}

/// Dense embedding with label.
#[derive(Packable)]
struct EmbeddingSample {
    vector: NdArray,
    label: String,
    source: String,
}

/// Python's repr of a list of strings, as the Python walkthrough prints it.
fn py_strs(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn py_ints(items: &[i64]) -> String {
    let parts: Vec<String> = items.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Standard normal float32 vector (Box-Muller over a seeded generator).
fn normal_vector(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
            let u2: f64 = rng.gen();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

fn main() -> atdata::Result<()> {
    // 2 — Create an Index with local disk storage.
    let (dir, _temp) = match std::env::args().nth(1) {
        Some(d) => (std::path::PathBuf::from(d), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("atdata_index_")
                .tempdir()
                .map_err(|e| atdata::Error::io("temp dir", e))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| atdata::Error::io(dir.display().to_string(), e))?;
    let index =
        Index::open(dir.join("index.db"))?.with_store(LocalDiskStore::new(dir.join("data"))?);
    println!("Index DB   : {}", dir.join("index.db").display());
    println!("Data root  : {}", dir.join("data").display());

    // 3 — Write datasets through the index.
    let text_samples = (0..500).map(|i| {
        let text = format!("Document number {i} about topic {}.", i % 5);
        TextSample {
            word_count: text.split_whitespace().count() as i64,
            language: if i % 3 != 0 { "en" } else { "es" }.to_string(),
            text,
        }
    });
    let text_entry = index.write(
        text_samples,
        &WriteOptions::new("docs-v1")
            .description("500 synthetic text documents")
            .tags(["text", "multilingual"])
            .maxcount(250),
    )?;
    println!("Text dataset CID  : {}...", &text_entry.cid[..16]);
    println!("Text dataset shards: {}", text_entry.shards.len());

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let embedding_samples: Vec<EmbeddingSample> = (0..300)
        .map(|i| EmbeddingSample {
            vector: NdArray::from_slice(&normal_vector(&mut rng, 128)),
            label: format!("class_{}", i % 10),
            source: "synthetic".to_string(),
        })
        .collect();
    let emb_entry = index.write(
        embedding_samples,
        &WriteOptions::new("embeddings-v1")
            .description("300 synthetic 128-d embeddings")
            .tags(["embeddings", "synthetic"])
            .maxcount(150),
    )?;
    println!("Embedding CID     : {}...", &emb_entry.cid[..16]);
    println!("Embedding shards  : {}", emb_entry.shards.len());

    // 4 — List and discover datasets.
    println!("Datasets in index:");
    for entry in index.list_datasets()? {
        println!(
            "  {:20}  shards={}  cid={}...",
            entry.name,
            entry.shards.len(),
            &entry.cid[..12]
        );
    }

    // 5 — Load a dataset from the index: the schema comes from the index, no type is named.
    let ds = index.load("@local/docs-v1")?;
    if let Some(batch) = ds.ordered(10).next() {
        let batch = batch?;
        if let (Some(Column::Str(text)), Some(Column::Str(lang)), Some(Column::Int(counts))) = (
            batch.column("text"),
            batch.column("language"),
            batch.column("word_count"),
        ) {
            println!("Texts     : {}...", py_strs(&text[..2]));
            println!("Languages : {}...", py_strs(&lang[..5]));
            println!("Counts    : {}...", py_ints(&counts[..5]));
        }
    }
    let emb_ds = index.load("@local/embeddings-v1")?;
    if let Some(batch) = emb_ds.ordered(8).next() {
        let batch = batch?;
        if let Some(Ok(vectors)) = batch
            .column("vector")
            .and_then(|c| c.to_ndarray(batch.len()))
        {
            let dims: Vec<String> = vectors.shape().iter().map(usize::to_string).collect();
            println!("Vector shape : ({})", dims.join(", "));
        }
        if let Some(Column::Str(labels)) = batch.column("label") {
            println!("Labels       : {}", py_strs(labels));
        }
    }

    // 6 — Schema tracking.
    for schema in index.schemas()? {
        let names: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        println!("  {:20}  fields={}", schema.name, py_strs(&names));
    }

    // 7 — Inspect the repository.
    for (name, repo) in index.repos() {
        let has_store = if repo.store.is_some() { "yes" } else { "no" };
        println!(
            "  {name:10}  provider={}  data_store={has_store}",
            repo.provider.kind()
        );
    }

    // The Rust types can also read their own data back, typed.
    let first: Vec<TextSample> = ds
        .typed::<TextSample>(atdata::dataset::Order::Ordered)
        .take(1)
        .collect::<atdata::Result<_>>()?;
    assert_eq!(first[0].text, "Document number 0 about topic 0.");
    let _ = TextSample::schema();
    Ok(())
}
