//! `image-pipeline bench INPUT OUTDIR [ITERATIONS]`: the fixed benchmark job of
//! ../shared/bench/compare.py (`imaging::bench`); prints its one line.

use super::{CommandResult, Ending};
use std::path::Path;

pub fn run(input: &Path, outdir: &Path, iterations: u32) -> CommandResult {
    let line = crate::imaging::bench::run(input, outdir, iterations)?;
    println!("{line}");
    Ok(Ending::Success)
}
