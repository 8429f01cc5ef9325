//! The link layer: where the network-layer packet starts in a captured
//! frame, for every link type gotrace decodes.
//!
//! A frame's link type is the pcap header's `network` field or the pcapng
//! Interface Description Block's `LinkType` (LINKTYPE_* values from
//! tcpdump.org/linktypes.html; draft-ietf-opsawg-pcaplinktype). [`network`]
//! strips the link header and returns the EtherType of what follows and its
//! bytes; packet decoding ([`super::packet::decode`]) takes it from there.
//! Nothing here allocates or panics, whatever the bytes.

use pcap_file::DataLink;

/// LINKTYPE_NULL: BSD loopback; a 4-byte address family in the byte order
/// of the host that wrote the file (read either way, as tcpdump does).
pub const NULL: u32 = 0;
/// LINKTYPE_ETHERNET: IEEE 802.3 / Ethernet II, optionally VLAN-tagged.
pub const ETHERNET: u32 = 1;
/// DLT_RAW on most platforms (12): raw IPv4/IPv6, found in old files
/// written before LINKTYPE_RAW existed.
pub const DLT_RAW_12: u32 = 12;
/// DLT_RAW on OpenBSD and BSD/OS (14): raw IPv4/IPv6.
pub const DLT_RAW_14: u32 = 14;
/// LINKTYPE_RAW: raw IPv4 or IPv6, told apart by the version nibble.
pub const RAW: u32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback; a 4-byte address family, network order.
pub const LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1, 16-byte header, the
/// protocol (EtherType) in bytes 14..16.
pub const LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4: raw IPv4.
pub const IPV4: u32 = 228;
/// LINKTYPE_IPV6: raw IPv6.
pub const IPV6: u32 = 229;
/// LINKTYPE_NFLOG: Linux netfilter NFLOG messages (`tcpdump -i nflog:N`).
pub const NFLOG: u32 = 239;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2, 20-byte header, the
/// protocol (EtherType) in bytes 0..2.
pub const LINUX_SLL2: u32 = 276;

/// EtherType of IPv4 (IEEE registry).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6 (RFC 8200 over Ethernet, RFC 2464).
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service VLAN tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88A8;
/// Pre-standard QinQ outer tag some switches still send.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// VLAN tags skipped at most (QinQ is two; more is damage).
const MAX_VLAN_TAGS: usize = 8;

/// `AF_INET` in every BSD loopback header.
const AF_INET: u32 = 2;
/// `AF_INET6` in BSD loopback headers: 24 on NetBSD, OpenBSD and BSD/OS,
/// 28 on FreeBSD and DragonFly, 30 on macOS (tcpdump.org/linktypes.html,
/// LINKTYPE_NULL).
const AF_INET6_BSD: [u32; 3] = [24, 28, 30];
/// `AF_INET6` on Linux (NFLOG's `nfgen_family`).
const AF_INET6_LINUX: u8 = 10;

/// Bytes of the NFLOG header (`struct nfgenmsg`: family, version, resource
/// id) before the TLVs.
const NFLOG_HEADER: usize = 4;
/// NFLOG TLV type of the packet itself, from its network header
/// (`NFULA_PAYLOAD` in linux/netfilter/nfnetlink_log.h).
const NFULA_PAYLOAD: u16 = 9;
/// Flag bits of a netlink attribute type (`NLA_F_NESTED`,
/// `NLA_F_NET_BYTEORDER`), not part of the type.
const NLA_TYPE_MASK: u16 = 0x3FFF;

/// The network-layer start of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network<'a> {
    /// EtherType of `data` ([`ETHERTYPE_IPV4`], [`ETHERTYPE_IPV6`], ARP...),
    /// VLAN tags already skipped.
    pub ether_type: u16,
    /// The bytes from the network-layer header on (to the end of the
    /// captured data).
    pub data: &'a [u8],
}

/// Whether [`network`] understands frames of link type `lt`.
pub fn supported(lt: u32) -> bool {
    matches!(
        lt,
        NULL | ETHERNET
            | DLT_RAW_12
            | DLT_RAW_14
            | RAW
            | LOOP
            | LINUX_SLL
            | IPV4
            | IPV6
            | NFLOG
            | LINUX_SLL2
    )
}

/// The name of link type `lt` as tcpdump.org/linktypes.html spells it,
/// e.g. `LINKTYPE_IEEE802_11` for 105; `None` for unassigned numbers.
pub fn name(lt: u32) -> Option<String> {
    match lt {
        DLT_RAW_12 | DLT_RAW_14 => Some("DLT_RAW".into()),
        _ => match DataLink::from(lt) {
            DataLink::Unknown(_) => None,
            known => Some(format!("LINKTYPE_{known:?}")),
        },
    }
}

