//! The packet capture: an AF_PACKET socket (packet(7)) on every interface
//! of the traced process's network namespace (and of each namespace its tree
//! enters later), written to one pcapng while the command runs.

pub(crate) mod annotate;
mod round_trip;
mod socket;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gotrace_bundle::{files, Interface};

use crate::bundle::BundleWriter;
use crate::error::{CaptureError, TracerError};
use crate::process::netns::NetNs;
use socket::{NsInfo, PacketSocket};
use writer::CaptureWriter;

/// How long the capture thread may block before it flushes and checks for
/// stop: bounds what a SIGKILL of the tracer can lose.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What the capture saw, returned when it stops.
#[derive(Debug, Default)]
pub struct CaptureSummary {
    /// Packets the kernel dropped for this socket (`tp_drops`).
    pub dropped: u64,
    /// Interfaces in pcapng interface-id order.
    pub interfaces: Vec<Interface>,
    /// Problems that did not stop the capture (e.g. an unsupported link type).
    pub warnings: Vec<String>,
    /// Credential header values overwritten in the written frames
    /// (meta.json `redacted.header_values`).
    pub redacted_headers: u64,
    /// The packet sockets, no longer read: their close is slow
    /// ([`socket::PacketSocket::into_fd`]), so it is left to
    /// [`crate::record::reaper`] with the probes'.
    pub sockets: Vec<std::os::fd::OwnedFd>,
}

/// A running capture; [`Capture::stop`] ends it and returns the summary.
pub struct Capture {
    stop: Arc<AtomicBool>,
    /// Readable once [`Capture::stop`] is called: wakes the capture thread
    /// from its poll at once instead of at its next timeout.
    wake: Arc<std::os::fd::OwnedFd>,
    /// Frames read from the sockets so far (for the end of a run: whether
    /// packets still arrive).
    frames: Arc<std::sync::atomic::AtomicU64>,
    /// The longest TCP handshake round trip written so far, ns (0: none).
    round_trip_ns: Arc<std::sync::atomic::AtomicU64>,
    thread: JoinHandle<Result<CaptureSummary, TracerError>>,
    /// Sockets opened in further namespaces, for the capture thread.
    added: Sender<PacketSocket>,
    /// Namespaces captured so far (`net:[inode]`), the first one included.
    namespaces: Vec<String>,
}

