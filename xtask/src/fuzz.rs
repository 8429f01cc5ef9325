//! `fuzz [TARGET...] [--seconds N] [--jobs N]`: the cargo-fuzz (libFuzzer)
//! targets of `fuzz/` over the analyzer's parsers, each for N seconds.
//!
//! Installs cargo-fuzz when missing (`cargo install cargo-fuzz --locked`),
//! builds the targets with nightly (`rustup run nightly cargo fuzz`, as
//! build-ebpf runs nightly), copies the seed corpus in (never committed:
//! the shared real-world captures and `fixtures/bundles`, and the DNS, TLS
//! and HTTP payloads found in them), then runs each target and prints its
//! executions, exec/s and crashes. The growing corpus stays in
//! `fuzz/corpus/<target>`, crashing inputs in `fuzz/artifacts/<target>`,
//! libFuzzer's output in `fuzz/logs/<target>.log` (all git-ignored).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use etherparse::{LaxSlicedPacket, TransportSlice};
use gotrace_analyzer::capture::{link, CaptureReader};

use crate::util;

/// Every target, in the order they run.
pub const TARGETS: [&str; 7] = [
    "capture_reader",
    "bundle_reader",
    "bundle_dir",
    "dns",
    "dns_tcp",
    "tls",
    "http",
];
/// Seconds per target for `cargo xtask fuzz` without `--seconds`.
pub const DEFAULT_SECONDS: u64 = 600;
/// Seconds per target of the smoke run in `cargo xtask test`
/// (`GOTRACE_FUZZ_SECONDS` overrides; 0 skips it).
pub const SMOKE_SECONDS: u64 = 20;
/// Separates the files of a bundle in a `bundle_reader` input (the target
/// splits on the same bytes).
const BUNDLE_SEP: &[u8] = b"\n\0--gotrace-fuzz--\0\n";
/// Largest payload seed kept (bytes); libFuzzer mutates small inputs best.
const MAX_PAYLOAD_SEED: usize = 8 << 10;

/// What one target's run gave.
#[derive(Debug)]
pub struct Outcome {
    /// Target name.
    pub target: String,
    /// Seconds spent fuzzing (libFuzzer's count; the wall time when it
    /// printed none, e.g. after a crash).
    pub seconds: u64,
    /// Inputs executed (libFuzzer's `number_of_executed_units`).
    pub executions: u64,
    /// libFuzzer's `average_exec_per_sec`.
    pub exec_per_sec: u64,
    /// Crashing inputs written by this run (crash-, oom-, leak-, timeout-).
    pub crashes: Vec<PathBuf>,
    /// libFuzzer's exit status was not success.
    pub failed: bool,
    /// Where libFuzzer's output is.
    pub log: PathBuf,
}

/// `cargo xtask fuzz [TARGET...] [--seconds N] [--jobs N]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let (targets, seconds, jobs) = parse_args(args)?;
    let outcomes = fuzz(&targets, seconds, jobs)?;
    verdict(&outcomes)
}

