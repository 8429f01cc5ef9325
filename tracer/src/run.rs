//! `gotrace run -- CMD`: trace a command from its first instruction to its
//! exit, then analyse the bundle and report.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use gotrace_analyzer::bundle::{files, ExitStatus};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::BundleWriter;
use crate::capture::{Capture, CaptureSummary};
use crate::error::TracerError;
use crate::probes::Probes;
use crate::user::{self, RunAs};
use crate::{clock, decode, meta, privileges, report, signals, spawn};

/// Options of `gotrace run`.
pub struct RunOptions {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Bundle directory; default `./gotrace-YYYYmmdd-HHMMSS`.
    pub output: Option<PathBuf>,
    /// Print the verdict as JSON on stdout instead of the text report.
    pub json: bool,
    /// File created once tracing is live, just before the command starts.
    pub ready_file: Option<PathBuf>,
    /// `--user`: who the command runs as (default: the sudo invoker, else
    /// gotrace's own user; see `user`).
    pub user: Option<String>,
}

/// After the command exits, how long to keep reading events and packets
/// (RSTs and ICMP errors for its last packets may still be in flight).
const TAIL: Duration = Duration::from_millis(200);
/// Poll period of the main loop; also the flush period of events.jsonl.
const POLL: Duration = Duration::from_millis(50);

/// Runs the command traced; returns the exit status gotrace should exit with
/// (the command's, or 128 + signal number like a shell).
pub fn run(opts: RunOptions) -> Result<i32, TracerError> {
    privileges::check("run")?;
    let run_as = user::resolve(opts.user.as_deref())?;
    let path = spawn::resolve(&opts.argv[0])?;
    let mut probes = Probes::load()?;
    let dir = opts.output.clone().unwrap_or_else(default_dir);
    let mut bundle = BundleWriter::create(&dir, run_as.as_ref().map(RunAs::owner))?;
    match trace(&opts, run_as.as_ref(), &path, &mut probes, &mut bundle) {
        Ok(code) => Ok(code),
        Err(e) => {
            // Never leave a half-made bundle that looks like a real one.
            let _ = std::fs::remove_dir_all(bundle.dir());
            Err(e)
        }
    }
}

fn trace(
    opts: &RunOptions,
    run_as: Option<&RunAs>,
    path: &std::path::Path,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
) -> Result<i32, TracerError> {
    // Before the ready file: a script may signal gotrace as soon as it sees it.
    signals::install();
    let child = spawn::spawn_gated(path, &opts.argv, run_as)?;
    let pid = child.pid;
    // If anything below fails, dropping `child` closes the gate: it exits 125.
    probes.trace(pid.as_raw() as u32)?;
    let capture = Capture::start(bundle)?;
    let clock_map = clock::sample_map();
    let start = clock::monotonic_ns();
    let mut meta = meta::initial(&opts.argv, pid.as_raw() as u32, clock_map, start);
    if let Some(u) = run_as {
        (meta.uid, meta.gid) = (u.uid.as_raw(), u.gid.as_raw());
    }
    meta.warnings.extend(probes.warnings.iter().cloned());
    meta.drop_reasons = probes.names.drop_reasons.clone();
    bundle.write_meta(&meta)?;
    if let Some(ready) = &opts.ready_file {
        std::fs::write(ready, format!("{}\n", pid))
            .map_err(|e| TracerError::sys(format!("writing {}", ready.display()), e))?;
    }
    let (pid, stderr) = child.release()?;
    Ok(follow(
        pid, stderr, probes, bundle, capture, meta, opts.json,
    ))
}

