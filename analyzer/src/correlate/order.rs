//! The order correlation reads events in: by time, and at an equal time by
//! what each event is, so that the arrival order of equal-time events
//! (events of different CPUs stamped with the same CLOCK_MONOTONIC ns reach
//! the ring buffer in either order, and so get their ids in either order)
//! never changes an attempt or a verdict (issue 13 item 6). Events of one
//! kind at one time keep their id order.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

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

/// Events held back by [`Reorder`] at most: the ring buffer's events reach
/// events.jsonl nearly in time order (a few per CPU out of place), and a
/// window this size costs a few MiB at most.
pub(super) const REORDER_WINDOW: usize = 8192;

/// The file's events put in canonical order as they are read, holding back
/// at most [`REORDER_WINDOW`] of them. It gives exactly the order of
/// sorting every event ([`canonical`] after the bundle reader's sort by
/// time and id, both stable) or, when an event comes later than the window
/// allows, says so ([`OutOfOrder`]) and the caller sorts them all.
#[derive(Default)]
pub(super) struct Reorder {
    held: BinaryHeap<Reverse<Held>>,
    /// File position of the next event: ties keep file order, as the
    /// stable sorts do.
    seq: u64,
    /// Key of the last event released.
    last: Option<((u64, u8, u64), u64)>,
}

/// An event had to go before one already released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder;

struct Held {
    key: ((u64, u8, u64), u64),
    ev: Event,
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        self.key == other.key
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Held) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Held) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Reorder {
    /// Takes the next event of the file; `out` gets those now due.
    pub(super) fn push(&mut self, ev: Event, out: impl FnMut(Event)) -> Result<(), OutOfOrder> {
        let k = (key(&ev), self.seq);
        self.seq += 1;
        if self.last.is_some_and(|l| k < l) {
            return Err(OutOfOrder);
        }
        self.held.push(Reverse(Held { key: k, ev }));
        self.release(REORDER_WINDOW, out);
        Ok(())
    }

    /// The events still held, in order.
    pub(super) fn finish(mut self, out: impl FnMut(Event)) {
        self.release(0, out);
    }

    fn release(&mut self, keep: usize, mut out: impl FnMut(Event)) {
        while self.held.len() > keep {
            let Some(Reverse(h)) = self.held.pop() else {
                break;
            };
            self.last = Some(h.key);
            out(h.ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64, ts_ns: u64, op: Op) -> Event {
        Event {
            id,
            ts_ns,
            tgid: 1,
            tid: 1,
            comm: "go".into(),
            op,
        }
    }

    fn fork(id: u64, ts_ns: u64) -> Event {
        ev(id, ts_ns, Op::Fork { child: 2 })
    }

    /// What the window releases, or where it gave up.
    fn run(events: Vec<Event>) -> Result<Vec<Event>, OutOfOrder> {
        let mut r = Reorder::default();
        let mut out = Vec::new();
        for e in events {
            r.push(e, |e| out.push(e))?;
        }
        r.finish(|e| out.push(e));
        Ok(out)
    }

    #[test]
    fn the_window_gives_the_sorted_order_or_says_it_cannot() {
        // Within the window: the order of the stable sorts, equal keys in
        // file order, equal times by rank.
        let mut events: Vec<Event> = (0..3000).rev().map(|i| fork(i, 10 * i)).collect();
        events.push(fork(5, 50));
        events.push(ev(7, 70, Op::Exit { status: None }));
        events.push(ev(8, 70, Op::close(3)));
        let mut want = events.clone();
        want.sort_by_key(|e| (e.ts_ns, e.id));
        want.sort_by_key(key);
        assert_eq!(run(events).unwrap(), want);
        // Past it: an event earlier than one already released.
        let mut late: Vec<Event> = (0..REORDER_WINDOW as u64 + 2)
            .map(|i| fork(i + 10, 1_000 + i))
            .collect();
        late.push(fork(1, 1));
        assert_eq!(run(late), Err(OutOfOrder));
    }
}
