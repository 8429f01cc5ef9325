//! The lab's DNS server: dnsmasq in the server namespace, answering
//! `proxy.lab.test` with the server's address and NXDOMAIN for every other
//! name, never forwarding anywhere.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::netns::SERVER_IP;
use crate::probe;
use crate::server::Server;
use crate::LabError;

/// The name dnsmasq resolves to the server (the module proxy's host).
pub const PROXY_NAME: &str = "proxy.lab.test";

/// Starts dnsmasq in `ns` on SERVER_IP:53 and waits until it answers a
/// query sent from `probe_ns`.
pub fn start(ns: &str, probe_ns: &str, work: &Path) -> Result<Server, LabError> {
    let program = ["/usr/sbin/dnsmasq", "/sbin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| LabError::MissingTool("dnsmasq (package dnsmasq-base)".into()))?;
    let pid_file = work.join("dnsmasq.pid");
    let lease_file = work.join("dnsmasq.leases");
    let args = [
        "-k".to_string(),
        "--port=53".into(),
        format!("--listen-address={SERVER_IP}"),
        "--bind-interfaces".into(),
        // Answer only from the lab's own table: no upstream, no /etc/hosts.
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--conf-file=/dev/null".into(),
        format!("--address=/{PROXY_NAME}/{SERVER_IP}"),
        // Every other name: NXDOMAIN.
        "--address=/#/".into(),
        format!("--pid-file={}", pid_file.display()),
        format!("--dhcp-leasefile={}", lease_file.display()),
        "--user=root".into(),
        "--log-facility=-".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start("dnsmasq", ns, program, &args, work)?;
    let addr = SocketAddr::from(([198, 18, 0, 2], 53));
    probe::wait_until("dnsmasq", Duration::from_secs(10), || {
        server.check_alive()?;
        probe::dns_answers(probe_ns, addr, PROXY_NAME)
    })?;
    Ok(server)
}
