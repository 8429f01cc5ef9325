//! The packet capture: one AF_PACKET socket (packet(7)) on every interface
//! of the current network namespace, written to pcapng while the command runs.

mod socket;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gotrace_analyzer::bundle::{files, Interface};

use crate::bundle::BundleWriter;
use crate::error::TracerError;
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
    /// writing the bundle's capture.pcapng on a thread.
    pub fn start(bundle: &BundleWriter) -> Result<Capture, TracerError> {
        let sock = PacketSocket::open()?;
        let writer = CaptureWriter::create(
            bundle.create_file(files::CAPTURE)?,
            &bundle.path(files::CAPTURE),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || run(sock, writer, &flag))
            .map_err(|e| TracerError::sys("starting the capture thread", e))?;
        Ok(Capture { stop, thread })
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
