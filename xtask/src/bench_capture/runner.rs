//! Times the two analyses side by side: gotrace (or a stand-in command)
//! and `tshark -q -z conv,tcp`, alternating A B A B ..., each run from the
//! same page-cache state, and prints the table with the goals.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::disk::Cache;
use super::measure::{self, Sample};

/// Goal: gotrace at least this many times faster than tshark (wall time).
pub const SPEEDUP_GOAL: f64 = 5.0;
/// Goal: gotrace's peak resident set below this (bytes): 100 MiB.
pub const MEMORY_GOAL_BYTES: u64 = 100 << 20;

/// A command under test.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Column name (`gotrace`, `tshark`).
    pub name: &'static str,
    /// Command line, the capture path included.
    pub argv: Vec<OsString>,
}

impl Tool {
    /// The command line as one string, for messages.
    pub fn shown(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `tool` once on its own (not timed for the table) and returns an
/// error quoting its stderr when it fails; `stdout`/`stderr` files go to
/// `dir`.
///
/// # Errors
/// When it cannot start or exits non-zero.
pub fn check(tool: &Tool, dir: &Path) -> Result<(), String> {
    run_one(tool, dir).map(|_| ())
}

/// Times `tools[0]` and `tools[1]` alternately, `rounds` times each, with
/// `cache` prepared on `capture` before every run; stdout and stderr of
/// the last run of each go to `dir` (`NAME.stdout`, `NAME.stderr`).
///
/// # Errors
/// When a command fails (non-zero exit: the message quotes its stderr),
/// the cache cannot be prepared, or `stop` says so.
pub fn time_rounds(
    tools: &[Tool; 2],
    capture: &Path,
    rounds: usize,
    cache: Cache,
    dir: &Path,
    stop: impl Fn() -> bool,
) -> Result<[Vec<Sample>; 2], String> {
    let mut samples = [Vec::new(), Vec::new()];
    for round in 1..=rounds {
        for (i, tool) in tools.iter().enumerate() {
            if stop() {
                return Err("interrupted".into());
            }
            cache.prepare(capture)?;
            eprint!("xtask: round {round}/{rounds}: {} ... ", tool.name);
            let s = match run_one(tool, dir) {
                Ok(s) => s,
                // Ctrl-C reaches the child too; say so rather than quote it.
                Err(_) if stop() => return Err("interrupted".into()),
                Err(e) => return Err(e),
            };
            eprintln!(
                "{:.3} s wall, {:.3} s CPU, {} peak RSS",
                s.wall.as_secs_f64(),
                s.cpu().as_secs_f64(),
                mib(s.max_rss_bytes)
            );
            samples[i].push(s);
        }
    }
    Ok(samples)
}

fn run_one(tool: &Tool, dir: &Path) -> Result<Sample, String> {
    let (out_path, err_path) = output_paths(tool, dir);
    let create =
        |p: &PathBuf| File::create(p).map_err(|e| format!("creating {}: {e}", p.display()));
    let s = measure::run(&tool.argv, create(&out_path)?, create(&err_path)?)?;
    if s.status != 0 {
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        let head: Vec<&str> = err.lines().take(8).collect();
        return Err(format!(
            "`{}` exited with status {}; its stderr:\n  {}",
            tool.shown(),
            s.status,
            head.join("\n  ")
        ));
    }
    Ok(s)
}

/// Where a tool's stdout and stderr go.
pub fn output_paths(tool: &Tool, dir: &Path) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{}.stdout", tool.name)),
        dir.join(format!("{}.stderr", tool.name)),
    )
}

/// Median of `v` (mean of the middle two for an even count; zero if empty).
pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// The figures of one column.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Median wall time.
    pub wall: Duration,
    /// Median user + system CPU time.
    pub cpu: Duration,
    /// Largest peak RSS over the rounds (bytes).
    pub peak_rss: u64,
}

impl Figures {
    /// Figures of a column's samples.
    pub fn of(samples: &[Sample]) -> Figures {
        let wall: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        let cpu: Vec<Duration> = samples.iter().map(Sample::cpu).collect();
        Figures {
            wall: median(&wall),
            cpu: median(&cpu),
            peak_rss: samples.iter().map(|s| s.max_rss_bytes).max().unwrap_or(0),
        }
    }
}

