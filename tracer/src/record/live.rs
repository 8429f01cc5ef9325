//! The live view: one line per network event while the command runs, as
//! `strace -f` or `tcpdump` print them, in the report's words
//! ([`gotrace_analyzer::describe`]):
//!
//! ```text
//!     8.077 go[16206]          socket(AF_INET, SOCK_STREAM) = 8
//!     8.130 go[16206]          tcp 198.18.0.1 > 198.18.0.2:8080 CLOSE -> SYN_SENT
//!     8.150 go[16206]          kernel drops packet: NETFILTER_DROP
//!     8.154 go[16206]          connect(fd 8, 198.18.0.2:8080) = -EINPROGRESS
//!  1018.190 go[16206] (kernel) kernel drops packet: NETFILTER_DROP
//!  1018.226 go[16206] (kernel) kernel retransmits SYN 198.18.0.1:49838 > 198.18.0.2:8080 -> -EPERM
//! 30036.827 go[16206/16212]    tcp 198.18.0.1:49838 > 198.18.0.2:8080 SYN_SENT -> CLOSE
//! ```
//!
//! (from the `client-drops` fixture bundle: the local firewall drops the
//! SYN and its retransmits.)
//!
//! Columns: ms since the trace started (3 decimals, right-aligned), the
//! process as `comm[tgid]` (the thread group leader) or `comm[tgid/tid]`
//! (another thread), then the event. Kernel events that ran in softirq on
//! behalf of a socket of the tree have no thread (tid 0), and the comm the
//! probe saw is whatever task was interrupted, so they read
//! `comm[tgid] (kernel)` with the comm last seen for that process.
//!
//! `write`/`read` carry no peer: the view remembers each socket's type and
//! the peer it was `connect`ed to, so their lines name the peer and decode
//! DNS on a connected socket.
//!
//! **Folding.** A line identical to the one before it (same process, same
//! text) that comes less than [`FOLD_NS`] after the previous copy is not
//! printed but counted: a tight loop of the same failing call is one line
//! and `(last line repeated N more times)` (timed at its last copy), printed
//! before the next different line, or by [`LiveView::finish`]. Slower
//! repeats (the kernel's retransmits, 200 ms apart at least) are all
//! printed as they happen: a live view should show a stuck dial still
//! trying.
//!
//! Each line is written with one `write_all` and flushed: on
//! `std::io::stderr()`, whose lock the pass-through of the command's stderr
//! takes too, no line is ever split by the command's output.
//! After a write error (stderr closed) the view goes silent; tracing is not
//! affected.

// Not called yet: run.rs's pump is being rewritten and will call
// `show`; drop this line then.

use std::collections::HashMap;
use std::io::Write;

use gotrace_analyzer::describe::{describe_on, Conn};
use gotrace_bundle::{Event, FdTable, Op, SockAddr, SOCK_STREAM};

/// Identical consecutive lines closer than this (ns) are folded.
pub const FOLD_NS: u64 = 100_000_000;
/// The process column is padded to this width, so the events line up.
const WHO_WIDTH: usize = 18;

/// Prints events as they are decoded; see the module documentation.
///
/// In `pump`, after `decode::decode` returns an event: `live.show(&ev)`;
/// when tracing ends: `live.finish()` (also done on drop).
pub struct LiveView {
    out: Box<dyn Write + Send>,
    /// CLOCK_MONOTONIC ns of the trace start: time 0 of the first column.
    start_ns: u64,
    /// Last comm seen per tgid, for kernel events (tid 0).
    comms: HashMap<u32, String>,
    /// Open sockets per (tgid, fd), the table correlation keeps too.
    socks: FdTable<Sock>,
    /// The last line printed, to fold its repeats.
    last: Option<Last>,
    /// A write failed: print nothing more.
    failed: bool,
}

#[derive(Debug, Default)]
struct Sock {
    stream: bool,
    peer: Option<SockAddr>,
}

