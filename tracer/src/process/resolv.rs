//! `/etc/resolv.conf` read the way Go's pure-Go resolver reads it
//! (src/net/dnsconfig_unix.go, `dnsReadConfig`), so the bundle says which
//! servers Go asked. gotrace runs in the command's namespaces for `run`, so
//! `ip netns exec`'s bind-mounted /etc/netns/NAME/resolv.conf is what it sees.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use gotrace_bundle::ResolvConf;

/// The file Go reads.
pub const PATH: &str = "/etc/resolv.conf";

/// Go uses at most this many nameservers (MAXNS of resolv.conf(5)).
const MAX_SERVERS: usize = 3;

/// Reads `path`; an unreadable file is recorded, not an error (Go then
/// asks 127.0.0.1:53 and [::1]:53).
pub fn read(path: &Path) -> ResolvConf {
    let (present, error, nameservers) = match std::fs::read(path) {
        Ok(bytes) => (true, None, nameservers(&String::from_utf8_lossy(&bytes))),
        Err(e) => {
            // errno's own text ("No such file or directory"), without " (os error 2)".
            let why = match e.raw_os_error() {
                Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
                None => e.to_string(),
            };
            (false, Some(why), Vec::new())
        }
    };
    ResolvConf {
        path: path.display().to_string(),
        present,
        error,
        nameservers,
    }
}

/// The servers Go takes from `text`: lines starting with `;` or `#` are
/// comments, fields are split on spaces, tabs and CR, and a `nameserver`
/// line counts only when its address is a literal IP (an IPv6 one may
/// carry a `%zone`), up to three.
pub fn nameservers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with([';', '#']) {
            continue;
        }
        let mut fields = line.split([' ', '\r', '\t']).filter(|f| !f.is_empty());
        if fields.next() != Some("nameserver") || out.len() == MAX_SERVERS {
            continue;
        }
        if let Some(addr) = fields.next().filter(|a| is_ip(a)) {
            out.push(addr.to_string());
        }
    }
    out
}

/// Go's netip.ParseAddr: dotted IPv4, or IPv6 with an optional non-empty zone.
fn is_ip(s: &str) -> bool {
    match s.split_once('%') {
        Some((ip, zone)) => !zone.is_empty() && ip.parse::<Ipv6Addr>().is_ok(),
        None => s.parse::<Ipv4Addr>().is_ok() || s.parse::<Ipv6Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literal_nameserver_lines_count_as_go_reads_them() {
        let text = "# generated\n\
                    ;nameserver 198.18.0.9\n\
                    search lab.test\n\
                    options ndots:2 timeout:1\n\
                    nameserver 198.18.0.2 # the lab's dnsmasq\n\
                    nameserver dns.lab.test\n\
                    \tnameserver\t198.18.0.3\r\n\
                    nameserver\n\
                    nameserver fe80::1%veth0\n\
                    nameserver 198.18.0.4\n";
        assert_eq!(
            nameservers(text),
            ["198.18.0.2", "198.18.0.3", "fe80::1%veth0"]
        );
        assert_eq!(
            nameservers("nameserver ::1\nnameserver 1.2.3.4%eth0\nnameserver fe80::1%\n"),
            ["::1"]
        );
        assert!(nameservers("").is_empty());
    }

    #[test]
    fn a_missing_file_is_recorded_with_errnos_text() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("resolv.conf");
        let missing = read(&path);
        assert!(!missing.present);
        assert_eq!(missing.error.as_deref(), Some("No such file or directory"));
        assert!(missing.nameservers.is_empty());

        std::fs::write(&path, b"nameserver 198.18.0.2\n\xff\xfe garbage\n").unwrap();
        let found = read(&path);
        assert_eq!(
            (found.present, found.error, found.nameservers),
            (true, None, vec!["198.18.0.2".to_string()])
        );
        assert_eq!(found.path, path.display().to_string());
    }
}
