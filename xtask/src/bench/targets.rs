//! Issue 6's and issue 15's targets for gotrace, each PASS or MISS with the measured
//! figure and, for a miss, by how much. A miss never fails the bench.

use std::fmt::Write as _;

use super::mode::Mode;
use super::table::{mib, secs, Stat, Workload};

/// Steady-state wall time of `go mod tidy` traced vs untraced (ratio).
pub const MAX_WALL_RATIO: f64 = 1.05;
/// From spawning gotrace to the command's exec, ms (issue 15).
pub const MAX_STARTUP_MS: f64 = 60.0;
/// tidy-small: gotrace's whole run (spawn to exit) over the bare
/// command's, ms (issue 15).
pub const MAX_WHOLE_RUN_EXTRA_MS: f64 = 100.0;
/// syscalls: the load's rate traced over untraced (issue 15 item 5).
pub const MIN_SYSCALL_RATE_RATIO: f64 = 0.8;
/// gotrace's own CPU, cores (CPU s / wall s of the gotrace process).
pub const MAX_CORES: f64 = 1.0;
/// gotrace's own peak RSS, MiB.
pub const MAX_RSS_MIB: f64 = 64.0;

fn line(out: &mut String, pass: bool, text: String) {
    let _ = writeln!(out, "  {}  {text}", if pass { "PASS" } else { "MISS" });
}

/// The target lines for the workloads that ran.
pub fn render(workloads: &[Workload]) -> String {
    let mut out = String::from("targets (gotrace; a MISS does not fail the bench):\n");
    let wall = |s: &super::run::Sample| Some(secs(s.cmd_wall_ns));
    for w in workloads.iter().filter(|w| w.name.starts_with("tidy")) {
        if let Some(r) = w.ratio(Mode::Gotrace, wall) {
            let strace = w
                .ratio(Mode::Strace, wall)
                .map_or("-".into(), |r| format!("x{r:.2}"));
            line(
                &mut out,
                r <= MAX_WALL_RATIO,
                format!(
                    "{}: steady-state wall (workload exec to exit, median) x{r:.3} of untraced ({:+.1}%; target <= x{MAX_WALL_RATIO}); strace x{strace}",
                    w.name,
                    (r - 1.0) * 100.0,
                    strace = strace.trim_start_matches('x')
                ),
            );
        }
    }
    whole_runs(&mut out, workloads);
    let startup = Stat::of(
        workloads
            .iter()
            .flat_map(|w| w.of(Mode::Gotrace))
            .filter_map(|s| s.startup_ns.map(|ns| ns as f64 / 1e6)),
    );
    if let Some(s) = startup {
        line(
            &mut out,
            s.median <= MAX_STARTUP_MS,
            format!(
                "start-up (spawn of gotrace to the command's exec, every probe attached, capture open): median {:.0} ms [{:.0}-{:.0}] over {} runs (target <= {MAX_STARTUP_MS:.0} ms){}",
                s.median,
                s.min,
                s.max,
                s.n,
                over(s.median, MAX_STARTUP_MS, "ms")
            ),
        );
    }
    for w in workloads.iter().filter(|w| w.name == "syscalls") {
        if let Some(r) = w.ratio(Mode::Gotrace, |s| s.rate) {
            let strace = w
                .ratio(Mode::Strace, |s| s.rate)
                .map_or("-".into(), |r| format!("x{r:.2}"));
            line(
                &mut out,
                r >= MIN_SYSCALL_RATE_RATIO,
                format!("syscalls: the load's rate traced x{r:.2} of untraced (median; target >= x{MIN_SYSCALL_RATE_RATIO}); strace {strace}"),
            );
        }
        if let Some(s) = w.stat(Mode::Gotrace, |s| s.lost_events.map(|v| v as f64)) {
            line(
                &mut out,
                s.max == 0.0,
                format!(
                    "syscalls: events lost by the ring buffer: max {} per run (target 0)",
                    s.max
                ),
            );
        }
        let whole = |s: &super::run::Sample| {
            Some(s.tracer_cpu_us() as f64 / 1e6 / secs(s.total_wall_ns).max(1e-9))
        };
        if let Some(s) = w.stat(Mode::Gotrace, |s| s.tracing_cores) {
            let whole = w
                .stat(Mode::Gotrace, whole)
                .map_or("-".into(), |w| format!("{:.2}", w.median));
            line(
                &mut out,
                s.max < MAX_CORES,
                format!(
                    "syscalls: gotrace's own CPU while the load ran {:.2} cores median, {:.2} max (its CPU s / wall s from /proc/PID/stat; target < {MAX_CORES}); over its whole run {whole}{}",
                    s.median,
                    s.max,
                    over(s.max, MAX_CORES, "cores")
                ),
            );
        }
    }
    for w in workloads.iter().filter(|w| w.name == "packets") {
        if let Some(s) = w.stat(Mode::Gotrace, |s| s.dropped_packets.map(|v| v as f64)) {
            line(
                &mut out,
                s.max == 0.0,
                format!(
                    "packets: packets dropped by the capture socket: max {} per run (target 0)",
                    s.max
                ),
            );
        }
        let short: Vec<(u64, u64)> = w
            .of(Mode::Gotrace)
            .filter_map(|s| s.captured)
            .filter(|(frames, sent)| frames < sent)
            .collect();
        if w.of(Mode::Gotrace).any(|s| s.captured.is_some()) {
            line(
                &mut out,
                short.is_empty(),
                match short.first() {
                    None => "packets: capture.pcapng holds every datagram sent, in every run".into(),
                    Some((f, s)) => format!(
                        "packets: capture.pcapng short of the datagrams sent in {} runs (e.g. {f} frames for {s} sent, {:.1}% missing)",
                        short.len(),
                        (1.0 - *f as f64 / *s as f64) * 100.0
                    ),
                },
            );
        }
    }
    for w in workloads {
        if let Some(s) = w.stat(Mode::Gotrace, |s| s.tracer_hwm_kb.map(mib)) {
            line(
                &mut out,
                s.max < MAX_RSS_MIB,
                format!(
                    "{}: gotrace's own peak RSS (VmHWM at its exit) max {:.1} MiB, median {:.1} (target < {MAX_RSS_MIB:.0} MiB){}{}",
                    w.name,
                    s.max,
                    s.median,
                    over(s.max, MAX_RSS_MIB, "MiB"),
                    w.stat(Mode::Gotrace, |s| s.tracing_rss_kb.map(mib))
                        .map_or(String::new(), |t| format!("; while the workload ran max {:.1} MiB", t.max))
                ),
            );
        }
    }
    out
}

