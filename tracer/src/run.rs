//! `gotrace run -- CMD`: trace a command from its first instruction to its
//! exit, then analyse the bundle and report.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gotrace_analyzer::bundle::{files, ExitStatus};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::BundleWriter;
use crate::capture::Capture;
use crate::error::TracerError;
use crate::probes::Probes;
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
    let path = spawn::resolve(&opts.argv[0])?;
    let mut probes = Probes::load()?;
    let dir = opts.output.clone().unwrap_or_else(default_dir);
    let mut bundle = BundleWriter::create(&dir)?;
    match trace(&opts, &path, &mut probes, &mut bundle) {
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
    path: &std::path::Path,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
) -> Result<i32, TracerError> {
    let child = spawn::spawn_gated(path, &opts.argv)?;
    let pid = child.pid;
    // If anything below fails, dropping `child` closes the gate: it exits 125.
    probes.trace(pid.as_raw() as u32)?;
    let capture = Capture::start(bundle.path(files::CAPTURE))?;
    let clock_map = clock::sample_map();
    let start = clock::monotonic_ns();
    let mut meta = meta::initial(&opts.argv, pid.as_raw() as u32, clock_map, start);
    meta.warnings.extend(probes.warnings.iter().cloned());
    bundle.write_meta(&meta)?;
    if let Some(ready) = &opts.ready_file {
        std::fs::write(ready, format!("{}\n", pid))
            .map_err(|e| TracerError::sys(format!("writing {}", ready.display()), e))?;
    }
    signals::install();
    let (pid, stderr) = child.release()?;
    let tee = tee_stderr(stderr, bundle.path(files::STDERR))?;

    let status = pump_until_exit(pid, probes, bundle)?;
    let deadline = Instant::now() + TAIL;
    while Instant::now() < deadline {
        pump(probes, bundle, POLL)?;
    }
    let cap = capture.stop()?;
    pump(probes, bundle, Duration::ZERO)?;
    bundle.flush()?;
    // The pass-through ends at EOF; a daemonized grandchild could hold the
    // pipe open, so wait a bounded time.
    let _ = tee.recv_timeout(Duration::from_secs(2));

    meta.end_monotonic_ns = Some(clock::monotonic_ns());
    meta.exit = Some(status);
    meta.lost_events = probes.lost_events();
    meta.dropped_packets = cap.dropped;
    meta.interfaces = cap.interfaces;
    meta.warnings.extend(cap.warnings);
    bundle.write_meta(&meta)?;

    report::finish_run(bundle, opts.json);
    Ok(match status {
        ExitStatus::Code(c) => c,
        ExitStatus::Signal(s) => 128 + s,
    })
}

/// Moves events from the ring buffer to events.jsonl until the command exits,
/// forwarding signals gotrace receives.
fn pump_until_exit(
    pid: Pid,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
) -> Result<ExitStatus, TracerError> {
    loop {
        pump(probes, bundle, POLL)?;
        if let Some(sig) = signals::take() {
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

/// Waits up to `wait` for the ring buffer, then writes what it holds.
fn pump(probes: &mut Probes, bundle: &mut BundleWriter, wait: Duration) -> Result<(), TracerError> {
    let mut pfd = [libc::pollfd {
        fd: probes.ring_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(pfd.as_mut_ptr(), 1, wait.as_millis() as libc::c_int) };
    let mut result = Ok(());
    probes.drain(|raw| {
        if result.is_err() {
            return;
        }
        if let Some(ev) = decode::decode(raw, bundle.next_id()) {
            result = bundle.write_event(&ev);
        }
    });
    result?;
    bundle.flush()
}

/// Copies the command's stderr to gotrace's stderr and to stderr.log as it
/// arrives; the receiver yields when the pipe reaches EOF.
fn tee_stderr(
    fd: std::os::fd::OwnedFd,
    log: PathBuf,
) -> Result<std::sync::mpsc::Receiver<()>, TracerError> {
    let mut file = std::fs::File::create(&log).map_err(|e| TracerError::Bundle {
        path: log.clone(),
        source: e,
    })?;
    let mut pipe = spawn::into_file(fd);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            let mut err = std::io::stderr();
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = err.write_all(&buf[..n]);
                let _ = file.write_all(&buf[..n]);
            }
            let _ = tx.send(());
        })
        .map_err(|e| TracerError::sys("starting the stderr thread", e))?;
    Ok(rx)
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
