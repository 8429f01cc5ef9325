//! What the evidence lacks: the `missing:` lines of a verdict, and the
//! advice that gets the evidence (the remediation of an `inconclusive`
//! verdict).

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::cause::errno_layer;
use crate::proto::errno;

/// One piece of evidence a decision needed and did not have; serialized as
/// its sentence (`capture`, `stderr.log`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The packet capture (`capture.pcapng`).
    Capture,
    /// The syscall trace (`events.jsonl`).
    Events,
    /// An events.jsonl without unreadable lines.
    UndamagedEvents,
    /// Events the ring buffer lost (`lost_events` in meta.json).
    LostEvents,
    /// The exit status: the trace stopped before the command finished.
    ExitStatus,
    /// The command's stderr (`stderr.log`).
    Stderr,
    /// An attach bundle without any network syscall: the process may have
    /// used the network before the attach.
    BeforeAttach,
    /// An attach bundle whose process was still running, with nothing
    /// failed, when gotrace detached (`attach.ended_by` `interrupted` or
    /// `duration`).
    NotFailedYet,
    /// No failed connection or DNS exchange in the trace.
    FailedAttempt,
    /// The trace ends before Go reported its error.
    RestOfRun,
    /// Go's error names no recorded attempt.
    AttemptMatchingGoError,
    /// The DNS query is not in the capture.
    DnsQueryOnWire,
    /// Neither the DNS query on the wire nor the kernel's drop record.
    DnsQueryOrDrop,
    /// No ICMP port unreachable for a refused DNS read.
    IcmpPortUnreachable,
    /// The capture and the kernel's records contradict each other.
    ConsistentKernelRecord,
    /// The capture and the syscall trace contradict each other.
    ConsistentTraceRecord,
    /// How the TLS handshake ended (our alert or close) is not captured.
    HandshakeEnd,
    /// The peer's ACK of our unanswered request is not in the capture.
    PeerAck,
    /// The peer's FIN or RST is not in the capture.
    PeerClose,
    /// Neither SYN nor RST of the connection is captured.
    SynAndRst,
    /// No RST from the peer in the capture.
    Rst,
    /// Neither the SYNs on the wire nor the kernel's drop record.
    SynsOrDrop,
    /// The dial's SO_ERROR result was not recorded.
    SoError,
    /// No rule decides a dial that failed with this errno.
    RuleFor(i32),
    /// The evidence that places this errno (its row of
    /// [`crate::cause::errno_layer`]) is not in the bundle.
    EvidenceFor(i32),
    /// Capture-only: whether the command itself succeeded.
    CommandResult,
}

