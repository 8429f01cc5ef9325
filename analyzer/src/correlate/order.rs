//! The order correlation reads events in: by time, and at an equal time by
//! what each event is, so that the arrival order of equal-time events
//! (events of different CPUs stamped with the same CLOCK_MONOTONIC ns reach
//! the ring buffer in either order, and so get their ids in either order)
//! never changes an attempt or a verdict (issue 13 item 6). Events of one
//! kind at one time keep their id order.

use std::borrow::Cow;

use gotrace_bundle::{Event, Op, TcpState};

/// Where an event goes among equal-time events: in the order a socket's
/// life runs (socket(2), the kernel's state changes inside connect(2) (it
/// enters SYN_SENT before connect returns), connect's result, SO_ERROR,
/// I/O, the kernel's verdicts on packets, the close, process exit).
fn rank(op: &Op) -> u8 {
    match op {
        Op::Fork { .. } | Op::Exec { .. } => 0,
        Op::Socket { .. } => 1,
        // connect(2) looks its route up before the socket enters SYN_SENT.
        Op::RouteLookup { .. } => 2,
        Op::TcpState { new, .. } if *new != TcpState::Close => 2,
        Op::Connect { .. } => 3,
        Op::SoError { .. } => 4,
        Op::Send(_) => 5,
        Op::Recv(_) => 6,
        Op::TcpRetransmit { .. }
        | Op::TcpReceiveReset { .. }
        | Op::TcpSendReset { .. }
        | Op::SkbDrop { .. } => 7,
        Op::TcpState { .. } => 8,
        Op::Close { .. } => 9,
        Op::Exit { .. } => 10,
    }
}

fn key(e: &Event) -> (u64, u8, u64) {
    (e.ts_ns, rank(&e.op), e.id)
}

/// `events` in canonical order: (time, [`rank`], id). Borrowed when they
/// already are (the usual case: equal times are rare).
pub(super) fn canonical(events: &[Event]) -> Cow<'_, [Event]> {
    if events.windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
        return Cow::Borrowed(events);
    }
    let mut v = events.to_vec();
    v.sort_by_key(key);
    Cow::Owned(v)
}