impl Capture {
    /// Opens the socket (so no packet after this call is missed) and starts
    /// writing the bundle's capture.pcapng on a thread. With `netns`, the
    /// capture thread first enters that network namespace: the socket and
    /// the interface names it records are then the namespace's. With
    /// `redact`, credential HTTP headers are overwritten in every frame
    /// before it is written (see [`crate::redact::frame`]).
    pub fn start(
        bundle: &BundleWriter,
        netns: Option<NetNs>,
        redact: bool,
    ) -> Result<Capture, TracerError> {
        let round_trip_ns = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = CaptureWriter::create(
            bundle.create_file(files::CAPTURE)?,
            &bundle.path(files::CAPTURE),
            redact,
            round_trip::RoundTrips::new(round_trip_ns.clone()),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
        // SAFETY: plain syscall; the fd is owned below if valid.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(TracerError::sys(
                "creating the capture's eventfd",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `efd` is a new fd nothing else owns.
        let wake =
            Arc::new(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(efd) });
        let woken = wake.clone();
        let counter = frames.clone();
        let (added, new_socks) = std::sync::mpsc::channel();
        let first_ns = match &netns {
            Some(ns) => ns.id.clone(),
            None => NetNs::own_id(),
        };
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let info = NsInfo {
                    index: 0,
                    id: netns.as_ref().map(|n| n.id.clone()),
                    names: Default::default(),
                };
                let opened = netns
                    .as_ref()
                    .map_or(Ok(()), NetNs::enter_this_thread)
                    .and_then(|()| PacketSocket::open(info));
                let sock = match opened {
                    Ok(sock) => {
                        let _ = opened_tx.send(Ok(()));
                        sock
                    }
                    Err(e) => {
                        // The error itself goes to `start`, which reports
                        // it; this thread's own result is never read then.
                        let _ = opened_tx.send(Err(e));
                        return Err(CaptureError::Thread("the capture socket did not open").into());
                    }
                };
                run(sock, writer, &flag, &woken, &counter, new_socks)
            })
            .map_err(|e| TracerError::sys("starting the capture thread", e))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Capture {
                stop,
                wake,
                frames,
                round_trip_ns,
                thread,
                added,
                namespaces: vec![first_ns],
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CaptureError::Thread(
                "the capture thread ended before opening its socket",
            )
            .into()),
        }
    }

    /// Also captures in `netns` from now on, unless it is already captured.
    /// The socket is opened on a short
    /// thread that enters the namespace (setns(2) is per thread).
    pub fn add_namespace(&mut self, netns: NetNs) -> Result<(), TracerError> {
        if self.namespaces.contains(&netns.id) {
            return Ok(());
        }
        let info = NsInfo {
            index: self.namespaces.len(),
            id: Some(netns.id.clone()),
            names: Default::default(),
        };
        let id = netns.id.clone();
        let sock = std::thread::Builder::new()
            .name("capture-ns".into())
            .spawn(move || {
                netns.enter_this_thread()?;
                PacketSocket::open(info)
            })
            .map_err(|e| TracerError::sys("starting a capture thread", e))?
            .join()
            .map_err(|_| {
                TracerError::from(CaptureError::Thread("opening a capture socket panicked"))
            })??;
        self.added.send(sock).map_err(|_| {
            TracerError::from(CaptureError::Thread("the capture thread has stopped"))
        })?;
        self.namespaces.push(id);
        Ok(())
    }

    /// The longest TCP handshake round trip seen so far (a SYN to the
    /// SYN-ACK or RST answering it), `None` before the first answer.
    pub fn longest_round_trip(&self) -> Option<Duration> {
        match self.round_trip_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Frames read from the sockets so far, in every namespace.
    pub fn frames_seen(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Stops after the packets already queued on the sockets are written.
    pub fn stop(self) -> Result<CaptureSummary, TracerError> {
        self.stop.store(true, Ordering::SeqCst);
        // An eventfd counter write (eventfd(2)); a failure only delays the
        // stop to the poll's timeout.
        // SAFETY: writes 8 bytes from a valid u64 to an fd we own.
        let one = 1u64;
        unsafe {
            libc::write(
                std::os::fd::AsRawFd::as_raw_fd(&*self.wake),
                (&one as *const u64).cast(),
                8,
            )
        };
        self.thread
            .join()
            .map_err(|_| TracerError::from(CaptureError::Thread("the capture thread panicked")))?
    }
}

/// Frames read from one socket before the others get their turn.
const BATCH: usize = 64;
/// After emptying the sockets' queues, how long the capture thread lets
/// the next frames queue (in the receive buffers) before it waits again. Without
/// it, a steady stream wakes the thread every few frames, and the context
/// switches were most of its CPU time at 60k packets a second
/// (`cargo xtask bench`, workload packets). 1 ms of 120k packets a second
/// is ~120 frames, far below the 8 MiB buffer; an idle capture still wakes
/// on its first frame.
const SETTLE: Duration = Duration::from_millis(1);

/// Frames that did not reach capture.pcapng once writing it failed (a full
/// disk): the capture goes on reading its sockets, so the kernel never
/// stalls and the counts are known, but writes no more.
#[derive(Debug, Default)]
struct Lost {
    /// The first write error.
    err: Option<TracerError>,
    /// Frames (and their bytes) handed to the writer since its last
    /// successful flush: still in its buffer, lost if a flush fails.
    pending: (u64, u64),
    /// Frames and bytes lost.
    lost: (u64, u64),
}

impl Lost {
    fn frame(&mut self, len: usize, written: Result<(), TracerError>) {
        let len = len as u64;
        match (&self.err, written) {
            (None, Ok(())) => {
                self.pending.0 += 1;
                self.pending.1 += len;
            }
            (None, Err(e)) => {
                self.err = Some(e);
                self.lost = (self.pending.0 + 1, self.pending.1 + len);
            }
            (Some(_), _) => {
                self.lost.0 += 1;
                self.lost.1 += len;
            }
        }
    }

    fn flushed(&mut self, result: Result<(), TracerError>) {
        match (&self.err, result) {
            (None, Ok(())) => self.pending = (0, 0),
            (None, Err(e)) => {
                self.err = Some(e);
                self.lost = self.pending;
            }
            (Some(_), _) => {}
        }
    }

    /// The warning naming the file, the error and what was lost.
    fn warning(&self) -> Option<String> {
        let e = self.err.as_ref()?;
        Some(format!(
            "capture.pcapng: {e}: {} packets ({} bytes) captured from then on are not in it, and the file may end cut short",
            self.lost.0, self.lost.1
        ))
    }
}

fn run(
    first: PacketSocket,
    mut writer: CaptureWriter,
    stop: &AtomicBool,
    wake: &std::os::fd::OwnedFd,
    frames: &std::sync::atomic::AtomicU64,
    new_socks: Receiver<PacketSocket>,
) -> Result<CaptureSummary, TracerError> {
    let mut socks = vec![first];
    let mut buf = vec![0u8; socket::SNAPLEN];
    let mut last_flush = Instant::now();
    let mut lost = Lost::default();
    loop {
        socks.extend(new_socks.try_iter());
        let stopping = stop.load(Ordering::SeqCst);
        // Once stopping, read without waiting until every queue is empty.
        let timeout = if stopping {
            Duration::ZERO
        } else {
            POLL_INTERVAL
        };
        let ready = socket::wait_any(&socks, std::os::fd::AsFd::as_fd(wake), timeout)?;
        if ready.is_empty() && stopping {
            break;
        }
        // Whether every socket read was emptied (none stopped at BATCH).
        let (mut read, mut drained) = (0, true);
        for i in ready {
            let sock = &mut socks[i];
            let mut n = 0;
            while n < BATCH {
                match sock.recv(&mut buf, Duration::ZERO)? {
                    Some(pkt) => {
                        let written = match lost.err {
                            None => writer.write(&pkt, &mut buf[..pkt.captured], &sock.ns),
                            Some(_) => Ok(()),
                        };
                        lost.frame(pkt.captured, written);
                    }
                    None => break,
                }
                n += 1;
            }
            read += n;
            drained &= n < BATCH;
            frames.fetch_add(n as u64, Ordering::Relaxed);
        }
        // Flush by time, not only when idle: under a steady packet stream the
        // buffer would otherwise hold everything and a SIGKILL would lose it.
        if last_flush.elapsed() >= POLL_INTERVAL {
            lost.flushed(writer.flush());
            last_flush = Instant::now();
        }
        if read > 0 && drained && !stopping {
            std::thread::sleep(SETTLE);
        }
    }
    lost.flushed(writer.flush());
    let (interfaces, mut warnings, redacted_headers) = writer.finish();
    warnings.extend(lost.warning());
    Ok(CaptureSummary {
        dropped: socks.iter().map(PacketSocket::drops).sum(),
        interfaces,
        warnings,
        redacted_headers,
        sockets: socks.into_iter().map(PacketSocket::into_fd).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_after_a_failed_write_are_counted_as_lost() {
        let enospc = || TracerError::Bundle {
            path: "b/capture.pcapng".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let mut lost = Lost::default();
        lost.frame(100, Ok(()));
        lost.flushed(Ok(()));
        lost.frame(60, Ok(()));
        // The buffered frame goes with the failed flush.
        lost.flushed(Err(enospc()));
        lost.frame(40, Ok(()));
        let w = lost.warning().unwrap();
        assert!(
            w.starts_with(
                "capture.pcapng: writing the trace bundle b/capture.pcapng: No space left"
            ) && w.contains("2 packets (100 bytes) captured from then on are not in it"),
            "{w}"
        );
        assert!(Lost::default().warning().is_none());
    }
}
