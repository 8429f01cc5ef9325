//! `gotrace run -- CMD`: trace a command from its first instruction to its
//! exit, then analyse the bundle and report.

use std::io::{Read, Write};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use gotrace_bundle::{files, ExitStatus};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::BundleWriter;
use crate::capture::Capture;
use crate::cmd::{report, RecordOptions};
use crate::error::TracerError;
use crate::process::user::{self, RunAs};
use crate::process::{privileges, signals, spawn};
use crate::record::live::LiveView;
use crate::record::probes::{Mode, Probes};
use crate::record::session::{Session, POLL};
use crate::{clock, meta};

/// Options of `gotrace run`.
pub struct RunOptions {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Bundle, report and live view; the ready file is created just before
    /// the command starts.
    pub record: RecordOptions,
    /// `--user`: who the command runs as (default: the sudo invoker, else
    /// gotrace's own user; see `user`).
    pub user: Option<String>,
}

/// Runs the command traced; returns the exit status gotrace should exit with
/// (the command's, or 128 + signal number like a shell).
pub fn run(opts: RunOptions) -> Result<i32, TracerError> {
    privileges::check("run")?;
    let run_as = user::resolve(opts.user.as_deref())?;
    let path = spawn::resolve(&opts.argv[0])?;
    let mut probes = Probes::load(Mode::Run)?;
    let dir = opts.record.bundle_dir();
    let mut bundle = BundleWriter::create(&dir, run_as.as_ref().map(RunAs::owner))?;
    match trace(&opts, run_as.as_ref(), &path, &mut probes, &mut bundle) {
        Ok(code) => Ok(code),
        Err(e) => {
            bundle.discard();
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
    let capture = Capture::start(bundle, None)?;
    let clock_map = clock::sample_map();
    let start = clock::monotonic_ns();
    let subject = meta::Subject::child(&opts.argv, pid.as_raw() as u32);
    let mut meta = meta::initial(subject, clock_map, start);
    if let Some(u) = run_as {
        (meta.uid, meta.gid) = (u.uid.as_raw(), u.gid.as_raw());
    }
    meta.warnings.extend(probes.warnings.iter().cloned());
    meta.drop_reasons = probes.names.drop_reasons.clone();
    bundle.write_meta(&meta)?;
    opts.record
        .write_ready_file(pid.as_raw() as u32, bundle.owner())?;
    let (pid, stderr) = child.release()?;
    let live = opts
        .record
        .live
        .then(|| LiveView::new(Box::new(std::io::stderr()), start));
    let session = Session::new(probes, bundle, capture, meta, None, live);
    let code = follow(pid, stderr, session);
    report::finish_run(bundle, opts.record.json);
    Ok(code)
}

/// From the command's exec to its exit and the completed bundle; returns
/// gotrace's exit status.
fn follow(pid: Pid, stderr: std::os::fd::OwnedFd, mut session: Session<'_>) -> i32 {
    let mut warnings = Vec::new();
    let tee = tee_stderr(stderr, session.bundle, &mut warnings);
    let status = wait_forwarding_signals(pid, &mut session);
    // The pass-through ends at EOF; a background grandchild could hold the
    // pipe open, so wait a bounded time (the tail below runs meanwhile).
    if tee.recv_timeout(Duration::from_secs(2)).is_err() {
        warnings.push(
            "stderr.log may be incomplete: the command's stderr was still open 2 s after it exited (a background process holds it?)".into(),
        );
    }
    if let Err(e) = &status {
        warnings.push(format!("lost track of the command: {e}"));
    }
    session.warnings.extend(warnings);
    session.finish(status.as_ref().ok().copied());
    match status {
        Ok(ExitStatus::Code(c)) => c,
        Ok(ExitStatus::Signal(s)) => 128 + s,
        Err(e) => e.exit_code(),
    }
}

/// Records until the command exits, forwarding signals gotrace receives
/// from other processes.
fn wait_forwarding_signals(pid: Pid, session: &mut Session<'_>) -> Result<ExitStatus, TracerError> {
    loop {
        session.pump(POLL);
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
