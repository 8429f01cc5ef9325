//! A recording in progress, shared by `run` and `attach`: probes loaded,
//! capture running, bundle open. It moves events from the ring buffer to
//! events.jsonl (and stderr chunks to stderr.log, and lines to the live
//! view), then completes the bundle; the command (`cmd::run`, `cmd::attach`)
//! prints the report from it.
//!
//! Once the traced process runs, nothing here may abandon it or throw away
//! what was recorded: failures (a full disk, a capture error) become
//! warnings in meta.json and the report.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use gotrace_abi::{kind, RawEvent};
use gotrace_bundle::{ExitStatus, Meta, Op};

use crate::bundle::BundleWriter;
use crate::capture::{Capture, CaptureSummary};
use crate::clock;
use crate::process::netns::NetNs;
use crate::process::tee::TeeReport;
use crate::record::decode;
use crate::record::probes::Probes;

/// After the traced process exits, how long at most to keep reading events
/// and packets (RSTs and ICMP errors for its last packets may still be in
/// flight).
pub const TAIL: Duration = Duration::from_millis(200);
/// The tail ends early once neither an event nor a packet arrived for
/// this long, when no handshake was answered to time the path by: waiting
/// the whole [`TAIL`] after a quiet exit was most of gotrace's cost on a
/// short command (issue 15).
pub const TAIL_QUIET: Duration = Duration::from_millis(30);
/// With a timed handshake, the quiet that ends the tail is this many of
/// the longest round trip seen (an answer to the last packets comes within
/// one; the rest is margin for the peer's own delay) ...
const QUIET_ROUND_TRIPS: u32 = 4;
/// ... but never less than this: the capture thread reads its sockets in
/// batches with a 1 ms settle time, and the ring buffer wakes gotrace on
/// each record, so a frame or event already sent shows within it.
const MIN_QUIET: Duration = Duration::from_millis(5);
/// Poll period while in the tail, at most.
const TAIL_STEP: Duration = Duration::from_millis(10);

/// How long the tail waits with nothing new before it ends: a few of the
/// longest round trips the capture timed, within [[`MIN_QUIET`], [`TAIL_QUIET`]];
/// [`TAIL_QUIET`] when none was timed; [`MIN_QUIET`] when no packet was
/// captured at all (nothing sent, so nothing to be answered).
fn tail_quiet(frames_seen: u64, longest_round_trip: Option<Duration>) -> Duration {
    if frames_seen == 0 {
        return MIN_QUIET;
    }
    longest_round_trip.map_or(TAIL_QUIET, |rtt| {
        rtt.saturating_mul(QUIET_ROUND_TRIPS)
            .clamp(MIN_QUIET, TAIL_QUIET)
    })
}

/// Poll period of the main loops; also the flush period of events.jsonl.
pub const POLL: Duration = Duration::from_millis(50);

/// The recording state.
pub struct Session<'a> {
    pub probes: &'a mut Probes,
    pub bundle: &'a mut BundleWriter,
    /// Taken by [`Session::finish`].
    capture: Option<Capture>,
    /// meta.json as written at start; completed by [`Session::finish`].
    pub meta: Meta,
    /// Where `kind::STDERR_WRITE` chunks go (attach); `None` for `run`.
    stderr_log: Option<File>,
    /// What reached stderr.log of what the probe saw (attach).
    stderr_copied: TeeReport,
    /// Live view of events as they arrive, if asked for.
    live: Option<crate::record::live::LiveView>,
    /// The first events.jsonl write error and the id of the event being
    /// written then; later events are drained and counted, not written.
    events_err: Option<(String, u64)>,
    /// Events drained after `events_err`.
    events_lost: u64,
    /// How the root process ended, from its exit event.
    pub root_exit: Option<ExitStatus>,
    /// Warnings for meta.json gathered while recording.
    pub warnings: Vec<String>,
    /// Payload heads with credential headers overwritten (when redacting).
    redacted_heads: u64,
    /// Readable once the traced process exits ([`Session::wake_on_exit`]):
    /// [`Session::pump`] then returns at once instead of at the end of its wait.
    exit_fd: Option<std::os::fd::OwnedFd>,
}

