//! gotrace's lab: two network namespaces joined by a veth pair on
//! 198.18.0.0/24 (client .1, server .2, no default route), a static Go
//! module proxy and optionally dnsmasq in the server namespace, and a clean
//! Go environment in the client. Used by the e2e tests and by `cargo xtask`.
//!
//! Nothing here reaches beyond the machine: the client has no default
//! route, its resolv.conf names only the lab server, and dnsmasq never
//! forwards. Everything is torn down when the [`Lab`] is dropped.

mod cmd;
mod dns;
mod error;
mod firewall;
mod goenv;
mod lab;
mod netns;
mod paths;
mod probe;
mod proxy;
pub mod scenario;
mod server;
mod signal;
mod zip;

pub use cmd::is_root;
pub use error::LabError;
pub use firewall::Firewall;
pub use lab::{Lab, LabConfig, ResolvConf, LAB_GOPROXY};
pub use netns::{CLIENT_IP, SERVER_IP};
pub use paths::{demo_module_dir, fixtures_dir, gotrace_bin, workspace_root};
pub use proxy::PROXY_PORT;
pub use signal::{interrupted, survive_interrupts};
