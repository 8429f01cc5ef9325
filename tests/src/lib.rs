//! gotrace's lab: two network namespaces joined by a veth pair on
//! 198.18.0.0/24 (client .1, server .2, no default route), a Go module
//! proxy (served, broken on purpose, or absent) and optionally a DNS server
//! in the server namespace, optional firewall rules, and a clean Go
//! environment in the client. Used by the e2e tests and by `cargo xtask`.
//!
//! Nothing here reaches beyond the machine: the client has no default
//! route, its resolv.conf names only the lab server (or is missing, never
//! the host's), and the DNS servers never forward. Everything is torn down
//! when the [`Lab`] is dropped.

mod cmd;
mod config;
mod dns;
mod error;
mod fileproxy;
mod firewall;
mod goenv;
mod lab;
pub mod modgraph;
pub mod netns;
mod paths;
pub mod ports;
mod probe;
mod proxy;
mod resolv;
mod route;
pub mod scenario;
mod server;
mod signal;
mod tree;
mod zip;

pub use cmd::is_root;
pub use config::{LabConfig, LAB_GOPROXY};
pub use dns::{Dns, PROXY_NAME};
pub use error::LabError;
pub use firewall::Firewall;
pub use goenv::PathEnv;
pub use lab::Lab;
pub use netns::{CLIENT_IP, SERVER_IP};
pub use paths::{demo_module_dir, fixtures_dir, gotrace_bin, lab_module_dir, workspace_root};
pub use proxy::{Proxy, FORWARD_PROXY_PORT, PROXY_PORT, TLS_PROXY_PORT};
pub use resolv::ResolvConf;
pub use route::{ClientRoute, BLACKHOLE_IP, NO_SOURCE_V6_IP, PROHIBIT_IP, UNREACHABLE_IP};
pub use signal::{interrupted, survive_interrupts};
pub use tree::copy_dir;