/// The results table and the verdict on each goal.
pub fn table(tools: &[Tool; 2], samples: &[Vec<Sample>; 2], file_bytes: u64) -> String {
    let g = Figures::of(&samples[0]);
    let t = Figures::of(&samples[1]);
    let ratio = |a: Duration, b: Duration| {
        if b.is_zero() {
            f64::INFINITY
        } else {
            a.as_secs_f64() / b.as_secs_f64()
        }
    };
    let secs = |d: Duration| format!("{:.3} s", d.as_secs_f64());
    let rate = |d: Duration| {
        format!(
            "{:.0} MiB/s",
            file_bytes as f64 / f64::from(1u32 << 20) / d.as_secs_f64().max(1e-9)
        )
    };
    let mut o = String::new();
    let w = 26;
    let _ = writeln!(
        o,
        "{:<w$} {:>16} {:>16} {:>16}",
        "", tools[0].name, tools[1].name, "tshark/gotrace"
    );
    let _ = writeln!(
        o,
        "{:<w$} {:>16} {:>16} {:>15.2}x",
        "wall time (median)",
        secs(g.wall),
        secs(t.wall),
        ratio(t.wall, g.wall)
    );
    let _ = writeln!(
        o,
        "{:<w$} {:>16} {:>16} {:>15.2}x",
        "CPU user+sys (median)",
        secs(g.cpu),
        secs(t.cpu),
        ratio(t.cpu, g.cpu)
    );
    let mem_ratio = t.peak_rss as f64 / (g.peak_rss.max(1)) as f64;
    let _ = writeln!(
        o,
        "{:<w$} {:>16} {:>16} {:>15.2}x",
        "peak RSS (max of rounds)",
        mib(g.peak_rss),
        mib(t.peak_rss),
        mem_ratio
    );
    let _ = writeln!(
        o,
        "{:<w$} {:>16} {:>16}",
        "throughput (wall, median)",
        rate(g.wall),
        rate(t.wall)
    );
    for (n, (a, b)) in samples[0].iter().zip(&samples[1]).enumerate() {
        let _ = writeln!(
            o,
            "{:<w$} {:>16} {:>16}",
            format!("wall time, round {}", n + 1),
            secs(a.wall),
            secs(b.wall)
        );
    }
    let speedup = ratio(t.wall, g.wall);
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "goal: gotrace >= {SPEEDUP_GOAL}x faster than tshark (wall time): {speedup:.2}x  {}",
        verdict(speedup >= SPEEDUP_GOAL)
    );
    let _ = writeln!(
        o,
        "goal: gotrace peak memory < {}: {} ({:.0}% of the goal)  {}",
        mib(MEMORY_GOAL_BYTES),
        mib(g.peak_rss),
        100.0 * g.peak_rss as f64 / MEMORY_GOAL_BYTES as f64,
        verdict(g.peak_rss < MEMORY_GOAL_BYTES)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_ms: u64, rss_mib: u64) -> Sample {
        Sample {
            wall: Duration::from_millis(wall_ms),
            user: Duration::from_millis(wall_ms / 2),
            sys: Duration::from_millis(wall_ms / 4),
            max_rss_bytes: rss_mib << 20,
            status: 0,
        }
    }

    #[test]
    fn medians() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(median(&ms(&[30, 10, 20])), Duration::from_millis(20));
        assert_eq!(median(&ms(&[40, 10, 20, 30])), Duration::from_millis(25));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn table_says_pass_and_miss_per_goal() {
        let tools = [
            Tool {
                name: "gotrace",
                argv: vec![],
            },
            Tool {
                name: "tshark",
                argv: vec![],
            },
        ];
        let fast = [
            vec![sample(100, 20), sample(120, 30), sample(110, 25)],
            vec![sample(1000, 900); 3],
        ];
        let t = table(&tools, &fast, 1 << 30);
        assert!(t.contains("30.00x"), "{t}");
        assert!(t.contains("(wall time): 9.09x  PASS"), "{t}");
        assert!(t.contains("30.0 MiB (30% of the goal)  PASS"), "{t}");
        let slow = [vec![sample(500, 200); 3], vec![sample(1000, 900); 3]];
        let t = table(&tools, &slow, 1 << 30);
        assert!(t.contains("2.00x  MISS"), "{t}");
        assert!(t.contains("200.0 MiB (200% of the goal)  MISS"), "{t}");
    }
}