/// `105 (LINKTYPE_IEEE802_11)`, or `4242 (unassigned)`: a link type for
/// warnings.
pub fn describe(lt: u32) -> String {
    match name(lt) {
        Some(n) => format!("{lt} ({n})"),
        None => format!("{lt} (unassigned)"),
    }
}

/// Strips the link-layer header of a frame of link type `link_type`.
///
/// `None` when the link type is not [`supported`], when the frame is
/// shorter than its link header, or when the link header says the frame
/// carries no network-layer packet (an 802.3 length field, an NFLOG
/// message without payload, an unknown loopback address family), or an IP
/// packet of the other version than the link header says.
pub fn network(link_type: u32, data: &[u8]) -> Option<Network<'_>> {
    let (ether_type, data) = match link_type {
        ETHERNET => {
            // Destination 6, source 6, EtherType 2; below 0x0600 the field
            // is an 802.3 length (LLC follows, not IP).
            let t = be16(data, 12)?;
            if t < 0x0600 {
                return None;
            }
            (t, data.get(14..)?)
        }
        // packet type 2, ARPHRD 2, address length 2, address 8, protocol 2.
        LINUX_SLL => (be16(data, 14)?, data.get(16..)?),
        // protocol 2, reserved 2, ifindex 4, ARPHRD 2, packet type 1,
        // address length 1, address 8.
        LINUX_SLL2 => (be16(data, 0)?, data.get(20..)?),
        RAW | DLT_RAW_12 | DLT_RAW_14 => (by_version(data)?, data),
        IPV4 => (ETHERTYPE_IPV4, data),
        IPV6 => (ETHERTYPE_IPV6, data),
        NULL => {
            let le = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
            // Host order of the writer: a family is small, so a value with
            // upper bits set was written by the other byte order.
            let af = if le & 0xFFFF_0000 != 0 {
                le.swap_bytes()
            } else {
                le
            };
            (loopback_family(af)?, data.get(4..)?)
        }
        LOOP => {
            let af = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
            (loopback_family(af)?, data.get(4..)?)
        }
        NFLOG => return nflog(data).filter(version_matches),
        _ => return None,
    };
    skip_vlan_tags(ether_type, data).filter(version_matches)
}

/// False when an IPv4 or IPv6 EtherType carries a packet of another IP
/// version (tshark: "Bogus IP version"): such a packet is damage, not
/// something to read as the version its first nibble claims.
fn version_matches(n: &Network<'_>) -> bool {
    let version = n.data.first().map(|b| b >> 4);
    match n.ether_type {
        ETHERTYPE_IPV4 => version == Some(4),
        ETHERTYPE_IPV6 => version == Some(6),
        _ => true,
    }
}

/// Skips 802.1Q / 802.1ad tags (4 bytes each: TCI 2, inner EtherType 2).
fn skip_vlan_tags(mut ether_type: u16, mut data: &[u8]) -> Option<Network<'_>> {
    for _ in 0..MAX_VLAN_TAGS {
        if !matches!(
            ether_type,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
        ) {
            return Some(Network { ether_type, data });
        }
        ether_type = be16(data, 2)?;
        data = data.get(4..)?;
    }
    None
}