/// (targets, seconds per target, targets at once) from the command line;
/// no target means all of [`TARGETS`].
fn parse_args(args: &[String]) -> Result<(Vec<String>, u64, usize), String> {
    let mut targets = Vec::new();
    let mut seconds = DEFAULT_SECONDS;
    let mut jobs = 1usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds needs a number of seconds per target (> 0)")?;
            }
            "--jobs" => {
                jobs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&j| j >= 1)
                    .ok_or("--jobs needs a number >= 1 (targets run at once)")?;
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => {
                return Err(format!(
                    "unknown fuzz target or flag {other:?}; targets: {}",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok((targets, seconds, jobs))
}

/// The smoke run of `cargo xtask test`: every target for
/// [`SMOKE_SECONDS`] (or `GOTRACE_FUZZ_SECONDS`), one at a time.
pub fn smoke() -> Result<(), String> {
    let seconds = match std::env::var("GOTRACE_FUZZ_SECONDS") {
        Ok(s) => s
            .parse()
            .map_err(|_| format!("GOTRACE_FUZZ_SECONDS={s:?} is not a number of seconds"))?,
        Err(_) => SMOKE_SECONDS,
    };
    if seconds == 0 {
        eprintln!("xtask: GOTRACE_FUZZ_SECONDS=0: fuzz smoke skipped");
        return Ok(());
    }
    let targets: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    let outcomes = fuzz(&targets, seconds, 1)?;
    verdict(&outcomes)
}

/// Err naming the crashing inputs, if any run found one.
fn verdict(outcomes: &[Outcome]) -> Result<(), String> {
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed || !o.crashes.is_empty())
        .map(|o| {
            let inputs: Vec<String> = o.crashes.iter().map(|p| p.display().to_string()).collect();
            format!(
                "{}: {} (log {}); reproduce: cd fuzz/.. && rustup run nightly cargo fuzz run {} <input>",
                o.target,
                if inputs.is_empty() {
                    "libFuzzer failed".to_string()
                } else {
                    inputs.join(", ")
                },
                o.log.display(),
                o.target
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzzing found crashes:\n  {}", bad.join("\n  ")))
    }
}

/// Builds, seeds and runs `targets` for `seconds` each, `jobs` at once;
/// prints one line per target.
pub fn fuzz(targets: &[String], seconds: u64, jobs: usize) -> Result<Vec<Outcome>, String> {
    ensure_cargo_fuzz()?;
    let root = gotrace_e2e::workspace_root();
    let fuzz_dir = root.join("fuzz");
    let counts = prepare_seeds(&root, &fuzz_dir)?;
    for (t, n) in &counts {
        eprintln!("xtask: fuzz seeds for {t}: {n} inputs");
    }
    util::run(nightly_cargo_fuzz(&root).arg("build"))
        .map_err(|e| format!("{e}\n(the fuzz targets need nightly: rustup toolchain install nightly; and a C++ compiler for libFuzzer: apt-get install g++)"))?;
    let mut outcomes = Vec::new();
    for batch in targets.chunks(jobs.max(1)) {
        let results: Vec<Result<Outcome, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|t| {
                    let (root, fuzz_dir) = (&root, &fuzz_dir);
                    s.spawn(move || run_target(root, fuzz_dir, t, seconds))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("fuzz runner thread panicked".into()))
                })
                .collect()
        });
        for r in results {
            let o = r?;
            println!(
                "fuzz {:<15} {:>5} s  {:>11} executions  {:>7} exec/s  {} crashes{}",
                o.target,
                o.seconds,
                o.executions,
                o.exec_per_sec,
                o.crashes.len(),
                if o.failed && o.crashes.is_empty() {
                    " (libFuzzer failed: see its log)"
                } else {
                    ""
                }
            );
            outcomes.push(o);
        }
    }
    Ok(outcomes)
}

/// `rustup run nightly cargo fuzz`, from the workspace root, without the
/// outer (stable) cargo's variables.
fn nightly_cargo_fuzz(root: &Path) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"])
        .current_dir(root);
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "CARGO",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    if util::output("cargo", &["fuzz", "--version"]).is_some() {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing, installing it (about 2 minutes)");
    let mut cmd = Command::new("cargo");
    cmd.args(["install", "cargo-fuzz", "--locked"]);
    cmd.env_remove("CARGO_TARGET_DIR");
    util::run(&mut cmd).map_err(|e| {
        format!(
            "{e}\ncannot install cargo-fuzz; install it by hand: cargo install cargo-fuzz --locked"
        )
    })
}

