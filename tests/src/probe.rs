//! Readiness probes run from inside a lab namespace: a TCP connect to the
//! proxy, a DNS query to dnsmasq. Each probe runs on its own short-lived
//! thread that joins the namespace with setns(2), which moves only that
//! thread, so the rest of the process stays where it was.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::LabError;

/// Runs `f` on a thread inside network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabError> {
    let path = std::path::PathBuf::from("/var/run/netns").join(ns);
    let file = std::fs::File::open(&path).map_err(LabError::io("opening", &path))?;
    let handle = std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd; affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    });
    match handle.join() {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(LabError::Io {
            what: "entering netns",
            path,
            source: e,
        }),
        Err(_) => Err(LabError::NotReady("probe thread".into(), Duration::ZERO)),
    }
}

/// True when a TCP connect to `addr` from inside `ns` succeeds.
pub fn tcp_accepts(ns: &str, addr: SocketAddr) -> Result<bool, LabError> {
    in_netns(ns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
    })
}

/// True when a DNS A query for `name` sent from inside `ns` to `server`
/// gets any answer with the query's id.
pub fn dns_answers(ns: &str, server: SocketAddr, name: &str) -> Result<bool, LabError> {
    let query = dns_query(0x4c61, name);
    in_netns(ns, move || {
        let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
            return false;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
        if sock.connect(server).is_err() || sock.send(&query).is_err() {
            return false;
        }
        let mut buf = [0u8; 512];
        matches!(sock.recv(&mut buf), Ok(n) if n >= 12 && buf[..2] == query[..2])
    })
}

/// A minimal DNS query packet: one question, type A, class IN, RD set.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<bool, LabError>,
) -> Result<(), LabError> {
    let start = Instant::now();
    loop {
        if check()? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(LabError::NotReady(what.to_string(), timeout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dns_query_encodes_labels() {
        let q = super::dns_query(7, "a.bc");
        assert_eq!(&q[12..], &[1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]);
        assert_eq!(&q[..2], &[0, 7]);
    }
}
