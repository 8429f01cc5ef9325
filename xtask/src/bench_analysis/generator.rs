//! A synthetic bundle of N events with the shape of `cargo xtask bench`'s
//! `syscalls` workload (bench-load connect, tests/examples/bench-load/):
//! many short sockets in flight at once on two threads, fd numbers reused
//! lowest-first (open(2): "the lowest-numbered file descriptor not
//! currently open") and kernel socket addresses reused from a small pool
//! (the slab allocator's), plus real DNS exchanges and a few failures.
//!
//! The mix, by share of sessions:
//! - 60% UDP connects to 198.18.0.2:5300 (socket, connect, close: Go's
//!   source-address selection, no traffic);
//! - 18% write/read pairs on a long-lived UDP socket to 5300;
//! - 6% TCP dials to the proxy 198.18.0.2:8080 that connect and fetch
//!   (tcp_state SYN_SENT/ESTABLISHED/CLOSE, so_error 0, an HTTP request and
//!   response head, close);
//! - 6% TCP dials as bench-load makes them, to a listener at
//!   198.18.0.3:9000 that no DNS answer names: connect() EINPROGRESS, then
//!   close() with SO_LINGER 0 (tcp_send_reset), no SO_ERROR read; half
//!   of them closed before the handshake completed (still SYN_SENT);
//! - 8% DNS exchanges with 198.18.0.53:53 for proxy.lab.test, answered;
//! - 1% dials refused (RST: tcp_receive_reset, so_error ECONNREFUSED);
//! - 1% DNS queries answered NXDOMAIN.
//!
//! Fixed seed: the same N gives the same bytes. No capture: the analysis
//! of the events is what is measured.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

use gotrace_bundle::{Event, Io, Op, SockAddr, TcpState, AF_INET, SOCK_DGRAM, SOCK_STREAM};

use crate::bench_capture::prng::Rng;

/// The traced process (one Go program, two dialling threads).
const TGID: u32 = 4000;
/// Threads that dial; sessions alternate between them.
const TIDS: [u32; 2] = [4001, 4002];
/// Sessions in flight at once (their events interleave).
const IN_FLIGHT: usize = 16;
/// Kernel socket addresses the slab hands out again and again.
const SOCK_POOL: u64 = 64;
/// Mean gap between two events (ns): ~100k events/s, as the workload.
const GAP_NS: u64 = 10_000;
/// Monotonic time of the trace's start (ns).
const START_NS: u64 = 1_000_000_000_000;

/// What [`write_bundle`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Lines of events.jsonl.
    pub events: u64,
    /// Its size (bytes).
    pub bytes: u64,
    /// TCP dials that fetched.
    pub tcp_ok: u64,
    /// TCP dials closed right after connect() (bench-load's).
    pub tcp_dials: u64,
    /// TCP dials refused.
    pub refused: u64,
    /// DNS exchanges answered / answered NXDOMAIN.
    pub dns_ok: u64,
    /// DNS queries answered NXDOMAIN.
    pub nxdomain: u64,
    /// UDP connects without traffic.
    pub udp_connects: u64,
    /// Write/read pairs on the long-lived UDP socket.
    pub udp_pairs: u64,
}

/// One socket's events still to come.
struct Session {
    tid: u32,
    /// The events, each made when it is due (id and time set then).
    ops: std::vec::IntoIter<Op>,
    /// The fd it holds (released after its close).
    fd: Option<i32>,
    sock: Option<u64>,
}

/// Writes meta.json, stderr.log and events.jsonl of about `n` events into
/// `dir` (created), with the seed `seed`.
///
/// # Errors
/// When a file cannot be written (the message names it).
pub fn write_bundle(dir: &Path, n: u64, seed: u64) -> Result<Written, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("events.jsonl");
    let f = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, f);
    let mut g = Gen::new(seed);
    let mut written = Written::default();
    let mut emit = |g: &mut Gen, tid: u32, op: Op| -> Result<(), String> {
        g.id += 1;
        g.ts += 1 + g.rng.range(0, 2 * GAP_NS);
        let ev = Event {
            id: g.id,
            ts_ns: g.ts,
            tgid: TGID,
            tid,
            comm: "go".into(),
            op,
        };
        serde_json::to_writer(&mut out, &ev).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())
    };
    emit(
        &mut g,
        TGID,
        Op::Exec {
            filename: "/usr/local/go/bin/go".into(),
        },
    )?;
    // The long-lived socket of the write/read pairs, open all along.
    let pair_fd = g.open_fd();
    emit(&mut g, TIDS[0], socket(pair_fd, SOCK_DGRAM, None))?;
    emit(
        &mut g,
        TIDS[0],
        connect(pair_fd, 0, ip(2), 5300, None, None),
    )?;
    let mut flight: Vec<Session> = Vec::new();
    while g.id + 1 < n {
        while flight.len() < IN_FLIGHT {
            let s = g.session(pair_fd, &mut written);
            flight.push(s);
        }
        let k = g.rng.range(0, flight.len() as u64 - 1) as usize;
        let s = &mut flight[k];
        match s.ops.next() {
            Some(op) => emit(&mut g, s.tid, op)?,
            None => {
                let s = flight.swap_remove(k);
                if let Some(fd) = s.fd {
                    g.free_fds.insert(fd);
                }
                if let Some(sock) = s.sock {
                    g.free_socks.insert(sock);
                }
            }
        }
    }
    emit(&mut g, TGID, Op::Exit { status: None })?;
    written.events = g.id;
    out.flush()
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    written.bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    write_meta(dir, g.ts + 1_000_000)?;
    let stderr = "go: downloading lab.test/greet v1.0.0\nexample.lab/demo imports\n\tlab.test/greet: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": dial tcp 198.18.0.2:8080: connect: connection refused\n";
    std::fs::write(dir.join("stderr.log"), stderr)
        .map_err(|e| format!("writing stderr.log: {e}"))?;
    Ok(written)
}

