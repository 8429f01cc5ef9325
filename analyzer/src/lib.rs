//! gotrace's analyzer: reads a trace bundle (or a bare capture), correlates
//! the traced tree's syscalls with the packets on the wire, and decides where
//! a Go module fetch failed: before any syscall, in the local kernel, or on
//! the network. Pure library: no eBPF, no root.

pub mod bundle;
pub mod capture;
pub mod dns;
pub mod errno;
mod error;
pub mod icmp;

pub use error::AnalyzeError;
