//! `LabConfig`: what one lab sets up. Every field has a default, so a
//! scenario names only what differs from "proxy served, go succeeds".

use std::path::PathBuf;
use std::time::Duration;

use crate::{paths, ClientRoute, Dns, Firewall, PathEnv, Proxy, ResolvConf};

/// The GOPROXY URL of the lab's module proxy, by address.
pub const LAB_GOPROXY: &str = "http://198.18.0.2:8080";

/// What to set up.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// What answers on the module proxy's port (198.18.0.2:8080, or 8443
    /// for TLS); [`Proxy::Closed`] leaves the port closed.
    pub proxy: Proxy,
    /// Which DNS server answers on 198.18.0.2:53, if any.
    pub dns: Dns,
    /// The client's resolv.conf.
    pub resolv_conf: ResolvConf,
    /// GOPROXY for commands run with [`crate::Lab::command`].
    pub goproxy: String,
    /// An nftables rule between the client and the proxy or DNS port.
    pub firewall: Firewall,
    /// `net.ipv4.tcp_syn_retries` in the client namespace. Default 2: an
    /// unanswered SYN fails in ~7 s. None keeps the kernel's 6 (~127 s),
    /// which outlasts Go's 30 s dial deadline.
    pub syn_retries: Option<u8>,
    /// Environment variables set on top of the lab's clean Go environment
    /// (replacing one of the same name, e.g. GOFLAGS), e.g. HTTP_PROXY.
    pub env: Vec<(String, String)>,
    /// The PATH lab commands get.
    pub path: PathEnv,
    /// The Go module copied into the scratch dir commands run in.
    pub module: PathBuf,
    /// A GOPROXY tree the proxy serves instead of the one built from
    /// `fixtures/goproxy/` (e.g. a [`crate::modgraph`] graph); served in
    /// place, not copied.
    pub proxy_tree: Option<PathBuf>,
    /// A route in the client namespace that refuses a dial locally.
    pub route: ClientRoute,
    /// Ctrl-C after this long: commands run through [`crate::Lab::run`]
    /// and [`crate::scenario::run_gotrace`] start in their own process
    /// group, which gets SIGINT as a terminal's foreground group would.
    pub interrupt_after: Option<Duration>,
    /// A forward HTTP proxy on 198.18.0.2:3128 treating every request
    /// (CONNECT included) as this mode does ([`Proxy::Status`],
    /// [`Proxy::Close`], [`Proxy::ResetRequest`]); point HTTP_PROXY or
    /// HTTPS_PROXY at it through `env`.
    pub forward_proxy: Option<Proxy>,
    /// Use up the client's ephemeral ports toward the proxy's port
    /// before commands run ([`crate::ports`]): connect() to it then fails
    /// with EADDRNOTAVAIL.
    pub exhaust_ports: bool,
    /// GOPROXY becomes a `file://` tree of FIFOs nobody writes
    /// ([`crate::fileproxy`]): Go hangs opening one, with no network
    /// syscall; `goproxy` is then ignored.
    pub hung_file_proxy: bool,
}

impl Default for LabConfig {
    /// Proxy served, no DNS server, resolv.conf naming the lab server,
    /// the demo module.
    fn default() -> Self {
        LabConfig {
            proxy: Proxy::Plain,
            dns: Dns::None,
            resolv_conf: ResolvConf::LabServer,
            goproxy: LAB_GOPROXY.into(),
            firewall: Firewall::None,
            syn_retries: Some(2),
            env: Vec::new(),
            path: PathEnv::Lab,
            module: paths::demo_module_dir(),
            proxy_tree: None,
            route: ClientRoute::None,
            interrupt_after: None,
            forward_proxy: None,
            exhaust_ports: false,
            hung_file_proxy: false,
        }
    }
}
