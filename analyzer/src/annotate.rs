//! What the trace says about each captured packet, for the tracer to write
//! into capture.pcapng as Enhanced Packet Block options: which process
//! and thread the packet belongs to, which attempt, whether the kernel
//! dropped it or sent it as a reset, and whether the verdict cites it.
//!
//! A packet gets a note only when correlation tied it to an attempt of a
//! traced process (by its 5-tuple): packets of other processes in the
//! namespace stay bare, as they would in tcpdump.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use gotrace_bundle::{Meta, Op};

use crate::capture::CaptureIndex;
use crate::clock::Clock;
use crate::correlate::{Attempt, Correlation, Kept, Kind, Source};
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};
use crate::report::Verdict;

/// A kernel drop or reset event is tied to a captured packet of its
/// socket only within this distance (ms): `kfree_skb` of a received
/// packet and `tcp_send_reset` run in the same softirq or syscall that
/// handles the packet, microseconds from the AF_PACKET tap.
const SAME_PACKET_MS: f64 = 2.0;

/// What gotrace knows about one captured packet (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketNote {
    /// The process (TGID) whose socket sent or received it.
    pub pid: u32,
    /// The thread (TID) of the attempt's first syscall; 0 when unknown.
    pub tid: u32,
    /// The executable (from the process's `execve`) or else its comm.
    /// Shared by the notes of an attempt's packets (`Arc`, as `args` and
    /// `attempt`): one copy per packet took ~80 MiB for the 300k packets of
    /// `cargo xtask bench`'s syscalls load.
    pub cmd: Arc<str>,
    /// The command line, when the trace has it (the traced command's own
    /// process: meta.json `argv`).
    pub args: Option<Arc<str>>,
    /// 1-based number of the attempt in the analysis (`attempt 3`), and
    /// its 5-tuple as text (`tcp 198.18.0.1:40000 > 198.18.0.2:8080`).
    pub attempt: (usize, Arc<str>),
    /// `kfree_skb`'s drop reason when the kernel dropped this packet after
    /// the capture saw it (a received packet: AF_PACKET taps receive
    /// before IP and netfilter, transmit after them, so a locally dropped
    /// outgoing packet is never in the capture).
    pub dropped: Option<String>,
    /// `tcp_send_reset`'s reason when this is an RST this host sent.
    pub reset_reason: Option<String>,
    /// The verdict's cause id when the verdict cites this packet.
    pub evidence_for: Option<&'static str>,
}

impl PacketNote {
    /// The `opt_comment` values to write, in order. The first is
    /// ptcpdump's (`PID: ..\nCmd: ..\nArgs: ..`), so tools that read its
    /// files read ours; the others start with their own key.
    pub fn comments(&self) -> Vec<String> {
        let mut first = format!("PID: {}\nCmd: {}", self.pid, self.cmd);
        if let Some(a) = &self.args {
            first.push_str(&format!("\nArgs: {a}"));
        }
        let mut out = vec![first];
        if self.tid != 0 {
            out.push(format!("TID: {}", self.tid));
        }
        out.push(format!(
            "gotrace: attempt {} ({})",
            self.attempt.0, self.attempt.1
        ));
        if let Some(r) = &self.dropped {
            out.push(format!("gotrace: the kernel dropped it: {r}"));
        }
        if let Some(r) = &self.reset_reason {
            out.push(format!("gotrace: RST sent by this host: {r}"));
        }
        if let Some(c) = self.evidence_for {
            out.push(format!("gotrace: evidence for {c}"));
        }
        out
    }
}

/// Notes by packet number (1-based, as Wireshark numbers them).
pub type PacketNotes = BTreeMap<u64, PacketNote>;

/// The notes for every packet correlation tied to an attempt.
pub(crate) fn packet_notes(
    corr: &Correlation,
    kept: &Kept,
    meta: &Meta,
    capture: &CaptureIndex,
    clock: &Clock,
    verdict: &Verdict,
) -> PacketNotes {
    let facts = EventFacts::of(kept, corr);
    let cited: HashSet<u64> = verdict
        .evidence
        .iter()
        .filter(|s| s.source == Source::Packet)
        .map(|s| s.id)
        .collect();
    let mut notes = PacketNotes::new();
    let argv: Option<Arc<str>> = (!meta.argv.is_empty()).then(|| Arc::from(meta.argv.join(" ")));
    for (i, a) in corr.attempts.iter().enumerate() {
        let Some(local) = a.local else { continue };
        let proto = match a.kind {
            Kind::Tcp => IPPROTO_TCP,
            Kind::Dns => IPPROTO_UDP,
        };
        let mine: HashSet<u64> = a
            .steps
            .iter()
            .filter(|s| s.source == Source::Packet)
            .map(|s| s.id)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let base = PacketNote {
            pid: a.tgid,
            tid: facts.first_tid(a),
            cmd: facts
                .exe
                .get(&a.tgid)
                .map_or_else(|| Arc::from(a.comm.as_str()), |e| Arc::from(e.as_str())),
            args: (a.tgid == meta.root_pid).then(|| argv.clone()).flatten(),
            attempt: (i + 1, Arc::from(flow_text(a, local))),
            ..PacketNote::default()
        };
        let packets: Vec<_> = capture
            .flow(proto, local, a.peer)
            .iter()
            .filter(|p| mine.contains(&p.number))
            .collect();
        for p in &packets {
            let mut n = base.clone();
            if cited.contains(&p.number) {
                n.evidence_for = Some(verdict.cause.as_str());
            }
            notes.insert(p.number, n);
        }
        // Each drop / reset event names at most one packet: the nearest
        // of the right direction within SAME_PACKET_MS.
        let near = |t_ms: f64, inbound: bool| {
            packets
                .iter()
                .filter(|p| (p.src == a.peer) == inbound)
                .filter_map(|p| Some((p.number, (clock.packet_ms(p.realtime_ns?) - t_ms).abs())))
                .filter(|(_, d)| *d <= SAME_PACKET_MS)
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(n, _)| n)
        };
        for d in &a.drops {
            if let Some(t) = facts.ms(d.id, clock) {
                if let Some(n) = near(t, true).and_then(|n| notes.get_mut(&n)) {
                    n.dropped = Some(d.value.clone());
                }
            }
        }
        if let Some(r) = &a.reset_sent {
            let reason = facts.reset_reasons.get(&r.id).cloned();
            if let (Some(t), Some(reason)) = (facts.ms(r.id, clock), reason) {
                if let Some(n) = near(t, false).and_then(|n| notes.get_mut(&n)) {
                    n.reset_reason = Some(reason);
                }
            }
        }
    }
    notes
}