/// The generator's state: clock, ids, free fds and socket addresses.
struct Gen {
    rng: Rng,
    id: u64,
    ts: u64,
    free_fds: BTreeSet<i32>,
    next_fd: i32,
    free_socks: BTreeSet<u64>,
    next_port: u16,
    dns_id: u16,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            id: 0,
            ts: START_NS,
            free_fds: BTreeSet::new(),
            next_fd: 3,
            free_socks: (0..SOCK_POOL).collect(),
            next_port: 32768,
            dns_id: 1,
        }
    }

    /// The lowest free fd (open(2)).
    fn open_fd(&mut self) -> i32 {
        match self.free_fds.pop_first() {
            Some(fd) => fd,
            None => {
                self.next_fd += 1;
                self.next_fd - 1
            }
        }
    }

    /// A free kernel socket address, at random among the free ones.
    fn open_sock(&mut self) -> u64 {
        let n = self.free_socks.len() as u64;
        let pick = self.rng.range(0, n.saturating_sub(1)) as usize;
        let s = self
            .free_socks
            .iter()
            .nth(pick)
            .copied()
            .unwrap_or(SOCK_POOL);
        self.free_socks.remove(&s);
        s
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60999 {
            32768
        } else {
            self.next_port + 1
        };
        self.next_port
    }

    /// The next session, by the mix of the module doc.
    fn session(&mut self, pair_fd: i32, w: &mut Written) -> Session {
        let tid = TIDS[self.rng.range(0, 1) as usize];
        let roll = self.rng.range(0, 99);
        if (60..78).contains(&roll) {
            w.udp_pairs += 1;
            let data = hex(&[0x5a; 32]);
            return Session {
                tid,
                ops: vec![
                    io(true, "write", pair_fd, 32, Some(data.clone()), None),
                    io(false, "read", pair_fd, 32, Some(data), None),
                ]
                .into_iter(),
                fd: None,
                sock: None,
            };
        }
        let fd = self.open_fd();
        let sock = self.open_sock();
        let sk = Some(sock_name(sock));
        let ops = match roll {
            0..=59 => {
                w.udp_connects += 1;
                vec![
                    socket(fd, SOCK_DGRAM, sk.clone()),
                    connect(fd, 0, ip(2), 5300, None, sk.clone()),
                    close(fd, sk),
                ]
            }
            78..=83 => {
                w.tcp_ok += 1;
                self.tcp_ok(fd, sock)
            }
            84..=89 => {
                w.tcp_dials += 1;
                self.tcp_dial(fd, sock)
            }
            90..=97 => {
                w.dns_ok += 1;
                self.dns(fd, sock, "proxy.lab.test", false)
            }
            98 => {
                w.refused += 1;
                self.refused(fd, sock)
            }
            _ => {
                w.nxdomain += 1;
                self.dns(fd, sock, "nosuch.lab.test", true)
            }
        };
        Session {
            tid,
            ops: ops.into_iter(),
            fd: Some(fd),
            sock: Some(sock),
        }
    }

    fn tcp_ok(&mut self, fd: i32, sock: u64) -> Vec<Op> {
        let sk = sock_name(sock);
        let port = self.port();
        let state = |old, new, lport| tcp_state(&sk, old, new, lport);
        let req = hex(b"GET /lab.test/greet/@v/list HTTP/1.1\r\nHost: 198.18.0.2:8080\r\n");
        let resp = hex(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nv1.0.0\n");
        vec![
            socket(fd, SOCK_STREAM, Some(sk.clone())),
            state(TcpState::Close, TcpState::SynSent, 0),
            connect(fd, -115, ip(2), 8080, Some("EINPROGRESS"), Some(sk.clone())),
            state(TcpState::SynSent, TcpState::Established, port),
            so_error(fd, 0, &sk),
            io(true, "write", fd, 120, Some(req), Some(sk.clone())),
            io(false, "read", fd, 45, Some(resp), Some(sk.clone())),
            close(fd, Some(sk.clone())),
            state(TcpState::Established, TcpState::Close, port),
        ]
    }

    /// bench-load connect's TCP dial: non-blocking connect, then close
    /// with SO_LINGER {1, 0}, an RST instead of a FIN.
    fn tcp_dial(&mut self, fd: i32, sock: u64) -> Vec<Op> {
        let sk = sock_name(sock);
        let port = self.port();
        let state = |old, new, lport| {
            let mut op = tcp_state(&sk, old, new, lport);
            if let Op::TcpState { peer, .. } = &mut op {
                *peer = addr(ip(3), 9000);
            }
            op
        };
        let head = vec![
            socket(fd, SOCK_STREAM, Some(sk.clone())),
            state(TcpState::Close, TcpState::SynSent, 0),
            connect(fd, -115, ip(3), 9000, Some("EINPROGRESS"), Some(sk.clone())),
        ];
        if self.rng.chance(0.5) {
            let tail = [
                close(fd, Some(sk.clone())),
                state(TcpState::SynSent, TcpState::Close, port),
            ];
            return head.into_iter().chain(tail).collect();
        }
        let tail = vec![
            state(TcpState::SynSent, TcpState::Established, port),
            close(fd, Some(sk.clone())),
            Op::TcpSendReset {
                sock: sk.clone(),
                state: TcpState::Established,
                reason: 2,
                reason_name: Some("NOT_SPECIFIED".into()),
                local: Some(addr(ip(1), port)),
                peer: Some(addr(ip(3), 9000)),
            },
            state(TcpState::Established, TcpState::Close, port),
        ];
        head.into_iter().chain(tail).collect()
    }

    fn refused(&mut self, fd: i32, sock: u64) -> Vec<Op> {
        let sk = sock_name(sock);
        let port = self.port();
        vec![
            socket(fd, SOCK_STREAM, Some(sk.clone())),
            tcp_state(&sk, TcpState::Close, TcpState::SynSent, 0),
            Op::TcpReceiveReset {
                sock: sk.clone(),
                local: addr(ip(1), port),
                peer: addr(ip(2), 8080),
            },
            tcp_state(&sk, TcpState::SynSent, TcpState::Close, port),
            connect(fd, -115, ip(2), 8080, Some("EINPROGRESS"), Some(sk.clone())),
            so_error(fd, 111, &sk),
            close(fd, Some(sk)),
        ]
    }

    /// A DNS exchange on a connected UDP socket (RFC 1035 4.1 messages).
    fn dns(&mut self, fd: i32, sock: u64, name: &str, nxdomain: bool) -> Vec<Op> {
        let sk = Some(sock_name(sock));
        self.dns_id = self.dns_id.wrapping_add(1);
        let q = dns_message(self.dns_id, name, None);
        let a = dns_message(self.dns_id, name, Some(nxdomain));
        vec![
            socket(fd, SOCK_DGRAM, sk.clone()),
            connect(
                fd,
                0,
                "198.18.0.53".parse().unwrap_or(ip(2)),
                53,
                None,
                sk.clone(),
            ),
            io(true, "write", fd, q.len() as i64, Some(hex(&q)), sk.clone()),
            io(false, "read", fd, a.len() as i64, Some(hex(&a)), sk.clone()),
            close(fd, sk),
        ]
    }
}

