//! Capture-only analysis: a verdict from a pcap or pcapng file alone
//! (`gotrace analyze FILE`, `gotrace analyze -` for standard input), for
//! users who arrive with a tcpdump or Wireshark capture and no bundle.
//!
//! Only the `network` layer can be proven from packets ([`SCOPE`] says
//! what cannot be judged). Each failure cites the frames that prove it,
//! numbered as Wireshark numbers them; the rules are in the doc of the
//! (private) module that decides them: `tcp` (connection-refused,
//! connect-timeout, connection-reset, and kernel / local-refused for a
//! refusal by a loopback address), `app` (tls-alert,
//! tls-untrusted-certificate, http-status), `dns` (dns-nxdomain,
//! dns-server-failure, dns-timeout, dns-port-unreachable; over UDP and
//! TCP), `icmp`
//! (icmp-unreachable) and `frag` (fragments that never complete). A
//! packet captured twice within [`DUP_WINDOW_NS`] is counted once
//! (`dedup`). All failures are listed, ordered by their first packet: the
//! first is the verdict, the others go to `other_failures`. Without one
//! the verdict is `inconclusive`, never `none` (`conclude`; [`crate::cause::Missing::CommandResult`]).
//!
//! Streaming: frames are read one at a time and every connection or
//! exchange is a small state machine holding a few packet numbers, not
//! packets; finished or idle ones become a failure record or are dropped.
//! Memory grows with the number of live flows, each table is capped
//! ([`MAX_FLOWS`], [`MAX_EXCHANGES`], [`MAX_DNS_TCP_CONNS`], [`MAX_SETS`]), and the lists of
//! failures and notes are bounded. Text is formatted only for what is
//! reported.

mod app;
mod conclude;
mod dedup;
mod dns;
mod frag;
mod icmp;
mod process;
mod record;
mod tcp;

use std::io::Read;
use std::path::Path;

pub use conclude::SCOPE;
pub use dedup::DUP_WINDOW_NS;
pub use dns::tcp::MAX_CONNS as MAX_DNS_TCP_CONNS;
pub use dns::{DNS_WAIT_NS, MAX_EXCHANGES};
pub use frag::MAX_SETS;
pub use tcp::MAX_FLOWS;

use crate::capture::packet::Checksum;
use crate::capture::{decode, CaptureReader, Packet, Payload};
use crate::error::AnalyzeError;
use crate::report::Report;
use dedup::Dedup;
use dns::{Datagram, DnsTracker};
use frag::{FragStats, FragTracker};
use icmp::{IcmpStats, IcmpTracker};
use record::Findings;
use tcp::{Segment, TcpStats, TcpTracker};

/// Idle flows are looked for at most this often (ns of capture time).
const SWEEP_EVERY_NS: i64 = 1_000_000_000;

/// Analyses a capture read from `reader` (pcap or pcapng, streamed).
/// Damage in the file (a cut last record, an unsupported link type) is a
/// warning in the report.
pub fn analyze_capture<R: Read>(mut reader: CaptureReader<R>) -> Report {
    let mut a = Analyzer::default();
    while let Some(frame) = reader.next_frame() {
        a.processes.note(frame.number, frame.process_comment);
        if let Some(p) = decode(&frame) {
            a.packet(p);
        }
    }
    let packets = reader.packets_seen();
    let warnings = reader.take_warnings();
    a.finish(packets, warnings)
}

/// Analyses the capture file `path` (pcap or pcapng, told by its magic,
/// whatever its name).
///
/// # Errors
/// [`AnalyzeError::CaptureNotFound`] when `path` does not exist,
/// [`AnalyzeError::Unreadable`] when it cannot be read,
/// [`AnalyzeError::Capture`] when it is not a pcap or pcapng file.
pub fn analyze_capture_path(path: &Path) -> Result<Report, AnalyzeError> {
    if let Err(e) = std::fs::metadata(path) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Err(AnalyzeError::CaptureNotFound {
                path: path.to_path_buf(),
            });
        }
    }
    let mut r = analyze_capture(CaptureReader::open(path)?);
    if let Some(c) = r.context.capture.as_mut() {
        c.source = path.display().to_string();
    }
    Ok(r)
}

/// Analyses a capture streamed from `input` (standard input), named
/// `name` in messages.
///
/// # Errors
/// [`AnalyzeError::Capture`] when the input is empty or not pcap/pcapng.
pub fn analyze_capture_input<R: Read>(input: R, name: &str) -> Result<Report, AnalyzeError> {
    let reader = CaptureReader::new(input).map_err(|problem| AnalyzeError::Capture {
        path: name.into(),
        problem,
    })?;
    let mut r = analyze_capture(reader);
    if let Some(c) = r.context.capture.as_mut() {
        c.source = name.to_string();
    }
    Ok(r)
}

