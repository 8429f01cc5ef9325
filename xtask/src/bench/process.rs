//! Running one measured process: CLOCK_MONOTONIC around it, wait4(2)'s
//! rusage, and, for gotrace, its own peak RSS read at its exit.
//!
//! Why the exit stop: gotrace's rusage from wait4 (or RUSAGE_CHILDREN) is
//! `max(gotrace, everything it reaped)` for `ru_maxrss`, so it is the
//! traced command's peak whenever that is larger (getrusage(2)); and once
//! gotrace is a zombie its `/proc/PID/status` has no memory lines left.
//! So the bench PTRACE_SEIZEs the process with only `PTRACE_O_TRACEEXIT`
//! (no syscall stops, no effect on its speed) and reads `VmHWM` at the
//! exit stop, when every thread but the exiting main one is gone and the
//! address space is still there: gotrace's own high-water mark, nothing
//! of its children.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `PTRACE_EVENT_STOP` (linux/ptrace.h): a group-stop of a seized tracee.
const PTRACE_EVENT_STOP: i32 = 128;

/// CLOCK_MONOTONIC, ns: the clock of `bpf_ktime_get_ns()`, so it compares
/// with the timestamps in events.jsonl.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One look at a watched process: when, its CPU so far, its RSS.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    /// CLOCK_MONOTONIC, ns.
    pub at_ns: u64,
    /// utime + stime of the process itself (all its threads, not its
    /// children), s; clock-tick resolution (10 ms).
    pub cpu_s: f64,
    /// VmRSS, KiB.
    pub rss_kb: u64,
}

/// How often a watched process is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// How a measured process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code, or 128 + signal number.
    pub code: i32,
    /// From just before the spawn to the reap, ns.
    pub wall_ns: u64,
    /// User + system CPU of the process and every descendant it reaped
    /// (wait4 rusage), µs.
    pub cpu_us: u64,
    /// Its own peak RSS (`VmHWM` at the exit stop), KiB; None unless
    /// watched.
    pub own_hwm_kb: Option<u64>,
    /// Looks every 50 ms while it ran (watched processes only).
    pub looks: Vec<Look>,
}

/// A spawned process being measured.
pub struct Running {
    pid: libc::pid_t,
    /// CLOCK_MONOTONIC just before the spawn, ns.
    pub start_ns: u64,
    own_hwm_kb: Option<u64>,
    finished: Option<Finished>,
    looker: Option<std::thread::JoinHandle<Vec<Look>>>,
}

