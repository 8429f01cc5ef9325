//! `cargo xtask <command>`: the project's tasks, in plain Rust so they run
//! the same on a laptop and in CI (.ci/run).

mod bench;
mod build;
mod demo;
mod ebpf;
mod fixtures;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup            install missing Debian packages (go, nft, tshark, tcpdump, ip, dnsmasq, python3); root
  build-ebpf       build the eBPF probes (nightly + rust-src + bpf-linker 0.10.3)
  build            build-ebpf, then the release gotrace binary with the probes embedded
  demo             setup + build, then trace `go mod tidy` against a lab proxy that refuses; root
  test             setup + build, then cargo test --workspace --locked (e2e tests need root)
  record-fixtures  run each e2e scenario under gotrace, copy bundles to fixtures/bundles/<scenario>; root
  bench            gotrace's cost on the traced program, side by side with strace (--help for options); root";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build-ebpf") => ebpf::run().map(|_| ()),
        Some("build") => build::run().map(|_| ()),
        Some("demo") => demo::run(),
        Some("test") => test::run(&args[1..]),
        Some("record-fixtures") => fixtures::run(),
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
