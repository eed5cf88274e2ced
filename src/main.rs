//! Thin entry point: everything lives in the library so tests reach it.

fn main() -> std::process::ExitCode {
    image_pipeline::cli::run()
}