#[derive(Debug)]
struct Last {
    who: String,
    text: String,
    /// Time of its latest copy, printed or folded.
    ts_ns: u64,
    /// Copies folded since it was printed.
    folded: u64,
}

impl LiveView {
    /// A view writing to `out` (stderr in `gotrace run`), timing lines from
    /// `start_ns` (CLOCK_MONOTONIC ns, the clock of [`Event::ts_ns`]).
    pub fn new(out: Box<dyn Write + Send>, start_ns: u64) -> LiveView {
        LiveView {
            out,
            start_ns,
            comms: HashMap::new(),
            socks: FdTable::new(),
            last: None,
            failed: false,
        }
    }

    /// Names process `tgid` before any of its events arrive (attach: its
    /// kernel events may come first), so they do not show as `?`.
    pub fn name(&mut self, tgid: u32, comm: &str) {
        self.comms.insert(tgid, comm.to_string());
    }

    /// Prints `ev`'s line, if it has one ([`describe_on`]), and flushes.
    pub fn show(&mut self, ev: &Event) {
        if ev.tid != 0 && self.comms.get(&ev.tgid) != Some(&ev.comm) {
            self.comms.insert(ev.tgid, ev.comm.clone());
        }
        let text = describe_on(ev, self.conn(ev));
        self.track(ev);
        let Some(text) = text else { return };
        let who = self.who(ev);
        if let Some(last) = &mut self.last {
            if last.who == who && last.text == text && ev.ts_ns.saturating_sub(last.ts_ns) < FOLD_NS
            {
                last.ts_ns = ev.ts_ns;
                last.folded += 1;
                return;
            }
        }
        self.finish();
        let line = format!("{} {who:<WHO_WIDTH$} {text}\n", self.ms(ev.ts_ns));
        self.write(&line);
        self.last = Some(Last {
            who,
            text,
            ts_ns: ev.ts_ns,
            folded: 0,
        });
    }

    /// Prints the count of folded repeats of the last line, if any. Call it
    /// when tracing ends; [`LiveView::show`] calls it before a new line.
    pub fn finish(&mut self) {
        let Some(last) = self.last.as_mut() else {
            return;
        };
        let n = std::mem::take(&mut last.folded);
        if n == 0 {
            return;
        }
        let (ts_ns, who) = (last.ts_ns, last.who.clone());
        let times = if n == 1 { "time" } else { "times" };
        let line = format!(
            "{} {who:<WHO_WIDTH$} (last line repeated {n} more {times})\n",
            self.ms(ts_ns)
        );
        self.write(&line);
    }

