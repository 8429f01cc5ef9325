//! Prints, for each capture file given, the number of records (as
//! Wireshark numbers frames), the decoded packets and the warnings:
//! `cargo run -p gotrace-analyzer --example capture_summary -- FILE...`

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
