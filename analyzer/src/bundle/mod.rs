//! The trace bundle: a directory written by `gotrace run`/`attach`.
//!
//! Layout (see docs/BUNDLE.md): `meta.json` ([`Meta`]), `events.jsonl`
//! ([`Event`] per line), `capture.pcapng`, `stderr.log`, `verdict.json`.

mod event;
mod meta;
mod reader;

pub use event::{Event, Op, SockAddr};
pub use meta::{
    Attach, ClockMap, ExitStatus, Firewall, Interface, Meta, PreExistingSocket, ResolvConf,
    FORMAT_VERSION,
};
pub use reader::{bundle_from_bytes, read_bundle, read_events, Bundle, ReadEvents};

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
}