/// A DNS query for `name` (A, IN), or with `answer` its response:
/// NXDOMAIN (RCODE 3) or one A record 198.18.0.2.
fn dns_message(id: u16, name: &str, answer: Option<bool>) -> Vec<u8> {
    let flags: u16 = match answer {
        None => 0x0100,
        Some(false) => 0x8180,
        Some(true) => 0x8183,
    };
    let ancount = u16::from(answer == Some(false));
    let mut m = Vec::new();
    for v in [id, flags, 1, ancount, 0, 0] {
        m.extend(v.to_be_bytes());
    }
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
    }
    m.extend([0, 0, 1, 0, 1]);
    if ancount == 1 {
        // Name pointer to the question (offset 12), A, IN, TTL 60, 4 bytes.
        m.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 2]);
    }
    m
}

fn ip(host: u8) -> IpAddr {
    IpAddr::from([198, 18, 0, host])
}

fn addr(ip: IpAddr, port: u16) -> SockAddr {
    SockAddr { ip, port }
}

fn sock_name(i: u64) -> String {
    format!("0xffff888102{:06x}", i * 0x800)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn socket(fd: i32, sock_type: u16, sock: Option<String>) -> Op {
    Op::Socket {
        ret: i64::from(fd),
        errno: None,
        domain: AF_INET,
        sock_type,
        protocol: 0,
        sock,
    }
}

fn connect(
    fd: i32,
    ret: i64,
    ip: IpAddr,
    port: u16,
    errno: Option<&str>,
    sock: Option<String>,
) -> Op {
    Op::Connect {
        fd,
        ret,
        errno: errno.map(str::to_string),
        peer: Some(addr(ip, port)),
        sock,
    }
}

fn so_error(fd: i32, so_error: i32, sock: &str) -> Op {
    Op::SoError {
        fd,
        ret: 0,
        so_error,
        so_error_name: (so_error == 111).then(|| "ECONNREFUSED".into()),
        sock: Some(sock.to_string()),
    }
}

fn tcp_state(sock: &str, old: TcpState, new: TcpState, lport: u16) -> Op {
    Op::TcpState {
        sock: sock.to_string(),
        old,
        new,
        local: addr(ip(1), lport),
        peer: addr(ip(2), 8080),
    }
}

fn io(
    send: bool,
    syscall: &str,
    fd: i32,
    ret: i64,
    data_hex: Option<String>,
    sock: Option<String>,
) -> Op {
    let io = Io {
        syscall: syscall.into(),
        fd,
        ret,
        errno: None,
        peer: None,
        data_hex,
        sock,
    };
    if send {
        Op::Send(io)
    } else {
        Op::Recv(io)
    }
}

fn close(fd: i32, sock: Option<String>) -> Op {
    Op::Close { fd, ret: 0, sock }
}

/// meta.json of a `gotrace run -- go mod tidy` that exited 1.
fn write_meta(dir: &Path, end_ns: u64) -> Result<(), String> {
    let meta = serde_json::json!({
        "format_version": 1,
        "gotrace_version": "0.1.0",
        "mode": "run",
        "argv": ["go", "mod", "tidy"],
        "cwd": "/tmp/gotrace-bench-analysis/module",
        "uid": 0,
        "gid": 0,
        "root_pid": TGID,
        "start_time": "2026-11-21T21:07:19.370462366Z",
        "start_monotonic_ns": START_NS - 1_000_000,
        "end_monotonic_ns": end_ns,
        "clock": {"realtime_minus_monotonic_ns": 1_795_284_662_658_249_352u64, "uncertainty_ns": 140},
        "kernel_release": "6.18.44",
        "exit": {"code": 1},
        "lost_events": 0,
        "dropped_packets": 0,
        "env": {"GOPROXY": "http://198.18.0.2:8080", "GOSUMDB": "off"},
        "interfaces": [{"id": 0, "name": "veth0", "ifindex": 2, "link_type": 1}],
        "warnings": [],
    });
    let text = serde_json::to_string_pretty(&meta).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("meta.json"), text).map_err(|e| format!("writing meta.json: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_reads_back_with_the_mix_and_the_size_asked() {
        let dir = tempfile::tempdir().unwrap();
        let w = write_bundle(dir.path(), 20_000, 7).unwrap();
        assert_eq!(w.events, 20_000);
        let b = gotrace_bundle::read_bundle(dir.path()).unwrap();
        // No capture (events only): the one warning is about that.
        assert!(
            b.warnings.len() == 1 && b.warnings[0].starts_with("capture.pcapng missing"),
            "{:?}",
            b.warnings
        );
        assert_eq!(b.events.as_ref().map(Vec::len), Some(20_000));
        assert!(
            w.tcp_ok > 100 && w.dns_ok > 50 && w.refused > 0 && w.nxdomain > 0,
            "{w:?}"
        );
        let r = gotrace_analyzer::analyze_bundle(dir.path()).unwrap();
        // A refused dial to the proxy, named from the DNS answers; without a
        // capture the wire cannot confirm the RST.
        assert_eq!(
            r.verdict.cause.as_str(),
            "insufficient-evidence",
            "{:?}",
            r.verdict
        );
        let name = r.verdict.target.as_ref().and_then(|t| t.name.as_deref());
        assert_eq!(name, Some("proxy.lab.test"));
        // Same seed, same bytes.
        let again = tempfile::tempdir().unwrap();
        write_bundle(again.path(), 20_000, 7).unwrap();
        let read = |d: &Path| std::fs::read(d.join("events.jsonl")).unwrap();
        assert_eq!(read(dir.path()), read(again.path()));
    }
}