impl<'a> Session<'a> {
    /// Starts recording into `bundle` with `meta` as written at start.
    pub fn new(
        probes: &'a mut Probes,
        bundle: &'a mut BundleWriter,
        capture: Capture,
        meta: Meta,
        stderr_log: Option<File>,
        live: Option<crate::record::live::LiveView>,
    ) -> Session<'a> {
        Session {
            probes,
            bundle,
            capture: Some(capture),
            meta,
            stderr_log,
            stderr_copied: TeeReport::default(),
            live,
            events_err: None,
            events_lost: 0,
            root_exit: None,
            warnings: Vec::new(),
            redacted_heads: 0,
            exit_fd: None,
        }
    }

    /// Makes [`Session::pump`] return as soon as the process behind
    /// `pidfd` ([`crate::process::pidfd`]) exits, so the tail starts then
    /// and not up to a [`POLL`] period later.
    pub fn wake_on_exit(&mut self, pidfd: std::os::fd::OwnedFd) {
        self.exit_fd = Some(pidfd);
    }

    /// Waits up to `wait` for the ring buffer (or the exit of the process
    /// given to [`Session::wake_on_exit`]), then writes what it holds.
    /// After the first write error events are still drained, so the kernel
    /// side never stalls, but no longer written.
    pub fn pump(&mut self, wait: Duration) {
        let pollin = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let exit_fd = self.exit_fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        // A negative fd is ignored by poll(2).
        let mut pfd = [pollin(self.probes.ring_fd()), pollin(exit_fd)];
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(pfd.as_mut_ptr(), 2, wait.as_millis() as libc::c_int) };
        let writing = self.events_err.is_none();
        let root = self.meta.root_pid;
        let redact = self.meta.redacted.as_ref().is_some_and(|r| r.enabled);
        let redacted_heads = &mut self.redacted_heads;
        let mut failed = None;
        let mut lost = 0u64;
        let mut entered = Vec::new();
        let (bundle, stderr_log, stderr_copied, live, root_exit) = (
            &mut *self.bundle,
            &mut self.stderr_log,
            &mut self.stderr_copied,
            &mut self.live,
            &mut self.root_exit,
        );
        self.probes.drain(|raw, names| {
            if raw.kind == kind::STDERR_WRITE {
                append_stderr(stderr_log, stderr_copied, raw);
                return;
            }
            if raw.kind == kind::NETNS_ENTER {
                entered.push((raw.tgid, raw.tid));
                return;
            }
            if !writing || failed.is_some() {
                lost += 1;
                return;
            }
            if let Some(mut ev) = decode::decode(raw, bundle.next_id(), names) {
                if redact {
                    *redacted_heads += crate::redact::event(&mut ev);
                }
                if let (Op::Exit { status: Some(s) }, true) = (&ev.op, ev.tgid == root) {
                    *root_exit = Some(*s);
                }
                if let Some(l) = live.as_mut() {
                    l.show(&ev);
                }
                failed = bundle.write_event(&ev).err();
            }
        });
        if writing && failed.is_none() {
            failed = self.bundle.flush().err();
        }
        if let Some(f) = self.stderr_log.as_mut() {
            let _ = f.flush();
        }
        for (tgid, tid) in entered {
            self.follow_netns(tgid, tid);
        }
        self.events_lost += lost;
        if let Some(e) = failed {
            self.events_err = Some((e.to_string(), self.bundle.next_id()));
        }
    }

    /// A traced task changed namespace (setns/unshare) and its process was
    /// stopped by the probe: capture in its network namespace if that is
    /// new, then let it continue. SIGCONT is sent whatever happened, so the
    /// process never stays stopped because of gotrace.
    fn follow_netns(&mut self, tgid: u32, tid: u32) {
        let added = NetNs::of_task(tgid, tid).and_then(|ns| match self.capture.as_mut() {
            Some(c) => c.add_namespace(ns),
            None => Ok(()),
        });
        if let Err(e) = added {
            self.warnings.push(format!("process {tgid} entered another network namespace that gotrace could not capture in ({e}): its packets there are missing from the capture"));
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(tgid as i32),
            nix::sys::signal::Signal::SIGCONT,
        );
    }

    /// Reads the tail (events and packets still in flight), stops the
    /// capture, and completes meta.json with `exit` and the counters.
    /// Returns the completed meta when it could not be written (the bundle
    /// then holds the one from the start): the report is made from it.
    pub fn finish(mut self, exit: Option<ExitStatus>) -> Option<Meta> {
        // Readable for good now: polling it would make the tail spin.
        self.exit_fd = None;
        let deadline = Instant::now() + TAIL;
        let seen = |s: &Self| {
            (
                s.bundle.next_id() + s.events_lost,
                s.capture.as_ref().map_or(0, Capture::frames_seen),
            )
        };
        let mut last = seen(&self);
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline {
            let quiet = match &self.capture {
                Some(c) => tail_quiet(c.frames_seen(), c.longest_round_trip()),
                None => TAIL_QUIET,
            };
            self.pump((quiet / 2).min(TAIL_STEP));
            let now = seen(&self);
            if now != last {
                (last, quiet_since) = (now, Instant::now());
            } else if quiet_since.elapsed() >= quiet {
                break;
            }
        }
        let stopped = self.capture.take().map(Capture::stop);
        let mut cap = match stopped {
            Some(Ok(cap)) => cap,
            Some(Err(e)) => {
                self.warnings
                    .push(format!("the capture stopped early: {e}"));
                CaptureSummary::default()
            }
            None => CaptureSummary::default(),
        };
        self.pump(Duration::ZERO);
        if let Some(l) = self.live.as_mut() {
            l.finish();
        }
        let mut meta = self.meta;
        meta.end_monotonic_ns = Some(clock::monotonic_ns());
        meta.exit = exit.or(self.root_exit);
        meta.lost_events = self.probes.lost_events();
        let missed = self.probes.missed_runs();
        if missed > 0 {
            meta.warnings.push(format!("the kernel skipped {missed} runs of gotrace's probes because another eBPF program was running on the same CPU (a softirq interrupting a probe): kernel events such as retransmits or TCP state changes may be missing from events.jsonl"));
        }
        meta.dropped_packets = cap.dropped;
        if let Some(r) = meta.redacted.as_mut() {
            r.header_values = cap.redacted_headers;
            r.payload_heads = self.redacted_heads;
        }
        self.probes.linger(std::mem::take(&mut cap.sockets));
        meta.interfaces = cap.interfaces;
        meta.warnings.extend(cap.warnings);
        meta.warnings.extend(self.warnings);
        meta.warnings.extend(self.stderr_copied.warning());
        meta.warnings.extend(
            self.events_err
                .map(|(e, id)| events_lost_warning(&e, id, self.events_lost)),
        );
        match self.bundle.write_meta(&meta) {
            Ok(()) => None,
            Err(e) => {
                eprintln!("gotrace: {e}");
                meta.warnings.push(format!("{e}: the meta.json in the bundle is the one written at the start, without the exit status and these warnings"));
                Some(meta)
            }
        }
    }
}

