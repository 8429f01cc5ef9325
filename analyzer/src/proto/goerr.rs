//! Clues from Go's own error text in `stderr.log`.
//!
//! Go names the operation and the addresses: `dial tcp 198.18.0.2:8080:
//! connect: connection refused` (src/net/net.go OpError), `lookup NAME on
//! SERVER:53: no such host` (src/net/dnsclient_unix.go), `read udp
//! A->B: read: connection refused`. Only addresses and names are taken
//! from the text; the failure itself is classified from errno values.

use std::net::SocketAddr;

/// What Go's stderr says about the failing operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoClues {
    /// Addresses of `dial tcp ADDR:` clauses.
    pub dials: Vec<SocketAddr>,
    /// Host names of URLs on the same line as a dial: (address, host).
    pub dial_names: Vec<(SocketAddr, String)>,
    /// `lookup NAME on SERVER:` clauses (server absent in `lookup NAME: ...`).
    pub lookups: Vec<(String, Option<SocketAddr>)>,
    /// Remote ends of `read udp A->B:` / `write udp A->B:` clauses.
    pub udp_peers: Vec<SocketAddr>,
    /// Local ends (A) of the same clauses: they pin the exact exchange.
    pub udp_locals: Vec<SocketAddr>,
    /// Remote ends of `read tcp A->B:` / `write tcp A->B:` clauses (an
    /// established connection that failed).
    pub tcp_peers: Vec<SocketAddr>,
    /// Local ends of the same clauses.
    pub tcp_locals: Vec<SocketAddr>,
    /// Every `http://` / `https://` URL Go names (`Get "URL"`, `reading
    /// URL: 403 Forbidden`): the request that failed.
    pub urls: Vec<UrlClue>,
    /// `module lookup disabled by GOPROXY=off` (cmd/go modfetch errProxyOff).
    pub proxy_off: bool,
    /// The version-control tool Go could not run (`exec: "git":
    /// executable file not found in $PATH`, os/exec ErrNotFound).
    pub vcs_missing: Option<String>,
    /// The line where Go rejects a proxy setting: GOPROXY (`invalid proxy
    /// URL ...`, cmd/go/internal/modfetch/proxy.go) or HTTP(S)_PROXY
    /// (`invalid proxy address ...`, net/http ProxyFromEnvironment).
    pub bad_proxy: Option<String>,
    /// Go's words for a certificate failure, from the first line that has
    /// them: `x509: certificate signed by unknown authority` (crypto/x509
    /// errors), at most 200 characters.
    pub x509: Option<String>,
    /// Go refused an insecure request before making it
    /// (cmd/go/internal/web/http.go): the line, at most 400 characters.
    pub insecure: Option<InsecureRefusal>,
    /// The line that best states Go's error, for summaries.
    pub error_line: Option<String>,
}

/// How cmd/go refused an insecure URL (cmd/go/internal/web/http.go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsecureRefusal {
    /// `refusing to pass credentials to insecure URL: http://user:xxxxx@...`:
    /// a URL with userinfo over plain http. Never lifted for a GOPROXY
    /// entry (a module-proxy fetch is never made with `Insecure` security);
    /// GOINSECURE lifts it only for the direct fetches of the modules it
    /// lists.
    Credentials(String),
    /// `insecure URL: http://...`: a direct fetch over plain http of a
    /// module GOINSECURE does not list.
    Scheme(String),
}

/// A URL from Go's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlClue {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP literal (brackets removed).
    pub host: String,
    /// Port, the scheme's default (80, 443) when absent.
    pub port: u16,
    /// Path and query (`/lab.test/greet/@v/v1.0.0.zip`), `/` when empty.
    pub path: String,
}

