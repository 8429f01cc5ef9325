//! Builds small synthetic bundles in a temp dir: meta.json and events.jsonl
//! from the schema types, capture.pcapng with pcap-file's writer and
//! etherparse's PacketBuilder (IDB with if_tsresol = 9: ns timestamps).
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use etherparse::PacketBuilder;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{render_text, Layer, Report};
use gotrace_bundle::{
    Attach, ClockMap, Event, ExitStatus, Io, Meta, Op, PreExistingSocket, SockAddr, TcpState,
};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use simple_dns::{Name, Packet, Question, CLASS, QCLASS, QTYPE, TYPE};

/// CLOCK_MONOTONIC ns at trace start.
pub(crate) const START_NS: u64 = 5_000_000_000;
/// CLOCK_REALTIME - CLOCK_MONOTONIC.
pub(crate) const RMM: i64 = 1_763_000_000_000_000_000;

pub(crate) const CLIENT: [u8; 4] = [198, 18, 0, 1];
pub(crate) const SERVER: [u8; 4] = [198, 18, 0, 2];

pub(crate) fn sa(ip: [u8; 4], port: u16) -> SockAddr {
    SockAddr {
        ip: Ipv4Addr::from(ip).into(),
        port,
    }
}

pub(crate) fn socket_addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::from(ip).into(), port)
}

/// ms since start -> CLOCK_MONOTONIC ns.
pub(crate) fn mono(ms: f64) -> u64 {
    START_NS + (ms * 1e6) as u64
}

pub(crate) struct Bundle {
    pub dir: tempfile::TempDir,
    pub meta: Meta,
    pub events: Vec<Event>,
    /// (ms since start, Ethernet frame)
    pub packets: Vec<(f64, Vec<u8>)>,
    pub stderr: Option<String>,
    pub capture: bool,
}

impl Bundle {
    pub(crate) fn new(exit: Option<i32>) -> Bundle {
        Bundle {
            dir: tempfile::tempdir().unwrap(),
            meta: Meta {
                format_version: 1,
                gotrace_version: "0.1.0".into(),
                mode: "run".into(),
                argv: vec!["go".into(), "mod".into(), "tidy".into()],
                cwd: "/src/m".into(),
                uid: 0,
                gid: 0,
                root_pid: 100,
                start_time: "2026-11-21T19:04:12.123456789Z".into(),
                start_monotonic_ns: START_NS,
                end_monotonic_ns: Some(mono(6000.0)),
                clock: ClockMap {
                    realtime_minus_monotonic_ns: RMM,
                    uncertainty_ns: 2000,
                },
                kernel_release: "6.18.0".into(),
                exit: exit.map(ExitStatus::Code),
                lost_events: 0,
                dropped_packets: 0,
                env: BTreeMap::from([(
                    "GOPROXY".to_string(),
                    "http://proxy.lab.test:8080".to_string(),
                )]),
                interfaces: vec![],
                warnings: vec![],
                drop_reasons: BTreeMap::new(),
                kernel_events: None,
                resolv_conf: None,
                firewall: None,
                attach: None,
                redacted: None,
                local_network: None,
            },
            events: Vec::new(),
            packets: Vec::new(),
            stderr: None,
            capture: true,
        }
    }

    /// A `gotrace attach` bundle of PID 100 (`root_pid`) with no socket
    /// open at attach yet ([`Bundle::pre_existing`] adds them); `ended_by`
    /// as meta.json `attach.ended_by` (`exited`, `interrupted`,
    /// `duration`, or `None` when gotrace was killed).
    pub(crate) fn attached(exit: Option<ExitStatus>, ended_by: Option<&str>) -> Bundle {
        let mut b = Bundle::new(None);
        b.meta.mode = "attach".into();
        b.meta.exit = exit;
        b.meta.attach = Some(Attach {
            pid: b.meta.root_pid,
            netns: Some("net:[4026532281]".into()),
            pre_existing: Vec::new(),
            descendants: Vec::new(),
            ended_by: ended_by.map(str::to_string),
        });
        b
    }

