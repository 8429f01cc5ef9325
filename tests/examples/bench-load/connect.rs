//! `connect --tcp ADDR --udp ADDR [--rate N] [--threads N] [--tcp-share PCT]
//! [--udp-rate N] [--duration S] --out FILE`: the syscall load, for
//! `--duration` (default 10 s):
//!
//! - Dials: socket()+connect()+close(), `--rate` per second in total
//!   (default 100000) over `--threads` threads (default 2). `--tcp-share`
//!   percent of them (default 10) are TCP dials made the way Go dials
//!   (SOCK_NONBLOCK, connect() returns EINPROGRESS) to the TCP listener at
//!   `--tcp`; the rest connect a UDP socket to the UDP listener at `--udp`,
//!   the way Go's resolver starts a query. (A TCP dial to a listener costs
//!   about 45 µs of CPU here: the handshake, the accept, the reset. 100k
//!   of those a second do not fit in two cores; UDP connects do.)
//!   TCP dials set SO_LINGER {1, 0}, so a dial whose handshake already
//!   completed is closed with an RST: no TIME_WAIT, no port exhaustion.
//! - DNS-like pairs on one more thread: write() a 32-byte query on a
//!   connected UDP socket, read() the echo, `--udp-rate` per second
//!   (default 10000), as Go's resolver does.
//!
//! Rate 0 means as fast as possible. Writes the counts and reached rates.

use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::args::Args;
use crate::pace::Pace;
use crate::report;

/// Dials done between two looks at the clock.
const BATCH: u64 = 64;

/// What one thread did.
#[derive(Default)]
struct Count {
    tcp: u64,
    udp: u64,
    errors: u64,
    /// The first error, for the report.
    first_error: Option<String>,
    elapsed: Duration,
}

impl Count {
    fn fail(&mut self, what: &str) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{what}: {}", std::io::Error::last_os_error()));
        }
    }

    fn add(&mut self, other: Count) {
        self.tcp += other.tcp;
        self.udp += other.udp;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn rate(&self, n: u64) -> String {
        format!("{:.0}", n as f64 / self.elapsed.as_secs_f64().max(1e-9))
    }
}

/// Where and how the dial threads dial.
#[derive(Clone, Copy)]
struct Dials {
    tcp: libc::sockaddr_in,
    udp: libc::sockaddr_in,
    /// Per thread, per second.
    rate: u64,
    /// Percent of dials that are TCP.
    tcp_share: u64,
    duration: Duration,
}

pub fn run(args: &Args) -> Result<(), String> {
    let threads = args.num("threads", 2)?.max(1);
    let dials = Dials {
        tcp: sockaddr(args.addr("tcp")?),
        udp: sockaddr(args.addr("udp")?),
        rate: args.num("rate", 100_000)?.div_ceil(threads),
        tcp_share: args.num("tcp-share", 10)?.min(100),
        duration: args.secs("duration", 10.0)?,
    };
    let udp_rate = args.num("udp-rate", 10_000)?;
    let udp = args.addr("udp")?;
    let pairs = std::thread::spawn(move || udp_pairs(udp, udp_rate, dials.duration));
    let workers: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || dial(dials)))
        .collect();
    let mut total = Count::default();
    for w in workers {
        total.add(w.join().map_err(|_| "a dial thread panicked".to_string())?);
    }
    let pairs = pairs
        .join()
        .map_err(|_| "the UDP pair thread panicked".to_string())??;
    report::write(
        &args.path("out")?,
        &[
            ("dials", (total.tcp + total.udp).to_string()),
            ("dial_rate", total.rate(total.tcp + total.udp)),
            ("tcp_dials", total.tcp.to_string()),
            ("udp_dials", total.udp.to_string()),
            ("dial_errors", total.errors.to_string()),
            ("udp_pairs", pairs.udp.to_string()),
            ("udp_pair_rate", pairs.rate(pairs.udp)),
            ("udp_pair_errors", pairs.errors.to_string()),
            (
                "first_error",
                total
                    .first_error
                    .or(pairs.first_error)
                    .unwrap_or_else(|| "-".into()),
            ),
        ],
    )
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

const SIN_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

const LINGER_RST: libc::linger = libc::linger {
    l_onoff: 1,
    l_linger: 0,
};

/// One dial thread: socket()+connect()+close() at `d.rate` per second.
fn dial(d: Dials) -> Count {
    let mut count = Count::default();
    let pace = Pace::new(d.rate, d.duration);
    let mut n_total = 0u64;
    while let Some(n) = pace.next(n_total, BATCH) {
        for _ in 0..n {
            n_total += 1;
            let tcp = n_total % 100 < d.tcp_share;
            // SAFETY: plain syscalls on a socket this loop owns and closes.
            unsafe {
                let ty = if tcp {
                    libc::SOCK_STREAM
                } else {
                    libc::SOCK_DGRAM
                };
                let fd = libc::socket(
                    libc::AF_INET,
                    ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    0,
                );
                if fd < 0 {
                    count.fail("socket");
                    continue;
                }
                let to = if tcp {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&LINGER_RST as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                    &d.tcp
                } else {
                    &d.udp
                };
                let rc = libc::connect(fd, (to as *const libc::sockaddr_in).cast(), SIN_LEN);
                if rc == 0 || *libc::__errno_location() == libc::EINPROGRESS {
                    if tcp {
                        count.tcp += 1;
                    } else {
                        count.udp += 1;
                    }
                } else {
                    count.fail("connect");
                }
                libc::close(fd);
            }
        }
    }
    count.elapsed = pace.elapsed();
    count
}

/// A DNS query for proxy.lab.test (type A): what Go's resolver writes.
const QUERY: &[u8] =
    b"\x4c\x61\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05proxy\x03lab\x04test\x00\x00\x01\x00\x01";

/// write()/read() pairs on one connected UDP socket; counted in `udp`.
fn udp_pairs(to: SocketAddrV4, rate: u64, duration: Duration) -> Result<Count, String> {
    let mut count = Count::default();
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("udp bind: {e}"))?;
    sock.connect(to)
        .map_err(|e| format!("udp connect {to}: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    // write(2)/read(2) on the raw fd, as Go does, not send/recv.
    let fd = sock.as_raw_fd();
    let mut buf = [0u8; 512];
    let pace = Pace::new(rate, duration);
    while let Some(n) = pace.next(count.udp + count.errors, 16) {
        for _ in 0..n {
            // SAFETY: valid fd and buffers.
            let sent = unsafe { libc::write(fd, QUERY.as_ptr().cast(), QUERY.len()) };
            if sent < 0 {
                count.fail("write");
                continue;
            }
            // SAFETY: as above.
            let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if got < 0 {
                count.fail("read");
            } else {
                count.udp += 1;
            }
        }
    }
    count.elapsed = pace.elapsed();
    // The raw fd above is the socket's: it stays open until here.
    drop(sock);
    Ok(count)
}
