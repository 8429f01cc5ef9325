//! `cargo xtask bench`: what gotrace costs the program it traces, side by
//! side with `strace -f` (issue 6). Each workload runs in lab network
//! namespaces (198.18.0.0/15, no default route, servers in the peer
//! namespace) untraced, under strace and under `gotrace run`, in
//! alternating rounds (ABC, BCA, CAB, ...), then one table gives the
//! median and [min-max] of wall time, CPU time and peak RSS with the ratios
//! to untraced, and the target lines say PASS or MISS.
//!
//! Workloads: `tidy-small`, `tidy-large` (tidy.rs), `syscalls`
//! (syscalls.rs), `packets` (packets.rs). The load programs are the
//! `bench-load` example of the gotrace-e2e crate (tests/examples/).

mod background;
mod mode;
mod packets;
mod process;
mod results;
mod run;
mod syscalls;
mod table;
mod targets;
mod tidy;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{build, setup, util};
use mode::Tools;
use table::Workload;

/// The workloads, in the order they run, with their default run counts
/// (rounds of the three modes): enough for stable medians while the whole
/// bench stays under 10 minutes on a 2-core machine.
const WORKLOADS: &[(&str, usize)] = &[
    ("tidy-small", 20),
    ("tidy-large", 5),
    ("syscalls", 3),
    ("packets", 3),
];

const USAGE: &str = "usage: cargo xtask bench [--runs N] [--workload NAME]... [--duration SECS]

  --runs N         rounds per workload (each round runs untraced, strace, gotrace);
                   default tidy-small 20, tidy-large 5, syscalls 3, packets 3
  --workload NAME  tidy-small, tidy-large, syscalls or packets (repeat or comma-separate; default all)
  --duration SECS  length of the syscalls and packets loads (default 10)
  --gotrace PATH   bench this gotrace binary instead of building the worktree's
                   (to compare another build, e.g. main's, on the same machine state)";

/// Parsed options.
struct Options {
    runs: Option<usize>,
    workloads: Vec<&'static str>,
    duration: Duration,
    gotrace: Option<PathBuf>,
}

/// The options, or None for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        runs: None,
        workloads: Vec::new(),
        duration: Duration::from_secs(10),
        gotrace: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--runs" => {
                let v = value()?;
                let n: usize = v.parse().map_err(|_| format!("--runs {v}: not a number"))?;
                if n == 0 {
                    return Err("--runs must be at least 1".into());
                }
                opts.runs = Some(n);
            }
            "--workload" => {
                for name in value()?.split(',') {
                    let known = WORKLOADS
                        .iter()
                        .find(|(w, _)| *w == name)
                        .ok_or_else(|| format!("unknown workload {name:?}\n{USAGE}"))?;
                    if !opts.workloads.contains(&known.0) {
                        opts.workloads.push(known.0);
                    }
                }
            }
            "--gotrace" => opts.gotrace = Some(PathBuf::from(value()?)),
            "--duration" => {
                let v = value()?;
                let s: f64 = v
                    .parse()
                    .map_err(|_| format!("--duration {v}: not seconds"))?;
                opts.duration = Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("--duration {v}: not a positive number of seconds"))?;
            }
            "-h" | "--help" => return Ok(None),
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    if opts.workloads.is_empty() {
        opts.workloads = WORKLOADS.iter().map(|(w, _)| *w).collect();
    }
    Ok(Some(opts))
}

/// Runs the bench; Err only when it could not measure (a miss is not an error).
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(opts) = parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    if !gotrace_e2e::is_root() {
        return Err(
            "the bench needs root (network namespaces, eBPF, ptrace): run `sudo cargo xtask bench`"
                .into(),
        );
    }
    setup::run()?;
    let strace = find_strace()?;
    let gotrace = match opts.gotrace.clone() {
        Some(p) if p.is_file() => p,
        Some(p) => return Err(format!("--gotrace {}: no such file", p.display())),
        None => build::run()?,
    };
    let load = build_load()?;
    let tools = Tools {
        gotrace,
        load,
        strace,
    };
    gotrace_e2e::survive_interrupts();
    let root = std::env::temp_dir().join(format!("gotrace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let before = conditions();
    let started = Instant::now();
    let mut done = Vec::new();
    for &name in &opts.workloads {
        let runs = opts.runs.unwrap_or_else(|| {
            WORKLOADS
                .iter()
                .find(|(w, _)| *w == name)
                .map_or(3, |w| w.1)
        });
        eprintln!("xtask: bench: {name}: {runs} rounds of untraced, strace, gotrace");
        let samples = match name {
            "tidy-small" => tidy::run(&tools, tidy::Size::Small, runs, &root),
            "tidy-large" => tidy::run(&tools, tidy::Size::Large, runs, &root),
            "syscalls" => syscalls::run(&tools, runs, opts.duration, &root),
            _ => packets::run(&tools, runs, opts.duration, &root),
        }
        .map_err(|e| format!("{e}\n(run files kept in {})", root.display()))?;
        done.push(Workload { name, samples });
    }
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "\ngotrace bench: {} in {:.0} s; machine at start: {before}; at end: {}",
        opts.workloads.join(", "),
        started.elapsed().as_secs_f64(),
        conditions()
    );
    println!("wall and CPU (workload) are the traced program's own, from `bench-load stopwatch` (fork to reap, wait4 rusage); CPU (tracer) is everything the run used minus that; RSS (tracer) is gotrace's VmHWM at its exit; x = median / median untraced; values are median [min-max]\n");
    print!("{}", table::render(&done));
    println!();
    print!("{}", table::render_whole(&done));
    println!();
    print!("{}", table::details(&done));
    println!();
    print!("{}", targets::render(&done));
    Ok(())
}

/// strace on PATH or in the usual places.
fn find_strace() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())
        .ok_or_else(|| "strace not found: the bench compares gotrace with it; install it (`sudo apt-get install strace`)".into())
}

/// Builds the `bench-load` example (release) and returns its path.
fn build_load() -> Result<PathBuf, String> {
    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "gotrace-e2e",
        "--example",
        "bench-load",
    ])
    .current_dir(gotrace_e2e::workspace_root());
    util::run(&mut cmd)?;
    let bin = util::target_dir().join("release/examples/bench-load");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "cargo build succeeded but {} is missing",
            bin.display()
        ))
    }
}

/// CPUs and load average, for the header: figures taken on a busy machine
/// are not the quiet machine's.
fn conditions() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cpus} CPUs, load average {}", load.join(" "))
}

#[cfg(test)]
mod tests {
    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options() {
        let o = super::parse(&args(
            "--runs 2 --workload syscalls,tidy-small --duration 1.5",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(o.runs, Some(2));
        assert_eq!(o.workloads, ["syscalls", "tidy-small"]);
        assert_eq!(o.duration.as_millis(), 1500);
        assert_eq!(super::parse(&[]).unwrap().unwrap().workloads.len(), 4);
        assert!(super::parse(&args("--help")).unwrap().is_none());
        assert!(super::parse(&args("--workload nope")).is_err());
        assert!(super::parse(&args("--runs 0")).is_err());
    }
}
