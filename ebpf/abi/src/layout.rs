//! Compile-time checks of [`RawEvent`]'s layout.
//!
//! Both sides use this one `#[repr(C)]` type, but they are built apart: the
//! probes for `bpfel-unknown-none` into an object the tracer embeds
//! (`GOTRACE_EBPF_OBJ`), the tracer for the host. A field moved, resized or
//! reordered here is only right once the probes are rebuilt, so every offset
//! is pinned: changing one fails the build until these numbers (and the
//! object) are updated together. Offsets are those of `repr(C)` on both
//! targets (u64 aligned to 8, no padding anywhere): the probes write the
//! fields by name (`ebpf/probes/src/maps.rs` `reserve`, `user.rs`,
//! `syscalls.rs`), the tracer reads the record with `ptr::read_unaligned`
//! (`tracer/src/probes.rs`).

use core::mem::{align_of, offset_of, size_of};

use crate::{RawEvent, DATA_LEN};

/// Bytes of one record; ring buffer records are 8-byte aligned, and a
/// multiple of 8 leaves no tail padding to copy.
pub(crate) const SIZE: usize = 232;

/// `(field, offset)` of every field, in declaration order.
pub(crate) const OFFSETS: [(&str, usize); 16] = [
    ("ts_ns", 0),
    ("ret", 8),
    ("arg", 16),
    ("cookie", 24),
    ("kind", 32),
    ("tgid", 36),
    ("tid", 40),
    ("fd", 44),
    ("family", 48),
    ("port", 50),
    ("lport", 52),
    ("data_len", 54),
    ("addr", 56),
    ("laddr", 72),
    ("comm", 88),
    ("data", 104),
];

const _: () = assert!(size_of::<RawEvent>() == SIZE);
const _: () = assert!(RawEvent::SIZE == SIZE);
const _: () = assert!(align_of::<RawEvent>() == 8);
const _: () = assert!(SIZE.is_multiple_of(8));

const _: () = assert!(offset_of!(RawEvent, ts_ns) == OFFSETS[0].1);
const _: () = assert!(offset_of!(RawEvent, ret) == OFFSETS[1].1);
const _: () = assert!(offset_of!(RawEvent, arg) == OFFSETS[2].1);
const _: () = assert!(offset_of!(RawEvent, cookie) == OFFSETS[3].1);
const _: () = assert!(offset_of!(RawEvent, kind) == OFFSETS[4].1);
const _: () = assert!(offset_of!(RawEvent, tgid) == OFFSETS[5].1);
const _: () = assert!(offset_of!(RawEvent, tid) == OFFSETS[6].1);
const _: () = assert!(offset_of!(RawEvent, fd) == OFFSETS[7].1);
const _: () = assert!(offset_of!(RawEvent, family) == OFFSETS[8].1);
const _: () = assert!(offset_of!(RawEvent, port) == OFFSETS[9].1);
const _: () = assert!(offset_of!(RawEvent, lport) == OFFSETS[10].1);
const _: () = assert!(offset_of!(RawEvent, data_len) == OFFSETS[11].1);
const _: () = assert!(offset_of!(RawEvent, addr) == OFFSETS[12].1);
const _: () = assert!(offset_of!(RawEvent, laddr) == OFFSETS[13].1);
const _: () = assert!(offset_of!(RawEvent, comm) == OFFSETS[14].1);
const _: () = assert!(offset_of!(RawEvent, data) == OFFSETS[15].1);
// The last field ends the record: no tail padding.
const _: () = assert!(offset_of!(RawEvent, data) + DATA_LEN == SIZE);

// The stderr probe bounds a chunk's length with `& (DATA_LEN - 1)` for the
// verifier (ebpf/probes/src/syscalls.rs), and `data_len` is a u16.
const _: () = assert!(DATA_LEN.is_power_of_two());
const _: () = assert!(DATA_LEN <= u16::MAX as usize);
