//! The traced tree's sockets by (TGID, fd), as the event stream opens and
//! closes them: the one fd table the live view (tracer) and correlation
//! (analyzer) keep, so both agree on which fd is a socket at any event.

use std::collections::HashMap;

use crate::{Event, Op};

/// Sockets by (TGID, fd), with a value `T` per socket chosen by the user.
///
/// Threads share one fd table (clone(2) `CLONE_FILES`), so the key is the
/// TGID, never the TID. [`FdTable::apply`] follows the lifetimes the events
/// show: a successful `socket` opens the fd (replacing whatever the table
/// held for it: the number was free again), `close` ends it, and a
/// process's `exit` ends all of its fds.
#[derive(Debug, Clone)]
pub struct FdTable<T> {
    map: HashMap<(u32, i32), T>,
}

/// What [`FdTable::apply`] did with one event.
#[derive(Debug, PartialEq, Eq)]
pub enum FdChange<T> {
    /// `socket` returned this fd; the table now holds the new value.
    Opened(i32),
    /// `close` of this fd; the value it held, if the table knew the fd.
    Closed(i32, Option<T>),
    /// The process exited: all its fds are gone.
    Exited,
    /// The event opens or closes no fd.
    Unchanged,
}

impl<T> Default for FdTable<T> {
    fn default() -> FdTable<T> {
        FdTable {
            map: HashMap::new(),
        }
    }
}

impl<T> FdTable<T> {
    /// An empty table.
    pub fn new() -> FdTable<T> {
        FdTable::default()
    }

    /// Follows `ev`'s effect on the fd table; `open` makes the value of a
    /// socket `ev` created, from the event and the socket's type (SOCK_*
    /// without flags), and is called only then.
    pub fn apply(&mut self, ev: &Event, open: impl FnOnce(&Event, u16) -> T) -> FdChange<T> {
        match &ev.op {
            // socket(2) returns the new fd, or -errno.
            Op::Socket { ret, sock_type, .. } => {
                match i32::try_from(*ret).ok().filter(|fd| *fd >= 0) {
                    Some(fd) => {
                        self.map.insert((ev.tgid, fd), open(ev, *sock_type));
                        FdChange::Opened(fd)
                    }
                    None => FdChange::Unchanged,
                }
            }
            Op::Close { fd, .. } => FdChange::Closed(*fd, self.map.remove(&(ev.tgid, *fd))),
            Op::Exit { .. } => {
                self.map.retain(|(tgid, _), _| *tgid != ev.tgid);
                FdChange::Exited
            }
            _ => FdChange::Unchanged,
        }
    }

    /// The value of socket `fd` of process `tgid`, if open.
    pub fn get(&self, tgid: u32, fd: i32) -> Option<&T> {
        self.map.get(&(tgid, fd))
    }

    /// The value of socket `fd` of process `tgid`, made with `make` if the
    /// table has not seen it opened (a socket from before the trace).
    pub fn get_or_insert_with(&mut self, tgid: u32, fd: i32, make: impl FnOnce() -> T) -> &mut T {
        self.map.entry((tgid, fd)).or_insert_with(make)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(tgid: u32, op: Op) -> Event {
        Event {
            id: 1,
            ts_ns: 0,
            tgid,
            tid: tgid + 1,
            comm: "go".into(),
            op,
        }
    }

    fn socket(ret: i64) -> Op {
        Op::Socket {
            ret,
            errno: None,
            domain: crate::AF_INET,
            sock_type: crate::SOCK_STREAM,
            protocol: 0,
            sock: None,
        }
    }

    #[test]
    fn an_fd_is_a_socket_from_socket_to_close_in_its_own_process() {
        let mut t = FdTable::new();
        assert_eq!(t.apply(&ev(7, socket(8)), |_, _| "a"), FdChange::Opened(8));
        assert_eq!(t.get(7, 8), Some(&"a"));
        assert_eq!(t.get(9, 8), None, "another process's fd 8");
        assert_eq!(
            t.apply(&ev(7, socket(-24)), |_, _| "x"),
            FdChange::Unchanged
        );
        let close = ev(7, Op::close(8));
        assert_eq!(t.apply(&close, |_, _| "x"), FdChange::Closed(8, Some("a")));
        assert_eq!(t.get(7, 8), None);
        assert_eq!(t.apply(&close, |_, _| "x"), FdChange::Closed(8, None));
    }

    #[test]
    fn a_reused_number_is_a_new_socket_and_exit_ends_all() {
        let mut t = FdTable::new();
        t.apply(&ev(7, socket(8)), |_, _| 1);
        t.apply(&ev(7, socket(8)), |_, _| 2);
        t.apply(&ev(7, socket(9)), |_, _| 3);
        t.apply(&ev(5, socket(9)), |_, _| 4);
        assert_eq!(t.get(7, 8), Some(&2));
        assert_eq!(
            t.apply(&ev(7, Op::Exit { status: None }), |_, _| 0),
            FdChange::Exited
        );
        assert_eq!(
            (t.get(7, 8), t.get(7, 9), t.get(5, 9)),
            (None, None, Some(&4))
        );
        *t.get_or_insert_with(7, 3, || 10) += 1;
        assert_eq!(t.get(7, 3), Some(&11));
    }
}
