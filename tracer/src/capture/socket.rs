//! The AF_PACKET socket: receiving frames with their interface, direction
//! and kernel timestamp.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags, SockFlag, SockProtocol,
    SockType,
};

use crate::error::{CaptureError, TracerError};

/// The error of a failed socket call on the capture sockets.
fn failed(call: &'static str) -> impl Fn(nix::errno::Errno) -> TracerError {
    move |source| CaptureError::Syscall { call, source }.into()
}

/// Bytes kept of each frame. Large enough for a whole GSO/GRO super-packet
/// on veth (up to 64 KiB of payload plus headers).
pub(crate) const SNAPLEN: usize = 262_144;

/// `sll_pkttype` of a frame this host sent (linux/if_packet.h).
pub(crate) const PACKET_OUTGOING: u8 = 4;
/// `sll_hatype` of the loopback device (linux/if_arp.h).
pub(crate) const ARPHRD_LOOPBACK: u16 = 772;

/// One received frame.
pub(crate) struct Frame {
    pub ifindex: u32,
    pub hatype: u16,
    /// Bytes in the buffer.
    pub captured: usize,
    /// Length on the wire.
    pub original: usize,
    /// CLOCK_REALTIME ns (SO_TIMESTAMPNS), or the time read if absent.
    pub realtime_ns: u64,
    /// `sll_pkttype` (linux/if_packet.h): PACKET_HOST 0, BROADCAST 1,
    /// MULTICAST 2, OTHERHOST 3, OUTGOING 4.
    pub pkttype: u8,
}

/// The network namespace a socket captures in, as the writer needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct NsInfo {
    /// Position among the capture's sockets: 0 for the first, which the
    /// capture thread opened itself (so `if_indextoname` there is right).
    pub index: usize,
    /// `net:[inode]` when it is not the namespace gotrace started in.
    pub id: Option<String>,
    /// ifindex -> interface name, read in the namespace when the socket opened.
    pub names: HashMap<u32, String>,
}

impl NsInfo {
    /// The name of interface `ifindex` of this namespace; `ifN` when unknown.
    pub(crate) fn name(&self, ifindex: u32) -> String {
        if let Some(n) = self.names.get(&ifindex) {
            return n.clone();
        }
        if self.index == 0 {
            if let Ok(n) = nix::net::if_::if_indextoname(ifindex) {
                return n.to_string_lossy().into_owned();
            }
        }
        format!("if{ifindex}")
    }
}

/// An AF_PACKET / SOCK_RAW / ETH_P_ALL socket, unbound: every interface of
/// the network namespace, including ones created later.
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    /// Where it captures.
    pub ns: NsInfo,
}

impl PacketSocket {
    /// The socket's fd, to be closed later: closing a packet socket waits
    /// for an RCU grace period (packet_release() -> synchronize_net(),
    /// net/packet/af_packet.c), 11-19 ms measured per run on this machine.
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// Indexes of the sockets with a frame waiting, after waiting up to
/// `timeout` for any; empty on timeout.
pub(crate) fn wait_any(
    socks: &[PacketSocket],
    wake: std::os::fd::BorrowedFd<'_>,
    timeout: Duration,
) -> Result<Vec<usize>, TracerError> {
    let ms =
        PollTimeout::try_from(timeout.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::ZERO);
    let mut fds: Vec<PollFd> = socks
        .iter()
        .map(|s| PollFd::new(s.fd.as_fd(), PollFlags::POLLIN))
        .collect();
    // Last, so the indexes of the sockets stay theirs; only wakes the poll.
    fds.push(PollFd::new(wake, PollFlags::POLLIN));
    match poll(&mut fds, ms) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(failed("poll")(e)),
    }
    fds.pop();
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(i, _)| i)
        .collect())
}

impl PacketSocket {
    /// Opens the socket, in the calling thread's network namespace, with
    /// nanosecond timestamps and a large receive buffer; `ns` says which
    /// namespace that is (its interface names are read now).
    pub(crate) fn open(mut ns: NsInfo) -> Result<PacketSocket, TracerError> {
        ns.names = nix::net::if_::if_nameindex()
            .map(|list| {
                list.iter()
                    .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )
        .map_err(failed("socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)"))?;
        socket::setsockopt(&fd, sockopt::ReceiveTimestampns, &true)
            .map_err(failed("SO_TIMESTAMPNS"))?;
        // 8 MiB absorbs bursts while the writer is busy; root may exceed rmem_max.
        let _ = socket::setsockopt(&fd, sockopt::RcvBufForce, &(8 << 20));
        Ok(PacketSocket { fd, ns })
    }

    /// Waits up to `timeout` for a frame. Loopback frames are delivered twice
    /// (once outgoing, once incoming); like libpcap, the outgoing copy is
    /// dropped so each packet is written once.
    ///
    /// A frame already queued is read at once, without a poll(2) first: at
    /// 100k packets a second the capture thread is bound by syscalls per
    /// frame (`cargo xtask bench`, workload packets).
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<Frame>, TracerError> {
        let mut waited = false;
        loop {
            let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
            let mut iov = [std::io::IoSliceMut::new(buf)];
            let msg = match socket::recvmsg::<LinkAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) if waited || timeout.is_zero() => return Ok(None),
                Err(nix::errno::Errno::EAGAIN) => {
                    let ms = PollTimeout::try_from(timeout.as_millis().min(60_000) as i32)
                        .unwrap_or(PollTimeout::ZERO);
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, ms) {
                        Ok(0) => return Ok(None),
                        Ok(_) => waited = true,
                        Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(failed("poll")(e)),
                    }
                    continue;
                }
                Err(e) => return Err(failed("recvmsg")(e)),
            };
            let Some(addr) = msg.address else { continue };
            if addr.pkttype() == PACKET_OUTGOING && addr.hatype() == ARPHRD_LOOPBACK {
                continue;
            }
            let mut realtime_ns = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        realtime_ns = Some(crate::clock::timespec_ns(&ts));
                    }
                }
            }
            // With MSG_TRUNC, recvmsg returns the frame's real length (packet(7)).
            let original = msg.bytes;
            return Ok(Some(Frame {
                ifindex: addr.ifindex() as u32,
                hatype: addr.hatype(),
                captured: original.min(SNAPLEN),
                original,
                realtime_ns: realtime_ns.unwrap_or_else(crate::clock::realtime_ns),
                pkttype: addr.pkttype(),
            }));
        }
    }

    /// Frames the kernel dropped for this socket since it opened
    /// (`PACKET_STATISTICS`.tp_drops, packet(7)).
    pub(crate) fn drops(&self) -> u64 {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: valid fd, buffer and length for PACKET_STATISTICS.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        if rc == 0 {
            u64::from(st.tp_drops)
        } else {
            0
        }
    }
}
