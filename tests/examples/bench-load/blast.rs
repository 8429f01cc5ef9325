//! `blast --to ADDR [--rate N] [--size BYTES] [--duration S] --out FILE`:
//! the packet load: UDP datagrams of `--size` payload bytes (default 64)
//! to ADDR at `--rate` per second (default 120000) for `--duration`
//! (default 10 s), in sendmmsg(2) batches; then a few `END` datagrams so
//! the sink stops. Writes how many were sent.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use crate::args::Args;
use crate::pace::Pace;
use crate::report;

/// Datagrams per sendmmsg(2).
const BATCH: usize = 64;

pub fn run(args: &Args) -> Result<(), String> {
    let to = args.addr("to")?;
    let rate = args.num("rate", 120_000)?;
    let size = args.num("size", 64)?.clamp(8, 1400) as usize;
    let duration = args.secs("duration", 10.0)?;
    let out = args.path("out")?;
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("udp bind: {e}"))?;
    sock.connect(to)
        .map_err(|e| format!("udp connect {to}: {e}"))?;
    let payload = vec![0x42u8; size];
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: size,
        })
        .collect();
    // SAFETY: all-zero mmsghdr is valid; the iovecs outlive the calls.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        .map(|i| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = &mut iov[i];
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let (mut sent, mut errors) = (0u64, 0u64);
    let pace = Pace::new(rate, duration);
    while let Some(n) = pace.next(sent + errors, BATCH as u64) {
        if n == 0 {
            continue;
        }
        // SAFETY: connected socket, n <= BATCH valid headers.
        let rc = unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
        if rc < 0 {
            // ENOBUFS/EAGAIN: the queue is full; counted as not sent.
            errors += n;
        } else {
            sent += rc as u64;
            errors += n - rc as u64;
        }
    }
    let elapsed = pace.elapsed();
    for _ in 0..10 {
        let _ = sock.send(b"END");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    report::write(
        &out,
        &[
            ("sent", sent.to_string()),
            ("send_errors", errors.to_string()),
            ("size", size.to_string()),
            (
                "rate",
                format!("{:.0}", sent as f64 / elapsed.as_secs_f64()),
            ),
        ],
    )
}