/// What the capture held, for the report.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    packets: u64,
    decoded: u64,
    copies_count: u64,
    copies: Vec<(u64, u64, i64)>,
    other_udp: u64,
    t0: Option<i64>,
    t_last: Option<i64>,
    tcp: TcpStats,
    dns: dns::DnsStats,
    /// DNS-over-TCP connections not decoded (memory bound), and the first
    /// stream that stopped decoding.
    dns_tcp: (u64, Option<String>),
    icmp: IcmpStats,
    frag: FragStats,
}

#[derive(Debug, Default)]
struct Analyzer {
    dedup: Dedup,
    tcp: TcpTracker,
    dns: DnsTracker,
    dns_tcp: dns::tcp::TcpStreams,
    icmp: IcmpTracker,
    frag: FragTracker,
    out: Findings,
    seen: Seen,
    /// Processes named by packet comments (gotrace's, ptcpdump's).
    processes: process::ProcessTags,
    /// Latest capture time seen (times may run backwards in a bad file).
    now: Option<i64>,
    next_sweep: i64,
}

impl Analyzer {
    fn packet(&mut self, p: Packet) {
        let at = (p.number, p.realtime_ns);
        if let Some(t) = p.realtime_ns {
            self.seen.t0.get_or_insert(t);
            self.seen.t_last = Some(self.seen.t_last.map_or(t, |l| l.max(t)));
            self.now = Some(self.now.map_or(t, |n| n.max(t)));
        }
        if self
            .dedup
            .is_copy(p.headers.fingerprint, p.realtime_ns, p.number)
        {
            return;
        }
        self.seen.decoded += 1;
        let now = self.now.unwrap_or(0);
        let out = &mut self.out;
        let icmp_text = matches!(p.payload, Payload::IcmpError(_)).then(|| p.describe());
        let Packet {
            src,
            dst,
            payload,
            headers,
            ..
        } = p;
        match payload {
            Payload::Tcp {
                flags,
                len,
                app,
                dns_tcp,
            } => {
                if src.port() == crate::proto::dns::PORT || dst.port() == crate::proto::dns::PORT {
                    let seg = dns::tcp::Seg {
                        at,
                        src,
                        dst,
                        flags,
                        seq: headers.seq,
                        data: &dns_tcp,
                        wire_len: len,
                    };
                    for d in self.dns_tcp.segment(seg, now) {
                        self.dns.message(d, now, out);
                    }
                }
                let s = Segment {
                    at,
                    src,
                    dst,
                    flags,
                    len,
                    app,
                    seq: headers.seq,
                    ack: headers.ack,
                    checksum: headers.checksum,
                };
                self.tcp.segment(s, now, out);
            }
            Payload::Udp { dns: Some(m) } => {
                let d = Datagram {
                    at,
                    src,
                    dst,
                    msg: m,
                    checksum: headers.checksum,
                    tcp: false,
                };
                self.dns.message(d, now, out);
            }
            Payload::Udp { dns: None } => self.seen.other_udp += 1,
            Payload::IcmpError(e) => {
                let m = icmp::Message {
                    at,
                    src,
                    dst,
                    err: e,
                    text: icmp_text.unwrap_or_default(),
                };
                self.icmp.error(m, &mut self.tcp, &mut self.dns, out);
            }
            Payload::Fragment(f) => {
                let udp = f.proto == crate::proto::IPPROTO_UDP;
                let o = self.frag.piece(at, src, dst, f);
                if let (Some(text), true) = (&o.started, udp) {
                    self.dns.fragment_started(dst.ip(), src.ip(), at, text);
                }
                if let Some(c) = o.completed {
                    if let Some(m) = c.dns {
                        let d = Datagram {
                            at: c.at,
                            src: c.src,
                            dst: c.dst,
                            msg: m,
                            checksum: Checksum::Unverified,
                            tcp: false,
                        };
                        self.dns.message(d, now, out);
                    }
                }
            }
        }
        if self.now.is_some() && now >= self.next_sweep {
            self.tcp.sweep(now, false, &mut self.out);
            self.dns.sweep(now, false, &mut self.out);
            self.dns_tcp.sweep(now);
            self.frag.sweep(now, &mut self.out);
            self.next_sweep = now.saturating_add(SWEEP_EVERY_NS);
        }
    }

    fn finish(mut self, packets: u64, reader_warnings: Vec<String>) -> Report {
        let now = self.now.unwrap_or(0);
        let out = &mut self.out;
        self.frag.finish_all(out);
        self.tcp.finish_all(now, out);
        self.dns.finish_all(now, out);
        self.icmp.finish_all(out);
        self.seen.packets = packets;
        self.seen.copies_count = self.dedup.copies;
        self.seen.copies = std::mem::take(&mut self.dedup.examples);
        self.seen.tcp = self.tcp.stats;
        self.seen.dns = self.dns.stats;
        self.seen.dns_tcp = (self.dns_tcp.untracked, self.dns_tcp.first_desync.take());
        self.seen.icmp = self.icmp.stats;
        self.seen.frag = self.frag.stats;
        let mut report = conclude::build(self.out, &self.seen, &self.dns, reader_warnings);
        self.processes.label(&mut report.verdict.evidence);
        self.processes.label(&mut report.context.timeline);
        report
    }
}
