//! `bench-load`: the small programs `cargo xtask bench` runs inside the
//! lab's network namespaces (xtask/src/bench/). One binary, one subcommand
//! per role:
//!
//! - `stopwatch OUT -- CMD...`: runs CMD and writes its wall time, CPU time
//!   and peak RSS to OUT (the traced program's own cost, whatever traces it).
//! - `connect ...`: the syscall load (workload `syscalls`): TCP
//!   socket()+connect()+close() and UDP write()/read() pairs, paced.
//! - `serve ...`: what `connect` talks to, in the server namespace.
//! - `blast ...`: the packet load (workload `packets`): UDP datagrams, paced.
//! - `sink ...`: receives the blast (recvmmsg(2), which gotrace does not
//!   trace, so the capture alone carries the load).
//!
//! Everything is addressed explicitly (198.18.0.0/15 in the lab); nothing
//! here picks a destination of its own. Results are `key value` lines.
//!
//! `cargo build --release -p gotrace-e2e --example bench-load`

mod args;
mod blast;
mod connect;
mod pace;
mod report;
mod serve;
mod sink;
mod stopwatch;

use std::process::ExitCode;

const USAGE: &str = "usage: bench-load <role> [options]

  stopwatch OUT -- CMD [ARGS...]
  connect --tcp ADDR --udp ADDR [--rate N] [--udp-rate N] [--duration S] --out FILE
  serve   --tcp ADDR --udp ADDR --ready FILE
  blast   --to ADDR [--rate N] [--size BYTES] [--duration S] --out FILE
  sink    --bind ADDR --ready FILE [--idle-ms MS] [--max S] --out FILE";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((role, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match role.as_str() {
        "stopwatch" => return stopwatch::run(rest),
        "connect" => args::Args::parse(rest).and_then(|a| connect::run(&a)),
        "serve" => args::Args::parse(rest).and_then(|a| serve::run(&a)),
        "blast" => args::Args::parse(rest).and_then(|a| blast::run(&a)),
        "sink" => args::Args::parse(rest).and_then(|a| sink::run(&a)),
        _ => Err(format!("unknown role {role:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-load {role}: {e}");
            ExitCode::FAILURE
        }
    }
}