impl Running {
    /// Spawns `cmd`; with `watch_exit` its own peak RSS is read at its
    /// exit stop (see the module doc). The caller must keep calling
    /// [`Running::poll`] or [`Running::wait`]: a watched process that gets
    /// a signal stays stopped until then.
    pub fn spawn(mut cmd: Command, watch_exit: bool) -> Result<Running, String> {
        let shown = format!("{cmd:?}");
        let start_ns = monotonic_ns();
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        let pid = child.id() as libc::pid_t;
        // Reaped below with wait4; the Child handle is never waited on.
        drop(child);
        if watch_exit {
            // SAFETY: seizing our own child; no memory is passed.
            let rc = unsafe {
                libc::ptrace(
                    libc::PTRACE_SEIZE,
                    pid,
                    0,
                    libc::PTRACE_O_TRACEEXIT as libc::c_long,
                )
            };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                eprintln!("xtask: bench: cannot watch {pid}'s exit (PTRACE_SEIZE: {e}); its own peak RSS will be missing");
            }
        }
        let looker = watch_exit.then(|| std::thread::spawn(move || look_until_gone(pid)));
        Ok(Running {
            pid,
            start_ns,
            own_hwm_kb: None,
            finished: None,
            looker,
        })
    }

    /// Handles what the process reported (a ptrace stop, or its end)
    /// without blocking; Some once it has ended.
    pub fn poll(&mut self) -> Result<Option<Finished>, String> {
        self.step(libc::WNOHANG)
    }

    /// Waits for the end of the process.
    pub fn wait(mut self) -> Result<Finished, String> {
        loop {
            if let Some(f) = self.step(0)? {
                return Ok(f);
            }
        }
    }

    /// Polls until `ready()` says yes, failing if the process ends first or
    /// `timeout` passes.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(f) = self.poll()? {
                return Err(format!(
                    "{what}: the process ended first (status {})",
                    f.code
                ));
            }
            if start.elapsed() > timeout {
                return Err(format!("{what}: not within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn step(&mut self, flags: i32) -> Result<Option<Finished>, String> {
        if let Some(f) = &self.finished {
            return Ok(Some(f.clone()));
        }
        let mut status = 0;
        // SAFETY: all-zero is a valid rusage.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child; valid pointers.
        let rc = unsafe { libc::wait4(self.pid, &mut status, flags | libc::__WALL, &mut ru) };
        if rc == 0 {
            return Ok(None);
        }
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(format!("waiting for {}: {e}", self.pid));
        }
        if libc::WIFSTOPPED(status) {
            self.resume(status);
            return Ok(None);
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
        let wall_ns = monotonic_ns() - self.start_ns;
        // The pid is reaped: /proc/PID is gone, the looker ends.
        let looks = self
            .looker
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let f = Finished {
            code,
            wall_ns,
            cpu_us: us(ru.ru_utime) + us(ru.ru_stime),
            own_hwm_kb: self.own_hwm_kb,
            looks,
        };
        self.finished = Some(f.clone());
        Ok(Some(f))
    }

    /// Lets a stopped tracee go on: the exit stop (read VmHWM first), a
    /// group-stop (PTRACE_LISTEN, as for any seized tracee), or a signal
    /// about to be delivered (delivered unchanged).
    fn resume(&mut self, status: i32) {
        let event = (status >> 16) & 0xff;
        let (request, sig) = if event == libc::PTRACE_EVENT_EXIT {
            self.own_hwm_kb = vm_hwm_kb(self.pid);
            (libc::PTRACE_CONT, 0)
        } else if event == PTRACE_EVENT_STOP {
            (libc::PTRACE_LISTEN, 0)
        } else {
            (libc::PTRACE_CONT, libc::WSTOPSIG(status))
        };
        // SAFETY: a stopped tracee of ours; no memory is passed.
        unsafe { libc::ptrace(request, self.pid, 0, sig as libc::c_long) };
    }
}

/// `VmHWM` of `/proc/PID/status`, KiB.
fn vm_hwm_kb(pid: libc::pid_t) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    kb_field(&status, "VmHWM:")
}

impl Drop for Running {
    /// A run abandoned on an error path is killed and reaped, not left
    /// running (and stopped at its next signal) under a gone tracer.
    fn drop(&mut self) {
        if self.finished.is_none() {
            // SAFETY: our own unreaped child; no memory involved.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            // Reap it (resuming any ptrace stop on the way).
            while let Ok(None) = self.step(0) {}
        }
    }
}

/// Looks at `pid` every [`LOOK_EVERY`] until its /proc entry is gone (or
/// holds another process: its start time, field 22, changed).
fn look_until_gone(pid: libc::pid_t) -> Vec<Look> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let dir = Path::new("/proc").join(pid.to_string());
    let mut looks = Vec::new();
    let mut started = None;
    loop {
        let at_ns = monotonic_ns();
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(dir.join("stat")),
            std::fs::read_to_string(dir.join("status")),
        ) else {
            return looks;
        };
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
        if *started.get_or_insert(ticks(22)) != ticks(22) {
            return looks;
        }
        let rss_kb = kb_field(&status, "VmRSS:");
        // A zombie has no VmRSS line; its last look is the one before.
        if let (Some(u), Some(s), Some(rss_kb)) = (ticks(14), ticks(15), rss_kb) {
            looks.push(Look {
                at_ns,
                cpu_s: (u + s) / hz,
                rss_kb,
            });
        }
        std::thread::sleep(LOOK_EVERY);
    }
}

/// A `Name:   N kB` line of /proc/PID/status, KiB.
fn kb_field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        l.strip_prefix(name)?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}
