//! Runs the imaging benchmark protocol of `../shared/bench/compare.py` until the lead wires
//! `image-pipeline bench INPUT OUTDIR [N]`:
//! `cargo build --release --example bench && python3 ../shared/bench/compare.py -- target/release/examples/bench`

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(outdir)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: bench INPUT OUTDIR [N]");
    };
    let n = match args.get(3) {
        Some(n) => n.parse()?,
        None => 1,
    };
    let line = image_pipeline::imaging::bench::run(input.as_ref(), outdir.as_ref(), n)?;
    println!("{line}");
    Ok(())
}
