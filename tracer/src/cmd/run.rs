//! `gotrace run -- CMD`: trace a command from its first instruction to its
//! exit, then analyse the bundle and report.

use std::time::Duration;

use gotrace_bundle::{files, ExitStatus, Meta};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::BundleWriter;
use crate::capture::Capture;
use crate::cmd::{report, RecordOptions};
use crate::error::TracerError;
use crate::process::tee::{self, Tee};
use crate::process::user::{self, RunAs};
use crate::process::{privileges, signals, spawn};
use crate::record::live::LiveView;
use crate::record::probes::{Mode, Probes};
use crate::record::reaper;
use crate::record::session::{Session, POLL};
use crate::{clock, meta, sudo_env};

/// Options of `gotrace run`.
pub struct RunOptions {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Bundle, report and live view; the ready file is created once the
    /// command is sure to run, just before it execs.
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
    let dir = opts.record.bundle_dir();
    let mut bundle = BundleWriter::create(&dir, run_as.as_ref().map(RunAs::owner))?;
    match trace(&opts, run_as.as_ref(), &path, &mut bundle) {
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
    bundle: &mut BundleWriter,
) -> Result<i32, TracerError> {
    let sudo_warning = sudo_warning(opts, run_as, path);
    // The stderr pass-through comes before the probes: its helper process
    // outlives a killed gotrace and must hold no eBPF fd (see `tee`).
    let mut warnings = Vec::new();
    let log = bundle
        .create_file(files::STDERR)
        .map_err(|e| warnings.push(format!("stderr.log not written: {e}")))
        .ok();
    let mut tee = tee::start(log, run_as)?;
    // The ruleset at start, taken while the probes load (nft takes 10-40 ms).
    let firewall = std::thread::spawn(|| {
        let mut warnings = Vec::new();
        let ruleset = crate::firewall::snapshot(&mut warnings, None);
        (ruleset, warnings)
    });
    let mut probes = Probes::load(Mode::Run)?;
    // Joined before the command is forked: a fork while `nft` is being
    // spawned would give the gated command a copy of nft's output pipe,
    // and the snapshot would wait for the command's exec, which waits for it.
    let firewall = firewall.join().unwrap_or_else(|_| {
        (
            None,
            vec!["no firewall ruleset recorded: its thread panicked".into()],
        )
    });
    // Before the ready file: a script may signal gotrace as soon as it sees it.
    signals::install();
    let stderr = tee.command_stderr().ok_or_else(|| {
        TracerError::sys(
            "passing stderr through",
            std::io::ErrorKind::BrokenPipe.into(),
        )
    })?;
    let child = spawn::spawn_gated(path, &opts.argv, run_as, stderr)?;
    tee.close_writer();
    let pid = child.pid;
    // If anything below fails, dropping `child` kills and reaps it.
    probes.trace(pid.as_raw() as u32)?;
    let capture = Capture::start(bundle, None, opts.record.redact())?;
    let clock_map = clock::sample_map();
    let start = clock::monotonic_ns();
    let subject = meta::Subject::child(&opts.argv, pid.as_raw() as u32);
    let mut meta = meta::initial_with(subject, clock_map, start, opts.record.redact(), firewall);
    if let Some(u) = run_as {
        (meta.uid, meta.gid) = (u.uid.as_raw(), u.gid.as_raw());
    }
    meta.warnings.extend(probes.warnings.iter().cloned());
    meta.warnings.extend(sudo_warning.clone());
    meta.drop_reasons = probes.names.drop_reasons.clone();
    meta.kernel_events = Some(probes.kernel_events.clone());
    bundle.write_meta(&meta)?;
    // The ready file is written between the gate's two steps: after the
    // child gave up its death signal (a script that sees the file and kills
    // gotrace finds the command running on), before it execs (the command
    // finds the file there).
    let owner = bundle.owner();
    let pid = child.release(|| opts.record.write_ready_file(pid.as_raw() as u32, owner))?;
    let live = opts
        .record
        .live
        .then(|| LiveView::new(Box::new(std::io::stderr()), start));
    let mut session = Session::new(&mut probes, bundle, capture, meta, None, live);
    session.warnings = warnings;
    // Without a pidfd (Linux < 5.3) the exit is seen within a POLL period.
    if let Ok(fd) = crate::process::pidfd::open(pid.as_raw() as u32) {
        session.wake_on_exit(fd);
    }
    let (code, unwritten) = follow(pid, tee, session);
    // Printed again last, right before the report: the command's output
    // would have buried it at start.
    if let Some(w) = &sudo_warning {
        eprintln!("gotrace: warning: {w}");
    }
    let owner = run_as.map(|u| RunAs::owner(u).into());
    report::finish_run(bundle, &opts.record.json_output(owner), unwritten.as_ref());
    // Last: the detach must not be in the user's wait.
    reaper::hand_off(probes);
    Ok(code)
}

/// The warning that sudo's env_reset may have dropped the user's Go
/// settings ([`sudo_env`]), with the values Go then used (redacted unless
/// `--no-redact`), when that is suspected.
fn sudo_warning(
    opts: &RunOptions,
    run_as: Option<&RunAs>,
    path: &std::path::Path,
) -> Option<String> {
    let env = sudo_env::current_env();
    if !sudo_env::env_reset_suspected(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return None;
    }
    let go = sudo_env::command_go(&opts.argv[0], path);
    let mut used = sudo_env::query(go.as_deref(), run_as);
    if let (Ok(values), true) = (used.as_mut(), opts.record.redact()) {
        crate::redact::env(values);
    }
    Some(sudo_env::warning(&used))
}

/// From the command's exec to its exit and the completed bundle; returns
/// gotrace's exit status, and the final meta if it could not be written.
fn follow(pid: Pid, tee: Tee, mut session: Session<'_>) -> (i32, Option<Meta>) {
    let status = wait_forwarding_signals(pid, &mut session);
    // The pass-through ends at EOF; a background grandchild could hold the
    // pipe open, so wait a bounded time.
    match tee.finish(Duration::from_secs(2)) {
        Some(copied) => session.warnings.extend(copied.warning()),
        None => session.warnings.push(
            "stderr.log may be incomplete: the command's stderr was still open 2 s after it exited (a background process holds it?)".into(),
        ),
    }
    if let Err(e) = &status {
        session
            .warnings
            .push(format!("lost track of the command: {e}"));
    }
    let unwritten = session.finish(status.as_ref().ok().copied());
    let code = match status {
        Ok(ExitStatus::Code(c)) => c,
        Ok(ExitStatus::Signal(s)) => 128 + s,
        Err(e) => e.exit_code(),
    };
    (code, unwritten)
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
