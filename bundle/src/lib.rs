//! The gotrace trace bundle: the directory `gotrace run`/`attach` writes and
//! `gotrace analyze` reads: its types, its reader and its writer.
//!
//! Layout (the format doc is BUNDLE.md next to this crate's Cargo.toml):
//! `meta.json` ([`Meta`]), `events.jsonl` ([`Event`] per line),
//! `capture.pcapng`, `stderr.log`, `verdict.json` (names in [`files`]).
//! The tracer writes with [`BundleWriter`]; the analyzer reads with
//! [`read_bundle`] (or [`bundle_from_bytes`] for contents in memory).

#![warn(missing_docs)]

mod dirfd;
mod error;
mod event;
mod fds;
mod meta;
mod reader;
mod tcp_state;
mod untrusted;
mod writer;

pub use dirfd::create_new;
pub use error::{FileRefused, ReadError, WriteError};
pub use event::{Dir, Event, Io, Op, SockAddr};
pub use fds::{FdChange, FdTable};
pub use meta::{
    go_env, Attach, ClockMap, ExitStatus, Firewall, Interface, LocalAddress, LocalNetwork, Meta,
    PreExistingSocket, Redacted, ResolvConf, FORMAT_VERSION, GO_ENV,
};
pub use reader::{
    bundle_from_bytes, for_each_event, open_bundle, open_bundle_from, read_bundle, read_events,
    sort_events, Bundle, EventsInput, OpenBundle, ReadEvents, CAPTURE_MAX_BYTES, EVENTS_MAX_BYTES,
    MAX_BAD_LINE_WARNINGS, MAX_EVENT_LINE_BYTES,
};
pub use tcp_state::TcpState;
pub use writer::{BundleWriter, Owner, META_RESERVE_BYTES};

/// The kernel's numbers in [`Op::Socket`]'s `domain` (`AF_*`, `<sys/socket.h>`)
/// and `sock_type` (`SOCK_*`, `<linux/net.h>`) and in the ABI's `family`:
/// defined once, in the ABI crate the probes share.
pub use gotrace_abi::{AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM};

/// File names inside a bundle directory.
pub mod files {
    /// Run metadata, JSON.
    pub const META: &str = "meta.json";
    /// One JSON event per line.
    pub const EVENTS: &str = "events.jsonl";
    /// Packets, pcapng with nanosecond timestamps.
    pub const CAPTURE: &str = "capture.pcapng";
    /// The command's stderr as it was passed through.
    pub const STDERR: &str = "stderr.log";
    /// The verdict as JSON, written at the end of a run.
    pub const VERDICT: &str = "verdict.json";
    /// The report as one self-contained HTML page, written at the end of
    /// a run (never read back: `gotrace analyze --html` remakes it).
    pub const REPORT_HTML: &str = "report.html";
}
