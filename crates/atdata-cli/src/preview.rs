//! `atdata preview`: the first samples of a dataset, one field per line.
//!
//! A dataset of the index is decoded with its stored schema; shard files without an index are
//! decoded schema-less, binaries that hold encoded arrays still shown as arrays. Which of the
//! two an argument names is decided by [`crate::target`].

use anyhow::Result;

use atdata::dataset::Dataset;
use atdata::Sample;

use crate::output::Out;
use crate::target::{classify, hint_for_missing_dataset, Source};
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

/// Runs `preview`: a dataset of the index or shard files, told apart by [`crate::target`].
pub fn run(index: &crate::IndexArgs, arg: &str, n: usize, files: bool) -> Result<()> {
    match classify(arg, files) {
        Source::Files(target) => run_files(target, n),
        Source::Dataset(reference) => {
            let paths = crate::context::Paths::resolve(index)?;
            run_index(&paths, reference, n).map_err(|e| match hint_for_missing_dataset(reference) {
                Some(hint) => e.context(hint),
                None => e,
            })
        }
    }
}

/// Previews a dataset of the index, decoded with its stored schema.
fn run_index(paths: &crate::context::Paths, reference: &str, n: usize) -> Result<()> {
    let index = paths.open_existing()?;
    let entry = index.get(reference)?;
    let dataset = index.load(&format!("@local/{}@{}", entry.name, entry.cid))?;
    print_head(&dataset, &entry.reference(), n)
}

/// Previews shard files (a path, pattern or directory) without an index.
fn run_files(target: &str, n: usize) -> Result<()> {
    let dataset = Dataset::open(target)?;
    print_head(&dataset, target, n)
}