    /// What the view knows of the socket of a `write`/`read`.
    fn conn(&self, ev: &Event) -> Conn<'_> {
        let Some((_, io)) = ev.op.io() else {
            return Conn::default();
        };
        let fd = io.fd;
        match self.socks.get(ev.tgid, fd) {
            Some(s) => Conn {
                peer: s.peer.as_ref(),
                stream: s.stream,
            },
            None => Conn::default(),
        }
    }

    /// Keeps the socket table up to date.
    fn track(&mut self, ev: &Event) {
        self.socks.apply(ev, |_, sock_type| Sock {
            stream: sock_type == SOCK_STREAM,
            peer: None,
        });
        if let Op::Connect {
            fd, peer: Some(p), ..
        } = &ev.op
        {
            self.socks
                .get_or_insert_with(ev.tgid, *fd, Sock::default)
                .peer = Some(p.clone());
        }
    }

    /// `go[1234]`, `go[1234/1240]`, `go[1234] (kernel)`.
    fn who(&self, ev: &Event) -> String {
        if ev.tid == 0 {
            let comm = self.comms.get(&ev.tgid).map_or("?", String::as_str);
            format!("{comm}[{}] (kernel)", ev.tgid)
        } else if ev.tid == ev.tgid {
            format!("{}[{}]", ev.comm, ev.tgid)
        } else {
            format!("{}[{}/{}]", ev.comm, ev.tgid, ev.tid)
        }
    }

    /// ms since the start, 3 decimals, right-aligned: `   12.345`.
    fn ms(&self, ts_ns: u64) -> String {
        let us = (i128::from(ts_ns) - i128::from(self.start_ns)) / 1000;
        let sign = if us < 0 { "-" } else { "" };
        let us = us.unsigned_abs();
        format!("{:>9}", format!("{sign}{}.{:03}", us / 1000, us % 1000))
    }

    fn write(&mut self, line: &str) {
        if self.failed {
            return;
        }
        // comm, DNS names and paths come from the traced program: escaped.
        let line = crate::term::escape(line);
        let res = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush());
        self.failed = res.is_err();
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::{Io, TcpState};
    use std::sync::{Arc, Mutex};

    /// A `Vec<u8>` the test keeps a handle on.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const START: u64 = 10_000_000_000;

    fn view() -> (LiveView, Buf) {
        let buf = Buf::default();
        (LiveView::new(Box::new(buf.clone()), START), buf)
    }

    /// An event `ms` (may be fractional) after the start.
    fn ev(ms: f64, tgid: u32, tid: u32, op: Op) -> Event {
        Event {
            id: 1,
            ts_ns: START + (ms * 1e6) as u64,
            tgid,
            tid,
            comm: "go".into(),
            op,
        }
    }

    fn addr(s: &str) -> SockAddr {
        s.parse().unwrap()
    }

    fn connect(fd: i32, peer: &str) -> Op {
        Op::Connect {
            fd,
            ret: -115,
            errno: Some("EINPROGRESS".into()),
            peer: Some(addr(peer)),
            sock: None,
        }
    }

    fn retransmit() -> Op {
        Op::TcpRetransmit {
            sock: "0xa".into(),
            state: TcpState::SynSent,
            local: addr("198.18.0.1:48448"),
            peer: addr("198.18.0.2:8080"),
            err: 0,
            err_name: None,
        }
    }

    fn write(fd: i32, data: &[u8]) -> Op {
        Op::Send(Io {
            syscall: "write".into(),
            fd,
            ret: data.len() as i64,
            errno: None,
            peer: None,
            data_hex: Some(data.iter().map(|b| format!("{b:02x}")).collect()),
            sock: None,
        })
    }

    #[test]
    fn one_line_per_event_with_time_and_process() {
        let (mut v, buf) = view();
        v.show(&ev(12.345, 1234, 1240, connect(8, "198.18.0.2:8080")));
        v.show(&ev(
            1500.0,
            1234,
            1234,
            Op::Exec {
                filename: "/usr/bin/git".into(),
            },
        ));
        assert_eq!(
            buf.text(),
            "   12.345 go[1234/1240]      connect(fd 8, 198.18.0.2:8080) = -EINPROGRESS\n \
             1500.000 go[1234]           exec /usr/bin/git\n"
        );
    }

    #[test]
    fn no_line_for_events_describe_skips() {
        let (mut v, buf) = view();
        v.show(&ev(1.0, 1234, 1234, Op::Fork { child: 1240 }));
        assert_eq!(buf.text(), "");
    }

    #[test]
    fn kernel_events_name_the_owner_not_the_interrupted_task() {
        let (mut v, buf) = view();
        let mut orphan = ev(0.5, 99, 0, retransmit());
        orphan.comm = "swapper/3".into();
        v.show(&orphan);
        v.show(&ev(1.0, 1234, 1240, Op::close(3)));
        let mut rt = ev(1001.0, 1234, 0, retransmit());
        rt.comm = "swapper/3".into();
        v.show(&rt);
        assert_eq!(
            buf.text(),
            "    0.500 ?[99] (kernel)     kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080\n    \
             1.000 go[1234/1240]      close(fd 3) = 0\n \
             1001.000 go[1234] (kernel)  kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080\n"
        );
    }

    #[test]
    fn writes_on_a_connected_socket_name_the_peer_and_decode_dns() {
        let (mut v, buf) = view();
        // A query for A x, id 0x1234.
        let q = [
            0x12u8, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
        ];
        let socket = Op::Socket {
            ret: 5,
            errno: None,
            domain: 2,
            sock_type: 2,
            protocol: 0,
            sock: None,
        };
        v.show(&ev(1.0, 7, 7, socket));
        v.show(&ev(1.1, 7, 7, connect(5, "198.18.0.53:53")));
        v.show(&ev(1.2, 7, 7, write(5, &q)));
        v.show(&ev(1.3, 7, 7, Op::close(5)));
        // fd 5 reused for something the view never saw connected.
        v.show(&ev(1.4, 7, 7, write(5, &q)));
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "    1.200 go[7]              write(fd 5, 198.18.0.53:53, DNS query A x (id 0x1234)) = 19"
        );
        assert_eq!(lines[4], "    1.400 go[7]              write(fd 5) = 19");
    }

    #[test]
    fn quick_identical_repeats_fold_slow_ones_print() {
        let (mut v, buf) = view();
        let eagain = || {
            Op::Recv(Io {
                syscall: "read".into(),
                fd: 8,
                ret: -11,
                errno: Some("EAGAIN".into()),
                peer: None,
                data_hex: None,
                sock: None,
            })
        };
        // Three copies 10 ms apart: one line and a count.
        for ms in [10.0, 20.0, 30.0] {
            v.show(&ev(ms, 1, 1, eagain()));
        }
        // Another thread is another line.
        v.show(&ev(31.0, 1, 2, eagain()));
        // A SYN retransmitted 1 s and 3 s after: both printed.
        v.show(&ev(1031.0, 1, 0, retransmit()));
        v.show(&ev(3031.0, 1, 0, retransmit()));
        // Two quick copies, counted at finish.
        v.show(&ev(3032.0, 1, 0, retransmit()));
        v.finish();
        v.finish();
        assert_eq!(
            buf.text(),
            "   10.000 go[1]              read(fd 8) = -EAGAIN\n   \
                30.000 go[1]              (last line repeated 2 more times)\n   \
                31.000 go[1/2]            read(fd 8) = -EAGAIN\n \
              1031.000 go[1] (kernel)     kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080\n \
              3031.000 go[1] (kernel)     kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080\n \
              3032.000 go[1] (kernel)     (last line repeated 1 more time)\n"
        );
    }

    #[test]
    fn drop_prints_the_pending_count() {
        let (mut v, buf) = view();
        v.show(&ev(
            1.0,
            1,
            1,
            Op::Close {
                fd: 3,
                ret: -9,
                sock: None,
            },
        ));
        v.show(&ev(
            2.0,
            1,
            1,
            Op::Close {
                fd: 3,
                ret: -9,
                sock: None,
            },
        ));
        drop(v);
        assert_eq!(
            buf.text(),
            "    1.000 go[1]              close(fd 3) = -EBADF\n    \
             2.000 go[1]              (last line repeated 1 more time)\n"
        );
    }

    #[test]
    fn times_before_the_start_and_sub_microsecond() {
        let (mut v, buf) = view();
        let mut early = ev(0.0, 1, 1, Op::close(3));
        early.ts_ns = START - 2_500_000;
        v.show(&early);
        let mut late = ev(0.0, 1, 1, Op::close(4));
        late.ts_ns = START + 123_456_789_999;
        v.show(&late);
        assert_eq!(
            buf.text(),
            "   -2.500 go[1]              close(fd 3) = 0\n\
             123456.789 go[1]              close(fd 4) = 0\n"
        );
    }

    #[test]
    fn a_failed_write_silences_the_view() {
        struct Broken(Arc<Mutex<u32>>);
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                *self.0.lock().unwrap() += 1;
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let calls = Arc::new(Mutex::new(0));
        let mut v = LiveView::new(Box::new(Broken(calls.clone())), START);
        v.show(&ev(1.0, 1, 1, Op::close(3)));
        v.show(&ev(2.0, 1, 1, Op::close(4)));
        assert_eq!(*calls.lock().unwrap(), 1);
    }
}
