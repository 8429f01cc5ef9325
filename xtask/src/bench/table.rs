//! Medians and spreads, and the table: one row per (workload, mode), each
//! with its ratio to the untraced runs of the same workload, measured side
//! by side (alternating runs, same lab).

use std::fmt::Write as _;

use super::mode::Mode;
use super::run::Sample;

/// The results of one workload.
pub struct Workload {
    pub name: &'static str,
    pub samples: Vec<Sample>,
}

impl Workload {
    /// The samples of `mode`.
    pub fn of(&self, mode: Mode) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.mode == mode)
    }

    /// The statistic of `f` over the samples of `mode` that have it.
    pub fn stat(&self, mode: Mode, f: impl Fn(&Sample) -> Option<f64>) -> Option<Stat> {
        Stat::of(self.of(mode).filter_map(f))
    }

    /// median(`mode`) / median(untraced) of `f`.
    pub fn ratio(&self, mode: Mode, f: impl Fn(&Sample) -> Option<f64> + Copy) -> Option<f64> {
        let m = self.stat(mode, f)?.median;
        let base = self.stat(Mode::Untraced, f)?.median;
        (base > 0.0).then(|| m / base)
    }
}

/// Median and range of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    /// None for no values.
    pub fn of(values: impl Iterator<Item = f64>) -> Option<Stat> {
        let mut v: Vec<f64> = values.collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if !n.is_multiple_of(2) {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// `median [min-max]` with `prec` decimals.
    pub fn show(&self, prec: usize) -> String {
        format!(
            "{:.prec$} [{:.prec$}-{:.prec$}]",
            self.median, self.min, self.max
        )
    }
}

/// Seconds of ns.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// MiB of KiB.
pub fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn cell(s: Option<Stat>, prec: usize) -> String {
    s.map_or_else(|| "-".into(), |s| s.show(prec))
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("x{r:.2}"))
}

/// Decimals that show a value of this size sensibly.
fn prec_for(v: f64) -> usize {
    if v < 1.0 {
        3
    } else if v < 100.0 {
        2
    } else {
        0
    }
}

/// The table: medians and [min-max] of every measure, ratios to untraced.
pub fn render(workloads: &[Workload]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<8} {:>2}  {:<25} {:>6}  {:<25} {:>6}  {:<22} {:<22} {:<22} {:<24} {:>6}",
        "workload",
        "mode",
        "n",
        "wall s (workload)",
        "x",
        "CPU s (workload)",
        "x",
        "CPU s (tracer)",
        "RSS MiB (tracer)",
        "RSS MiB (workload)",
        "rate /s (workload)",
        "x"
    );
    for w in workloads {
        for mode in Mode::ALL {
            let n = w.of(mode).count();
            if n == 0 {
                continue;
            }
            let wall = |s: &Sample| Some(secs(s.cmd_wall_ns));
            let cpu = |s: &Sample| Some(s.cmd_cpu_us as f64 / 1e6);
            let rate = |s: &Sample| s.rate;
            let wall_stat = w.stat(mode, wall);
            let p = prec_for(wall_stat.map_or(0.0, |s| s.median));
            let _ = writeln!(
                out,
                "{:<11} {:<8} {:>2}  {:<25} {:>6}  {:<25} {:>6}  {:<22} {:<22} {:<22} {:<24} {:>6}",
                w.name,
                mode.name(),
                n,
                cell(wall_stat, p),
                ratio(w.ratio(mode, wall)),
                cell(w.stat(mode, cpu), 3),
                ratio(w.ratio(mode, cpu)),
                cell(w.stat(mode, |s| Some(s.tracer_cpu_us() as f64 / 1e6)), 3),
                cell(w.stat(mode, |s| s.tracer_hwm_kb.map(mib)), 1),
                cell(w.stat(mode, |s| Some(mib(s.cmd_maxrss_kb))), 1),
                cell(w.stat(mode, rate), 0),
                ratio(w.ratio(mode, rate)),
            );
        }
    }
    out
}

/// Whole runs, the wait a user feels: from spawning the mode's first
/// process (gotrace, strace or the bare command) to reaping it; median
/// [min-max] and the ratio and difference to the bare command.
pub fn render_whole(workloads: &[Workload]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<8} {:>2}  {:<25} {:>6}  {:>10}",
        "workload", "mode", "n", "whole run s (spawn-exit)", "x", "+ms"
    );
    let whole = |s: &Sample| Some(secs(s.total_wall_ns));
    for w in workloads {
        let bare = w.stat(Mode::Untraced, whole).map(|s| s.median);
        for mode in Mode::ALL {
            let Some(st) = w.stat(mode, whole) else {
                continue;
            };
            let extra = bare.map_or("-".into(), |b| format!("{:+.0}", (st.median - b) * 1e3));
            let _ = writeln!(
                out,
                "{:<11} {:<8} {:>2}  {:<25} {:>6}  {:>10}",
                w.name,
                mode.name(),
                st.n,
                st.show(prec_for(st.median)),
                ratio(w.ratio(mode, whole)),
                extra
            );
        }
    }
    out
}

/// Per workload, what only gotrace runs have, and the workload's extras.
pub fn details(workloads: &[Workload]) -> String {
    let mut out = String::new();
    for w in workloads {
        let g = Mode::Gotrace;
        let mut parts = Vec::new();
        if let Some(s) = w.stat(g, |s| s.startup_ns.map(|ns| ns as f64 / 1e6)) {
            parts.push(format!("start-up ms {}", s.show(0)));
        }
        if let Some(s) = w.stat(g, |s| Some(secs(s.total_wall_ns))) {
            parts.push(format!(
                "whole gotrace run s {}",
                s.show(prec_for(s.median))
            ));
        }
        if let Some(s) = w.stat(g, |s| s.tracing_cores) {
            parts.push(format!(
                "own CPU while the workload ran cores {}",
                s.show(2)
            ));
        }
        if let Some(s) = w.stat(g, |s| s.tracing_rss_kb.map(mib)) {
            parts.push(format!(
                "own RSS while the workload ran MiB max {:.1}",
                s.max
            ));
        }
        if let Some(s) = w.stat(g, |s| s.lost_events.map(|v| v as f64)) {
            parts.push(format!("lost events max {}", s.max));
        }
        if let Some(s) = w.stat(g, |s| s.dropped_packets.map(|v| v as f64)) {
            parts.push(format!("dropped packets max {}", s.max));
        }
        if let Some(s) = w.stat(g, |s| {
            s.captured.map(|(f, sent)| f as f64 / sent.max(1) as f64)
        }) {
            parts.push(format!("pcapng frames/sent {}", s.show(3)));
        }
        let _ = writeln!(out, "  {} gotrace: {}", w.name, parts.join(", "));
        let names: Vec<&str> = w
            .samples
            .first()
            .map(|s| s.extra.iter().map(|(n, _)| *n).collect())
            .unwrap_or_default();
        for name in names {
            let cells: Vec<String> = Mode::ALL
                .iter()
                .filter_map(|&m| {
                    let s = w.stat(m, |s| {
                        s.extra.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
                    })?;
                    Some(format!("{} {}", m.name(), s.show(prec_for(s.median))))
                })
                .collect();
            let _ = writeln!(out, "  {} {name}: {}", w.name, cells.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Stat;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Stat::of([3.0, 1.0, 2.0].into_iter()).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Stat::of([4.0, 1.0, 2.0, 3.0].into_iter()).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Stat::of(std::iter::empty()).is_none());
    }
}
