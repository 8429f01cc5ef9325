//! The cause model both engines share: [`Cause`] (the stable cause ids of
//! README "Causes", each with its [`Layer`] and its remediation) and
//! [`Missing`] (what the evidence lacks, one `missing:` line each, with the
//! advice that gets it).
//!
//! The bundle verdict ([`crate::verdict`]) and the capture-only engine
//! ([`crate::capture_only`]) decide which cause the evidence proves; what a
//! cause means, where it sits and how to fix it is written only here.

pub mod errno_layer;
mod missing;
mod remediation;
pub mod route;
mod target;

use std::fmt;

use serde::Serialize;

use crate::proto::dns;
pub use missing::Missing;
pub use target::Target;

/// Where the failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// Go gave up before making any network syscall.
    BeforeSyscall,
    /// The local kernel refused (routing, local firewall).
    Kernel,
    /// Something on the network answered with a failure.
    Network,
    /// Nothing failed.
    None,
    /// The evidence does not prove a layer.
    Inconclusive,
}

impl Layer {
    /// The stable name (`before-syscall`, `kernel`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::BeforeSyscall => "before-syscall",
            Layer::Kernel => "kernel",
            Layer::Network => "network",
            Layer::None => "none",
            Layer::Inconclusive => "inconclusive",
        }
    }

    /// How the text report's `verdict:` line words the layer.
    pub fn verdict_words(self) -> &'static str {
        match self {
            Layer::BeforeSyscall => "failed before any network syscall",
            Layer::Kernel => "failed in the local kernel",
            Layer::Network => "failed on the network",
            Layer::None => "no failure",
            Layer::Inconclusive => "inconclusive",
        }
    }
}

/// A stable cause id (README, "Causes"), serialized as its kebab-case id
/// (`connection-refused`, `dns-nxdomain`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The command succeeded.
    None,
    /// The peer answered the SYN with RST (RFC 9293 3.10.7.3); SO_ERROR ECONNREFUSED.
    ConnectionRefused,
    /// `connect()` returned ENETUNREACH: no route in the local kernel.
    NoRoute,
    /// The DNS query got ICMP port unreachable (RFC 792 type 3 code 3).
    DnsPortUnreachable,
    /// The DNS answer was NXDOMAIN (RFC 1035 RCODE 3).
    DnsNxdomain,
    /// `GOPROXY=off`: Go refused to download anything.
    ProxyDisabled,
    /// Go failed without any network syscall.
    NoNetworkAttempt,
    /// Not enough evidence to name a layer.
    InsufficientEvidence,
    /// A GOPROXY, HTTP(S)_PROXY or ALL_PROXY value Go cannot parse.
    BadProxyConfig,
    /// A direct (GOPRIVATE/GONOPROXY/`direct`) fetch needs a VCS tool
    /// (`git`, `hg`, ...) that is not in PATH.
    VcsUnavailable,
    /// cmd/go refused an insecure request before sending it: credentials
    /// in a plain-http URL, or a direct fetch over http of a module
    /// GOINSECURE does not list (cmd/go/internal/web/http.go).
    InsecureUrlRefused,
    /// This host's own packet filter dropped the packet before it left
    /// (`kfree_skb` reason NETFILTER_DROP, retransmits failing with EPERM).
    LocalFirewallDrop,
    /// This host's own packet filter rejected the packet and answered the
    /// socket itself (RST or ICMP made locally); nothing reached the wire.
    LocalFirewallReject,
    /// A loopback/local address refused the connection (a proxy variable
    /// pointing at a local port where nothing listens).
    LocalRefused,
    /// No name server answers on this host's loopback (resolv.conf missing
    /// or naming a local resolver that is not running).
    NoResolver,
    /// SYNs left and were never answered: the kernel (ETIMEDOUT) or Go's
    /// dial deadline (i/o timeout) gave up.
    ConnectTimeout,
    /// An ICMP destination unreachable came back for the SYN (RFC 792, RFC 4443).
    IcmpUnreachable,
    /// The name server answered SERVFAIL, REFUSED or another error RCODE
    /// (RFC 1035 4.1.1).
    DnsServerFailure,
    /// DNS queries left and no answer came before Go's resolver gave up.
    DnsTimeout,
    /// The TLS server's certificate failed Go's verification (x509).
    TlsUntrustedCertificate,
    /// The peer ended the TLS handshake with a fatal alert (RFC 8446 6.2).
    TlsAlert,
    /// The proxy answered with an HTTP error status (RFC 9110 15).
    HttpStatus,
    /// The peer reset an established connection (RFC 9293 3.10.7.4).
    ConnectionReset,
    /// `connect()` returned EINVAL with nothing sent: a `blackhole` route
    /// (ip-route(8): "the local senders get an EINVAL error").
    LocalRouteBlackhole,
    /// `connect()` returned EACCES with nothing sent: a `prohibit` route
    /// (ip-route(8)), or a policy forbidding it (connect(2)).
    LocalRouteProhibit,
    /// `connect()` returned EHOSTUNREACH with nothing sent: an
    /// `unreachable` route (ip-route(8)).
    LocalRouteUnreachable,
    /// `connect()` returned EADDRNOTAVAIL (or EADDRINUSE, EAFNOSUPPORT):
    /// no local address of the peer's family (connect(2), ipv6(7)), or,
    /// in a bundle without meta.json's `local_network`, possibly no free
    /// ephemeral port.
    LocalAddressUnavailable,
    /// `connect()` returned EADDRNOTAVAIL although this host had a source
    /// address for the peer: every ephemeral port of
    /// `net.ipv4.ip_local_port_range` toward it was in use (ip(7)).
    LocalPortsExhausted,
    /// `connect()` returned EPERM with no packet filter record: a policy of
    /// this host (cgroup BPF connect hook, LSM) refused it (connect(2)).
    LocalPolicyDenied,
    /// The local kernel ran out of a resource (ENOBUFS, ENOMEM, EMFILE,
    /// ENFILE; socket(2), send(2)).
    LocalResourceExhausted,
    /// No host on the local link answered ARP / neighbour solicitation for
    /// the peer (RFC 826, RFC 4861 7.3.3): the SYN never got a link-layer
    /// address, the kernel dropped it (NEIGH_FAILED) and reported
    /// EHOSTUNREACH.
    NeighbourUnreachable,
    /// After the TCP handshake the peer's kernel ACKed what we sent (a
    /// proxy CONNECT, a TLS ClientHello, an HTTP request; RFC 9293 3.4) but
    /// the peer's application never answered until Go gave up (its TLS
    /// handshake deadline) or the run ended.
    NoResponse,
    /// The peer closed the connection (FIN, RFC 9293 3.6, or RST) after
    /// we sent a CONNECT, a ClientHello or a request and before any answer
    /// to it: Go reads `EOF` or `connection reset by peer`.
    ClosedWithoutResponse,
}

