//! Prints the analysis of bundle directories, text then JSON:
//! `cargo run -p gotrace-analyzer --example analyze -- DIR...`
//! (the same as `gotrace analyze`, without building the tracer).

// A command-line example: printing its result is its job.
#![allow(clippy::print_stdout)]

fn main() {
    let mut status = 0;
    for dir in std::env::args_os().skip(1) {
        match gotrace_analyzer::analyze_bundle(std::path::Path::new(&dir)) {
            Ok(r) => {
                print!("{}", gotrace_analyzer::render_text(&r));
                println!("{}", r.to_json());
            }
            Err(e) => {
                eprintln!("{e}");
                status = 1;
            }
        }
    }
    std::process::exit(status);
}
