//! `atdata preview`: the first samples of a dataset, one field per line.
//!
//! A dataset of the index is decoded with its stored schema; shard files without an index are
//! decoded schema-less, binaries that hold encoded arrays still shown as arrays.

use anyhow::Result;

use atdata::dataset::Dataset;
use atdata::Sample;

use crate::output::Out;
use crate::values::render;

/// Prints the first `n` samples of `dataset`, titled `title`.
pub fn print_head(dataset: &Dataset, title: &str, n: usize) -> Result<()> {
    let samples = dataset.head(n)?;
    let mut out = Out::new();
    print_samples(&mut out, title, &samples)?;
    out.flush()
}

fn print_samples(out: &mut Out, title: &str, samples: &[Sample]) -> Result<()> {
    let noun = if samples.len() == 1 {
        "sample"
    } else {
        "samples"
    };
    out.line(format!("{title}: first {} {noun}", samples.len()))?;
    for (i, sample) in samples.iter().enumerate() {
        out.line("")?;
        out.line(format!("--- sample {i}"))?;
        let rows: Vec<Vec<String>> = sample
            .fields
            .iter()
            .map(|(name, value)| vec![format!("  {name}"), render(value)])
            .collect();
        out.rows(&rows)?;
    }
    Ok(())
}

/// Previews a dataset of the index, decoded with its stored schema.
pub fn run_index(paths: &crate::context::Paths, reference: &str, n: usize) -> Result<()> {
    let index = paths.open_existing()?;
    let entry = index.get(reference)?;
    let dataset = index.load(&format!("@local/{}@{}", entry.name, entry.cid))?;
    print_head(&dataset, &entry.reference(), n)
}

/// Previews shard files (a path, pattern or directory) without an index.
pub fn run_files(target: &str, n: usize) -> Result<()> {
    let dataset = Dataset::open(target)?;
    print_head(&dataset, target, n)
}

/// Whether a preview argument names shard files rather than a dataset of the index: it does
/// not start with `@` and names an existing path, or is a pattern that matches files.
pub fn is_file_target(reference: &str) -> bool {
    if reference.starts_with('@') {
        return false;
    }
    std::path::Path::new(reference).exists()
        || (reference.contains(['*', '?', '{', '/']) && atdata::shard::expand(reference).is_ok())
}
