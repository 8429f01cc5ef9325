//! Unit tests of the ABI: the record read back from raw bytes as the
//! tracer reads it, the numbering of kinds and TCP states, the PRESOCKS key.

extern crate std;

use std::vec::Vec;

use crate::layout::{OFFSETS, SIZE};
use crate::{kind, presock_key, tcp_state, RawEvent, DATA_LEN};

/// Writes `bytes` at the offset `layout::OFFSETS` gives `field`.
fn put(record: &mut [u8], field: &str, bytes: &[u8]) {
    let (_, off) = OFFSETS
        .iter()
        .find(|(name, _)| *name == field)
        .unwrap_or_else(|| panic!("no field {field} in OFFSETS"));
    record[*off..*off + bytes.len()].copy_from_slice(bytes);
}

/// A record filled field by field at the pinned offsets, in host byte
/// order as the probes write it, every field a distinct value.
fn record() -> Vec<u8> {
    let mut r = std::vec![0u8; SIZE];
    put(&mut r, "ts_ns", &0x0102_0304_0506_0708u64.to_ne_bytes());
    put(&mut r, "ret", &(-115i64).to_ne_bytes());
    put(&mut r, "arg", &0x1122_3344_5566_7788u64.to_ne_bytes());
    put(&mut r, "cookie", &0xffff_8880_1234_5678u64.to_ne_bytes());
    put(&mut r, "kind", &kind::TCP_STATE.to_ne_bytes());
    put(&mut r, "tgid", &4242u32.to_ne_bytes());
    put(&mut r, "tid", &4243u32.to_ne_bytes());
    put(&mut r, "fd", &(-1i32).to_ne_bytes());
    put(&mut r, "family", &crate::AF_INET6.to_ne_bytes());
    put(&mut r, "port", &8080u16.to_ne_bytes());
    put(&mut r, "lport", &40122u16.to_ne_bytes());
    put(&mut r, "data_len", &5u16.to_ne_bytes());
    put(
        &mut r,
        "addr",
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    );
    put(
        &mut r,
        "laddr",
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    put(&mut r, "comm", b"go\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    put(&mut r, "data", b"hello");
    r
}

/// As tracer/src/probes.rs reads a ring buffer slot.
fn read(bytes: &[u8]) -> RawEvent {
    assert!(bytes.len() >= RawEvent::SIZE);
    // SAFETY: at least SIZE bytes, RawEvent is plain old data (any bit
    // pattern is valid), and read_unaligned needs no alignment.
    unsafe { core::ptr::read_unaligned(bytes.as_ptr() as *const RawEvent) }
}

#[test]
fn a_record_read_from_bytes_gives_back_every_field() {
    // One byte in, so the record is not 8-byte aligned (ring buffer slots
    // need not be, for the reader).
    let mut buf = std::vec![0xaau8];
    buf.extend(record());
    let e = read(&buf[1..]);
    assert_eq!(e.ts_ns, 0x0102_0304_0506_0708);
    assert_eq!(e.ret, -115);
    assert_eq!(e.arg, 0x1122_3344_5566_7788);
    assert_eq!(e.cookie, 0xffff_8880_1234_5678);
    assert_eq!(e.kind, kind::TCP_STATE);
    assert_eq!((e.tgid, e.tid, e.fd), (4242, 4243, -1));
    assert_eq!((e.family, e.port, e.lport), (crate::AF_INET6, 8080, 40122));
    assert_eq!(e.addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
    assert_eq!((e.addr[15], e.laddr[15]), (2, 1));
    assert_eq!(&e.comm[..3], b"go\0");
    assert_eq!(&e.data[..usize::from(e.data_len)], b"hello");
    assert!(e.data[5..].iter().all(|&b| b == 0));
}

#[test]
fn offsets_cover_the_record_without_gaps_or_overlaps() {
    // Each field's size, in declaration order, as the struct declares it.
    let sizes = [8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 16, 16, 16, DATA_LEN];
    let mut end = 0;
    for ((name, off), size) in OFFSETS.iter().zip(sizes) {
        assert_eq!(*off, end, "{name} does not follow the previous field");
        end = off + size;
    }
    assert_eq!(end, SIZE);
    assert_eq!(RawEvent::SIZE, SIZE);
}

/// Every kind, as listed in `kind`.
const KINDS: [u32; 22] = [
    kind::SOCKET,
    kind::CONNECT,
    kind::SO_ERROR,
    kind::SENDTO,
    kind::SENDMSG,
    kind::SENDMMSG,
    kind::RECVFROM,
    kind::RECVMSG,
    kind::WRITE,
    kind::READ,
    kind::CLOSE,
    kind::FORK,
    kind::EXEC,
    kind::EXIT,
    kind::TCP_STATE,
    kind::TCP_RETRANSMIT,
    kind::TCP_RECEIVE_RESET,
    kind::TCP_SEND_RESET,
    kind::SKB_DROP,
    kind::STDERR_WRITE,
    kind::NETNS_ENTER,
    kind::ROUTE_LOOKUP,
];

#[test]
fn kind_numbers_are_distinct_and_never_zero() {
    // 0 is what a zeroed (never written) record holds.
    assert!(!KINDS.contains(&0));
    let mut sorted = KINDS;
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        assert_ne!(pair[0], pair[1], "two kinds share the number {}", pair[0]);
    }
    // The doc comments name "the TCP kinds 16..19": keep them contiguous.
    assert_eq!(
        [
            kind::TCP_RETRANSMIT,
            kind::TCP_RECEIVE_RESET,
            kind::TCP_SEND_RESET,
            kind::SKB_DROP
        ],
        [16, 17, 18, 19]
    );
}

#[test]
fn tcp_states_are_the_kernels() {
    // include/net/tcp_states.h: enum { TCP_ESTABLISHED = 1, TCP_SYN_SENT,
    // TCP_SYN_RECV, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_TIME_WAIT, TCP_CLOSE,
    // TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_LISTEN, TCP_CLOSING,
    // TCP_NEW_SYN_RECV, ... }
    let in_kernel_order = [
        tcp_state::ESTABLISHED,
        tcp_state::SYN_SENT,
        tcp_state::SYN_RECV,
        tcp_state::FIN_WAIT1,
        tcp_state::FIN_WAIT2,
        tcp_state::TIME_WAIT,
        tcp_state::CLOSE,
        tcp_state::CLOSE_WAIT,
        tcp_state::LAST_ACK,
        tcp_state::LISTEN,
        tcp_state::CLOSING,
        tcp_state::NEW_SYN_RECV,
    ];
    for (i, state) in in_kernel_order.iter().enumerate() {
        assert_eq!(usize::from(*state), i + 1);
    }
    // TCP_STATE's arg packs two of them in 8 bits each.
    let arg = u64::from(tcp_state::SYN_SENT) | u64::from(tcp_state::CLOSE) << 8;
    assert_eq!(((arg & 0xff) as u8, (arg >> 8 & 0xff) as u8), (2, 7));
}

#[test]
fn presock_key_packs_ports_and_peer() {
    let key = presock_key(40122, 8080, [198, 18, 0, 2]);
    assert_eq!(key & 0xffff, 40122);
    assert_eq!(key >> 16 & 0xffff, 8080);
    assert_eq!((key >> 32) as u32, u32::from_ne_bytes([198, 18, 0, 2]));
    assert_ne!(key, presock_key(8080, 40122, [198, 18, 0, 2]));
}