/// IPv4 or IPv6 by the version nibble of a raw IP packet.
fn by_version(data: &[u8]) -> Option<u16> {
    match data.first()? >> 4 {
        4 => Some(ETHERTYPE_IPV4),
        6 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}

fn loopback_family(af: u32) -> Option<u16> {
    if af == AF_INET {
        Some(ETHERTYPE_IPV4)
    } else if AF_INET6_BSD.contains(&af) {
        Some(ETHERTYPE_IPV6)
    } else {
        None
    }
}

/// The packet inside an NFLOG message: after the 4-byte `nfgenmsg` header
/// come TLVs (length 2, type 2, value; the length counts the 4-byte TLV
/// header and each TLV is padded to 4 bytes), in the byte order of the
/// host that captured (tcpdump's print-nflog.c; LINKTYPE_NFLOG). The
/// byte order is told from the first TLV's type: types are small, so the
/// order in which it reads below 256 is the right one. The NFULA_PAYLOAD
/// TLV holds the packet from its network header; the family (`AF_INET` 2,
/// `AF_INET6` 10) says which.
fn nflog(data: &[u8]) -> Option<Network<'_>> {
    let ether_type = match *data.first()? {
        2 => ETHERTYPE_IPV4,
        AF_INET6_LINUX => ETHERTYPE_IPV6,
        _ => return None,
    };
    let first_type = data.get(NFLOG_HEADER + 2..NFLOG_HEADER + 4)?;
    let little = u16::from_le_bytes([first_type[0], first_type[1]]) & NLA_TYPE_MASK < 256;
    let rd = |at: usize| -> Option<u16> {
        let b = data.get(at..at + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let mut at = NFLOG_HEADER;
    // Each step moves at least 4 bytes forward, so this ends.
    while at + 4 <= data.len() {
        let len = usize::from(rd(at)?);
        let tlv_type = rd(at + 2)? & NLA_TYPE_MASK;
        if len < 4 {
            return None;
        }
        if tlv_type == NFULA_PAYLOAD {
            // A payload cut by the snaplen is still the packet's start.
            let end = (at + len).min(data.len());
            return Some(Network {
                ether_type,
                data: data.get(at + 4..end)?,
            });
        }
        at = at.checked_add(len.checked_add(3)? & !3)?;
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header start and an IPv6 one (only the version
    /// nibble matters here).
    const V4: [u8; 4] = [0x45, 0, 0, 20];
    const V6: [u8; 4] = [0x60, 0, 0, 0];

    fn net(lt: u32, data: &[u8]) -> Option<(u16, Vec<u8>)> {
        network(lt, data).map(|n| (n.ether_type, n.data.to_vec()))
    }

    #[test]
    fn ethernet_plain_vlan_and_qinq() {
        let mut f = vec![0xaa; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&V4);
        assert_eq!(net(ETHERNET, &f), Some((ETHERTYPE_IPV4, V4.to_vec())));
        // 802.1Q, VLAN 5, then IPv6.
        let mut q = vec![0xaa; 12];
        q.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x86, 0xdd]);
        q.extend_from_slice(&V6);
        assert_eq!(net(ETHERNET, &q), Some((ETHERTYPE_IPV6, V6.to_vec())));
        // QinQ: 802.1ad outer tag, 802.1Q inner tag, IPv4.
        let mut qq = vec![0xaa; 12];
        qq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        qq.extend_from_slice(&V4);
        assert_eq!(net(ETHERNET, &qq), Some((ETHERTYPE_IPV4, V4.to_vec())));
        // A tag cut in the middle, an 802.3 length field, a short frame.
        assert_eq!(net(ETHERNET, &qq[..16]), None);
        let mut llc = vec![0xaa; 12];
        llc.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03]);
        assert_eq!(net(ETHERNET, &llc), None);
        assert_eq!(net(ETHERNET, &f[..13]), None);
        // Endless tags are damage, not a loop.
        let mut tags = vec![0xaa; 12];
        for _ in 0..20 {
            tags.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        tags.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(net(ETHERNET, &tags), None);
        // ARP is passed on as what it is.
        let mut arp = vec![0xaa; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(net(ETHERNET, &arp), Some((0x0806, vec![0, 1])));
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
        sll.extend_from_slice(&V6);
        assert_eq!(net(LINUX_SLL, &sll), Some((ETHERTYPE_IPV6, V6.to_vec())));
        assert_eq!(net(LINUX_SLL, &sll[..15]), None);
        // A VLAN tag the kernel left in a cooked frame.
        let mut sll_vlan = sll[..14].to_vec();
        sll_vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        sll_vlan.extend_from_slice(&V4);
        assert_eq!(
            net(LINUX_SLL, &sll_vlan),
            Some((ETHERTYPE_IPV4, V4.to_vec()))
        );
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
        sll2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
        sll2.extend_from_slice(&V4);
        assert_eq!(net(LINUX_SLL2, &sll2), Some((ETHERTYPE_IPV4, V4.to_vec())));
        assert_eq!(net(LINUX_SLL2, &sll2[..19]), None);
    }

    #[test]
    fn raw_ip_by_link_type_and_version() {
        for lt in [RAW, DLT_RAW_12, DLT_RAW_14] {
            assert_eq!(net(lt, &V4), Some((ETHERTYPE_IPV4, V4.to_vec())));
            assert_eq!(net(lt, &V6), Some((ETHERTYPE_IPV6, V6.to_vec())));
            assert_eq!(net(lt, &[0x20, 0]), None);
            assert_eq!(net(lt, &[]), None);
        }
        assert_eq!(net(IPV4, &V4), Some((ETHERTYPE_IPV4, V4.to_vec())));
        assert_eq!(net(IPV6, &V6), Some((ETHERTYPE_IPV6, V6.to_vec())));
        // The link type and the version nibble must agree (tshark: "Bogus
        // IPv6 version"), for raw IP and for every other link header.
        assert_eq!(net(IPV4, &V6), None);
        assert_eq!(net(IPV6, &V4), None);
        let mut eth = vec![0xaa; 12];
        eth.extend_from_slice(&[0x86, 0xdd]);
        eth.extend_from_slice(&V4);
        assert_eq!(net(ETHERNET, &eth), None);
        assert_eq!(net(NFLOG, &nflog_msg(10, false, &V4)), None);
    }

    #[test]
    fn bsd_loopback_families_and_byte_orders() {
        for (af, want, ip) in [
            (2u32, ETHERTYPE_IPV4, V4),
            (24, ETHERTYPE_IPV6, V6),
            (28, ETHERTYPE_IPV6, V6),
            (30, ETHERTYPE_IPV6, V6),
        ] {
            for hdr in [af.to_le_bytes(), af.to_be_bytes()] {
                let mut f = hdr.to_vec();
                f.extend_from_slice(&ip);
                assert_eq!(net(NULL, &f), Some((want, ip.to_vec())), "NULL af {af}");
            }
            let mut f = af.to_be_bytes().to_vec();
            f.extend_from_slice(&ip);
            assert_eq!(net(LOOP, &f), Some((want, ip.to_vec())), "LOOP af {af}");
            // LOOP is network order only.
            let mut f = af.to_le_bytes().to_vec();
            f.extend_from_slice(&ip);
            assert_eq!(net(LOOP, &f), None, "LOOP little-endian af {af}");
        }
        // AF_INET6 of Linux (10) and unknown families carry no IP here.
        assert_eq!(net(NULL, &[10, 0, 0, 0, 0x60]), None);
        assert_eq!(net(NULL, &[2, 0, 0]), None);
    }

    /// An NFLOG message of family `af`: a packet-header TLV, a prefix TLV
    /// (length 7, padded to 8), then the payload TLV.
    fn nflog_msg(af: u8, big: bool, payload: &[u8]) -> Vec<u8> {
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut m = vec![af, 0, 0, 1];
        m.extend_from_slice(&u16b(8));
        m.extend_from_slice(&u16b(1));
        m.extend_from_slice(&[0x08, 0x00, 1, 0]);
        m.extend_from_slice(&u16b(7));
        m.extend_from_slice(&u16b(10));
        m.extend_from_slice(b"dns\0");
        m.extend_from_slice(&u16b(4 + payload.len() as u16));
        m.extend_from_slice(&u16b(NFULA_PAYLOAD));
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn nflog_walks_tlvs_to_the_payload() {
        for big in [false, true] {
            let m = nflog_msg(2, big, &V4);
            assert_eq!(net(NFLOG, &m), Some((ETHERTYPE_IPV4, V4.to_vec())));
            let m = nflog_msg(10, big, &V6);
            assert_eq!(net(NFLOG, &m), Some((ETHERTYPE_IPV6, V6.to_vec())));
            // The payload cut by the snaplen: what is there.
            assert_eq!(
                net(NFLOG, &m[..m.len() - 1]),
                Some((ETHERTYPE_IPV6, V6[..3].to_vec()))
            );
            // Cut before the payload TLV: nothing.
            assert_eq!(net(NFLOG, &m[..20]), None);
        }
        // A TLV length below its own header is damage, not a loop.
        let mut bad = nflog_msg(2, false, &V4);
        bad[4] = 2;
        assert_eq!(net(NFLOG, &bad), None);
        // Other families (bridge 7) are not IP.
        assert_eq!(net(NFLOG, &nflog_msg(7, false, &V4)), None);
    }

    #[test]
    fn names_for_warnings() {
        assert_eq!(describe(105), "105 (LINKTYPE_IEEE802_11)");
        assert_eq!(describe(182), "182 (LINKTYPE_MFR)");
        assert_eq!(describe(276), "276 (LINKTYPE_LINUX_SLL2)");
        assert_eq!(describe(12), "12 (DLT_RAW)");
        assert_eq!(describe(65000), "65000 (unassigned)");
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276] {
            assert!(supported(lt), "{lt}");
        }
        assert!(!supported(105));
    }

    #[test]
    fn unsupported_and_any_prefix_never_panic() {
        let mut m = nflog_msg(2, false, &V4);
        m.extend_from_slice(&[0x81, 0x00, 0x88, 0xa8]);
        for lt in [
            0,
            1,
            12,
            14,
            101,
            105,
            108,
            113,
            228,
            229,
            239,
            276,
            u32::MAX,
        ] {
            for n in 0..=m.len() {
                let _ = network(lt, &m[..n]);
            }
        }
        assert_eq!(net(105, &V4), None);
    }
}
