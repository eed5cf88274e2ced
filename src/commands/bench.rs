//! `image-pipeline bench INPUT OUTDIR [ITERATIONS] [--summary]`: the fixed benchmark job of
//! ../shared/bench/compare.py (`imaging::bench`); prints its one line.

use super::{CommandResult, Ending};
use std::path::Path;

pub fn run(input: &Path, outdir: &Path, iterations: u32, summary: bool) -> CommandResult {
    let line = crate::imaging::bench::run(input, outdir, iterations, summary)?;
    println!("{line}");
    Ok(Ending::Success)
}
