//! The lab's DNS server in the server namespace, on 198.18.0.2:53: dnsmasq
//! answering `proxy.lab.test` with the server's address and NXDOMAIN for
//! every other name (never forwarding anywhere), `tests/lab/dns_rcode.py`
//! answering every query with one error rcode, or `tests/lab/dns_truncate.py`
//! answering `proxy.lab.test` over UDP with TC=1 (and over TCP, or not).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::netns::{NetnsPair, SERVER_IP};
use crate::server::Server;
use crate::{paths, probe, LabError};

/// The name dnsmasq resolves to the server (the module proxy's host).
pub const PROXY_NAME: &str = "proxy.lab.test";

/// Which DNS server runs on 198.18.0.2:53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dns {
    /// None: the server's kernel answers ICMP port unreachable.
    #[default]
    None,
    /// dnsmasq: `proxy.lab.test` resolves, every other name is NXDOMAIN.
    Dnsmasq,
    /// Every query answered with this rcode (2 SERVFAIL, 5 REFUSED, ...),
    /// which dnsmasq cannot be told to do.
    Rcode(u8),
    /// UDP answers for `proxy.lab.test` are truncated (TC=1, no records,
    /// RFC 1035 4.1.1), so the resolver asks again over TCP (RFC 7766 5);
    /// with `tcp` true TCP port 53 answers properly, else nothing listens
    /// there and the server's kernel resets the connection.
    Truncated {
        /// Whether TCP port 53 answers.
        tcp: bool,
    },
}

impl Dns {
    /// Starts the server in the server namespace and waits until it
    /// answers a query sent from the client's. None for [`Dns::None`].
    pub(crate) fn start(self, netns: &NetnsPair, work: &Path) -> Result<Option<Server>, LabError> {
        let ns = &netns.server;
        let mut server = match self {
            Dns::None => return Ok(None),
            Dns::Dnsmasq => start_dnsmasq(ns, work)?,
            Dns::Rcode(rcode) => {
                let script = paths::lab_script("dns_rcode.py").display().to_string();
                let rcode = rcode.to_string();
                let args = [script.as_str(), SERVER_IP, "53", &rcode];
                Server::start("dns_rcode.py", ns, "python3", &args, work)?
            }
            Dns::Truncated { tcp } => {
                let script = paths::lab_script("dns_truncate.py").display().to_string();
                let mode = if tcp { "tcp" } else { "udp-only" };
                let args = [script.as_str(), SERVER_IP, "53", mode];
                Server::start("dns_truncate.py", ns, "python3", &args, work)?
            }
        };
        let addr = SocketAddr::from(([198, 18, 0, 2], 53));
        server.wait_ready(Duration::from_secs(10), || {
            probe::dns_answers(&netns.client, addr, PROXY_NAME)
        })?;
        Ok(Some(server))
    }
}

/// Starts dnsmasq in `ns` on SERVER_IP:53.
fn start_dnsmasq(ns: &str, work: &Path) -> Result<Server, LabError> {
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
    Server::start("dnsmasq", ns, program, &args, work)
}
