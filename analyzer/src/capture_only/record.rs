//! What the trackers hand to the report: failures proven by packets, notes
//! (odd things that are not a failure with a cause id), and unanswered
//! port-53 attempts (to name a resolver's silent upstream). Every list is
//! bounded; text is formatted only here, for what will be reported.

use std::net::{IpAddr, SocketAddr};

use crate::cause::{Cause, Target};

/// Failures kept (the earliest by packet number); the rest are counted.
pub(crate) const MAX_FAILURES: usize = 1000;
/// Notes kept; the rest are counted.
pub(crate) const MAX_NOTES: usize = 50;
/// Unanswered port-53 attempts kept for upstream matching.
const MAX_SILENCES: usize = 1024;
/// Evidence packets kept per failure.
pub(crate) const MAX_EVIDENCE: usize = 12;

/// One cited packet: its Wireshark frame number, capture time (ns since
/// the epoch) and a tcpdump-style line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ev {
    /// 1-based frame number.
    pub pkt: u64,
    /// Capture time, CLOCK_REALTIME ns.
    pub ns: Option<i64>,
    /// What the packet shows.
    pub text: String,
}

impl Ev {
    /// An evidence line.
    pub(crate) fn new(pkt: u64, ns: Option<i64>, text: String) -> Ev {
        Ev { pkt, ns, text }
    }
}

/// The question of a DNS failure, for the report's cross-checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnsFacts {
    /// The asking host.
    pub client: IpAddr,
    /// The server that answered (or was asked).
    pub server: SocketAddr,
    /// Hash of (client, name, type): the same question asked again.
    pub question: u64,
    /// Hash of (client, name) of every name the query name could be a
    /// search-list expansion of (the name with trailing labels removed).
    pub bases: Vec<u64>,
    /// Capture time of the answer.
    pub answer_ns: Option<i64>,
}

/// A failure proven by packets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// What the packets prove; its layer is network for what the wire
    /// proves, kernel only for loopback refusals.
    pub cause: Cause,
    /// One sentence, with packet numbers.
    pub summary: String,
    /// What was being reached.
    pub target: Target,
    /// The packets that prove it, in capture order.
    pub evidence: Vec<Ev>,
    /// Set for DNS failures.
    pub dns: Option<DnsFacts>,
    /// Set by the report when a later exchange made this one harmless.
    pub recovered: Option<String>,
    /// Advice when the cause's usual one ([`Cause::remediation`])
    /// does not fit this case.
    pub fix: Option<String>,
    /// The connecting host of a TCP failure, to tie a failed connection
    /// to port 53 to the truncated UDP answer that sent it there.
    pub client: Option<IpAddr>,
}

impl Failure {
    /// A failure; evidence is sorted and capped at [`MAX_EVIDENCE`]
    /// (keeping the first packets and the last one).
    pub(crate) fn new(
        cause: Cause,
        summary: String,
        target: Target,
        mut evidence: Vec<Ev>,
    ) -> Failure {
        evidence.sort_by_key(|e| e.pkt);
        evidence.dedup_by_key(|e| e.pkt);
        if evidence.len() > MAX_EVIDENCE {
            let last = evidence.pop();
            evidence.truncate(MAX_EVIDENCE - 1);
            evidence.extend(last);
        }
        Failure {
            cause,
            summary,
            target,
            evidence,
            dns: None,
            recovered: None,
            fix: None,
            client: None,
        }
    }

    /// The same failure, made by a connection from `client`.
    pub(crate) fn made_by(mut self, client: IpAddr) -> Failure {
        self.client = Some(client);
        self
    }

    /// The first cited packet: failures are ordered by it (capture order).
    pub(crate) fn first_pkt(&self) -> u64 {
        self.evidence.first().map_or(u64::MAX, |e| e.pkt)
    }

    /// The cited packet numbers, `3, 5, 7`.
    #[cfg(test)]
    pub(crate) fn pkts(&self) -> String {
        let v: Vec<String> = self.evidence.iter().map(|e| e.pkt.to_string()).collect();
        v.join(", ")
    }
}