/// The warning for events.jsonl writes that failed: the error (it names
/// the file), from which event on, and how many events were not recorded.
fn events_lost_warning(err: &str, first_id: u64, lost_after: u64) -> String {
    format!(
        "{err}: events.jsonl ends before event #{first_id}; it and the {lost_after} events after it were not recorded (events before it may be missing too if they were still buffered)"
    )
}

/// Appends one stderr chunk to stderr.log (best effort: it is evidence, not
/// the trace itself).
fn append_stderr(log: &mut Option<File>, copied: &mut TeeReport, raw: &RawEvent) {
    if let Some(f) = log.as_mut() {
        let n = usize::from(raw.data_len).min(raw.data.len());
        let logged = match copied.logging() {
            true => f
                .write_all(&raw.data[..n])
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)),
            false => Ok(()),
        };
        copied.count(n, logged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_waits_a_few_round_trips_within_bounds() {
        assert_eq!(tail_quiet(5, None), TAIL_QUIET);
        assert_eq!(tail_quiet(0, None), MIN_QUIET);
        assert_eq!(tail_quiet(5, Some(Duration::from_micros(80))), MIN_QUIET);
        assert_eq!(
            tail_quiet(5, Some(Duration::from_millis(3))),
            Duration::from_millis(12)
        );
        assert_eq!(tail_quiet(5, Some(Duration::from_secs(1))), TAIL_QUIET);
    }

    #[test]
    fn the_events_warning_names_the_file_and_the_count() {
        let w = events_lost_warning(
            "writing events.jsonl in the trace bundle b: No space left on device (os error 28); 80 bytes of it were not written; check the disk has space",
            41,
            7,
        );
        assert!(w.contains("events.jsonl ends before event #41; it and the 7 events after it were not recorded"), "{w}");
        assert!(
            w.starts_with("writing events.jsonl in the trace bundle b: No space left"),
            "{w}"
        );
    }
}