impl UrlClue {
    /// The socket address, when the host is an IP literal.
    pub fn addr(&self) -> Option<SocketAddr> {
        let ip: std::net::IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

impl GoClues {
    /// Whether any address or name clue was found.
    pub fn has_network_clue(&self) -> bool {
        !self.dials.is_empty()
            || !self.lookups.is_empty()
            || !self.udp_peers.is_empty()
            || !self.tcp_peers.is_empty()
    }
}

/// Scans `stderr` for clues.
pub fn parse(stderr: &str) -> GoClues {
    let mut c = GoClues {
        x509: x509_words(stderr),
        ..GoClues::default()
    };
    // The last line naming an address wins, else the last that is not
    // progress ("go: downloading ..."), else the last line.
    let (mut notable_line, mut plain, mut any): (Option<&str>, Option<&str>, Option<&str>) =
        (None, None, None);
    for line in stderr.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut notable = false;
        if line.contains("GOPROXY=off") {
            c.proxy_off = true;
            notable = true;
        }
        if let Some(tool) = missing_executable(line) {
            c.vcs_missing = Some(tool);
            notable = true;
        }
        let cut = || line.chars().take(400).collect::<String>();
        if line.contains("refusing to pass credentials to insecure URL") {
            c.insecure = Some(InsecureRefusal::Credentials(cut()));
            notable = true;
        } else if line.contains(": insecure URL: http") || line.starts_with("insecure URL: http") {
            c.insecure.get_or_insert(InsecureRefusal::Scheme(cut()));
            notable = true;
        }
        // A proxy URL whose host:port net.Dial cannot even parse
        // (`proxyconnect tcp: dial tcp: address 312800: invalid port`).
        let bad_proxy_addr =
            line.contains("proxyconnect") && BAD_ADDRESS_PHRASES.iter().any(|p| line.contains(p));
        if bad_proxy_addr || BAD_PROXY_PHRASES.iter().any(|p| line.contains(p)) {
            c.bad_proxy = Some(line.chars().take(400).collect());
            notable = true;
        }
        for rest in after_all(line, "dial tcp") {
            // "dial tcp4 1.2.3.4:80:" or "dial tcp 1.2.3.4:80:"; "dial tcp: lookup" has no address.
            let rest = rest.trim_start_matches(['4', '6']);
            let Some(rest) = rest.strip_prefix(' ') else {
                continue;
            };
            if let Some(a) = addr_until_colon_space(rest) {
                c.dials.push(a);
                notable = true;
                // The host of the first URL, unless it is an IP literal.
                let host = urls(line).into_iter().next().filter(|u| u.addr().is_none());
                if let Some(u) = host {
                    c.dial_names.push((a, u.host));
                }
            }
        }
        for (i, _) in line.match_indices("lookup ") {
            // "module lookup disabled by GOPROXY=off" is not a DNS lookup.
            if line.get(..i).is_some_and(|p| p.ends_with("module ")) {
                continue;
            }
            let Some(rest) = line.get(i + "lookup ".len()..) else {
                continue;
            };
            let end_name = rest.find([' ', ':']).unwrap_or(rest.len());
            let name = rest.get(..end_name).unwrap_or("").trim_end_matches('.');
            if name.is_empty() {
                continue;
            }
            let server = rest
                .get(end_name..)
                .and_then(|r| r.strip_prefix(" on "))
                .and_then(addr_until_colon_space);
            c.lookups.push((name.to_string(), server));
            notable = true;
        }
        for (proto, peers, locals) in [
            ("udp ", &mut c.udp_peers, &mut c.udp_locals),
            ("tcp ", &mut c.tcp_peers, &mut c.tcp_locals),
        ] {
            for rest in after_all(line, proto) {
                let Some(i) = rest.find("->") else { continue };
                if let Some(a) = rest.get(i + 2..).and_then(addr_until_colon_space) {
                    peers.push(a);
                    notable = true;
                    if let Some(l) = rest.get(..i).and_then(|l| l.parse().ok()) {
                        locals.push(l);
                    }
                }
            }
        }
        for u in urls(line) {
            notable = true;
            if !c.urls.contains(&u) {
                c.urls.push(u);
            }
        }
        any = Some(line);
        if notable {
            notable_line = Some(line);
        } else if !line.starts_with("go: downloading") {
            plain = Some(line);
        }
    }
    c.error_line = notable_line
        .or(plain)
        .or(any)
        .map(|s| s.chars().take(400).collect());
    c
}

/// How Go words a proxy setting it cannot use.
const BAD_PROXY_PHRASES: [&str; 4] = [
    "invalid proxy URL",
    "invalid proxy address",
    "GOPROXY list is not the empty string",
    "invalid GOPROXY",
];

/// How net.Dial rejects an address it cannot parse (net/ipsock.go
/// SplitHostPort, net/port.go).
const BAD_ADDRESS_PHRASES: [&str; 4] = [
    "invalid port",
    "missing port in address",
    "too many colons in address",
    "missing ']' in address",
];

/// Version-control tools cmd/go runs for direct fetches
/// (cmd/go/internal/vcs/vcs.go).
const VCS_TOOLS: [&str; 5] = ["git", "hg", "svn", "bzr", "fossil"];

/// `git` from `exec: "git": executable file not found in $PATH`.
fn missing_executable(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("exec: \"")?;
    let (tool, rest) = rest.split_once('"')?;
    (rest.contains("executable file not found") && VCS_TOOLS.contains(&tool))
        .then(|| tool.to_string())
}

/// Every suffix of `s` following an occurrence of `pat`.
fn after_all<'a>(s: &'a str, pat: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    s.match_indices(pat)
        .filter_map(move |(i, _)| s.get(i + pat.len()..))
}