fn run_target(root: &Path, fuzz_dir: &Path, target: &str, seconds: u64) -> Result<Outcome, String> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let logs = fuzz_dir.join("logs");
    for d in [&corpus, &artifacts, &logs] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let before = list(&artifacts);
    let log = logs.join(format!("{target}.log"));
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = nightly_cargo_fuzz(root);
    cmd.args(["run", target])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // A parser that takes 10 s on one input hangs; one allocation of
        // 256 MiB is a length field believed.
        .args([
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-malloc_limit_mb=256",
            "-print_final_stats=1",
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    eprintln!(
        "xtask: fuzzing {target} for {seconds} s (log {})",
        log.display()
    );
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start cargo fuzz run {target}: {e}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stat = |name: &str| -> u64 {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let crashes: Vec<PathBuf> = list(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            ["crash-", "oom-", "leak-", "timeout-"]
                .iter()
                .any(|k| name.starts_with(k))
        })
        .collect();
    // libFuzzer's own "Done N runs in S second(s)": the wall time also
    // counts a rebuild that cargo fuzz run may have done first.
    let fuzzed_seconds = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Done ")?.split(" runs in ").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    Ok(Outcome {
        target: target.to_string(),
        seconds: fuzzed_seconds.unwrap_or_else(|| started.elapsed().as_secs()),
        executions: stat("number_of_executed_units"),
        exec_per_sec: stat("average_exec_per_sec"),
        crashes,
        failed: !status.success(),
        log,
    })
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The shared real-world captures: `$GOTRACE_SHARED_CAPTURES`, else
/// `<workspace>/../shared/captures` (CI clones `shared/` beside the
/// repository), as the analyzer's shared-capture tests look for them.
fn shared_captures(root: &Path) -> Option<PathBuf> {
    let dir = match std::env::var_os("GOTRACE_SHARED_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => root.join("../shared/captures"),
    };
    Some(dir).filter(|d| d.is_dir())
}

