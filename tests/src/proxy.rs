//! The lab's module proxy in the server namespace: `tests/lab/goproxy.py`
//! serving the static tree, or misbehaving in one chosen way.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::netns::{NetnsPair, SERVER_IP};
use crate::server::Server;
use crate::{paths, probe, tree, LabError};

/// The port the module proxy listens on (or would, when closed).
pub const PROXY_PORT: u16 = 8080;
/// The port of the HTTPS module proxy ([`Proxy::Tls`]).
pub const TLS_PROXY_PORT: u16 = 8443;

/// What answers on the module proxy's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proxy {
    /// Nothing: the port is closed (the server's kernel answers RST).
    Closed,
    /// The module tree over plain HTTP on 198.18.0.2:8080.
    #[default]
    Plain,
    /// The module tree over HTTPS on 198.18.0.2:8443, with the self-signed
    /// certificate in `fixtures/tls/` that the client does not trust.
    Tls,
    /// Every request answered with this HTTP status, on 8080.
    Status(u16),
    /// On 8080: status line, headers and part of the body, then an RST.
    Reset,
}

impl Proxy {
    /// The port it listens on.
    pub fn port(self) -> u16 {
        match self {
            Proxy::Tls => TLS_PROXY_PORT,
            _ => PROXY_PORT,
        }
    }

    /// goproxy.py's mode arguments; None for [`Proxy::Closed`].
    fn mode_args(self) -> Option<Vec<String>> {
        let tls = paths::fixtures_dir().join("tls");
        let file = |name: &str| tls.join(name).display().to_string();
        Some(match self {
            Proxy::Closed => return None,
            Proxy::Plain => vec!["plain".into()],
            Proxy::Tls => vec!["tls".into(), file("proxy.crt"), file("proxy.key")],
            Proxy::Status(code) => vec!["status".into(), code.to_string()],
            Proxy::Reset => vec!["reset".into()],
        })
    }

    /// Builds the tree under `work` (or serves `tree` when given), starts
    /// the server in the server namespace and waits until a TCP connect
    /// from the client's succeeds. None when closed.
    pub(crate) fn start(
        self,
        netns: &NetnsPair,
        work: &Path,
        tree: Option<&Path>,
    ) -> Result<Option<Server>, LabError> {
        let Some(mode) = self.mode_args() else {
            return Ok(None);
        };
        let tree = match tree {
            Some(t) => t.to_path_buf(),
            None => tree::build_tree(&work.join("goproxy"))?,
        };
        let script = paths::lab_script("goproxy.py").display().to_string();
        let mut args = vec![
            script,
            SERVER_IP.into(),
            self.port().to_string(),
            tree.display().to_string(),
        ];
        args.extend(mode);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Server::start("goproxy.py", &netns.server, "python3", &args, work)?;
        let addr = SocketAddr::from(([198, 18, 0, 2], self.port()));
        server.wait_ready(Duration::from_secs(15), || {
            probe::tcp_accepts(&netns.client, addr)
        })?;
        Ok(Some(server))
    }
}