impl Cause {
    /// The stable id, as in `verdict.json` (`connection-refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::None => "none",
            Cause::ConnectionRefused => "connection-refused",
            Cause::NoRoute => "no-route",
            Cause::DnsPortUnreachable => "dns-port-unreachable",
            Cause::DnsNxdomain => "dns-nxdomain",
            Cause::ProxyDisabled => "proxy-disabled",
            Cause::NoNetworkAttempt => "no-network-attempt",
            Cause::InsufficientEvidence => "insufficient-evidence",
            Cause::BadProxyConfig => "bad-proxy-config",
            Cause::VcsUnavailable => "vcs-unavailable",
            Cause::InsecureUrlRefused => "insecure-url-refused",
            Cause::LocalFirewallDrop => "local-firewall-drop",
            Cause::LocalFirewallReject => "local-firewall-reject",
            Cause::LocalRefused => "local-refused",
            Cause::NoResolver => "no-resolver",
            Cause::ConnectTimeout => "connect-timeout",
            Cause::IcmpUnreachable => "icmp-unreachable",
            Cause::DnsServerFailure => "dns-server-failure",
            Cause::DnsTimeout => "dns-timeout",
            Cause::TlsUntrustedCertificate => "tls-untrusted-certificate",
            Cause::TlsAlert => "tls-alert",
            Cause::HttpStatus => "http-status",
            Cause::ConnectionReset => "connection-reset",
            Cause::LocalRouteBlackhole => "local-route-blackhole",
            Cause::LocalRouteProhibit => "local-route-prohibit",
            Cause::LocalRouteUnreachable => "local-route-unreachable",
            Cause::LocalAddressUnavailable => "local-address-unavailable",
            Cause::LocalPortsExhausted => "local-ports-exhausted",
            Cause::LocalPolicyDenied => "local-policy-denied",
            Cause::LocalResourceExhausted => "local-resource-exhausted",
            Cause::NeighbourUnreachable => "neighbour-unreachable",
            Cause::NoResponse => "no-response",
            Cause::ClosedWithoutResponse => "closed-without-response",
        }
    }

    /// The layer this cause places the failure in: what the wire proves is
    /// `network`; what this host's kernel did on its own (routing, its
    /// packet filter, its loopback) is `kernel`; what Go decided without a
    /// socket is `before-syscall`.
    pub fn layer(self) -> Layer {
        match self {
            Cause::None => Layer::None,
            Cause::InsufficientEvidence => Layer::Inconclusive,
            Cause::ProxyDisabled
            | Cause::NoNetworkAttempt
            | Cause::BadProxyConfig
            | Cause::VcsUnavailable
            | Cause::InsecureUrlRefused => Layer::BeforeSyscall,
            Cause::NoRoute
            | Cause::LocalFirewallDrop
            | Cause::LocalFirewallReject
            | Cause::LocalRefused
            | Cause::NoResolver
            | Cause::LocalRouteBlackhole
            | Cause::LocalRouteProhibit
            | Cause::LocalRouteUnreachable
            | Cause::LocalAddressUnavailable
            | Cause::LocalPortsExhausted
            | Cause::LocalPolicyDenied
            | Cause::LocalResourceExhausted => Layer::Kernel,
            Cause::ConnectionRefused
            | Cause::DnsPortUnreachable
            | Cause::DnsNxdomain
            | Cause::ConnectTimeout
            | Cause::IcmpUnreachable
            | Cause::DnsServerFailure
            | Cause::DnsTimeout
            | Cause::TlsUntrustedCertificate
            | Cause::TlsAlert
            | Cause::HttpStatus
            | Cause::ConnectionReset
            | Cause::NeighbourUnreachable
            | Cause::NoResponse
            | Cause::ClosedWithoutResponse => Layer::Network,
        }
    }

    /// The cause an answer's RCODE proves (RFC 1035 4.1.1): NXDOMAIN (3)
    /// is `dns-nxdomain`, any other error (SERVFAIL 2, REFUSED 5, ...)
    /// `dns-server-failure`; `None` for NOERROR (0).
    pub fn of_rcode(rcode: u8) -> Option<Cause> {
        match rcode {
            0 => None,
            dns::RCODE_NXDOMAIN => Some(Cause::DnsNxdomain),
            _ => Some(Cause::DnsServerFailure),
        }
    }

    /// The evidence this cause needs beyond the syscall trace. A cause that
    /// says something did *not* cross the wire (a packet that never left:
    /// no route, this host's firewall; an answer that never came: the
    /// timeouts) rests on silence, which only a capture shows; decided
    /// from the kernel's records alone, its verdict lists the capture as
    /// [`Missing::Capture`].
    pub fn rests_on_silence(self) -> bool {
        matches!(
            self,
            Cause::NoRoute
                | Cause::LocalRouteBlackhole
                | Cause::LocalRouteProhibit
                | Cause::LocalRouteUnreachable
                | Cause::LocalAddressUnavailable
                | Cause::LocalPortsExhausted
                | Cause::LocalPolicyDenied
                | Cause::LocalFirewallDrop
                | Cause::LocalFirewallReject
                | Cause::ConnectTimeout
                | Cause::DnsTimeout
                | Cause::NoResponse
        )
    }

    /// Whether a layer is proven (every cause but `insufficient-evidence`).
    pub fn decided(self) -> bool {
        self != Cause::InsufficientEvidence
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Cause {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Cause {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Cause; 33] = [
        Cause::None,
        Cause::ConnectionRefused,
        Cause::NoRoute,
        Cause::DnsPortUnreachable,
        Cause::DnsNxdomain,
        Cause::ProxyDisabled,
        Cause::NoNetworkAttempt,
        Cause::InsufficientEvidence,
        Cause::BadProxyConfig,
        Cause::VcsUnavailable,
        Cause::InsecureUrlRefused,
        Cause::LocalFirewallDrop,
        Cause::LocalFirewallReject,
        Cause::LocalRefused,
        Cause::NoResolver,
        Cause::ConnectTimeout,
        Cause::IcmpUnreachable,
        Cause::DnsServerFailure,
        Cause::DnsTimeout,
        Cause::TlsUntrustedCertificate,
        Cause::TlsAlert,
        Cause::HttpStatus,
        Cause::ConnectionReset,
        Cause::LocalRouteBlackhole,
        Cause::LocalRouteProhibit,
        Cause::LocalRouteUnreachable,
        Cause::LocalAddressUnavailable,
        Cause::LocalPortsExhausted,
        Cause::LocalPolicyDenied,
        Cause::LocalResourceExhausted,
        Cause::NeighbourUnreachable,
        Cause::NoResponse,
        Cause::ClosedWithoutResponse,
    ];

    #[test]
    fn ids_are_the_serialized_names() {
        for c in ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn layer_names_are_the_documented_ones() {
        for (l, s) in [
            (Layer::BeforeSyscall, "before-syscall"),
            (Layer::Kernel, "kernel"),
            (Layer::Network, "network"),
            (Layer::None, "none"),
            (Layer::Inconclusive, "inconclusive"),
        ] {
            assert_eq!(l.as_str(), s);
            assert_eq!(serde_json::to_value(l).unwrap(), s);
        }
    }

    #[test]
    fn rcodes() {
        assert_eq!(Cause::of_rcode(0), None);
        assert_eq!(Cause::of_rcode(3), Some(Cause::DnsNxdomain));
        assert_eq!(Cause::of_rcode(2), Some(Cause::DnsServerFailure));
        assert_eq!(Cause::of_rcode(5), Some(Cause::DnsServerFailure));
    }

    #[test]
    fn only_insufficient_evidence_is_undecided() {
        for c in ALL {
            assert_eq!(c.decided(), c.layer() != Layer::Inconclusive, "{c}");
        }
    }
}
