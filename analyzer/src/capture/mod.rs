//! Packet capture: streaming reader ([`reader`]), per-packet decoding
//! ([`packet`]) and a per-flow index ([`CaptureIndex`]) that correlation
//! queries. Usable on its own for capture-only analysis.
//!
//! The index keeps at most [`MAX_PACKETS_PER_FLOW`] packets per flow, so
//! memory grows with the number of flows, not with the file size.

pub mod link;
pub mod packet;
pub mod reader;

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

pub use packet::{decode, AppSummary, Packet, Payload, TcpFlags};
pub use reader::{CaptureError, CaptureReader, Frame};

use crate::error::AnalyzeError;
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};

/// Packets kept per flow (the first ones: a failed dial is decided in its
/// opening packets: SYN, retransmits, RST or ICMP).
pub const MAX_PACKETS_PER_FLOW: usize = 48;
/// Packets kept per destination address for "did anything go there" checks.
const MAX_PACKETS_PER_DEST: usize = 8;

/// A transport flow, endpoints in canonical (sorted) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// IP protocol (6 TCP, 17 UDP).
    pub proto: u8,
    /// Lower endpoint.
    pub a: SocketAddr,
    /// Higher endpoint.
    pub b: SocketAddr,
}

impl FlowKey {
    /// The key of the flow between `x` and `y` in either direction.
    pub fn new(proto: u8, x: SocketAddr, y: SocketAddr) -> FlowKey {
        if x <= y {
            FlowKey { proto, a: x, b: y }
        } else {
            FlowKey { proto, a: y, b: x }
        }
    }
}

/// Decoded packets grouped by flow. ICMP errors are filed under the flow
/// they quote.
#[derive(Debug, Default)]
pub struct CaptureIndex {
    flows: HashMap<FlowKey, Vec<Packet>>,
    /// Flows by (protocol, endpoint), so a lookup by server is not a scan.
    by_endpoint: HashMap<(u8, SocketAddr), Vec<FlowKey>>,
    to_dest: HashMap<IpAddr, Vec<Packet>>,
    /// Packet blocks read.
    pub packets: u64,
    /// Packets decoded as TCP, UDP or ICMP unreachable.
    pub decoded: u64,
    /// Problems met while reading.
    pub warnings: Vec<String>,
}

impl CaptureIndex {
    /// Reads and indexes a capture file.
    ///
    /// # Errors
    /// When the file cannot be opened or is not pcap/pcapng; damage later in
    /// the file is a warning in [`CaptureIndex::warnings`].
    pub fn from_path(path: &Path) -> Result<CaptureIndex, AnalyzeError> {
        Ok(CaptureIndex::from_reader(CaptureReader::open(path)?))
    }

    /// Reads and indexes an already opened capture (`path` names it in errors).
    ///
    /// # Errors
    /// When it is not pcap/pcapng, as [`CaptureIndex::from_path`].
    pub fn from_file<R: Read>(file: R, path: &Path) -> Result<CaptureIndex, AnalyzeError> {
        match CaptureReader::new(std::io::BufReader::with_capacity(1 << 16, file)) {
            Ok(r) => Ok(CaptureIndex::from_reader(r)),
            Err(problem) => Err(AnalyzeError::Capture {
                path: path.to_path_buf(),
                problem,
            }),
        }
    }

    /// Indexes every packet of `reader`.
    pub fn from_reader<R: Read>(mut reader: CaptureReader<R>) -> CaptureIndex {
        let mut idx = CaptureIndex::default();
        while let Some(frame) = reader.next_frame() {
            if let Some(p) = decode(&frame) {
                idx.add(p);
            }
        }
        idx.packets = reader.packets_seen();
        idx.warnings = reader.take_warnings();
        idx
    }

    /// Files one decoded packet. IP fragments are not filed: a bundle's
    /// attempts are decided on whole segments.
    pub fn add(&mut self, p: Packet) {
        if matches!(p.payload, Payload::Fragment(_)) {
            return;
        }
        self.decoded += 1;
        let key = match &p.payload {
            Payload::Tcp { .. } => FlowKey::new(IPPROTO_TCP, p.src, p.dst),
            Payload::Udp { .. } => FlowKey::new(IPPROTO_UDP, p.src, p.dst),
            Payload::IcmpError(e) => match &e.quoted {
                Some(q) => FlowKey::new(q.proto, q.src, q.dst),
                None => return,
            },
            Payload::Fragment(_) => return,
        };
        if !matches!(p.payload, Payload::IcmpError(_)) {
            let d = self.to_dest.entry(p.dst.ip()).or_default();
            if d.len() < MAX_PACKETS_PER_DEST {
                d.push(p.clone());
            }
        }
        let v = self.flows.entry(key).or_insert_with(|| {
            for end in [key.a, key.b] {
                self.by_endpoint
                    .entry((key.proto, end))
                    .or_default()
                    .push(key);
            }
            Vec::new()
        });
        if v.len() < MAX_PACKETS_PER_FLOW {
            v.push(p);
        }
    }

    /// Packets of the flow between `x` and `y` (and ICMP errors quoting it),
    /// in capture order.
    pub fn flow(&self, proto: u8, x: SocketAddr, y: SocketAddr) -> &[Packet] {
        self.flows
            .get(&FlowKey::new(proto, x, y))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every flow of `proto` with `peer` as one endpoint.
    pub fn flows_with(
        &self,
        proto: u8,
        peer: SocketAddr,
    ) -> impl Iterator<Item = (&FlowKey, &[Packet])> + '_ {
        self.by_endpoint
            .get(&(proto, peer))
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|k| self.flows.get_key_value(k))
            .map(|(k, v)| (k, v.as_slice()))
    }

    /// The first packets sent to `ip` (TCP/UDP only).
    pub fn sent_to(&self, ip: IpAddr) -> &[Packet] {
        self.to_dest.get(&ip).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All flows, for capture-only summaries.
    pub fn flows(&self) -> impl Iterator<Item = (&FlowKey, &[Packet])> + '_ {
        self.flows.iter().map(|(k, v)| (k, v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::packet::TcpFlags;

    fn tcp(n: u64, src: &str, dst: &str) -> Packet {
        Packet {
            number: n,
            realtime_ns: Some(0),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            payload: Payload::Tcp {
                flags: TcpFlags::default(),
                len: 0,
                app: None,
                dns_tcp: Box::default(),
            },
            headers: Default::default(),
        }
    }

    #[test]
    fn flows_are_direction_free_and_bounded() {
        let mut idx = CaptureIndex::default();
        let (c, s) = ("198.18.0.1:4000", "198.18.0.2:80");
        for n in 0..100 {
            let p = if n % 2 == 0 {
                tcp(n, c, s)
            } else {
                tcp(n, s, c)
            };
            idx.add(p);
        }
        idx.add(tcp(200, "198.18.0.3:5000", s));
        let f = idx.flow(6, s.parse().unwrap(), c.parse().unwrap());
        assert_eq!(f.len(), MAX_PACKETS_PER_FLOW);
        assert_eq!(f.first().map(|p| p.number), Some(0));
        assert_eq!(idx.flows_with(6, s.parse().unwrap()).count(), 2);
        assert_eq!(idx.flows_with(17, s.parse().unwrap()).count(), 0);
        assert_eq!(idx.sent_to("198.18.0.2".parse().unwrap()).len(), 8);
    }
}
