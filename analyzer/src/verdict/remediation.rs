//! One-line advice per cause, in Go's vocabulary (GOPROXY lists, GOPRIVATE,
//! HTTPS_PROXY, /etc/resolv.conf, routes). Grounded in cmd/go's documented
//! behaviour: after `,` in GOPROXY Go tries the next entry only on 404/410,
//! after `|` on any error (cmd/go/internal/modfetch/proxy.go).

use std::collections::BTreeMap;

use super::cause;
use super::Target;

/// Advice for an inconclusive verdict: how to get the missing evidence.
pub fn for_missing(missing: &[String]) -> String {
    let has = |w: &str| missing.iter().any(|m| m.contains(w));
    if has("had not failed yet") {
        "keep tracing until the command fails or exits: attach again (`gotrace attach --pid N`, without `--duration` or with a longer one) and stop gotrace only after Go prints its error, or run the command under `gotrace run`".into()
    } else if has("before gotrace attached") {
        "trace the command from its start (`gotrace run -- CMD`): an attach sees only the syscalls made after it, and this failure may come from before".into()
    } else if has("not finished") {
        "re-run under `gotrace run` and let the command finish (or time out) so its error and the whole trace are recorded".into()
    } else if has("events") {
        "re-run the command under `gotrace run` (as root) so the syscall trace is complete".into()
    } else if missing.iter().any(|m| m == "capture") {
        "re-run under `gotrace run` with the packet capture (it needs CAP_NET_RAW) so the wire can confirm the failure".into()
    } else if has("stderr") {
        "keep Go's stderr (stderr.log) in the bundle: it names the operation that failed".into()
    } else {
        "read Go's error: the recorded connections and lookups do not explain it, so look above TCP/DNS (HTTP status from the proxy, TLS, checksum database: GONOSUMDB/GOPRIVATE/GOINSECURE)".into()
    }
}