/// Parses the address that runs up to the next ": " (or the end).
fn addr_until_colon_space(s: &str) -> Option<SocketAddr> {
    let end = s.find(": ").unwrap_or(s.len());
    let tok = s.get(..end)?.trim_end_matches([',', '"', ')', ':']);
    tok.parse().ok()
}

/// The http(s) URLs in `line` (RFC 3986 authority: host, optional port;
/// IPv6 literals in brackets).
fn urls(line: &str) -> Vec<UrlClue> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("://") {
        let scheme_start = line
            .get(..i)
            .and_then(|p| p.rfind(|c: char| !c.is_ascii_alphanumeric()))
            .map_or(0, |j| j + 1);
        let scheme = line.get(scheme_start..i).unwrap_or("").to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => continue,
        };
        let Some(rest) = line.get(i + 3..) else {
            continue;
        };
        // The URL ends at a quote or space; `URL: 403 Forbidden` leaves a ':'.
        let end = rest.find(['"', ' ']).unwrap_or(rest.len());
        let url = rest.get(..end).unwrap_or("").trim_end_matches(':');
        // RFC 3986 3.2: the authority ends at '/', '?' or '#'.
        let (authority, path) = match url.find(['/', '?', '#']) {
            Some(p) => (url.get(..p).unwrap_or(""), url.get(p..).unwrap_or("/")),
            None => (url, "/"),
        };
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
            (h, p.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => match p.parse() {
                Ok(n) => n,
                Err(_) => continue,
            },
            None => default_port,
        };
        if host.is_empty() {
            continue;
        }
        out.push(UrlClue {
            scheme,
            host: host.to_string(),
            port,
            path: path.to_string(),
        });
    }
    out
}

