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
    /// On 8080: reads the request head, then closes (FIN) without a response.
    Close,
    /// On 8080: reads the request head, then aborts (RST) without a response.
    ResetRequest,
    /// On 8443: HTTPS offering only TLS 1.2 with a cipher suite Go does
    /// not (CAMELLIA128-SHA), so the server ends the handshake with a
    /// cleartext fatal alert (handshake_failure, RFC 5246 7.4.1.3).
    TlsAlert,
    /// On 8443: accepts TCP connections and never reads or writes, so a
    /// TLS client's ClientHello is ACKed by the kernel and never answered.
    Silent,
}

/// The port of the lab's forward HTTP proxy ([`LabConfig::forward_proxy`](crate::LabConfig)).
pub const FORWARD_PROXY_PORT: u16 = 3128;

impl Proxy {
    /// The port it listens on.
    pub fn port(self) -> u16 {
        match self {
            Proxy::Tls | Proxy::TlsAlert | Proxy::Silent => TLS_PROXY_PORT,
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
            Proxy::TlsAlert => vec!["tls-alert".into(), file("proxy.crt"), file("proxy.key")],
            Proxy::Status(code) => vec!["status".into(), code.to_string()],
            Proxy::Reset => vec!["reset".into()],
            Proxy::Close => vec!["close".into()],
            Proxy::ResetRequest => vec!["reset-request".into()],
            Proxy::Silent => vec!["silent".into()],
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
        start_goproxy("goproxy.py", netns, work, &tree, self.port(), mode).map(Some)
    }
}

/// Starts the lab's forward HTTP proxy on 198.18.0.2:3128, misbehaving as
/// `how` does on every request (a CONNECT, an absolute-form GET):
/// [`Proxy::Status`], [`Proxy::Close`], [`Proxy::ResetRequest`]; `None`
/// for a mode with no forward-proxy meaning (it serves no tree).
pub(crate) fn start_forward(
    how: Proxy,
    netns: &NetnsPair,
    work: &Path,
) -> Result<Option<Server>, LabError> {
    if !matches!(how, Proxy::Status(_) | Proxy::Close | Proxy::ResetRequest) {
        return Ok(None);
    }
    let Some(mode) = how.mode_args() else {
        return Ok(None);
    };
    start_goproxy("forward-proxy", netns, work, work, FORWARD_PROXY_PORT, mode).map(Some)
}

/// `python3 goproxy.py 198.18.0.2 PORT TREE MODE...` in the server
/// namespace, once a TCP connect from the client's succeeds.
fn start_goproxy(
    name: &str,
    netns: &NetnsPair,
    work: &Path,
    tree: &Path,
    port: u16,
    mode: Vec<String>,
) -> Result<Server, LabError> {
    let script = paths::lab_script("goproxy.py").display().to_string();
    let mut args = vec![
        script,
        SERVER_IP.into(),
        port.to_string(),
        tree.display().to_string(),
    ];
    args.extend(mode);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(name, &netns.server, "python3", &args, work)?;
    let addr = SocketAddr::from(([198, 18, 0, 2], port));
    server.wait_ready(Duration::from_secs(15), || {
        probe::tcp_accepts(&netns.client, addr)
    })?;
    Ok(server)
}