    /// Adds a socket to meta.json `attach.pre_existing`.
    pub(crate) fn pre_existing(&mut self, s: PreExistingSocket) {
        self.meta
            .attach
            .as_mut()
            .expect("an attach bundle (Bundle::attached)")
            .pre_existing
            .push(s);
    }

    /// Appends an event at `ms`; returns its id.
    pub(crate) fn ev(&mut self, ms: f64, op: Op) -> u64 {
        let id = self.events.len() as u64 + 1;
        self.events.push(Event {
            id,
            ts_ns: mono(ms),
            tgid: 100,
            tid: 101,
            comm: "go".into(),
            op,
        });
        id
    }

    /// Appends a packet at `ms`; returns its 1-based number.
    pub(crate) fn pkt(&mut self, ms: f64, frame: Vec<u8>) -> u64 {
        self.packets.push((ms, frame));
        self.packets.len() as u64
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self) -> PathBuf {
        let dir = self.dir.path();
        std::fs::write(
            dir.join("meta.json"),
            serde_json::to_string_pretty(&self.meta).unwrap(),
        )
        .unwrap();
        let mut ev = String::new();
        for e in &self.events {
            ev.push_str(&serde_json::to_string(e).unwrap());
            ev.push('\n');
        }
        std::fs::write(dir.join("events.jsonl"), ev).unwrap();
        if let Some(s) = &self.stderr {
            std::fs::write(dir.join("stderr.log"), s).unwrap();
        }
        if self.capture {
            std::fs::write(dir.join("capture.pcapng"), self.pcapng()).unwrap();
        }
        dir.to_path_buf()
    }

    pub(crate) fn pcapng(&self) -> Vec<u8> {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 65535,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed("veth0")),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .unwrap();
        for (ms, frame) in &self.packets {
            let realtime = (mono(*ms) as i64 + RMM) as u64;
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(realtime),
                original_len: frame.len() as u32,
                data: Cow::Borrowed(frame),
                options: vec![],
            })
            .unwrap();
        }
        w.into_inner()
    }
}

pub(crate) fn tcp(src: SocketAddr, dst: SocketAddr, syn: bool, rst: bool, ack: bool) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let ip = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => eth.ipv4(s.ip().octets(), d.ip().octets(), 64),
        (SocketAddr::V6(s), SocketAddr::V6(d)) => eth.ipv6(s.ip().octets(), d.ip().octets(), 64),
        _ => panic!("mixed families"),
    };
    let b = ip.tcp(src.port(), dst.port(), 1000, 64240);
    let b = if syn { b.syn() } else { b };
    let b = if rst { b.rst() } else { b };
    let b = if ack { b.ack(1) } else { b };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

pub(crate) fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("v4 only")
    };
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(s.ip().octets(), d.ip().octets(), 64)
        .udp(s.port(), d.port())
        .write(&mut v, payload)
        .unwrap();
    v
}

/// ICMP port unreachable from `from` to `to`, quoting `frame`'s IP packet.
pub(crate) fn icmp_port_unreachable(from: [u8; 4], to: [u8; 4], frame: &[u8]) -> Vec<u8> {
    let quoted = &frame[14..];
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4(from, to, 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut v, quoted)
        .unwrap();
    v
}

pub(crate) fn dns_query(id: u16, name: &str, qtype: TYPE) -> Vec<u8> {
    let mut p = Packet::new_query(id);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().unwrap()
}

/// The response to `query` with `rcode` and no records.
pub(crate) fn dns_response(query: &[u8], rcode: u8) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] |= 0x80;
    r[3] = (r[3] & 0xf0) | rcode;
    r
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn sock_ev(fd: i64, stream: bool) -> Op {
    Op::Socket {
        ret: fd,
        errno: None,
        domain: 2,
        sock_type: if stream { 1 } else { 2 },
        protocol: 0,
        sock: None,
    }
}