/// From the command's exec to its exit. The command now runs, so nothing
/// here may abandon it or throw away what was recorded: failures (a full
/// disk, a capture error) become warnings in meta.json and the report.
fn follow(
    pid: Pid,
    stderr: std::os::fd::OwnedFd,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
    capture: Capture,
    mut meta: gotrace_analyzer::bundle::Meta,
    json: bool,
) -> i32 {
    let mut warnings = Vec::new();
    let tee = tee_stderr(stderr, bundle, &mut warnings);
    let mut events_err = None;
    let status = pump_until_exit(pid, probes, bundle, &mut events_err);
    let deadline = Instant::now() + TAIL;
    while Instant::now() < deadline {
        pump(probes, bundle, POLL, &mut events_err);
    }
    let cap = capture.stop().unwrap_or_else(|e| {
        warnings.push(format!("the capture stopped early: {e}"));
        CaptureSummary::default()
    });
    pump(probes, bundle, Duration::ZERO, &mut events_err);
    // The pass-through ends at EOF; a background grandchild could hold the
    // pipe open, so wait a bounded time.
    if tee.recv_timeout(Duration::from_secs(2)).is_err() {
        warnings.push(
            "stderr.log may be incomplete: the command's stderr was still open 2 s after it exited (a background process holds it?)".into(),
        );
    }
    warnings.extend(events_err);
    if let Err(e) = &status {
        warnings.push(format!("lost track of the command: {e}"));
    }

    meta.end_monotonic_ns = Some(clock::monotonic_ns());
    meta.exit = status.as_ref().ok().copied();
    meta.lost_events = probes.lost_events();
    let missed = probes.missed_runs();
    if missed > 0 {
        meta.warnings.push(format!("the kernel skipped {missed} runs of gotrace's probes because another eBPF program was running on the same CPU (a softirq interrupting a probe): kernel events such as retransmits or TCP state changes may be missing from events.jsonl"));
    }
    meta.dropped_packets = cap.dropped;
    meta.interfaces = cap.interfaces;
    meta.warnings.extend(cap.warnings);
    meta.warnings.extend(warnings);
    if let Err(e) = bundle.write_meta(&meta) {
        eprintln!("gotrace: {e}");
    }
    report::finish_run(bundle, json);
    match status {
        Ok(ExitStatus::Code(c)) => c,
        Ok(ExitStatus::Signal(s)) => 128 + s,
        Err(e) => e.exit_code(),
    }
}

/// Moves events from the ring buffer to events.jsonl until the command exits,
/// forwarding signals gotrace receives from other processes.
fn pump_until_exit(
    pid: Pid,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
    events_err: &mut Option<String>,
) -> Result<ExitStatus, TracerError> {
    loop {
        pump(probes, bundle, POLL, events_err);
        for sig in signals::take() {
            let _ = nix::sys::signal::kill(pid, sig);
        }
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Code(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signal(sig as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(TracerError::sys("waiting for the command", e.into())),
        }
    }
}

/// Waits up to `wait` for the ring buffer, then writes what it holds. After
/// the first write error (recorded in `err`) events are still drained, so
/// the kernel side never stalls, but no longer written.
fn pump(probes: &mut Probes, bundle: &mut BundleWriter, wait: Duration, err: &mut Option<String>) {
    let mut pfd = [libc::pollfd {
        fd: probes.ring_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(pfd.as_mut_ptr(), 1, wait.as_millis() as libc::c_int) };
    let writing = err.is_none();
    let mut failed = None;
    probes.drain(|raw, names| {
        if !writing || failed.is_some() {
            return;
        }
        if let Some(ev) = decode::decode(raw, bundle.next_id(), names) {
            failed = bundle.write_event(&ev).err();
        }
    });
    if writing && failed.is_none() {
        failed = bundle.flush().err();
    }
    if let Some(e) = failed {
        *err = Some(format!(
            "events after #{} were not recorded: {e}",
            bundle.next_id() - 1
        ));
    }
}

/// Copies the command's stderr to gotrace's stderr and to stderr.log as it
/// arrives; the receiver yields when the pipe reaches EOF. Without a log file
/// (it could not be created) the pass-through still runs, with a warning.
fn tee_stderr(
    fd: std::os::fd::OwnedFd,
    bundle: &BundleWriter,
    warnings: &mut Vec<String>,
) -> Receiver<()> {
    let mut file = bundle
        .create_file(files::STDERR)
        .map_err(|e| warnings.push(format!("stderr.log not written: {e}")))
        .ok();
    let mut pipe = spawn::into_file(fd);
    let (tx, rx) = std::sync::mpsc::channel();
    // If the thread cannot start, `pipe` is dropped and the command's next
    // stderr write fails; there is no way to pass it through then.
    let spawned = std::thread::Builder::new()
        .name("stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            let mut err = std::io::stderr();
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = err.write_all(&buf[..n]);
                if let Some(f) = file.as_mut() {
                    let _ = f.write_all(&buf[..n]);
                }
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        warnings.push(format!(
            "the command's stderr could not be passed through: {e}"
        ));
    }
    rx
}

/// `./gotrace-YYYYmmdd-HHMMSS` in local time, with `-N` appended if taken.
fn default_dir() -> PathBuf {
    let base = chrono::Local::now()
        .format("gotrace-%Y%m%d-%H%M%S")
        .to_string();
    let mut dir = PathBuf::from(&base);
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    dir
}
