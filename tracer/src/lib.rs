//! The tracer behind the `gotrace` binary, as a library so its pieces are
//! testable without root and without spawning the binary.
//!
//! Layers, each using only the ones below it (no import circles):
//!
//! - [`cmd`]: the sub-commands `run`, `attach`, `analyze` and the report.
//! - [`record`] (eBPF probes -> bundle events) and [`capture`] (AF_PACKET
//!   -> pcapng), writing into the bundle.
//! - [`bundle`] (the bundle writer) and [`meta`] (meta.json at start),
//!   over [`firewall`] (the nft ruleset).
//! - [`process`]: the traced process and gotrace's own; [`sudo_env`]: the
//!   Go settings sudo may have removed from its environment.
//! - [`error`], [`clock`], [`redact`] (secrets kept out of
//!   the bundle): shared by all.

pub mod bundle;
pub mod capture;
pub mod clock;
pub mod cmd;
pub mod error;
pub mod firewall;
pub mod local_net;
pub mod meta;
pub mod process;
pub mod record;
pub mod redact;
pub mod sudo_env;
pub mod term;

pub use error::TracerError;