pub(crate) fn connect_ev(fd: i32, peer: SockAddr, ret: i64) -> Op {
    Op::Connect {
        fd,
        ret,
        errno: None,
        peer: Some(peer),
        sock: None,
    }
}

pub(crate) fn tcp_state(old: &str, new: &str, local: SockAddr, peer: SockAddr) -> Op {
    Op::TcpState {
        sock: "0xffff888001".into(),
        old: TcpState::from_name(old),
        new: TcpState::from_name(new),
        local,
        peer,
    }
}

/// A socket of the attach snapshot: `proto` `tcp` or `udp`, `state` as
/// /proc/net names it (`SYN_SENT`, `ESTABLISHED`; UDP connected is
/// `ESTABLISHED`).
pub(crate) fn pre_sock(
    fd: i32,
    proto: &str,
    local: SockAddr,
    peer: Option<SockAddr>,
    state: &str,
) -> PreExistingSocket {
    PreExistingSocket {
        fd,
        inode: 90_000 + fd as u64,
        proto: proto.into(),
        local,
        peer,
        state: TcpState::from_name(state),
        pid: None,
        comm: None,
    }
}

/// The root process's exit event with its status.
pub(crate) fn exit_ev(status: ExitStatus) -> Op {
    Op::Exit {
        status: Some(status),
    }
}

/// `getsockopt(fd, SO_ERROR)` returning `so_error` (0 = connected).
pub(crate) fn so_error_ev(fd: i32, so_error: i32, name: Option<&str>) -> Op {
    Op::SoError {
        fd,
        ret: 0,
        so_error,
        so_error_name: name.map(str::to_string),
        sock: None,
    }
}

/// `tcp_receive_reset` on the socket of [`tcp_state`] (same `sock`).
pub(crate) fn receive_reset(local: SockAddr, peer: SockAddr) -> Op {
    Op::TcpReceiveReset {
        sock: "0xffff888001".into(),
        local,
        peer,
    }
}

/// `tcp_retransmit_skb` of a SYN (`err` 0: sent) on the socket of [`tcp_state`].
pub(crate) fn syn_retransmit(local: SockAddr, peer: SockAddr) -> Op {
    Op::TcpRetransmit {
        sock: "0xffff888001".into(),
        state: TcpState::SynSent,
        local,
        peer,
        err: 0,
        err_name: None,
    }
}

/// `kfree_skb` of a packet of the [`tcp_state`] socket, with drop reason
/// `reason` named `name` (12 NETFILTER_DROP on 6.18).
pub(crate) fn skb_drop(reason: u32, name: &str) -> Op {
    Op::SkbDrop {
        sock: Some("0xffff888001".into()),
        reason,
        reason_name: Some(name.into()),
        location: "0xffffffff81a00000".into(),
        location_name: None,
        protocol: 0x0800,
    }
}

/// `tcp_retransmit_skb` of a SYN from CLIENT:40122 to SERVER:8080 with
/// result `err` (-1: EPERM, a local netfilter hook refused it).
pub(crate) fn retransmit(err: i32) -> Op {
    Op::TcpRetransmit {
        sock: "0xffff888001".into(),
        state: TcpState::SynSent,
        local: sa(CLIENT, 40122),
        peer: sa(SERVER, 8080),
        err,
        err_name: (err != 0).then(|| "EPERM".into()),
    }
}

