//! `gotrace attach --pid N`: trace a process that is already running (like
//! `strace -p`), until it exits, Ctrl-C, or `--duration`, then report.
//!
//! Nothing is done to the process itself: no ptrace, no signal. Probes
//! filter on its TGID (all its threads, and children it forks after the
//! attach); the capture runs in its network namespace; the sockets it
//! already holds are read from /proc and registered with the probes so
//! their later syscalls and kernel events are followed too. Detaching
//! drops the probes; the process never notices.

use std::time::{Duration, Instant};

use gotrace_bundle::{files, Attach, PreExistingSocket, SOCK_DGRAM, SOCK_STREAM};

use crate::bundle::BundleWriter;
use crate::capture::Capture;
use crate::cmd::{report, RecordOptions};
use crate::error::TracerError;
use crate::process::netns::NetNs;
use crate::process::target::Target;
use crate::process::{privileges, procnet, signals, tree, user};
use crate::record::live::LiveView;
use crate::record::probes::{Mode, Probes};
use crate::record::session::{Session, POLL};
use crate::{clock, meta};

/// Options of `gotrace attach`.
pub struct AttachOptions {
    /// The TGID to attach to (signed: bad input is reported, not parsed away).
    pub pid: i64,
    /// Bundle, report, live view and ready file.
    pub record: RecordOptions,
    /// Detach after this long.
    pub duration: Option<Duration>,
}

/// Attaches, records, reports; returns 0 once a report was printed.
///
/// Errors: [`TracerError::NoSuchProcess`], [`TracerError::IsThread`],
/// [`TracerError::AttachSelf`], [`TracerError::ExitedDuringAttach`], and
/// the loading/capture/bundle errors of `run`.
pub fn attach(opts: AttachOptions) -> Result<i32, TracerError> {
    privileges::check("attach")?;
    let target = Target::open(opts.pid)?;
    let why = |e| namespace_error(target.pid, e, target.exited());
    // Two handles: one moves into the capture thread, one serves `nft`.
    let netns = NetNs::of(target.pid).map_err(why)?;
    let capture_ns = NetNs::of(target.pid).map_err(why)?;
    let mut probes = Probes::load(Mode::Attach)?;
    let dir = opts.record.bundle_dir();
    // Under sudo the bundle belongs to the invoking user, as for `run`.
    let owner = user::resolve(None)?.as_ref().map(user::RunAs::owner);
    let mut bundle = BundleWriter::create(&dir, owner)?;
    match trace(&opts, &target, netns, capture_ns, &mut probes, &mut bundle) {
        Ok(code) => {
            // The report is out: the detach must not be in the user's wait.
            crate::record::reaper::hand_off(probes);
            Ok(code)
        }
        Err(e) => {
            bundle.discard();
            Err(e)
        }
    }
}

fn trace(
    opts: &AttachOptions,
    target: &Target,
    netns: NetNs,
    capture_ns: NetNs,
    probes: &mut Probes,
    bundle: &mut BundleWriter,
) -> Result<i32, TracerError> {
    signals::install();
    let pid = target.pid;
    probes.trace(pid)?;
    let descendants = trace_descendants(probes, pid)?;
    // Read after the probes are live: a socket opened later is in the trace.
    let mut warnings = Vec::new();
    let mut pre = procnet::pre_existing(pid, &mut warnings);
    register(probes, pid, &pre)?;
    for &d in &descendants {
        let mut theirs = procnet::pre_existing(d, &mut warnings);
        // An fd inherited from the parent is the parent's socket too: once.
        theirs.retain(|s| !pre.iter().any(|p| p.inode == s.inode));
        register(probes, d, &theirs)?;
        let comm = tree::comm(d);
        pre.extend(theirs.into_iter().map(|s| PreExistingSocket {
            pid: Some(d),
            comm: Some(comm.clone()),
            ..s
        }));
    }
    let own = capture_ns.is_own();
    let capture = Capture::start(bundle, (!own).then_some(capture_ns), opts.record.redact())?;
    if target.exited() {
        let _ = capture.stop();
        return Err(TracerError::ExitedDuringAttach { pid });
    }
    let start = clock::monotonic_ns();
    let resolv = target.resolv_conf_path();
    let subject = meta::Subject {
        mode: "attach",
        argv: target.argv.clone(),
        cwd: target.cwd.clone(),
        uid: target.uid,
        gid: target.gid,
        root_pid: pid,
        env: meta::go_env(target.environ.iter().cloned()),
        resolv_conf: &resolv,
        netns: (!own).then_some(&netns),
    };
    let mut meta = meta::initial(subject, clock::sample_map(), start, opts.record.redact());
    meta.warnings.extend(probes.warnings.iter().cloned());
    meta.warnings.extend(warnings);
    meta.drop_reasons = probes.names.drop_reasons.clone();
    meta.kernel_events = Some(probes.kernel_events.clone());
    meta.attach = Some(Attach {
        pid,
        netns: Some(netns.id.clone()),
        pre_existing: pre,
        descendants: descendants.clone(),
        ended_by: None,
    });
    bundle.write_meta(&meta)?;
    let stderr_log = bundle.create_file(files::STDERR)?;
    opts.record.write_ready_file(pid, bundle.owner())?;
    let live = opts.record.live.then(|| {
        let mut l = LiveView::new(Box::new(std::io::stderr()), start);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        l.name(pid, comm.trim());
        for &d in &descendants {
            l.name(d, &tree::comm(d));
        }
        l
    });
    eprintln!(
        "gotrace: attached to PID {pid} ({}); Ctrl-C detaches",
        target.argv.join(" ")
    );
    let mut session = Session::new(probes, bundle, capture, meta, Some(stderr_log), live);
    if let Ok(fd) = target.pidfd.try_clone() {
        session.wake_on_exit(fd);
    }
    let ended_by = record(target, &mut session, opts.duration);
    if ended_by != "exited" {
        eprintln!("gotrace: detached from PID {pid}; it keeps running");
    }
    if let Some(a) = session.meta.attach.as_mut() {
        a.ended_by = Some(ended_by.into());
    }
    let unwritten = session.finish(None);
    // The sudo invoker, as for the bundle (resolved before, so it cannot fail now).
    let owner = user::resolve(None).ok().flatten().map(|u| u.owner().into());
    report::finish_run(bundle, &opts.record.json_output(owner), unwritten.as_ref());
    Ok(0)
}

