//! One-line advice per cause ([`Cause::remediation`]), in Go's vocabulary
//! (GOPROXY lists, GOPRIVATE, HTTPS_PROXY, /etc/resolv.conf, routes). A rule
//! that knows more about one case (the firewall rule, the HTTP status)
//! sets its own advice instead (`Diagnosis::fix`, `Failure::fix`). Grounded in cmd/go's documented
//! behaviour: after `,` in GOPROXY Go tries the next entry only on 404/410,
//! after `|` on any error (cmd/go/internal/modfetch/proxy.go).

use std::collections::BTreeMap;

use super::route::Route;
use super::{Cause, Missing, Target};

impl Cause {
    /// The advice for this cause about `target`; `env` is meta.json's Go
    /// environment (empty for a capture-only analysis).
    pub fn remediation(self, target: Option<&Target>, env: &BTreeMap<String, String>) -> String {
        let addr = target
            .and_then(Target::addr)
            .unwrap_or_else(|| "the server".to_string());
        let name = target.and_then(|t| t.name.clone());
        // How the request got there (which GOPROXY entry, proxy variable,
        // checksum database or direct fetch): the setting the advice names.
        let route = super::route::route(target, env);
        let proxy = match route {
            Route::Unknown => env
                .get("GOPROXY")
                .map(|v| format!(" (GOPROXY is {v})"))
                .unwrap_or_default(),
            _ => route.clause(env),
        };
        let (setting, what) = (route.setting(), route.what());
        // For a failed lookup: what the name was needed for, when a setting
        // says (a GOPROXY entry, the checksum database).
        let lookup = match route {
            Route::ProxyEntry { .. } => route.clause(env).replacen(
                " (the request went to ",
                " (the name looked up is that of ",
                1,
            ),
            Route::ChecksumDb { .. } => route.clause(env),
            _ => String::new(),
        };
        let via_proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .iter()
            .any(|k| env.contains_key(*k));
        let proxy_var = if via_proxy && !matches!(route, Route::HttpProxy { .. }) {
            " or HTTPS_PROXY/NO_PROXY"
        } else {
            ""
        };
        match self {
        Cause::None => "nothing to fix: the command succeeded".into(),
        Cause::ConnectionRefused => format!(
            "nothing accepts connections on {addr}: start {what} there, or fix the address in {setting}{proxy_var}{proxy}; a `|` after an entry (GOPROXY=a|b) lets Go fall back to the next on such errors"
        ),
        Cause::NoRoute => format!(
            "this host has no route to {addr}: add the route or a default gateway (`ip route`), or set GOPROXY{proxy_var} to a proxy this host can reach{proxy}"
        ),
        Cause::DnsPortUnreachable => format!(
            "no DNS server answers on {addr}: fix the nameserver line in /etc/resolv.conf (Go's resolver reads it) or start the resolver there{lookup}"
        ),
        Cause::DnsNxdomain => format!(
            "the resolver says {} does not exist: check the host name in {setting}{} or the module path, or use the DNS server that knows it (/etc/resolv.conf); private modules belong in GOPRIVATE/GONOSUMDB",
            name.as_deref().unwrap_or("the name"),
            if lookup.is_empty() { &proxy } else { &lookup },
        ),
        Cause::ProxyDisabled => "GOPROXY=off forbids downloads: set GOPROXY=https://proxy.golang.org,direct (or your mirror), or provide the modules in the module cache or vendor/".into(),
        Cause::NoNetworkAttempt => "the command failed before any network access: read its message (go.mod/go.sum, GOFLAGS=-mod=..., GOTOOLCHAIN, GONOSUMDB/GOPRIVATE); if it hung instead, it waited on something local: a file:// GOPROXY or a module cache on a stuck mount, a lock held by another go command (`ps`), a child process waiting for input; the network is not involved".into(),
        Cause::BadProxyConfig => format!(
            "fix the proxy setting Go rejected{proxy}: GOPROXY is a comma- or pipe-separated list of full URLs (https://goproxy.cn,direct), `direct` or `off`; HTTPS_PROXY/HTTP_PROXY must be a URL such as http://proxy.corp:3128 (check `go env GOPROXY` and the environment)"
        ),
        Cause::VcsUnavailable => {
            let path = env
                .get("PATH")
                .map(|p| format!(" (PATH is {p})"))
                .unwrap_or_default();
            format!("install git (or the VCS named) and put it in PATH{path}, or fetch the module through a proxy instead: take it out of GOPRIVATE/GONOPROXY and make sure GOPROXY does not end the lookup at `direct`")
        }
        Cause::InsecureUrlRefused => "Go refuses to send credentials over plain http, and to fetch a module directly over http: give the proxy an https:// URL (credentials are then allowed; or keep them in ~/.netrc or GOAUTH instead of the URL); GOINSECURE=<module prefix> allows http only for direct fetches of the modules it lists, never for a GOPROXY entry".into(),
        Cause::LocalFirewallDrop | Cause::LocalFirewallReject => format!(
            "a rule in this host's OUTPUT path blocks {addr}: find it with `nft list ruleset` (or `iptables -S OUTPUT`) and allow it, or set GOPROXY{proxy_var} to a proxy the firewall allows{proxy}"
        ),
        Cause::LocalRefused => format!(
            "nothing listens on {addr} on this host: start the local proxy, or fix or unset HTTPS_PROXY/HTTP_PROXY (both cases) and GOPROXY{proxy}"
        ),
        Cause::NoResolver => "give this host an /etc/resolv.conf whose `nameserver` lines name a resolver that runs and is reachable".into(),
        Cause::ConnectTimeout => format!(
            "{addr} never answered: check that it is up and that no firewall on the way or at {addr} drops the port; a corporate network may need HTTPS_PROXY, and GOPROXY=a|b lets Go fall back to a mirror (e.g. https://goproxy.cn) on such errors{proxy}"
        ),
        Cause::IcmpUnreachable => format!(
            "a router or firewall refuses {addr}: check the route and the firewalls on the way, or set GOPROXY{proxy_var} to a proxy you may reach{proxy}"
        ),
        Cause::DnsServerFailure => format!(
            "the resolver {addr} cannot resolve the name: check its upstream servers and logs, or point /etc/resolv.conf at a working resolver{lookup}"
        ),
        Cause::DnsTimeout => format!(
            "the name server {addr} does not answer: check that it runs and that UDP port 53 to it is open, or put a reachable resolver in /etc/resolv.conf{lookup}"
        ),
        Cause::TlsUntrustedCertificate => format!(
            "the certificate of {} is not trusted here: install the issuing CA in the system trust store (or set SSL_CERT_FILE / SSL_CERT_DIR), or, for a private server you trust, use GOINSECURE/GOPRIVATE with care; a TLS-intercepting corporate proxy needs its CA installed",
            name.as_deref().unwrap_or(&addr)
        ),
        Cause::TlsAlert => format!(
            "{addr} aborted the TLS handshake: check that it serves TLS on this port with a protocol version and cipher Go offers, and that the host name (SNI) is one it serves"
        ),
        Cause::HttpStatus => format!(
            "the proxy {addr} answered with an HTTP error: check the module path and version, the proxy's access rules and logs; with GOPROXY=a,b Go tries the next entry only on 404/410, with a|b on any error{proxy}"
        ),
        Cause::NoResponse => format!(
            "{addr} accepted the connection but its server never answered: check that the proxy process there is healthy (not hung, not overloaded; its logs) and that the port serves the protocol GOPROXY{proxy_var} names (https:// needs TLS there){proxy}; GOPROXY=a|b lets Go fall back to the next proxy on such errors"
        ),
        Cause::ClosedWithoutResponse => format!(
            "{addr} closed the connection without answering the request: check the proxy's logs (crashes, a request it refuses silently, a plain-HTTP port given an https:// URL or the reverse){proxy}; GOPROXY=a|b lets Go fall back to the next proxy on such errors"
        ),
        Cause::ConnectionReset => format!(
            "{addr} (or a middlebox) aborted the connection: check the proxy's logs and limits; GOPROXY=a|b lets Go fall back to the next proxy on such errors{proxy}"
        ),
        Cause::LocalRouteBlackhole | Cause::LocalRouteProhibit | Cause::LocalRouteUnreachable => format!(
            "this host's routing table refuses {addr} (`ip route get {}` shows the route; a `blackhole`, `prohibit` or `unreachable` entry, or a policy rule, `ip rule`): remove or fix that route, or set GOPROXY{proxy_var} to a proxy this host may reach{proxy}",
            target.and_then(|t| t.ip.clone()).unwrap_or_else(|| "ADDR".into())
        ),
        Cause::LocalAddressUnavailable => format!(
            "this host has no local address (or free port) to reach {addr} from: configure an address of that family (`ip addr`; for IPv6 a global or ULA address), or check net.ipv4.ip_local_port_range and sockets in TIME_WAIT (`ss -s`); or set GOPROXY to an address of a family this host has{proxy}"
        ),
        Cause::LocalPortsExhausted => format!(
            "every local port toward {addr} is taken: find what holds them (`ss -tanp dst {ip}`; `ss -tan state time-wait dst {ip} | wc -l` counts TIME_WAIT), stop the process that leaks connections or let its connections be reused (HTTP keep-alive), or widen the range (`sysctl net.ipv4.ip_local_port_range`, e.g. \"32768 60999\"); then retry{proxy}",
            ip = target.and_then(|t| t.ip.clone()).unwrap_or_else(|| "ADDR".into())
        ),
        Cause::LocalPolicyDenied => format!(
            "a policy of this host forbids connecting to {addr}: look for a cgroup BPF connect hook (`bpftool cgroup tree`), an LSM (SELinux, AppArmor) denial in the audit log, or an OUTPUT rule (`nft list ruleset`){proxy}"
        ),
        Cause::LocalResourceExhausted => "this host's kernel ran out of a resource (socket buffers, memory, file descriptors): check `ulimit -n`, fs.file-max, net.core.wmem_max and dmesg, then retry".into(),
        Cause::NeighbourUnreachable => format!(
            "no host answers for {addr} on this host's own link (ARP / neighbour discovery got no reply): check that the server is up and really on this network (`ip neigh` shows FAILED entries), or fix the address in {setting}{proxy_var}{proxy}"
        ),
        Cause::InsufficientEvidence => Missing::advice(&[]),
    }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ip: &str, port: u16, name: Option<&str>) -> Target {
        Target {
            name: name.map(str::to_string),
            ip: Some(ip.into()),
            port: Some(port),
        }
    }

