//! Optional nftables rules inside the lab namespaces, for the failures that
//! only a firewall produces (FIELD-NOTES.md: the two kinds of "timeout",
//! and rejects that the client's own kernel makes up). The tables live in
//! the lab's own namespaces and die with them.

use std::path::Path;

use crate::cmd::run_in;
use crate::netns::{NetnsPair, SERVER_IP};
use crate::proxy::PROXY_PORT;
use crate::LabError;

/// Which firewall rule, if any, stands between go and the module proxy
/// (TCP 198.18.0.2:8080) or the lab's DNS server (UDP 198.18.0.2:53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Firewall {
    /// No rules.
    #[default]
    None,
    /// The client's own OUTPUT chain drops SYNs to the proxy: nothing ever
    /// leaves, Go's 30 s dial deadline expires (`i/o timeout`).
    ClientDropsOutput,
    /// The client's own OUTPUT chain rejects SYNs to the proxy with a TCP
    /// reset, which the client's kernel delivers to itself over `lo`.
    ClientRejectsReset,
    /// The client's own OUTPUT chain rejects SYNs to the proxy with ICMP
    /// admin-prohibited, delivered to itself over `lo`.
    ClientRejectsIcmp,
    /// The server silently drops SYNs to the proxy port: the kernel gives
    /// up after its SYN retries (`connect: connection timed out`).
    ServerDropsInput,
    /// The server answers SYNs to the proxy port with a TCP reset, as a
    /// closed port would (`connect: connection refused`); for switching a
    /// silent proxy to a refusing one while go waits.
    ServerRefuses,
    /// The server answers SYNs with ICMP admin-prohibited
    /// (`connect: no route to host`).
    ServerRejects,
    /// The server answers SYNs with ICMP host-unreachable.
    ServerRejectsHostUnreachable,
    /// The server silently drops DNS queries to its port 53 (the DNS
    /// server behind it never sees them): Go's resolver times out.
    ServerDropsDns,
}

impl Firewall {
    /// Installs the rule in the namespace it belongs to.
    pub(crate) fn apply(self, netns: &NetnsPair, work: &Path) -> Result<(), LabError> {
        let to_proxy = format!("ip daddr {SERVER_IP} tcp dport {PROXY_PORT}");
        let (ns, hook, rule) = match self {
            Firewall::None => return Ok(()),
            Firewall::ClientDropsOutput => (&netns.client, "output", format!("{to_proxy} drop")),
            Firewall::ClientRejectsReset => (
                &netns.client,
                "output",
                format!("{to_proxy} reject with tcp reset"),
            ),
            Firewall::ClientRejectsIcmp => (
                &netns.client,
                "output",
                format!("{to_proxy} reject with icmp type admin-prohibited"),
            ),
            Firewall::ServerDropsInput => (&netns.server, "input", format!("{to_proxy} drop")),
            Firewall::ServerRefuses => (
                &netns.server,
                "input",
                format!("{to_proxy} reject with tcp reset"),
            ),
            Firewall::ServerRejects => (
                &netns.server,
                "input",
                format!("{to_proxy} reject with icmp type admin-prohibited"),
            ),
            Firewall::ServerRejectsHostUnreachable => (
                &netns.server,
                "input",
                format!("{to_proxy} reject with icmp type host-unreachable"),
            ),
            Firewall::ServerDropsDns => (
                &netns.server,
                "input",
                format!("ip daddr {SERVER_IP} udp dport 53 drop"),
            ),
        };
        // Replacing a rule: the table is declared, flushed, then filled in
        // one nft transaction, so no packet sees it half made.
        let ruleset = format!(
            "table inet gotrace_lab {{}}\nflush table inet gotrace_lab\ntable inet gotrace_lab {{\n  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n    {rule}\n  }}\n}}\n"
        );
        let file = work.join(format!("nft-{hook}.conf"));
        std::fs::write(&file, ruleset).map_err(LabError::io("writing", &file))?;
        run_in(ns, "nft", &["-f", &file.display().to_string()]).map(|_| ())
    }
}
