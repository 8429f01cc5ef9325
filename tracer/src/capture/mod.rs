//! The packet capture: one AF_PACKET socket (packet(7)) on every interface
//! of the current network namespace, written to pcapng while the command runs.

mod socket;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gotrace_analyzer::bundle::Interface;

use crate::error::TracerError;
use crate::netns::NetNs;
use socket::PacketSocket;
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
}

/// A running capture; [`Capture::stop`] ends it and returns the summary.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<CaptureSummary, TracerError>>,
}

impl Capture {
    /// Opens the socket (so no packet after this call is missed) and starts
    /// writing `path` on a thread. With `netns`, the capture thread first
    /// enters that network namespace: the socket and the interface names it
    /// records are then the namespace's.
    pub fn start(path: PathBuf, netns: Option<NetNs>) -> Result<Capture, TracerError> {
        let writer = CaptureWriter::create(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let opened = netns
                    .as_ref()
                    .map_or(Ok(()), NetNs::enter_this_thread)
                    .and_then(|()| PacketSocket::open());
                let sock = match opened {
                    Ok(sock) => {
                        let _ = opened_tx.send(Ok(()));
                        sock
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = opened_tx.send(Err(e));
                        return Err(TracerError::Capture(msg));
                    }
                };
                run(sock, writer, &flag)
            })
            .map_err(|e| TracerError::sys("starting the capture thread", e))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Capture { stop, thread }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(TracerError::Capture(
                "the capture thread ended before opening its socket".into(),
            )),
        }
    }

    /// Stops after the packets already queued on the socket are written.
    pub fn stop(self) -> Result<CaptureSummary, TracerError> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| TracerError::Capture("the capture thread panicked".into()))?
    }
}

fn run(
    mut sock: PacketSocket,
    mut writer: CaptureWriter,
    stop: &AtomicBool,
) -> Result<CaptureSummary, TracerError> {
    let mut buf = vec![0u8; socket::SNAPLEN];
    let mut last_flush = Instant::now();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        // Once stopping, read without waiting until the queue is empty.
        let timeout = if stopping {
            Duration::ZERO
        } else {
            POLL_INTERVAL
        };
        match sock.recv(&mut buf, timeout)? {
            Some(pkt) => writer.write(&pkt, &buf[..pkt.captured])?,
            None if stopping => break,
            None => {}
        }
        // Flush by time, not only when idle: under a steady packet stream the
        // buffer would otherwise hold everything and a SIGKILL would lose it.
        if last_flush.elapsed() >= POLL_INTERVAL {
            writer.flush()?;
            last_flush = Instant::now();
        }
    }
    writer.flush()?;
    let (interfaces, warnings) = writer.finish();
    Ok(CaptureSummary {
        dropped: sock.drops(),
        interfaces,
        warnings,
    })
}