fn flow_text(a: &Attempt, local: std::net::SocketAddr) -> String {
    let proto = match a.kind {
        Kind::Tcp => "tcp",
        Kind::Dns => "udp",
    };
    format!("{proto} {local} > {}", a.peer)
}

/// What the notes need from events, gathered in one pass.
struct EventFacts {
    /// Event id -> (TID, ts ns), for the events attempts cite.
    by_id: HashMap<u64, (u32, u64)>,
    /// TGID -> the file its last `execve` ran.
    exe: HashMap<u32, String>,
    /// `tcp_send_reset` event id -> its reason's name (or number).
    reset_reasons: HashMap<u64, String>,
}

impl EventFacts {
    fn of(kept: &Kept, corr: &Correlation) -> EventFacts {
        let wanted: HashSet<u64> = corr
            .attempts
            .iter()
            .flat_map(|a| a.steps.iter())
            .filter(|s| s.source == Source::Event)
            .map(|s| s.id)
            .collect();
        let mut f = EventFacts {
            by_id: HashMap::new(),
            exe: kept.execs.iter().cloned().collect(),
            reset_reasons: HashMap::new(),
        };
        // Every event a step cites is a cited syscall or a kept kernel event.
        for &(id, tid, ts) in &kept.cited {
            if wanted.contains(&id) {
                f.by_id.insert(id, (tid, ts));
            }
        }
        for ev in &kept.kernel {
            if let op @ Op::TcpSendReset { .. } = &ev.op {
                f.reset_reasons
                    .insert(ev.id, op.reset_reason().unwrap_or_default());
            }
            if wanted.contains(&ev.id) {
                f.by_id.insert(ev.id, (ev.tid, ev.ts_ns));
            }
        }
        f
    }

    /// The TID of the attempt's first syscall event (kernel events that
    /// ran in softirq carry TID 0 and are skipped).
    fn first_tid(&self, a: &Attempt) -> u32 {
        a.steps
            .iter()
            .filter(|s| s.source == Source::Event)
            .filter_map(|s| self.by_id.get(&s.id))
            .map(|(tid, _)| *tid)
            .find(|tid| *tid != 0)
            .unwrap_or(0)
    }

    fn ms(&self, id: u64, clock: &Clock) -> Option<f64> {
        self.by_id.get(&id).map(|(_, ts)| clock.event_ms(*ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_start_with_ptcpdump_s_keys_and_name_what_is_known() {
        let n = PacketNote {
            pid: 42,
            tid: 43,
            cmd: "/usr/local/go/bin/go".into(),
            args: Some("go mod tidy".into()),
            attempt: (2, "tcp 198.18.0.1:40000 > 198.18.0.2:8080".into()),
            dropped: Some("NETFILTER_DROP".into()),
            reset_reason: None,
            evidence_for: Some("local-firewall-drop"),
        };
        assert_eq!(
            n.comments(),
            [
                "PID: 42\nCmd: /usr/local/go/bin/go\nArgs: go mod tidy",
                "TID: 43",
                "gotrace: attempt 2 (tcp 198.18.0.1:40000 > 198.18.0.2:8080)",
                "gotrace: the kernel dropped it: NETFILTER_DROP",
                "gotrace: evidence for local-firewall-drop",
            ]
        );
        let bare = PacketNote {
            pid: 7,
            cmd: "git".into(),
            attempt: (1, "udp 198.18.0.1:5000 > 198.19.255.2:53".into()),
            ..PacketNote::default()
        };
        assert_eq!(
            bare.comments(),
            [
                "PID: 7\nCmd: git",
                "gotrace: attempt 1 (udp 198.18.0.1:5000 > 198.19.255.2:53)"
            ]
        );
    }
}