/// The advice for `cause` about `target`; `env` is meta.json's Go environment.
pub fn for_cause(cause: &str, target: Option<&Target>, env: &BTreeMap<String, String>) -> String {
    let addr = target
        .map(|t| match (&t.ip, t.port) {
            (Some(ip), Some(p)) if ip.contains(':') => format!("[{ip}]:{p}"),
            (Some(ip), Some(p)) => format!("{ip}:{p}"),
            (Some(ip), None) => ip.clone(),
            _ => "the server".to_string(),
        })
        .unwrap_or_else(|| "the server".to_string());
    let name = target.and_then(|t| t.name.clone());
    let proxy = env
        .get("GOPROXY")
        .map(|v| format!(" (GOPROXY is {v})"))
        .unwrap_or_default();
    let via_proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .any(|k| env.contains_key(*k));
    let proxy_var = if via_proxy {
        " or HTTPS_PROXY/NO_PROXY"
    } else {
        ""
    };
    match cause {
        cause::NONE => "nothing to fix: the command succeeded".into(),
        cause::CONNECTION_REFUSED => format!(
            "nothing accepts connections on {addr}: start the module proxy there, or fix the address in GOPROXY{proxy_var}{proxy}; a `|` after an entry (GOPROXY=a|b) lets Go fall back to the next on such errors"
        ),
        cause::NO_ROUTE => format!(
            "this host has no route to {addr}: add the route or a default gateway (`ip route`), or set GOPROXY{proxy_var} to a proxy this host can reach{proxy}"
        ),
        cause::DNS_PORT_UNREACHABLE => format!(
            "no DNS server answers on {addr}: fix the nameserver line in /etc/resolv.conf (Go's resolver reads it) or start the resolver there"
        ),
        cause::DNS_NXDOMAIN => format!(
            "the resolver says {} does not exist: check the host name in GOPROXY{proxy} or the module path, or use the DNS server that knows it (/etc/resolv.conf); private modules belong in GOPRIVATE/GONOSUMDB",
            name.as_deref().unwrap_or("the name")
        ),
        cause::PROXY_DISABLED => "GOPROXY=off forbids downloads: set GOPROXY=https://proxy.golang.org,direct (or your mirror), or provide the modules in the module cache or vendor/".into(),
        cause::NO_NETWORK_ATTEMPT => "the command failed before any network access: read its message (go.mod/go.sum, GOFLAGS=-mod=..., GOTOOLCHAIN, GONOSUMDB/GOPRIVATE); the network is not involved".into(),
        cause::BAD_PROXY_CONFIG => format!(
            "fix the proxy setting Go rejected{proxy}: GOPROXY is a comma- or pipe-separated list of full URLs (https://goproxy.cn,direct), `direct` or `off`; HTTPS_PROXY/HTTP_PROXY must be a URL such as http://proxy.corp:3128 (check `go env GOPROXY` and the environment)"
        ),
        cause::VCS_UNAVAILABLE => {
            let path = env
                .get("PATH")
                .map(|p| format!(" (PATH is {p})"))
                .unwrap_or_default();
            format!("install git (or the VCS named) and put it in PATH{path}, or fetch the module through a proxy instead: take it out of GOPRIVATE/GONOPROXY and make sure GOPROXY does not end the lookup at `direct`")
        }
        cause::LOCAL_FIREWALL_DROP | cause::LOCAL_FIREWALL_REJECT => format!(
            "a rule in this host's OUTPUT path blocks {addr}: find it with `nft list ruleset` (or `iptables -S OUTPUT`) and allow it, or set GOPROXY{proxy_var} to a proxy the firewall allows{proxy}"
        ),
        cause::LOCAL_REFUSED => format!(
            "nothing listens on {addr} on this host: start the local proxy, or fix or unset HTTPS_PROXY/HTTP_PROXY (both cases) and GOPROXY{proxy}"
        ),
        cause::NO_RESOLVER => "give this host an /etc/resolv.conf whose `nameserver` lines name a resolver that runs and is reachable".into(),
        cause::CONNECT_TIMEOUT => format!(
            "{addr} never answered: check that it is up and that no firewall on the way or at {addr} drops the port; a corporate network may need HTTPS_PROXY, and GOPROXY=a|b lets Go fall back to a mirror (e.g. https://goproxy.cn) on such errors{proxy}"
        ),
        cause::ICMP_UNREACHABLE => format!(
            "a router or firewall refuses {addr}: check the route and the firewalls on the way, or set GOPROXY{proxy_var} to a proxy you may reach{proxy}"
        ),
        cause::DNS_SERVER_FAILURE => format!(
            "the resolver {addr} cannot resolve the name: check its upstream servers and logs, or point /etc/resolv.conf at a working resolver"
        ),
        cause::DNS_TIMEOUT => format!(
            "the name server {addr} does not answer: check that it runs and that UDP port 53 to it is open, or put a reachable resolver in /etc/resolv.conf"
        ),
        cause::TLS_UNTRUSTED_CERTIFICATE => format!(
            "the certificate of {} is not trusted here: install the issuing CA in the system trust store (or set SSL_CERT_FILE / SSL_CERT_DIR), or, for a private server you trust, use GOINSECURE/GOPRIVATE with care; a TLS-intercepting corporate proxy needs its CA installed",
            name.as_deref().unwrap_or(&addr)
        ),
        cause::TLS_ALERT => format!(
            "{addr} aborted the TLS handshake: check that it serves TLS on this port with a protocol version and cipher Go offers, and that the host name (SNI) is one it serves"
        ),
        cause::HTTP_STATUS => format!(
            "the proxy {addr} answered with an HTTP error: check the module path and version, the proxy's access rules and logs; with GOPROXY=a,b Go tries the next entry only on 404/410, with a|b on any error{proxy}"
        ),
        cause::CONNECTION_RESET => format!(
            "{addr} (or a middlebox) aborted the connection: check the proxy's logs and limits; GOPROXY=a|b lets Go fall back to the next proxy on such errors{proxy}"
        ),
        _ => for_missing(&[]),
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
    fn advice_names_the_target_and_go_settings() {
        let env = BTreeMap::from([("GOPROXY".to_string(), "http://p:8080".to_string())]);
        let t = target("198.18.0.2", 8080, None);
        let r = for_cause(cause::CONNECTION_REFUSED, Some(&t), &env);
        assert!(
            r.contains("198.18.0.2:8080") && r.contains("GOPROXY is http://p:8080"),
            "{r}"
        );
        let t6 = target("2001:db8::1", 443, None);
        assert!(for_cause(cause::NO_ROUTE, Some(&t6), &env).contains("[2001:db8::1]:443"));
        let n = target("198.18.0.2", 53, Some("proxy.lab.test"));
        assert!(for_cause(cause::DNS_NXDOMAIN, Some(&n), &env).contains("proxy.lab.test"));
        let with_proxy = BTreeMap::from([("HTTPS_PROXY".to_string(), "http://x".to_string())]);
        assert!(for_cause(cause::NO_ROUTE, Some(&t), &with_proxy).contains("HTTPS_PROXY"));
    }

    #[test]
    fn inconclusive_advice_follows_what_is_missing() {
        assert!(for_missing(&["capture".into()]).contains("capture"));
        assert!(for_missing(&["events.jsonl".into()]).contains("syscall trace"));
        assert!(for_missing(&["stderr.log".into()]).contains("stderr"));
        assert!(for_missing(&[]).contains("above TCP/DNS"));
    }
}