    #[test]
    fn a_checksum_database_lookup_names_gonosumdb() {
        let env = BTreeMap::from([
            (
                "GOPROXY".to_string(),
                "https://goproxy.cn,direct".to_string(),
            ),
            ("PATH".to_string(), "/usr/bin".to_string()),
        ]);
        let t = target("198.18.0.53", 53, Some("sum.golang.org"));
        for c in [
            Cause::DnsTimeout,
            Cause::DnsServerFailure,
            Cause::DnsNxdomain,
        ] {
            let r = c.remediation(Some(&t), &env);
            assert!(
                r.contains("GONOSUMDB or GOPRIVATE") && r.contains("GOSUMDB"),
                "{c:?}: {r}"
            );
        }
    }

    #[test]
    fn advice_names_the_target_and_go_settings() {
        let env = BTreeMap::from([("GOPROXY".to_string(), "http://p:8080".to_string())]);
        let t = target("198.18.0.2", 8080, None);
        let r = Cause::ConnectionRefused.remediation(Some(&t), &env);
        assert!(
            r.contains("198.18.0.2:8080") && r.contains("GOPROXY is http://p:8080"),
            "{r}"
        );
        let t6 = target("2001:db8::1", 443, None);
        assert!(Cause::NoRoute
            .remediation(Some(&t6), &env)
            .contains("[2001:db8::1]:443"));
        let n = target("198.18.0.2", 53, Some("proxy.lab.test"));
        assert!(Cause::DnsNxdomain
            .remediation(Some(&n), &env)
            .contains("proxy.lab.test"));
        let with_proxy = BTreeMap::from([("HTTPS_PROXY".to_string(), "http://x".to_string())]);
        assert!(Cause::NoRoute
            .remediation(Some(&t), &with_proxy)
            .contains("HTTPS_PROXY"));
    }
}
