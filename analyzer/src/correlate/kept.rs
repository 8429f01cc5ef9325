//! What the passes after the first need of the events, kept while the
//! first pass reads them one at a time so that the events themselves are
//! not held (issue 15: a 1M-event trace held 266 MiB of events).

use gotrace_bundle::{Event, Op};

/// The events the later passes read, and compact facts of the others.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Events read.
    pub count: usize,
    /// The kernel's events (`tcp_state`, `tcp_retransmit_skb`, resets,
    /// `kfree_skb`), in canonical order: the TCP state linking, the
    /// pre-existing sockets' and the kernel evidence read them.
    pub kernel: Vec<Event>,
    /// Each send syscall as (ts ns, TID, event id), in canonical order: a
    /// drop without a socket is tied to the send it happened in.
    pub sends: Vec<(u64, u32, u64)>,
    /// Each `exec` as (TGID, filename), in order.
    pub execs: Vec<(u32, String)>,
    /// (event id, TID, ts ns) of every syscall event the first pass made a
    /// step of an attempt (the capture's packet notes name the thread).
    pub cited: Vec<(u64, u32, u64)>,
}

impl Kept {
    /// Keeps what the later passes need of `ev`, which the first pass has
    /// seen.
    pub(super) fn keep(&mut self, mut ev: Event) {
        match &ev.op {
            Op::TcpState { .. }
            | Op::TcpRetransmit { .. }
            | Op::TcpReceiveReset { .. }
            | Op::TcpSendReset { .. }
            | Op::SkbDrop { .. } => {
                // No later pass reads a kernel event's comm (the attempt
                // has its own): 32 bytes less each, of ~300k on the
                // syscalls load.
                ev.comm = String::new();
                self.kernel.push(ev)
            }
            Op::Send(_) => self.sends.push((ev.ts_ns, ev.tid, ev.id)),
            Op::Exec { filename } => self.execs.push((ev.tgid, filename.clone())),
            Op::Socket { .. }
            | Op::Connect { .. }
            | Op::SoError { .. }
            | Op::Recv(_)
            | Op::Close { .. }
            | Op::Fork { .. }
            | Op::Exit { .. }
            // Linked to its connect by the first pass.
            | Op::RouteLookup { .. } => {}
        }
    }
}
