//! Ephemeral ports used up toward the lab proxy, as a host with thousands
//! of connections in TIME_WAIT has them: the client namespace's
//! `net.ipv4.ip_local_port_range` narrowed to one port, and that port left
//! in TIME_WAIT by one connection to 198.18.0.2:8080 that the client
//! closed first (RFC 9293 3.6: the active closer waits 2 MSL, 60 s on
//! Linux). Measured on Linux 6.18: the next connect(2) to that peer fails
//! at once with EADDRNOTAVAIL (TIME_WAIT reuse, `tcp_tw_reuse`, is for
//! loopback only by default), one to another port of it still goes out.

use crate::cmd::run_in;
use crate::netns::{NetnsPair, SERVER_IP};
use crate::LabError;

/// The one ephemeral port left to the client.
pub const ONLY_PORT: u16 = 40000;

/// Narrows the range and leaves [`ONLY_PORT`] to `SERVER_IP:port` in
/// TIME_WAIT; the server must be listening there already.
pub(crate) fn exhaust(netns: &NetnsPair, port: u16) -> Result<(), LabError> {
    let ns = &netns.client;
    let range = format!("net.ipv4.ip_local_port_range={ONLY_PORT} {ONLY_PORT}");
    run_in(ns, "sysctl", &["-q", "-w", &range])?;
    // Close first (the active close), then wait for the server's FIN so
    // the port sits in TIME_WAIT, not FIN_WAIT_2.
    let script = format!(
        "import socket\n\
         s = socket.create_connection(('{SERVER_IP}', {port}), timeout=5)\n\
         s.shutdown(socket.SHUT_WR)\n\
         s.settimeout(5)\n\
         while s.recv(4096): pass\n\
         s.close()\n"
    );
    run_in(ns, "python3", &["-c", &script])?;
    let out = run_in(ns, "ss", &["-Htan", "state", "time-wait"])?;
    let states = String::from_utf8_lossy(&out.stdout);
    if !states.contains(&format!(":{ONLY_PORT} ")) {
        return Err(LabError::Setup {
            what: "leave the one ephemeral port in TIME_WAIT",
            detail: format!("`ss -tan state time-wait` shows {states:?}"),
        });
    }
    Ok(())
}