/// The text from `x509: ` on the first line that has it (untrimmed, as
/// Go wrote it), at most 200 characters.
fn x509_words(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|l| l.contains("x509: "))?;
    let i = line.find("x509: ")?;
    Some(line.get(i..)?.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_refused_with_url() {
        let c = parse("go: downloading x\ngo: example.com/m@v1: Get \"http://proxy.lab.test:8080/example.com/m/@v/list\": dial tcp 198.18.0.2:8080: connect: connection refused\n");
        assert_eq!(c.dials, vec!["198.18.0.2:8080".parse().unwrap()]);
        assert_eq!(c.dial_names[0].1, "proxy.lab.test");
        assert!(c.error_line.unwrap().contains("connection refused"));
    }

    #[test]
    fn lookups_and_udp() {
        let c = parse("Get \"https://proxy.lab.test/x\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: read udp 198.18.0.1:39283->198.18.0.2:53: read: connection refused");
        assert!(c.dials.is_empty());
        assert_eq!(
            c.lookups,
            vec![(
                "proxy.lab.test".to_string(),
                Some("198.18.0.2:53".parse().unwrap())
            )]
        );
        assert_eq!(c.udp_peers, vec!["198.18.0.2:53".parse().unwrap()]);
        assert_eq!(c.udp_locals, vec!["198.18.0.1:39283".parse().unwrap()]);
        let c = parse("lookup proxy.lab.test on [::1]:53: no such host");
        assert_eq!(c.lookups[0].1, Some("[::1]:53".parse().unwrap()));
        let c = parse("lookup proxy.lab.test: no such host");
        assert_eq!(c.lookups[0], ("proxy.lab.test".to_string(), None));
    }

    #[test]
    fn urls_with_ports_paths_and_ipv6() {
        let c = parse("go: m@v1: reading http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.info: 403 Forbidden\nGet \"https://proxy.lab.test/x/@v/list\": x509: bad\nGet \"http://[2001:db8::1]:81/p\": EOF");
        let u: Vec<(String, String, u16, String)> = c
            .urls
            .iter()
            .map(|u| (u.scheme.clone(), u.host.clone(), u.port, u.path.clone()))
            .collect();
        assert_eq!(
            u,
            [
                (
                    "http".into(),
                    "198.18.0.2".into(),
                    8080,
                    "/lab.test/greet/@v/v1.0.0.info".into()
                ),
                (
                    "https".into(),
                    "proxy.lab.test".into(),
                    443,
                    "/x/@v/list".into()
                ),
                ("http".into(), "2001:db8::1".into(), 81, "/p".into()),
            ]
        );
        assert_eq!(c.urls[0].addr(), Some("198.18.0.2:8080".parse().unwrap()));
        assert!(parse("ftp://x/ and http://: and https://[::1").urls.len() <= 1);
    }

    #[test]
    fn missing_vcs_and_bad_proxy_settings() {
        let c = parse("go: lab.test/greet.git@v1.0.0: git ls-remote -q origin in /tmp/x: exec: \"git\": executable file not found in $PATH");
        assert_eq!(c.vcs_missing.as_deref(), Some("git"));
        let cred = parse("go: lab.test/greet@v1.0.0: refusing to pass credentials to insecure URL: http://user:xxxxx@198.18.0.2:8080/lab.test/greet/@v/v1.0.0.info");
        assert!(
            matches!(cred.insecure, Some(InsecureRefusal::Credentials(ref l)) if l.contains("user:xxxxx"))
        );
        let scheme = parse("go: git.corp/m@v1: unrecognized import path \"git.corp/m\": insecure URL: http://git.corp/m?go-get=1");
        assert!(matches!(scheme.insecure, Some(InsecureRefusal::Scheme(_))));
        assert_eq!(parse("go: downloading x v1").insecure, None);
        assert_eq!(
            parse("exec: \"gcc\": executable file not found").vcs_missing,
            None
        );
        let c = parse("go: lab.test/greet@v1.0.0: invalid proxy URL missing scheme: ::bad");
        assert!(c.bad_proxy.unwrap().contains("missing scheme"));
        let c = parse("Get \"http://198.18.0.2:8080/x\": proxyconnect tcp: dial tcp: address 312800: invalid port");
        assert!(c.bad_proxy.is_some());
        assert!(
            parse("dial tcp 198.18.0.2:8080: connect: connection refused")
                .bad_proxy
                .is_none()
        );
    }

    #[test]
    fn proxy_off_and_garbage() {
        let c = parse("go: module lookup disabled by GOPROXY=off");
        assert!(c.proxy_off && c.lookups.is_empty());
        let c = parse("dial tcp \u{0}: lookup :: on : dial tcp6");
        assert!(c.dials.is_empty());
        assert_eq!(parse("").error_line, None);
    }
}
