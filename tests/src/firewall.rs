//! Optional nftables rules inside the lab namespaces, for the failures that
//! only a firewall produces (FIELD-NOTES.md: the two kinds of "timeout").
//! The tables live in the lab's own namespaces and die with them.

use std::path::Path;

use crate::cmd::run_in;
use crate::netns::{NetnsPair, SERVER_IP};
use crate::proxy::PROXY_PORT;
use crate::LabError;

/// Which firewall rule, if any, stands between go and the module proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Firewall {
    /// No rules.
    #[default]
    None,
    /// The client's own OUTPUT chain drops SYNs to the proxy: nothing ever
    /// leaves, Go's 30 s dial deadline expires (`i/o timeout`).
    ClientDropsOutput,
    /// The server silently drops SYNs to the proxy port: the kernel gives
    /// up after its SYN retries (`connect: connection timed out`).
    ServerDropsInput,
    /// The server answers SYNs with ICMP admin-prohibited
    /// (`connect: no route to host`).
    ServerRejects,
}

impl Firewall {
    /// Installs the rule in the namespace it belongs to.
    pub(crate) fn apply(self, netns: &NetnsPair, work: &Path) -> Result<(), LabError> {
        let (ns, hook, verdict) = match self {
            Firewall::None => return Ok(()),
            Firewall::ClientDropsOutput => (&netns.client, "output", "drop"),
            Firewall::ServerDropsInput => (&netns.server, "input", "drop"),
            Firewall::ServerRejects => (
                &netns.server,
                "input",
                "reject with icmp type admin-prohibited",
            ),
        };
        let ruleset = format!(
            "table inet gotrace_lab {{\n  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n    ip daddr {SERVER_IP} tcp dport {PROXY_PORT} {verdict}\n  }}\n}}\n"
        );
        let file = work.join(format!("nft-{hook}.conf"));
        std::fs::write(&file, ruleset).map_err(LabError::io("writing", &file))?;
        run_in(ns, "nft", &["-f", &file.display().to_string()]).map(|_| ())
    }
}