/// The whole-run lines (spawn of the mode's first process to its exit, the
/// wait a user feels): tidy-small within [`MAX_WHOLE_RUN_EXTRA_MS`] of the
/// bare command, tidy-large below strace.
fn whole_runs(out: &mut String, workloads: &[Workload]) {
    let whole = |s: &super::run::Sample| Some(secs(s.total_wall_ns) * 1e3);
    for w in workloads.iter().filter(|w| w.name.starts_with("tidy")) {
        let (Some(g), Some(bare)) = (w.stat(Mode::Gotrace, whole), w.stat(Mode::Untraced, whole))
        else {
            continue;
        };
        let strace = w.stat(Mode::Strace, whole);
        let extra = g.median - bare.median;
        let vs = strace
            .as_ref()
            .map_or("-".into(), |s| format!("{:.0} ms", s.median));
        if w.name == "tidy-small" {
            line(
                out,
                extra <= MAX_WHOLE_RUN_EXTRA_MS,
                format!(
                    "{}: whole run (spawn to exit, median) {:.0} ms, bare {:.0} ms: {extra:+.0} ms (target <= +{MAX_WHOLE_RUN_EXTRA_MS:.0} ms){}; strace {vs}",
                    w.name,
                    g.median,
                    bare.median,
                    over(extra, MAX_WHOLE_RUN_EXTRA_MS, "ms")
                ),
            );
        } else if let Some(st) = strace {
            line(
                out,
                g.median < st.median,
                format!(
                    "{}: whole run (spawn to exit, median) {:.0} ms, strace {:.0} ms, bare {:.0} ms (target: below strace){}",
                    w.name,
                    g.median,
                    st.median,
                    bare.median,
                    over(g.median, st.median, "ms")
                ),
            );
        }
    }
}

/// `: 30 ms over` when `v` exceeds `limit`.
fn over(v: f64, limit: f64, unit: &str) -> String {
    if v > limit {
        format!("; {:.2} {unit} over", v - limit)
    } else {
        String::new()
    }
}
