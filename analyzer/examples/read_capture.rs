//! The analyzer's raw capture speed: reads a pcap/pcapng file with
//! [`CaptureReader`] and decodes every frame, keeping nothing, then prints
//! the counts. `cargo xtask bench-capture --gotrace-cmd
//! target/release/examples/read_capture` times it as a baseline (build it
//! with `cargo build --release -p gotrace-analyzer --example read_capture`).
//!
//! Output: one line, `frames N decoded N tcp N udp N icmp-errors N
//! warnings N`; the warnings themselves go to stderr. Exit status 1 when
//! the file cannot be read as a capture, 2 on a usage error.

// A command-line example: printing its result is its job.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use gotrace_analyzer::capture::{decode, CaptureReader, Payload};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: read_capture FILE.pcap|FILE.pcapng");
        std::process::exit(2);
    };
    let path = PathBuf::from(path);
    let mut reader = match CaptureReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("read_capture: {e}");
            std::process::exit(1);
        }
    };
    let (mut frames, mut decoded, mut tcp, mut udp, mut icmp, mut frag) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    while let Some(frame) = reader.next_frame() {
        frames += 1;
        if let Some(p) = decode(&frame) {
            decoded += 1;
            match p.payload {
                Payload::Tcp { .. } => tcp += 1,
                Payload::Udp { .. } => udp += 1,
                Payload::IcmpError(_) => icmp += 1,
                Payload::Fragment(_) => frag += 1,
            }
        }
    }
    let warnings = reader.take_warnings();
    for w in &warnings {
        eprintln!("read_capture: warning: {w}");
    }
    println!(
        "frames {frames} decoded {decoded} tcp {tcp} udp {udp} icmp-errors {icmp} fragments {frag} warnings {}",
        warnings.len()
    );
}
