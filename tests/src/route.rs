//! Client-side routing that makes the local kernel refuse a dial before
//! any packet leaves: the route types of ip-route(8) ("the local senders
//! get an EINVAL / EACCES / EHOSTUNREACH error"), and an IPv6 peer with
//! no IPv6 address to send from (connect(2) EADDRNOTAVAIL). Everything is
//! set inside the lab's client namespace and dies with it.

use crate::cmd::run_in;
use crate::netns::NetnsPair;
use crate::LabError;

/// A `blackhole` route's destination: connect() = -EINVAL.
pub const BLACKHOLE_IP: &str = "198.19.255.2";
/// A `prohibit` route's destination: connect() = -EACCES.
pub const PROHIBIT_IP: &str = "198.19.255.3";
/// An `unreachable` route's destination: connect() = -EHOSTUNREACH.
pub const UNREACHABLE_IP: &str = "198.19.255.4";
/// A ULA peer (RFC 4193) routed on the lab link while the client has no
/// IPv6 address at all: connect() = -EADDRNOTAVAIL.
pub const NO_SOURCE_V6_IP: &str = "fd67:7472:6163::2";

/// Which route, if any, the client namespace gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientRoute {
    /// Only the lab link's own route.
    #[default]
    None,
    /// `ip route add blackhole BLACKHOLE_IP`.
    Blackhole,
    /// `ip route add prohibit PROHIBIT_IP`.
    Prohibit,
    /// `ip route add unreachable UNREACHABLE_IP`.
    Unreachable,
    /// A route to `NO_SOURCE_V6_IP`'s /64 on the lab link, with IPv6
    /// turned off on `lo` and the link-local address removed from the
    /// veth: no source address to pick (measured: without the route
    /// connect() says ENETUNREACH; with `::1` left on lo the kernel picks
    /// it and the neighbour lookup fails with EHOSTUNREACH).
    Ipv6NoAddress,
}

impl ClientRoute {
    /// Installs it in the client namespace.
    pub(crate) fn apply(self, netns: &NetnsPair) -> Result<(), LabError> {
        let ns = &netns.client;
        let route = |kind: &str, ip: &str| run_in(ns, "ip", &["route", "add", kind, ip]);
        match self {
            ClientRoute::None => Ok(()),
            ClientRoute::Blackhole => route("blackhole", BLACKHOLE_IP).map(|_| ()),
            ClientRoute::Prohibit => route("prohibit", PROHIBIT_IP).map(|_| ()),
            ClientRoute::Unreachable => route("unreachable", UNREACHABLE_IP).map(|_| ()),
            ClientRoute::Ipv6NoAddress => {
                run_in(
                    ns,
                    "sysctl",
                    &["-q", "-w", "net.ipv6.conf.lo.disable_ipv6=1"],
                )?;
                run_in(ns, "ip", &["-6", "addr", "flush", "dev", "veth0"])?;
                let net = format!("{NO_SOURCE_V6_IP}/64");
                run_in(ns, "ip", &["-6", "route", "add", &net, "dev", "veth0"]).map(|_| ())
            }
        }
    }
}