/// Fills `fuzz/seeds/<target>` afresh; returns the count per target.
fn prepare_seeds(root: &Path, fuzz_dir: &Path) -> Result<Vec<(String, usize)>, String> {
    let mut seeds: Vec<(&str, Vec<Vec<u8>>)> = TARGETS.iter().map(|t| (*t, Vec::new())).collect();
    let mut add = |target: &str, bytes: Vec<u8>| {
        if let Some((_, v)) = seeds.iter_mut().find(|(t, _)| *t == target) {
            v.push(bytes);
        }
    };
    let mut captures: Vec<PathBuf> = Vec::new();
    match shared_captures(root) {
        Some(dir) => {
            for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
                let p = e.map_err(|e| e.to_string())?.path();
                if matches!(
                    p.extension().and_then(|s| s.to_str()),
                    Some("pcap" | "pcapng")
                ) {
                    captures.push(p);
                }
            }
        }
        None => eprintln!(
            "xtask: warning: shared captures not found (GOTRACE_SHARED_CAPTURES, ../shared/captures); seeding from fixtures only"
        ),
    }
    let bundles = root.join("fixtures/bundles");
    let mut bundle_dirs: Vec<PathBuf> = std::fs::read_dir(&bundles)
        .map_err(|e| format!("{}: {e}", bundles.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    bundle_dirs.sort();
    for b in &bundle_dirs {
        let read = |name: &str| std::fs::read(b.join(name)).unwrap_or_default();
        let mut input = read("meta.json");
        for name in ["events.jsonl", "stderr.log", "capture.pcapng"] {
            input.extend_from_slice(BUNDLE_SEP);
            input.extend_from_slice(&read(name));
        }
        add("bundle_reader", input);
        add("bundle_dir", bundle_dir_seed(&read));
        if b.join("capture.pcapng").is_file() {
            captures.push(b.join("capture.pcapng"));
        }
    }
    captures.sort();
    for c in &captures {
        let bytes = std::fs::read(c).map_err(|e| format!("{}: {e}", c.display()))?;
        for (target, payload) in payloads(&bytes) {
            if target == "dns_tcp_stream" {
                // dns_tcp's first byte is its segmenting plan (0: in
                // order, one piece per step).
                add("dns_tcp", [&[0u8][..], &payload].concat());
                add("dns", payload.get(2..).unwrap_or_default().to_vec());
            } else {
                add(target, payload);
            }
        }
        add("capture_reader", bytes);
    }
    let wire = root.join("analyzer/testdata/wire");
    for e in std::fs::read_dir(&wire).into_iter().flatten().flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            add("tls", bytes.clone());
            add("http", bytes);
        }
    }
    let mut counts = Vec::new();
    for (target, inputs) in seeds {
        let dir = fuzz_dir.join("seeds").join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names = std::collections::HashSet::new();
        for input in inputs {
            let mut h = DefaultHasher::new();
            input.hash(&mut h);
            let name = format!("{:016x}", h.finish());
            if names.insert(name.clone()) {
                std::fs::write(dir.join(&name), &input)
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        counts.push((target.to_string(), names.len()));
    }
    Ok(counts)
}

/// A fixture bundle in `bundle_dir`'s format (fuzz/fuzz_targets/bundle_dir.rs):
/// each file regular (kind 0, u32 LE length, bytes), in that target's order.
fn bundle_dir_seed(read: &dyn Fn(&str) -> Vec<u8>) -> Vec<u8> {
    let mut input = Vec::new();
    for name in [
        "meta.json",
        "events.jsonl",
        "stderr.log",
        "capture.pcapng",
        "verdict.json",
    ] {
        let bytes = read(name);
        input.push(0);
        input.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
        input.extend_from_slice(&bytes);
    }
    input
}

/// The DNS (UDP port 53), TLS and HTTP payloads of a capture's packets,
/// as (target, bytes); TCP port 53 payloads as `dns_tcp_stream`.
fn payloads(capture: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(mut r) = CaptureReader::new(capture) else {
        return out;
    };
    while let Some(f) = r.next_frame() {
        let Some(net) = link::network(f.link_type, f.data) else {
            continue;
        };
        let sliced =
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(net.ether_type), net.data);
        let (target, payload) = match &sliced.transport {
            Some(TransportSlice::Udp(u)) if u.source_port() == 53 || u.destination_port() == 53 => {
                ("dns", u.payload())
            }
            Some(TransportSlice::Tcp(t)) if !t.payload().is_empty() => {
                let p = t.payload();
                if gotrace_analyzer::tls::looks_like_record(p) {
                    ("tls", p)
                } else if gotrace_analyzer::http::looks_like_http(p) {
                    ("http", p)
                } else if t.source_port() == 53 || t.destination_port() == 53 {
                    // DNS over TCP: a 2-byte length, then the message
                    // (seeds both dns and dns_tcp).
                    ("dns_tcp_stream", p)
                } else {
                    continue;
                }
            }
            _ => continue,
        };
        if !payload.is_empty() {
            out.push((
                target,
                payload[..payload.len().min(MAX_PAYLOAD_SEED)].to_vec(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line() {
        let (t, s, j) = parse_args(&[]).unwrap();
        assert_eq!((t.len(), s, j), (TARGETS.len(), DEFAULT_SECONDS, 1));
        let (t, s, j) =
            parse_args(&args(&["dns", "--seconds", "20", "tls", "--jobs", "2"])).unwrap();
        assert_eq!((t, s, j), (args(&["dns", "tls"]), 20, 2));
        for bad in [
            &["dnss"][..],
            &["--seconds"],
            &["--seconds", "x"],
            &["--seconds", "0"],
            &["--jobs", "0"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn payload_seeds_are_found_by_protocol() {
        let mut udp = Vec::new();
        etherparse::PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut udp, b"\x12\x34dns-query")
            .unwrap();
        let mut tls = Vec::new();
        etherparse::PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .tcp(40000, 443, 1, 1000)
            .write(&mut tls, &[0x16, 0x03, 0x01, 0x00, 0x01, 0x01])
            .unwrap();
        let mut http = Vec::new();
        etherparse::PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
            .tcp(80, 40000, 1, 1000)
            .write(&mut http, b"HTTP/1.1 404 Not Found\r\n\r\n")
            .unwrap();
        // Classic pcap, LINKTYPE_RAW.
        let mut f = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&101u32.to_le_bytes());
        for p in [&udp, &tls, &http] {
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&(p.len() as u32).to_le_bytes());
            f.extend_from_slice(&(p.len() as u32).to_le_bytes());
            f.extend_from_slice(p);
        }
        assert_eq!(
            payloads(&f),
            vec![
                ("dns", b"\x12\x34dns-query".to_vec()),
                ("tls", vec![0x16, 0x03, 0x01, 0x00, 0x01, 0x01]),
                ("http", b"HTTP/1.1 404 Not Found\r\n\r\n".to_vec()),
            ]
        );
        assert!(payloads(b"not a capture").is_empty());
    }
}