/// An unanswered attempt to reach port 53 (a DNS query, or a SYN for DNS
/// over TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Silence {
    /// Who asked.
    pub from: IpAddr,
    /// Whom.
    pub to: SocketAddr,
    /// The first packet of the attempt.
    pub pkt: u64,
    /// Its time.
    pub ns: Option<i64>,
    /// `[SYN]` (DNS over TCP) or `DNS query`.
    pub what: &'static str,
}

/// Everything the trackers found, bounded.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Failures (at most 2 x [`MAX_FAILURES`] between trims).
    pub failures: Vec<Failure>,
    /// Failures not kept.
    pub failures_dropped: u64,
    /// (first packet, text) of notes.
    pub notes: Vec<(u64, String)>,
    /// Notes not kept.
    pub notes_dropped: u64,
    /// (first packet, text) of facts worth listing that are not odd (a
    /// DNS retry over TCP that was answered): warnings, never the
    /// verdict's "but"; at most [`MAX_NOTES`].
    pub infos: Vec<(u64, String)>,
    /// Unanswered port-53 attempts.
    pub silences: Vec<Silence>,
}

impl Findings {
    /// Records a failure, keeping the earliest [`MAX_FAILURES`].
    pub(crate) fn fail(&mut self, f: Failure) {
        self.failures.push(f);
        if self.failures.len() >= 2 * MAX_FAILURES {
            self.trim();
        }
    }

    /// Sorts failures by their first packet and keeps the earliest.
    pub(crate) fn trim(&mut self) {
        self.failures.sort_by_key(Failure::first_pkt);
        if self.failures.len() > MAX_FAILURES {
            self.failures_dropped += (self.failures.len() - MAX_FAILURES) as u64;
            self.failures.truncate(MAX_FAILURES);
        }
    }

    /// Whether another note would be kept (so callers format only then).
    pub(crate) fn wants_note(&mut self) -> bool {
        if self.notes.len() < MAX_NOTES {
            true
        } else {
            self.notes_dropped += 1;
            false
        }
    }

    /// Whether another info line would be kept.
    pub(crate) fn wants_info(&self) -> bool {
        self.infos.len() < MAX_NOTES
    }

    /// Records a note about packet `pkt` (call [`Findings::wants_note`] first).
    pub(crate) fn note(&mut self, pkt: u64, text: String) {
        self.notes.push((pkt, text));
    }

    /// Records an unanswered port-53 attempt.
    pub(crate) fn silence(&mut self, s: Silence) {
        if self.silences.len() < MAX_SILENCES {
            self.silences.push(s);
        }
    }
}

/// `[2001:db8::1]:53` or `192.0.2.1:53`: [`SocketAddr`]'s own form.
pub(crate) fn target_of(addr: SocketAddr, name: Option<String>) -> Target {
    Target {
        name,
        ip: Some(addr.ip().to_string()),
        port: Some(addr.port()),
    }
}

/// Seconds between two capture times, when both are known.
pub(crate) fn secs(from: Option<i64>, to: Option<i64>) -> Option<f64> {
    Some(to?.saturating_sub(from?) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pkts: &[u64]) -> Failure {
        let ev = pkts
            .iter()
            .map(|&p| Ev::new(p, None, String::new()))
            .collect();
        let t = target_of("192.0.2.1:80".parse().unwrap(), None);
        Failure::new(Cause::ConnectionRefused, String::new(), t, ev)
    }

    #[test]
    fn evidence_is_sorted_deduplicated_and_capped_keeping_the_last() {
        let v: Vec<u64> = (1..=30).rev().chain([5]).collect();
        let x = f(&v);
        assert_eq!(x.evidence.len(), MAX_EVIDENCE);
        assert_eq!(x.first_pkt(), 1);
        assert_eq!(x.evidence.last().map(|e| e.pkt), Some(30));
        assert_eq!(x.evidence[MAX_EVIDENCE - 2].pkt, (MAX_EVIDENCE - 1) as u64);
    }

    #[test]
    fn findings_keep_the_earliest_failures() {
        let mut s = Findings::default();
        for p in (1..=(3 * MAX_FAILURES as u64)).rev() {
            s.fail(f(&[p]));
        }
        s.trim();
        assert_eq!(s.failures.len(), MAX_FAILURES);
        assert_eq!(s.failures[0].first_pkt(), 1);
        assert_eq!(s.failures_dropped, 2 * MAX_FAILURES as u64);
    }
}
