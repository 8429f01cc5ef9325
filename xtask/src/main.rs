//! `cargo xtask <command>`: the project's tasks, in plain Rust so they run
//! the same on a laptop and in CI (.ci/run).

mod bench;
mod bench_analysis;
mod bench_capture;
mod build;
mod demo;
mod ebpf;
mod fixtures;
mod fuzz;
mod kernels;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup            install missing Debian packages (go, nft, tshark, tcpdump, ip, dnsmasq, python3, g++, chromium); root
  build-ebpf       build the eBPF probes (nightly + rust-src + bpf-linker 0.10.3)
  build            build-ebpf, then the release gotrace binary with the probes embedded
  demo             setup + build, then trace `go mod tidy` against a lab proxy that refuses; root
  test             setup + build, then cargo test --workspace --locked: every crate's tests
                   plus the e2e tests of gotrace-e2e, which need root and which a plain
                   `cargo test` leaves out; then a fuzz smoke run (20 s per target;
                   GOTRACE_FUZZ_SECONDS=N changes it, 0 skips); root
  test --kernel VERSION[,VERSION...]|all [--scenarios NAME[,NAME...]|smoke]
                   the e2e tests (or those whose names contain a NAME; smoke: CI's subset) in
                   other kernels booted with virtme-ng (TCG): 5.10 5.15 6.1 6.6 6.12 host; installs
                   qemu and virtme-ng, downloads Debian kernels into target/kernels; prints a
                   kernel x test table with verdicts and warnings; root
  fuzz [TARGET...] [--seconds N] [--jobs N]
                   cargo-fuzz (nightly) over the analyzer's parsers, N s per target (default 600),
                   N targets at once (default 1); targets: capture_reader bundle_reader bundle_dir dns tls http
  record-fixtures [NAME...]
                   run each e2e scenario (or only those named) under gotrace, copy bundles to
                   fixtures/bundles/<scenario>; root
  bench            gotrace's cost on the traced program, side by side with strace (--help for options); root
  bench-capture    write a large synthetic pcapng, time `gotrace analyze` against tshark on it (--help)
  bench-analysis   write synthetic bundles of 50k..2M events, time `gotrace analyze` and its peak RSS (--help)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build-ebpf") => ebpf::run().map(|_| ()),
        Some("build") => build::run().map(|_| ()),
        Some("demo") => demo::run(),
        Some("test") if kernels::wanted(&args[1..]) => kernels::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("record-fixtures") => fixtures::run(&args[1..]),
        Some("bench-capture") => bench_capture::run(&args[1..]),
        Some("bench-analysis") => bench_analysis::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
