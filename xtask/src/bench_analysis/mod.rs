//! `bench-analysis`: how the end-of-run analysis scales with the number of
//! events (issue 15 item 4). Writes synthetic bundles of the `syscalls`
//! workload's shape ([`generator`]) at each size, times `gotrace analyze
//! DIR` on each (wall time, CPU time and peak RSS from `wait4`, as
//! `bench-capture` does) and checks the targets: time linear in events (2M
//! in under 2x the time of 1M) and peak RSS under 64 MiB at 1M events.
//! Needs no root and sends no packet. Exits non-zero only when it cannot
//! measure; a missed target is reported.

mod generator;

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bench_capture::measure::{self, Sample};
use crate::bench_capture::workdir::WorkDir;
use crate::bench_capture::{cpus, load_average};
use crate::util;

const USAGE: &str = "usage: cargo xtask bench-analysis [--events N,N...] [--rounds N] [--keep] [--out DIR] [--gotrace PATH]

  --events N,N...  bundle sizes in events (default 50000,200000,1000000,2000000; k and M suffixes work)
  --rounds N       timed runs per size (default 1); the table gives the median wall time and the
                   largest peak RSS
  --keep           keep the bundles (default: each is deleted once measured)
  --out DIR        write them to DIR (default: a new directory under $TMPDIR or /tmp)
  --gotrace PATH   time this gotrace binary (default: build the worktree's, release)";

/// The peak RSS target at 1M events (bytes), issue 15 item 4.
const RSS_TARGET: u64 = 64 << 20;
/// The generator's seed: the same sizes give the same bundles.
const SEED: u64 = 15;

#[derive(Debug, Clone, PartialEq)]
struct Options {
    sizes: Vec<u64>,
    rounds: usize,
    keep: bool,
    out: Option<PathBuf>,
    gotrace: Option<PathBuf>,
}

/// Runs the benchmark; `args` follow `bench-analysis`.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(o) = parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    gotrace_e2e::survive_interrupts();
    let bin = match &o.gotrace {
        Some(p) => p.clone(),
        None => build_gotrace()?,
    };
    let work = WorkDir::new(o.out.as_deref(), o.keep)?;
    let (stdout, stderr) = (work.file("gotrace.stdout"), work.file("gotrace.stderr"));
    println!(
        "gotrace: {} analyze DIR; {} CPUs, load average {} before",
        bin.display(),
        cpus(),
        load_average()
    );
    let mut rows = Vec::new();
    for &n in &o.sizes {
        if gotrace_e2e::interrupted() {
            return Err("interrupted".into());
        }
        let dir = work.path().join(format!("bundle-{n}"));
        let w = generator::write_bundle(&dir, n, SEED)?;
        let argv: Vec<OsString> = vec![bin.clone().into(), "analyze".into(), dir.clone().into()];
        let mut samples = Vec::new();
        for _ in 0..o.rounds {
            let s = measure::run(&argv, create(&stdout)?, create(&stderr)?)?;
            // gotrace analyze exits 1 for a failed fetch's bundle: that is the verdict.
            if s.status != 0 && s.status != 1 {
                let err = std::fs::read_to_string(&stderr).unwrap_or_default();
                return Err(format!(
                    "gotrace analyze {} exited {}: {err}",
                    dir.display(),
                    s.status
                ));
            }
            samples.push(s);
        }
        // The report is on stderr.
        let report = std::fs::read_to_string(&stderr).unwrap_or_default();
        let verdict = report
            .lines()
            .find(|l| l.starts_with("verdict:"))
            .unwrap_or("")
            .to_string();
        let mut row = Row::of(w, &samples, verdict);
        row.read = events_read(&report).unwrap_or(w.events);
        println!("{}", row.line());
        rows.push(row);
        if !o.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    println!("load average after: {}", load_average());
    println!();
    print!("{}", table(&rows));
    for line in targets(&rows) {
        println!("{line}");
    }
    if o.keep {
        println!("kept: {}", work.path().display());
    }
    Ok(())
}

fn create(p: &Path) -> Result<File, String> {
    File::create(p).map_err(|e| format!("creating {}: {e}", p.display()))
}

/// Builds the release gotrace binary (analysis needs no eBPF object).
fn build_gotrace() -> Result<PathBuf, String> {
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--locked", "-p", "gotrace"])
        .current_dir(gotrace_e2e::workspace_root());
    util::run(&mut cmd).map_err(|e| format!("building the gotrace binary to time it: {e}"))?;
    let bin = util::gotrace_bin();
    if !bin.is_file() {
        return Err(format!(
            "cargo build succeeded but {} is missing",
            bin.display()
        ));
    }
    Ok(bin)
}

/// One size's figures.
#[derive(Debug, Clone)]
struct Row {
    written: generator::Written,
    wall: Duration,
    cpu: Duration,
    max_rss: u64,
    /// The report's verdict line.
    verdict: String,
    /// Events the analysis read (the report's `trace: N events`): fewer
    /// than written when events.jsonl is past the bundle reader's
    /// [`gotrace_bundle::EVENTS_MAX_BYTES`].
    read: u64,
}

/// The event count of the report's `trace:    N events (...)` line.
fn events_read(report: &str) -> Option<u64> {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("trace:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

impl Row {
    fn of(written: generator::Written, samples: &[Sample], verdict: String) -> Row {
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort();
        let mut cpus: Vec<Duration> = samples.iter().map(Sample::cpu).collect();
        cpus.sort();
        Row {
            written,
            wall: walls.get(walls.len() / 2).copied().unwrap_or_default(),
            cpu: cpus.get(cpus.len() / 2).copied().unwrap_or_default(),
            max_rss: samples.iter().map(|s| s.max_rss_bytes).max().unwrap_or(0),
            verdict,
            read: written.events,
        }
    }

    fn line(&self) -> String {
        let w = &self.written;
        format!(
            "  {} events ({:.0} MiB; {} TCP fetches, {} TCP dials, {} refused, {} DNS, {} NXDOMAIN, {} UDP connects, {} UDP pairs): {:.2} s, {:.1} MiB; {}",
            w.events,
            mib(w.bytes),
            w.tcp_ok,
            w.tcp_dials,
            w.refused,
            w.dns_ok,
            w.nxdomain,
            w.udp_connects,
            w.udp_pairs,
            self.wall.as_secs_f64(),
            mib(self.max_rss),
            self.verdict
        )
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// The table: per size, wall and CPU time, time per event, peak RSS, and
/// the time's growth against the events' growth from the previous size.
fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| events | read | events.jsonl MiB | wall s | CPU s | µs/event read | peak RSS MiB | time x / events read x |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut prev: Option<&Row> = None;
    for r in rows {
        let n = r.read.max(1);
        let growth = prev.map_or("-".to_string(), |p| {
            let t = r.wall.as_secs_f64() / p.wall.as_secs_f64().max(1e-9);
            let e = n as f64 / p.read.max(1) as f64;
            format!("{t:.2} / {e:.2}")
        });
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} |\n",
            r.written.events,
            n,
            mib(r.written.bytes),
            r.wall.as_secs_f64(),
            r.cpu.as_secs_f64(),
            r.wall.as_secs_f64() * 1e6 / n as f64,
            mib(r.max_rss),
            growth
        ));
        prev = Some(r);
    }
    s
}

/// PASS/MISS lines for the targets the measured sizes allow judging.
fn targets(rows: &[Row]) -> Vec<String> {
    let near = |n: u64| {
        rows.iter()
            .find(|r| r.written.events.abs_diff(n) <= n / 100)
    };
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (near(1_000_000), near(2_000_000)) {
        let x = b.wall.as_secs_f64() / a.wall.as_secs_f64().max(1e-9);
        if b.read < b.written.events {
            // Judged per event read: the reader stopped at its size cap.
            let per = |r: &Row| r.wall.as_secs_f64() / r.read.max(1) as f64;
            let y = per(b) / per(a).max(1e-12);
            out.push(format!(
                "linear: 2M events in < 2x the time of 1M: {} per event read ({y:.2}x the time per event of 1M; only {} of the 2M events were read: events.jsonl is {:.0} MiB, past the bundle reader's {} MiB)",
                pass(y < 1.0),
                b.read,
                mib(b.written.bytes),
                gotrace_bundle::EVENTS_MAX_BYTES >> 20
            ));
        } else {
            out.push(format!(
                "linear: 2M events in < 2x the time of 1M: {} ({x:.2}x: {:.2} s vs {:.2} s)",
                pass(x < 2.0),
                b.wall.as_secs_f64(),
                a.wall.as_secs_f64()
            ));
        }
    }
    if let Some(a) = near(1_000_000) {
        out.push(format!(
            "memory: peak RSS < 64 MiB at 1M events: {} ({:.1} MiB)",
            pass(a.max_rss < RSS_TARGET),
            mib(a.max_rss)
        ));
    }
    out
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// Parses the options; `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        sizes: vec![50_000, 200_000, 1_000_000, 2_000_000],
        rounds: 1,
        keep: false,
        out: None,
        gotrace: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--keep" => o.keep = true,
            "--events" => {
                let v = value(a)?;
                o.sizes = v
                    .split(',')
                    .map(count)
                    .collect::<Option<Vec<u64>>>()
                    .filter(|s| !s.is_empty())
                    .ok_or(format!(
                        "--events {v}: give counts of 10 to 100M events, comma-separated, e.g. 50k,1M"
                    ))?;
            }
            "--rounds" => {
                let v = value(a)?;
                o.rounds = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or(format!("--rounds {v}: give a count from 1 to 20"))?;
            }
            "--out" => o.out = Some(PathBuf::from(value(a)?)),
            "--gotrace" => o.gotrace = Some(PathBuf::from(value(a)?)),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(o))
}

/// `50000`, `50k` or `2M` as a count of events (10 to 100M).
fn count(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1_000),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1_000_000),
            None => (s, 1),
        },
    };
    let n = num.parse::<f64>().ok()? * f64::from(mult);
    (n.is_finite() && (10.0..=1e8).contains(&n)).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_reports_event_count_is_read() {
        let r = "verdict: x\n  trace:    1441333 events (0 lost), 7 network attempts, no capture\n";
        assert_eq!(events_read(r), Some(1_441_333));
        assert_eq!(events_read("nothing"), None);
    }

    #[test]
    fn sizes_take_suffixes_and_bad_values_are_refused() {
        let o = parse(&args(&["--events", "50k,1M,2000000", "--rounds", "3"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.sizes, [50_000, 1_000_000, 2_000_000]);
        assert_eq!(o.rounds, 3);
        assert!(parse(&args(&["--events", "x"])).is_err());
        assert!(parse(&args(&["--events", "5"])).is_err());
        assert!(parse(&args(&["--rounds", "0"])).is_err());
        assert!(parse(&args(&["--help"])).unwrap().is_none());
    }
}