/// What a failure to open /proc/PID/ns/net means: the process is gone
/// (`exited`, or ENOENT/ESRCH), or the kernel refused gotrace access
/// (EACCES/EPERM: reported as such, not as an exit); anything else as it is.
fn namespace_error(pid: u32, e: TracerError, exited: bool) -> TracerError {
    let errno = match &e {
        TracerError::Sys { source, .. } => source.raw_os_error(),
        _ => None,
    };
    match (e, errno) {
        (_, _) if exited => TracerError::ExitedDuringAttach { pid },
        (_, Some(libc::ENOENT | libc::ESRCH)) => TracerError::ExitedDuringAttach { pid },
        (TracerError::Sys { what, source }, Some(libc::EACCES | libc::EPERM)) => {
            TracerError::AttachDenied { pid, what, source }
        }
        (e, _) => e,
    }
}

/// Traces the descendants `pid` already has (the probes follow children
/// forked from now on by themselves); returns them, parents first. A
/// descendant may fork while /proc is read, so the scan repeats until it
/// finds no new one (a bounded number of times).
fn trace_descendants(probes: &mut Probes, pid: u32) -> Result<Vec<u32>, TracerError> {
    const ROUNDS: usize = 4;
    let mut traced: Vec<u32> = Vec::new();
    for _ in 0..ROUNDS {
        let new: Vec<u32> = tree::descendants(pid)
            .into_iter()
            .filter(|d| !traced.contains(d))
            .collect();
        if new.is_empty() {
            break;
        }
        for d in new {
            probes.trace(d)?;
            traced.push(d);
        }
    }
    Ok(traced)
}

/// Makes the probes follow sockets the process already holds: their fds
/// (read/write/close) and, for TCP, their 5-tuples (kernel events).
fn register(probes: &mut Probes, pid: u32, pre: &[PreExistingSocket]) -> Result<(), TracerError> {
    for s in pre {
        let tcp = s.proto == "tcp";
        // The probes' SOCKFDS values are socket(2)'s type.
        let sock_type = if tcp { SOCK_STREAM } else { SOCK_DGRAM };
        probes.add_socket_fd(pid, s.fd, u32::from(sock_type))?;
        if let (true, Some(peer)) = (tcp, &s.peer) {
            let raddr4 = match peer.ip {
                std::net::IpAddr::V4(a) => a.octets(),
                std::net::IpAddr::V6(a) => {
                    let o = a.octets();
                    [o[12], o[13], o[14], o[15]]
                }
            };
            probes.add_pre_existing_tcp(
                gotrace_abi::presock_key(s.local.port, peer.port, raddr4),
                pid,
            )?;
        }
    }
    Ok(())
}

/// Records until the process exits (`"exited"`), a signal reaches gotrace
/// (`"interrupted"`), or `duration` passes (`"duration"`).
fn record(target: &Target, session: &mut Session<'_>, duration: Option<Duration>) -> &'static str {
    let started = Instant::now();
    loop {
        session.pump(POLL);
        if target.exited() {
            return "exited";
        }
        if !signals::take_any().is_empty() {
            return "interrupted";
        }
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return "duration";
        }
    }
}

/// Parses `--duration`: seconds (`30`, `1.5`) or with a unit (`500ms`, `30s`, `2m`, `1h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: use seconds (30) or 500ms, 30s, 2m, 1h"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(n * scale)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}` is not a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_namespace_is_reported_as_refused_not_as_an_exit() {
        let open = |errno| {
            TracerError::sys(
                "opening /proc/1/ns/net",
                std::io::Error::from_raw_os_error(errno),
            )
        };
        for errno in [libc::EACCES, libc::EPERM] {
            let e = namespace_error(1, open(errno), false);
            assert!(
                matches!(e, TracerError::AttachDenied { pid: 1, .. }),
                "{e:?}"
            );
            assert_eq!(e.exit_code(), 77);
            let msg = e.to_string();
            assert!(
                msg.starts_with("attach: opening /proc/1/ns/net: ")
                    && msg.contains(&std::io::Error::from_raw_os_error(errno).to_string())
                    && msg.contains("CAP_SYS_PTRACE")
                    && !msg.contains("exited"),
                "{msg}"
            );
        }
        for errno in [libc::ENOENT, libc::ESRCH] {
            let e = namespace_error(7, open(errno), false);
            assert!(
                matches!(e, TracerError::ExitedDuringAttach { pid: 7 }),
                "{e:?}"
            );
        }
        // Gone is gone, whatever the error said.
        let e = namespace_error(7, open(libc::EACCES), true);
        assert!(
            matches!(e, TracerError::ExitedDuringAttach { pid: 7 }),
            "{e:?}"
        );
        let e = namespace_error(7, open(libc::EMFILE), false);
        assert!(matches!(e, TracerError::Sys { .. }), "{e:?}");
    }

    #[test]
    fn durations_parse_with_units_and_bad_ones_are_errors() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "abc", "10x", "0", "-3", "1e400", "..", "5 d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
