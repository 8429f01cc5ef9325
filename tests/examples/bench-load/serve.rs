//! `serve --tcp ADDR --udp ADDR --ready FILE`: in the server namespace, a
//! TCP listener that accepts and closes (backlog 4096) and a UDP echo.
//! Writes FILE once both are bound; runs until killed.

use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;

use crate::args::Args;

/// Listen backlog: the kernel caps it at net.core.somaxconn (4096).
const BACKLOG: i32 = 4096;

pub fn run(args: &Args) -> Result<(), String> {
    let tcp_addr = args.addr("tcp")?;
    let udp_addr = args.addr("udp")?;
    let ready = args.path("ready")?;
    let listener = TcpListener::bind(tcp_addr).map_err(|e| format!("bind {tcp_addr}: {e}"))?;
    // std listens with a backlog of 128; listen(2) again raises it.
    // SAFETY: listen on a valid listening socket.
    unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) };
    let udp = UdpSocket::bind(udp_addr).map_err(|e| format!("bind {udp_addr}: {e}"))?;
    std::thread::spawn(move || echo(&udp));
    std::fs::write(&ready, "ready\n").map_err(|e| format!("writing {}: {e}", ready.display()))?;
    loop {
        // Accepted and dropped at once: the client resets it anyway.
        let _ = listener.accept();
    }
}

/// Sends every datagram back to where it came from.
fn echo(sock: &UdpSocket) {
    let mut buf = [0u8; 2048];
    loop {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    }
}
