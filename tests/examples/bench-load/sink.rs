//! `sink --bind ADDR --ready FILE [--idle-ms MS] [--max S] --out FILE`:
//! receives the blast with recvmmsg(2) in batches (not traced by gotrace,
//! so the packet capture alone carries the load), until an `END` datagram,
//! `--idle-ms` (default 1000) without one after the first, or `--max`
//! (default 60 s). Writes FILE once bound, then the count at the end.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::report;

const BATCH: usize = 64;
/// Receive buffer (bytes): bursts while this process is descheduled.
const RCVBUF: libc::c_int = 16 << 20;

pub fn run(args: &Args) -> Result<(), String> {
    let bind = args.addr("bind")?;
    let ready = args.path("ready")?;
    let idle = Duration::from_millis(args.num("idle-ms", 1000)?);
    let max = args.secs("max", 60.0)?;
    let out = args.path("out")?;
    let sock = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    let fd = sock.as_raw_fd();
    // SAFETY: valid fd and option value (root may exceed rmem_max).
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&RCVBUF as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    std::fs::write(&ready, "ready\n").map_err(|e| format!("writing {}: {e}", ready.display()))?;
    let mut bufs = vec![[0u8; 2048]; BATCH];
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
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
    let start = Instant::now();
    let (mut received, mut first, mut last) = (0u64, None, Instant::now());
    'recv: while start.elapsed() < max {
        if first.is_some() && last.elapsed() > idle {
            break;
        }
        // SAFETY: BATCH valid headers; blocks at most SO_RCVTIMEO for the first.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            continue;
        }
        last = Instant::now();
        first.get_or_insert(last);
        for m in &msgs[..n as usize] {
            let len = m.msg_len as usize;
            // SAFETY: iov_base points at one of `bufs`, len <= its size.
            let data = unsafe {
                std::slice::from_raw_parts((*m.msg_hdr.msg_iov).iov_base as *const u8, len)
            };
            if data == b"END" {
                break 'recv;
            }
            received += 1;
        }
    }
    let span = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
    report::write(
        &out,
        &[
            ("received", received.to_string()),
            ("rate", format!("{:.0}", received as f64 / span.max(1e-9))),
        ],
    )
}
