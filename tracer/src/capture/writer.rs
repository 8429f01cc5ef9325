//! Writing frames as pcapng: one Interface Description Block per interface,
//! added when its first frame arrives, then Enhanced Packet Blocks.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gotrace_bundle::Interface;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;

use super::round_trip::RoundTrips;
use super::socket::{Frame, NsInfo, ARPHRD_LOOPBACK, PACKET_OUTGOING, SNAPLEN};
use crate::error::TracerError;
use crate::redact::frame::{redact_frame, Link};

/// `sll_hatype` values (linux/if_arp.h) and the LINKTYPE_* they map to
/// (tcpdump.org/linktypes.html): Ethernet-framed devices keep their header;
/// devices without a link header hand AF_PACKET the bare IP packet.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_NONE: u16 = 0xfffe;
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;
const ARPHRD_IPGRE: u16 = 778;
const ARPHRD_SIT: u16 = 776;

fn link_type(hatype: u16) -> Option<DataLink> {
    match hatype {
        ARPHRD_ETHER | ARPHRD_LOOPBACK => Some(DataLink::ETHERNET),
        ARPHRD_NONE | ARPHRD_TUNNEL | ARPHRD_TUNNEL6 | ARPHRD_IPGRE | ARPHRD_SIT => {
            Some(DataLink::RAW)
        }
        _ => None,
    }
}

/// `epb_flags` (draft-ietf-opsawg-pcapng, "Enhanced Packet Block Flags
/// Word") for a frame of `sll_pkttype` on a device of `hatype`: bits 0-1
/// the direction (01 inbound, 10 outbound), bits 2-4 the reception type
/// (001 unicast, 010 multicast, 011 broadcast, 100 promiscuous). `None` on
/// loopback, where the capture keeps only the receive side of each frame
/// (PACKET_HOST for both ends' packets), so the direction is unknown.
fn epb_flags(pkttype: u8, hatype: u16) -> Option<u32> {
    const INBOUND: u32 = 0b01;
    const OUTBOUND: u32 = 0b10;
    if hatype == ARPHRD_LOOPBACK {
        return None;
    }
    Some(match pkttype {
        PACKET_OUTGOING => OUTBOUND,
        0 => INBOUND | 0b001 << 2,
        1 => INBOUND | 0b011 << 2,
        2 => INBOUND | 0b010 << 2,
        3 => INBOUND | 0b100 << 2,
        _ => return None,
    })
}

/// The pcapng file being written.
pub(crate) struct CaptureWriter {
    path: PathBuf,
    out: PcapNgWriter<BufWriter<File>>,
    /// (namespace index, ifindex) -> pcapng interface id and how its
    /// frames start, or None for a skipped interface.
    ids: HashMap<(usize, u32), Option<(u32, Link)>>,
    interfaces: Vec<Interface>,
    warnings: Vec<String>,
    /// Overwrite credential HTTP headers before writing (not `--no-redact`).
    redact: bool,
    /// Header values overwritten so far.
    redacted: u64,
    /// Times the handshakes written, for the end of the run.
    round_trips: RoundTrips,
}

