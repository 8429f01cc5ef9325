//! EADDRNOTAVAIL from connect(2) has two kernel causes (connect(2), ip(7)):
//! no source address of the peer's family that can reach it (an IPv6 proxy
//! on a host with only `::1` and `fe80::`), or no free ephemeral port
//! toward the peer in `net.ipv4.ip_local_port_range`. meta.json's
//! `local_network` (the addresses of the command's network namespace at
//! start) tells them apart; without it the errno table's joint meaning
//! stands.

use std::net::IpAddr;

use crate::cause::Cause;
use gotrace_bundle::{LocalAddress, LocalNetwork};

/// Which EADDRNOTAVAIL case the recorded addresses prove for `peer`, and
/// one clause saying why; None when `local` is None (an older bundle).
pub(super) fn addr_not_avail(
    peer: IpAddr,
    local: Option<&LocalNetwork>,
) -> Option<(Cause, String)> {
    let local = local?;
    let peer = peer.to_canonical();
    let usable: Vec<&LocalAddress> = local
        .addresses
        .iter()
        .filter(|a| a.can_reach(peer))
        .collect();
    let family = if peer.is_ipv6() { "IPv6" } else { "IPv4" };
    if usable.is_empty() {
        let same: Vec<&LocalAddress> = local
            .addresses
            .iter()
            .filter(|a| a.ip.is_ipv6() == peer.is_ipv6())
            .collect();
        let had = if same.is_empty() {
            "none at all".to_string()
        } else {
            format!(
                "only {}, which do not leave this host or its link",
                list(&same)
            )
        };
        return Some((
            Cause::LocalAddressUnavailable,
            format!("this host has no {family} source address that can reach {peer} (its {family} addresses at start: {had})"),
        ));
    }
    let range = match local.ip_local_port_range {
        Some([lo, hi]) => match u32::from(hi.saturating_sub(lo)) + 1 {
            1 => format!("net.ipv4.ip_local_port_range ({lo}-{hi}, 1 port)"),
            n => format!("net.ipv4.ip_local_port_range ({lo}-{hi}, {n} ports)"),
        },
        None => "net.ipv4.ip_local_port_range".into(),
    };
    // An IPv6 address still in duplicate address detection (tentative)
    // is skipped by source selection too (RFC 4862 5.4) and getifaddrs(3)
    // does not say so: name it as the other possibility there.
    let tentative = if peer.is_ipv6() {
        " (or those addresses were still tentative, in duplicate address detection)"
    } else {
        ""
    };
    Some((
        Cause::LocalPortsExhausted,
        format!(
            "this host has a source address for {peer} ({}), so the kernel found no free local port: every port of {range} was in use toward that peer{tentative}",
            list(&usable)
        ),
    ))
}

/// "fd00::1 on eth0, ::1 on lo", at most 4 named.
fn list(addrs: &[&LocalAddress]) -> String {
    let mut out: Vec<String> = addrs
        .iter()
        .take(4)
        .map(|a| format!("{} on {}", a.ip, a.interface))
        .collect();
    if addrs.len() > 4 {
        out.push(format!("{} more", addrs.len() - 4));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(interface: &str, ip: &str, prefix_len: u8) -> LocalAddress {
        LocalAddress {
            interface: interface.into(),
            ip: ip.parse().unwrap(),
            prefix_len,
        }
    }

    fn host() -> LocalNetwork {
        LocalNetwork {
            addresses: vec![
                addr("lo", "127.0.0.1", 8),
                addr("lo", "::1", 128),
                addr("veth0", "198.18.0.1", 24),
                addr("veth0", "fe80::1", 64),
            ],
            ip_local_port_range: Some([40000, 40001]),
        }
    }

    #[test]
    fn an_ipv6_peer_with_only_loopback_and_link_local_is_no_address() {
        let (cause, why) = addr_not_avail("fd67::2".parse().unwrap(), Some(&host())).unwrap();
        assert_eq!(cause, Cause::LocalAddressUnavailable);
        assert!(why.contains("only ::1 on lo, fe80::1 on veth0"), "{why}");
    }

    #[test]
    fn an_ipv4_peer_with_a_usable_address_is_port_exhaustion() {
        let (cause, why) = addr_not_avail("198.18.0.2".parse().unwrap(), Some(&host())).unwrap();
        assert_eq!(cause, Cause::LocalPortsExhausted);
        assert!(why.contains("198.18.0.1 on veth0"), "{why}");
        assert!(why.contains("40000-40001, 2 ports"), "{why}");
        assert!(!why.contains("tentative"), "{why}");
    }

    #[test]
    fn a_family_with_no_address_says_none() {
        let mut h = host();
        h.addresses.retain(|a| a.ip.is_ipv4());
        let (cause, why) = addr_not_avail("fd67::2".parse().unwrap(), Some(&h)).unwrap();
        assert_eq!(cause, Cause::LocalAddressUnavailable);
        assert!(why.contains("none at all"), "{why}");
    }

    #[test]
    fn a_v4_mapped_peer_is_judged_as_ipv4() {
        let (cause, _) =
            addr_not_avail("::ffff:198.18.0.2".parse().unwrap(), Some(&host())).unwrap();
        assert_eq!(cause, Cause::LocalPortsExhausted);
    }

    #[test]
    fn loopback_peers_may_use_loopback_sources() {
        let mut h = host();
        h.addresses.retain(|a| a.interface == "lo");
        let (cause, _) = addr_not_avail("127.0.0.1".parse().unwrap(), Some(&h)).unwrap();
        assert_eq!(cause, Cause::LocalPortsExhausted);
    }

    #[test]
    fn without_the_snapshot_nothing_is_refined() {
        assert_eq!(addr_not_avail("198.18.0.2".parse().unwrap(), None), None);
    }
}
