//! Prints, for each capture file given, the number of records (as
//! Wireshark numbers frames), the decoded packets and the warnings:
//! `cargo run -p gotrace-analyzer --example capture_summary -- FILE...`

// A command-line example: printing its result is its job.
#![allow(clippy::print_stdout)]

use gotrace_analyzer::capture::CaptureIndex;

fn main() {
    for p in std::env::args_os().skip(1) {
        let p = std::path::PathBuf::from(p);
        match CaptureIndex::from_path(&p) {
            Ok(idx) => println!(
                "{}\t{}\t{}\t{:?}",
                p.display(),
                idx.packets,
                idx.decoded,
                idx.warnings
            ),
            Err(e) => println!("{}\terror\t{e}", p.display()),
        }
    }
}