impl CaptureWriter {
    /// Writes the Section Header Block to `file`, newly created at `path`.
    /// With `redact`, every frame goes through
    /// [`crate::redact::frame::redact_frame`] before it is written.
    pub(crate) fn create(
        file: File,
        path: &Path,
        redact: bool,
        round_trips: RoundTrips,
    ) -> Result<CaptureWriter, TracerError> {
        let err = |e: std::io::Error| TracerError::Bundle {
            path: path.to_path_buf(),
            source: e,
        };
        let out = PcapNgWriter::new(BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        Ok(CaptureWriter {
            path: path.to_path_buf(),
            out,
            ids: HashMap::new(),
            interfaces: Vec::new(),
            warnings: Vec::new(),
            redact,
            redacted: 0,
            round_trips,
        })
    }

    /// Appends one frame, declaring its interface first if new.
    /// `ns` is the namespace of the socket that received it. `data` is
    /// redacted in place first (when redacting): the capture thread's
    /// buffer, reused for the next frame.
    pub(crate) fn write(
        &mut self,
        frame: &Frame,
        data: &mut [u8],
        ns: &NsInfo,
    ) -> Result<(), TracerError> {
        let Some((id, link)) = self.interface_id(frame, ns)? else {
            return Ok(());
        };
        if self.redact {
            self.redacted += redact_frame(link, data);
        }
        self.round_trips.observe(link, data, frame.realtime_ns);
        let block = EnhancedPacketBlock {
            interface_id: id,
            // pcap-file writes the Duration as ns; the IDB's if_tsresol=9 says so.
            timestamp: Duration::from_nanos(frame.realtime_ns),
            original_len: u32::try_from(frame.original).unwrap_or(u32::MAX),
            data: Cow::Borrowed(&*data),
            options: epb_flags(frame.pkttype, frame.hatype)
                .map(EnhancedPacketOption::Flags)
                .into_iter()
                .collect(),
        };
        self.out
            .write_pcapng_block(block)
            .map_err(|e| self.io_err(e))?;
        Ok(())
    }

    fn interface_id(
        &mut self,
        frame: &Frame,
        ns: &NsInfo,
    ) -> Result<Option<(u32, Link)>, TracerError> {
        let key = (ns.index, frame.ifindex);
        if let Some(id) = self.ids.get(&key) {
            return Ok(*id);
        }
        let name = ns.name(frame.ifindex);
        let Some(link) = link_type(frame.hatype) else {
            self.warnings.push(format!(
                "interface {name} (ifindex {}) has ARPHRD type {}, which gotrace does not capture yet; its packets are not in the capture",
                frame.ifindex, frame.hatype
            ));
            self.ids.insert(key, None);
            return Ok(None);
        };
        let id = self.interfaces.len() as u32;
        let framing = if link == DataLink::RAW {
            Link::RawIp
        } else {
            Link::Ethernet
        };
        let idb = InterfaceDescriptionBlock {
            linktype: link,
            snaplen: SNAPLEN as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                InterfaceDescriptionOption::IfDescription(Cow::Owned(describe_interface(
                    &name,
                    frame.ifindex,
                    ns,
                ))),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        self.out
            .write_pcapng_block(idb)
            .map_err(|e| self.io_err(e))?;
        self.interfaces.push(Interface {
            id,
            name,
            ifindex: frame.ifindex,
            link_type: u32::from(link) as u16,
            netns: ns.id.clone(),
        });
        self.ids.insert(key, Some((id, framing)));
        Ok(Some((id, framing)))
    }

    /// Pushes buffered blocks to the file (the capture loop calls it every 50 ms).
    pub(crate) fn flush(&mut self) -> Result<(), TracerError> {
        self.out.get_mut().flush().map_err(|e| TracerError::Bundle {
            path: self.path.clone(),
            source: e,
        })
    }

    /// Interfaces, warnings and the count of header values redacted, for
    /// meta.json.
    pub(crate) fn finish(self) -> (Vec<Interface>, Vec<String>, u64) {
        (self.interfaces, self.warnings, self.redacted)
    }

    fn io_err(&self, e: pcap_file::PcapError) -> TracerError {
        TracerError::Bundle {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    }
}

/// `if_description`: the interface and the network namespace it is in,
/// as `readlink /proc/PID/ns/net` names it (`veth0 (ifindex 2) in
/// net:[4026532281]`), so two interfaces of one name in two namespaces
/// can be told apart.
fn describe_interface(name: &str, ifindex: u32, ns: &NsInfo) -> String {
    match &ns.id {
        Some(id) => format!("{name} (ifindex {ifindex}) in {id}"),
        // The socket was opened in gotrace's own namespace.
        None => match std::fs::read_link("/proc/self/ns/net") {
            Ok(id) => format!("{name} (ifindex {ifindex}) in {}", id.display()),
            Err(_) => format!("{name} (ifindex {ifindex}) in gotrace's network namespace"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_give_the_direction_except_on_loopback() {
        assert_eq!(epb_flags(PACKET_OUTGOING, ARPHRD_ETHER), Some(0b10));
        assert_eq!(epb_flags(0, ARPHRD_ETHER), Some(0b101));
        assert_eq!(epb_flags(1, ARPHRD_ETHER), Some(0b1101));
        assert_eq!(epb_flags(3, ARPHRD_NONE), Some(0b10001));
        assert_eq!(epb_flags(0, ARPHRD_LOOPBACK), None);
        assert_eq!(epb_flags(9, ARPHRD_ETHER), None);
    }

    #[test]
    fn link_types_follow_the_device_type() {
        assert_eq!(link_type(ARPHRD_ETHER), Some(DataLink::ETHERNET));
        // lo carries an all-zero Ethernet header on Linux.
        assert_eq!(link_type(ARPHRD_LOOPBACK), Some(DataLink::ETHERNET));
        assert_eq!(link_type(ARPHRD_NONE), Some(DataLink::RAW));
        assert_eq!(link_type(32), None); // ARPHRD_INFINIBAND: skipped with a warning
    }

    #[test]
    fn writes_a_pcapng_with_nanosecond_resolution() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.pcapng");
        let mut w = CaptureWriter::create(
            File::create(&path).unwrap(),
            &path,
            true,
            RoundTrips::new(Default::default()),
        )
        .unwrap();
        let frame = Frame {
            ifindex: 1,
            hatype: ARPHRD_LOOPBACK,
            captured: 4,
            original: 60,
            realtime_ns: 1_700_000_000_123_456_789,
            pkttype: 0,
        };
        let ns = NsInfo::default();
        w.write(&frame, &mut [1, 2, 3, 4], &ns).unwrap();
        w.write(&frame, &mut [5, 6, 7, 8], &ns).unwrap();
        // The same ifindex in another namespace is another interface.
        let other = NsInfo {
            index: 1,
            id: Some("net:[1]".into()),
            names: [(1, "veth0".to_string())].into(),
        };
        w.write(&frame, &mut [9], &other).unwrap();
        w.flush().unwrap();
        let (ifaces, warnings, redacted) = w.finish();
        assert_eq!((ifaces.len(), warnings.len(), redacted), (2, 0, 0));
        assert_eq!(
            (ifaces[1].name.as_str(), ifaces[1].netns.as_deref()),
            ("veth0", Some("net:[1]"))
        );
        let bytes = std::fs::read(&path).unwrap();
        let mut r = pcap_file::pcapng::PcapNgReader::new(&bytes[..]).unwrap();
        let mut saw_tsresol = false;
        let mut n = 0;
        while let Some(b) = r.next_block() {
            match b.unwrap() {
                pcap_file::pcapng::Block::InterfaceDescription(idb) => {
                    saw_tsresol = idb
                        .options
                        .iter()
                        .any(|o| matches!(o, InterfaceDescriptionOption::IfTsResol(9)));
                }
                pcap_file::pcapng::Block::EnhancedPacket(p) => {
                    assert_eq!(
                        (p.timestamp.as_nanos(), p.original_len),
                        (1_700_000_000_123_456_789, 60)
                    );
                    n += usize::from(p.interface_id == 0);
                }
                _ => {}
            }
        }
        assert!(saw_tsresol);
        assert_eq!(n, 2);
    }
}