/// A refused dial to SERVER:8080 from CLIENT:40122, with the packets.
/// Returns (connect id, so_error id, SYN pkt, RST pkt).
pub(crate) fn refused_dial(b: &mut Bundle, with_noise: bool) -> (u64, u64, u64, u64) {
    let local = sa(CLIENT, 40122);
    let peer = sa(SERVER, 8080);
    if with_noise {
        // Unrelated traffic first, so packet numbers are not trivially 1 and 2.
        b.pkt(
            5.0,
            udp(
                socket_addr(CLIENT, 5353),
                socket_addr([224, 0, 0, 251], 5353),
                b"x",
            ),
        );
    }
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        // As measured: the kernel enters SYN_SENT before binding the port
        // (0); the SYN_SENT -> CLOSE change names it.
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let c = b.ev(10.1, connect_ev(7, peer.clone(), -115));
    let syn = b.pkt(
        10.08,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    let rst = b.pkt(
        10.2,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    b.ev(10.3, tcp_state("SYN_SENT", "CLOSE", local, peer));
    let s = b.ev(
        10.5,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 111,
            so_error_name: Some("ECONNREFUSED".into()),
            sock: None,
        },
    );
    b.ev(10.6, Op::close(7));
    (c, s, syn, rst)
}

pub(crate) const REFUSED_STDERR: &str = "go: downloading example.com/m v1.0.0\ngo: example.com/m@v1.0.0: Get \"http://proxy.lab.test:8080/example.com/m/@v/v1.0.0.info\": dial tcp 198.18.0.2:8080: connect: connection refused\n";

/// A TCP segment with PSH+ACK carrying `payload`.
pub(crate) fn tcp_data(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("v4 only")
    };
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(s.ip().octets(), d.ip().octets(), 64)
        .tcp(s.port(), d.port(), 1000, 64240)
        .psh()
        .ack(1)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// A real payload from analyzer/testdata/wire/.
pub(crate) fn wire(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/wire")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// An established dial SERVER:`port` from CLIENT:40122 (socket, SYN_SENT,
/// connect, ESTABLISHED, SO_ERROR 0), handshake packets included.
pub(crate) fn established_dial(b: &mut Bundle, port: u16) {
    let peer = sa(SERVER, port);
    let local = sa(CLIENT, 40122);
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    b.ev(10.1, connect_ev(7, peer.clone(), -115));
    b.pkt(
        10.06,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    b.pkt(
        10.07,
        tcp(peer.socket_addr(), local.socket_addr(), true, false, true),
    );
    b.ev(10.08, tcp_state("SYN_SENT", "ESTABLISHED", local, peer));
    b.ev(
        10.2,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 0,
            so_error_name: None,
            sock: None,
        },
    );
}

/// A successful `write(fd, payload)` on a socket, with its payload head.
pub(crate) fn write_ev(fd: i32, payload: &[u8]) -> Op {
    Op::Send(Io {
        syscall: "write".into(),
        fd,
        ret: payload.len() as i64,
        errno: None,
        peer: None,
        data_hex: Some(hex(payload)),
        sock: None,
    })
}

/// A successful `read(fd)` that returned `payload`.
pub(crate) fn read_ev(fd: i32, payload: &[u8]) -> Op {
    Op::Recv(Io {
        syscall: "read".into(),
        fd,
        ret: payload.len() as i64,
        errno: None,
        peer: None,
        data_hex: Some(hex(payload)),
        sock: None,
    })
}

/// A `read(fd)` that failed with `errno` (its Linux number and name).
pub(crate) fn read_err(fd: i32, errno: i64, name: &str) -> Op {
    Op::Recv(Io {
        syscall: "read".into(),
        fd,
        ret: -errno,
        errno: Some(name.into()),
        peer: None,
        data_hex: None,
        sock: None,
    })
}

/// Asserts the verdict's layer and cause, printing the report otherwise.
pub(crate) fn assert_cause(r: &Report, layer: Layer, cause: &str) {
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (layer, cause),
        "{}",
        render_text(r)
    );
}

/// Whether the verdict cites event or packet `id`.
pub(crate) fn cites(r: &Report, source: Source, id: u64) -> bool {
    r.verdict
        .evidence
        .iter()
        .any(|e| e.source == source && e.id == id)
}

/// Every recorded bundle in `fixtures/bundles/` (a directory with a
/// meta.json), sorted; panics when there is none.
pub(crate) fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/bundles")
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("meta.json").exists())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no bundle in {}", root.display());
    dirs
}
