//! One measured run of a workload in one mode: start it, let the workload
//! drive it, then collect a [`Sample`] from the stopwatch, wait4 and (for
//! gotrace) the bundle.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use gotrace_e2e::Lab;

use super::mode::{self, Mode, RunDir, Tools};
use super::process::{Look, Running};
use super::results::{self, Kv};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Sample {
    pub mode: Mode,
    /// The workload's own wall time (stopwatch: fork to reap), ns.
    pub cmd_wall_ns: u64,
    /// The workload's own CPU time (its tree, from the stopwatch), µs.
    pub cmd_cpu_us: u64,
    /// The workload's peak RSS (the largest process of its tree), KiB.
    pub cmd_maxrss_kb: u64,
    /// From spawning the mode's first process to reaping it, ns (for
    /// gotrace: start-up, the trace, the tail and the report).
    pub total_wall_ns: u64,
    /// CPU of everything the run started (tracer and workload), µs.
    pub total_cpu_us: u64,
    /// gotrace's own peak RSS (VmHWM at its exit), KiB.
    pub tracer_hwm_kb: Option<u64>,
    /// gotrace's own CPU per wall second while the workload ran (from
    /// 50 ms looks at /proc/PID/stat); None for workloads under 1 s.
    pub tracing_cores: Option<f64>,
    /// gotrace's largest VmRSS while the workload ran (50 ms looks), KiB.
    pub tracing_rss_kb: Option<u64>,
    /// gotrace: from its spawn to the command's exec event, ns.
    pub startup_ns: Option<u64>,
    /// gotrace: meta.json `lost_events`.
    pub lost_events: Option<u64>,
    /// gotrace: meta.json `dropped_packets`.
    pub dropped_packets: Option<u64>,
    /// What the load workloads reached (dials/s, packets/s).
    pub rate: Option<f64>,
    /// Packets workload: (frames in capture.pcapng, datagrams sent).
    pub captured: Option<(u64, u64)>,
    /// Other workload figures for the detail lines (name, value).
    pub extra: Vec<(&'static str, f64)>,
}

impl Sample {
    /// The tracer's own CPU: everything minus the workload's, µs (for
    /// untraced runs, `ip netns exec` and the stopwatch: about 2 ms).
    pub fn tracer_cpu_us(&self) -> u64 {
        self.total_cpu_us.saturating_sub(self.cmd_cpu_us)
    }
}

/// Where runs happen and with what.
pub struct Runner<'a> {
    pub lab: &'a Lab,
    pub tools: &'a Tools,
    /// Parent of the run dirs.
    pub root: PathBuf,
}

/// A run in progress.
pub struct Started {
    pub mode: Mode,
    pub dir: RunDir,
    pub process: Running,
}

impl Runner<'_> {
    /// Starts `cmd` in `mode` in a new run dir `<root>/<name>`; `tweak`
    /// adjusts the command (environment, working directory).
    pub fn start(
        &self,
        mode: Mode,
        name: &str,
        cmd: &[OsString],
        tweak: impl FnOnce(&mut Command),
    ) -> Result<Started, String> {
        let dir = RunDir::create(self.root.join(name))?;
        let mut c = mode::command(self.lab, self.tools, mode, &dir, cmd)?;
        tweak(&mut c);
        let process = Running::spawn(c, mode == Mode::Gotrace)?;
        Ok(Started { mode, dir, process })
    }

    /// Waits for the end of the run and reads what it measured. The
    /// workload must have exited 0.
    pub fn finish(&self, started: Started) -> Result<(Sample, RunDir), String> {
        let Started { mode, dir, process } = started;
        let start_ns = process.start_ns;
        let end = process.wait()?;
        let fail = |what: String| {
            format!(
                "{} run in {} {what}; its stderr ends with:\n{}",
                mode.name(),
                dir.0.display(),
                dir.stderr_tail()
            )
        };
        if end.code != 0 {
            return Err(fail(format!("exited {}", end.code)));
        }
        let sw = Kv::read(&dir.stopwatch()).map_err(fail)?;
        let n = |k: &str| sw.num(k).map(|v| v as u64);
        let mut s = Sample {
            mode,
            cmd_wall_ns: n("wall_ns")?,
            cmd_cpu_us: n("cpu_us")?,
            cmd_maxrss_kb: n("maxrss_kb")?,
            total_wall_ns: end.wall_ns,
            total_cpu_us: end.cpu_us,
            tracer_hwm_kb: end.own_hwm_kb,
            tracing_cores: None,
            tracing_rss_kb: None,
            startup_ns: None,
            lost_events: None,
            dropped_packets: None,
            rate: None,
            captured: None,
            extra: Vec::new(),
        };
        if mode == Mode::Gotrace {
            let window = (n("start_ns")?, n("end_ns")?);
            (s.tracing_cores, s.tracing_rss_kb) = while_tracing(&end.looks, window);
            let bundle = dir.bundle();
            let exec = results::first_exec_ns(&bundle)?;
            s.startup_ns = Some(exec.saturating_sub(start_ns));
            let counts = results::meta_counts(&bundle)?;
            s.lost_events = Some(counts.lost_events);
            s.dropped_packets = Some(counts.dropped_packets);
        }
        Ok((s, dir))
    }
}

/// gotrace's CPU per wall second and largest RSS between `window`'s start
/// and end (CLOCK_MONOTONIC ns), from the looks around it.
fn while_tracing(looks: &[Look], window: (u64, u64)) -> (Option<f64>, Option<u64>) {
    let (start, end) = window;
    let rss = looks
        .iter()
        .filter(|l| l.at_ns >= start && l.at_ns <= end)
        .map(|l| l.rss_kb)
        .max();
    if end.saturating_sub(start) < 1_000_000_000 {
        return (None, rss);
    }
    let before = looks
        .iter()
        .rev()
        .find(|l| l.at_ns <= start)
        .or(looks.first());
    let after = looks.iter().find(|l| l.at_ns >= end).or(looks.last());
    let cores = match (before, after) {
        (Some(b), Some(a)) if a.at_ns > b.at_ns => {
            Some((a.cpu_s - b.cpu_s) / ((a.at_ns - b.at_ns) as f64 / 1e9))
        }
        _ => None,
    };
    (cores, rss)
}

/// Removes a finished run's directory (bundles of the load workloads are
/// hundreds of MB); a failure to do so is only reported.
pub fn discard(dir: RunDir) {
    if let Err(e) = std::fs::remove_dir_all(&dir.0) {
        eprintln!("xtask: bench: removing {}: {e}", dir.0.display());
    }
}

/// `path` as an argument.
pub fn arg(path: &Path) -> OsString {
    path.as_os_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::{while_tracing, Look};

    #[test]
    fn cores_and_rss_over_the_window() {
        let look = |s: f64, cpu_s: f64, rss_kb: u64| Look {
            at_ns: (s * 1e9) as u64,
            cpu_s,
            rss_kb,
        };
        let looks = [
            look(0.0, 0.0, 10),
            look(1.0, 0.1, 20),
            look(3.0, 1.1, 50),
            look(4.0, 1.2, 90),
        ];
        let (cores, rss) = while_tracing(&looks, (1_200_000_000, 2_900_000_000));
        assert_eq!(rss, None);
        assert!((cores.unwrap() - 0.5).abs() < 1e-9);
        let (cores, rss) = while_tracing(&looks, (500_000_000, 3_000_000_000));
        assert_eq!(rss, Some(50));
        assert!((cores.unwrap() - 1.1 / 3.0).abs() < 1e-9);
        assert_eq!(while_tracing(&looks, (0, 100)).0, None);
    }
}