impl Missing {
    /// The `missing:` line.
    pub fn text(&self) -> Cow<'static, str> {
        let s = match self {
            Missing::Capture => "capture",
            Missing::Events => "events.jsonl",
            Missing::UndamagedEvents => "an undamaged events.jsonl",
            Missing::LostEvents => "events lost by the ring buffer",
            Missing::ExitStatus => "exit status (trace not finished)",
            Missing::Stderr => "stderr.log",
            Missing::BeforeAttach => "the process's syscalls from before gotrace attached (it may have used the network then)",
            Missing::NotFailedYet => "the process had not failed yet when gotrace detached",
            Missing::FailedAttempt => "a failed network attempt in the trace",
            Missing::RestOfRun => "the rest of the run (the trace was not finished)",
            Missing::AttemptMatchingGoError => "an attempt matching Go's error message",
            Missing::DnsQueryOnWire => "the DNS query on the wire",
            Missing::DnsQueryOrDrop => "the DNS query on the wire, or the kernel's drop record",
            Missing::IcmpPortUnreachable => "the ICMP port unreachable in the capture",
            Missing::ConsistentKernelRecord => "a consistent record (capture and kernel disagree)",
            Missing::ConsistentTraceRecord => "a consistent record (capture and trace disagree)",
            Missing::HandshakeEnd => "the handshake's end (our alert or close) in the capture",
            Missing::PeerAck => "the peer's ACK of our unanswered request in the capture",
            Missing::PeerClose => "the peer's FIN or RST in the capture",
            Missing::SynAndRst => "the connection's SYN and RST in the capture",
            Missing::Rst => "the RST in the capture",
            Missing::SynsOrDrop => "the SYNs on the wire, or the kernel's drop record",
            Missing::SoError => "the dial's SO_ERROR result",
            Missing::RuleFor(e) => {
                return Cow::Owned(format!(
                    "a rule for {} with this evidence",
                    errno::name(*e)
                ))
            }
            Missing::EvidenceFor(e) => {
                let what = errno_layer::lookup(*e).map_or("", |r| r.evidence);
                return Cow::Owned(format!("what places {}: {what}", errno::name(*e)));
            }
            Missing::CommandResult => "the command's own result: a capture shows what crossed the wire, not whether the command succeeded (its exit status, drops before the capture point, errors inside TLS)",
        };
        Cow::Borrowed(s)
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for Missing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq<&str> for Missing {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

impl PartialEq<String> for Missing {
    fn eq(&self, other: &String) -> bool {
        self.text() == other.as_str()
    }
}

impl Missing {
    /// Advice for an inconclusive verdict: how to get the missing evidence.
    /// The first kind of gap in this order decides: a run that had not failed
    /// yet, an attach that came too late, a trace that did not finish, a
    /// damaged or missing syscall trace, no capture, no stderr.
    pub fn advice(missing: &[Missing]) -> String {
        let has = |f: fn(&Missing) -> bool| missing.iter().any(f);
        if has(|m| *m == Missing::NotFailedYet) {
            "keep tracing until the command fails or exits: attach again (`gotrace attach --pid N`, without `--duration` or with a longer one) and stop gotrace only after Go prints its error, or run the command under `gotrace run`".into()
        } else if has(|m| *m == Missing::BeforeAttach) {
            "trace the command from its start (`gotrace run -- CMD`): an attach sees only the syscalls made after it, and this failure may come from before".into()
        } else if has(|m| matches!(m, Missing::ExitStatus | Missing::RestOfRun)) {
            "re-run under `gotrace run` and let the command finish (or time out) so its error and the whole trace are recorded".into()
        } else if has(|m| {
            matches!(
                m,
                Missing::Events | Missing::UndamagedEvents | Missing::LostEvents
            )
        }) {
            "re-run the command under `gotrace run` (as root) so the syscall trace is complete"
                .into()
        } else if has(|m| *m == Missing::Capture) {
            "re-run under `gotrace run` with the packet capture (it needs CAP_NET_RAW) so the wire can confirm the failure".into()
        } else if has(|m| *m == Missing::Stderr) {
            "keep Go's stderr (stderr.log) in the bundle: it names the operation that failed".into()
        } else {
            "read Go's error: the recorded connections and lookups do not explain it, so look above TCP/DNS (HTTP status from the proxy, TLS, checksum database: GONOSUMDB/GOPRIVATE/GOINSECURE)".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inconclusive_advice_follows_what_is_missing() {
        assert!(Missing::advice(&[Missing::Capture]).contains("capture"));
        assert!(Missing::advice(&[Missing::Events]).contains("syscall trace"));
        assert!(Missing::advice(&[Missing::Stderr]).contains("stderr"));
        assert!(Missing::advice(&[]).contains("above TCP/DNS"));
        // The run not being over outranks a missing capture.
        assert!(Missing::advice(&[Missing::Capture, Missing::RestOfRun])
            .contains("let the command finish"));
    }

    #[test]
    fn serialized_as_the_sentence() {
        assert_eq!(serde_json::to_value(Missing::Stderr).unwrap(), "stderr.log");
        assert_eq!(
            Missing::RuleFor(errno::EPERM).to_string(),
            "a rule for EPERM with this evidence"
        );
    }
}
