//! The command's own end of the network at start: every interface address
//! (getifaddrs(3)) and the ephemeral port range (ip(7)
//! `ip_local_port_range`), read in the command's network namespace. They
//! tell a connect(2) that failed with EADDRNOTAVAIL apart: no source
//! address of the peer's family, or every port taken.

use std::net::IpAddr;

use crate::process::netns::NetNs;
use gotrace_bundle::{LocalAddress, LocalNetwork};

/// The sysctl, per network namespace (read through /proc/sys/net of the
/// reading thread's namespace).
const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// Snapshot of the namespace `netns` (None: gotrace's own). Errors are a
/// one-line reason for meta.json's warnings.
pub fn snapshot(netns: Option<&NetNs>) -> Result<LocalNetwork, String> {
    // setns(2) moves one thread: read on a thread of our own.
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Some(ns) = netns {
                ns.enter_this_thread().map_err(|e| e.to_string())?;
            }
            read_here()
        })
        .join()
        .unwrap_or_else(|_| Err("the address reader panicked".into()))
    })
}

fn read_here() -> Result<LocalNetwork, String> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("getifaddrs: {e}"))?;
    let mut addresses = Vec::new();
    for a in addrs {
        let Some((ip, mask)) = a
            .address
            .as_ref()
            .and_then(|addr| ip_and_mask(addr, a.netmask.as_ref()))
        else {
            continue;
        };
        addresses.push(LocalAddress {
            interface: a.interface_name,
            ip,
            prefix_len: mask,
        });
    }
    let ip_local_port_range = std::fs::read_to_string(PORT_RANGE)
        .ok()
        .and_then(|t| parse_range(&t));
    Ok(LocalNetwork {
        addresses,
        ip_local_port_range,
    })
}

/// An IPv4/IPv6 address and its prefix length (the netmask's one bits).
fn ip_and_mask(
    addr: &nix::sys::socket::SockaddrStorage,
    mask: Option<&nix::sys::socket::SockaddrStorage>,
) -> Option<(IpAddr, u8)> {
    let ones = |bytes: &[u8]| bytes.iter().map(|b| b.count_ones()).sum::<u32>() as u8;
    if let Some(v4) = addr.as_sockaddr_in() {
        let m = mask
            .and_then(|m| m.as_sockaddr_in())
            .map_or(32, |m| ones(&m.ip().octets()));
        return Some((IpAddr::V4(v4.ip()), m));
    }
    let v6 = addr.as_sockaddr_in6()?;
    let m = mask
        .and_then(|m| m.as_sockaddr_in6())
        .map_or(128, |m| ones(&m.ip().octets()));
    Some((IpAddr::V6(v6.ip()), m))
}

/// "32768\t60999\n" -> [32768, 60999].
fn parse_range(text: &str) -> Option<[u16; 2]> {
    let mut it = text.split_whitespace().map(|w| w.parse::<u16>().ok());
    let (lo, hi) = (it.next()??, it.next()??);
    Some([lo, hi])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_file_parses_and_junk_does_not() {
        assert_eq!(parse_range("32768\t60999\n"), Some([32768, 60999]));
        assert_eq!(parse_range("40000 40000"), Some([40000, 40000]));
        assert_eq!(parse_range("70000 1"), None);
        assert_eq!(parse_range(""), None);
    }

    #[test]
    fn this_host_has_a_loopback_address_and_a_range() {
        let n = snapshot(None).unwrap();
        assert!(
            n.addresses
                .iter()
                .any(|a| a.ip == IpAddr::from([127, 0, 0, 1]) && a.prefix_len == 8),
            "{n:?}"
        );
        let [lo, hi] = n.ip_local_port_range.unwrap();
        assert!(lo <= hi && lo > 0, "{lo}-{hi}");
    }
}
