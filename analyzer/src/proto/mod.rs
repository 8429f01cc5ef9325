//! Decoders of what crosses the wire and what the kernel returns, over
//! the protocol libraries: DNS messages ([`dns`], simple-dns), DNS over
//! TCP ([`dns_tcp`], length-prefixed messages of one stream), TLS records ([`tls`], tls-parser), HTTP/1.x heads
//! ([`http`], httparse), ICMP errors ([`icmp`], etherparse), Linux
//! errno values ([`errno`]) and Go's own error text in stderr.log
//! ([`goerr`]). Only [`dns_tcp`] keeps state between calls (one stream
//! direction, bounded).

pub mod dns;
pub mod dns_tcp;
pub mod errno;
pub mod goerr;
pub mod http;
pub mod icmp;
pub mod tls;

/// IP protocol number of TCP (IANA "Assigned Internet Protocol Numbers",
/// `IPPROTO_TCP` of `<netinet/in.h>`).
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP (IANA, `IPPROTO_UDP` of `<netinet/in.h>`).
pub const IPPROTO_UDP: u8 = 17;
