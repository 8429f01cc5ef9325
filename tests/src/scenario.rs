//! The e2e scenarios: how to set up the lab for each failure, what Go
//! prints, and which verdict gotrace must reach. Shared by the e2e tests
//! and `cargo xtask record-fixtures` / `demo`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::{
    paths, ClientRoute, Dns, Firewall, Lab, LabConfig, LabError, PathEnv, Proxy, ResolvConf,
    BLACKHOLE_IP, FORWARD_PROXY_PORT, LAB_GOPROXY, NO_SOURCE_V6_IP, PROHIBIT_IP, TLS_PROXY_PORT,
    UNREACHABLE_IP,
};

/// An address inside 198.18.0.0/15 but off the lab's connected /24; with no
/// default route the client's kernel has nowhere to send it.
pub const UNROUTED_IP: &str = "198.19.255.1";

/// An expected verdict: layer and cause id (docs/causes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// `before-syscall`, `kernel`, `network`, `none` or `inconclusive`.
    pub layer: &'static str,
    /// The cause id.
    pub cause: &'static str,
}

const fn verdict(layer: &'static str, cause: &'static str) -> Option<Verdict> {
    Some(Verdict { layer, cause })
}

/// One lab setup plus the expected outcome.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (also the fixtures/bundles/<name> directory).
    pub name: &'static str,
    /// Lab setup.
    pub config: LabConfig,
    /// The verdict gotrace must reach; None while the analyzer has no cause
    /// id for this failure (the scenario still validates the lab and is
    /// recorded as a fixture).
    pub verdict: Option<Verdict>,
    /// Expected exit status of `go mod tidy` (and so of gotrace).
    pub exit_code: i32,
    /// A piece of Go's stderr that identifies the failure (FIELD-NOTES.md).
    pub go_says: &'static str,
}

/// The lab with GOPROXY set to `goproxy`.
fn goproxy(goproxy: &str) -> LabConfig {
    LabConfig {
        goproxy: goproxy.into(),
        ..LabConfig::default()
    }
}

/// The lab with one firewall rule.
fn firewalled(firewall: Firewall) -> LabConfig {
    LabConfig {
        firewall,
        ..LabConfig::default()
    }
}

/// The lab with extra environment variables for go.
fn with_env(vars: &[(&str, &str)]) -> LabConfig {
    LabConfig {
        env: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LabConfig::default()
    }
}

/// GOPROXY by name: resolving it is the step that fails.
const BY_NAME: &str = "http://proxy.lab.test:8080";

/// Every scenario, in a stable order: the first nine are the original
/// ones (fixtures/bundles has them), the rest issue 3's matrix.
pub fn all() -> Vec<Scenario> {
    let mut all = original();
    all.extend(before_syscall());
    all.extend(kernel());
    all.extend(network());
    all.extend(local_routes());
    all.extend(cut_short());
    all.extend(stages());
    all
}

fn original() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "success",
            config: LabConfig::default(),
            verdict: verdict("none", "none"),
            exit_code: 0,
            go_says: "",
        },
        Scenario {
            name: "connection-refused",
            config: LabConfig {
                proxy: Proxy::Closed,
                ..LabConfig::default()
            },
            verdict: verdict("network", "connection-refused"),
            exit_code: 1,
            go_says: "connect: connection refused",
        },
        Scenario {
            name: "no-route",
            config: goproxy(&format!("http://{UNROUTED_IP}:8080")),
            verdict: verdict("kernel", "no-route"),
            exit_code: 1,
            go_says: "connect: network is unreachable",
        },
        Scenario {
            name: "proxy-off",
            config: goproxy("off"),
            verdict: verdict("before-syscall", "proxy-disabled"),
            exit_code: 1,
            go_says: "module lookup disabled by GOPROXY=off",
        },
        Scenario {
            name: "dns-port-unreachable",
            config: goproxy(BY_NAME),
            verdict: verdict("network", "dns-port-unreachable"),
            exit_code: 1,
            go_says: "read: connection refused",
        },
        Scenario {
            name: "dns-nxdomain",
            config: LabConfig {
                dns: Dns::Dnsmasq,
                ..goproxy("http://missing.lab.test:8080")
            },
            verdict: verdict("network", "dns-nxdomain"),
            exit_code: 1,
            go_says: "no such host",
        },
        Scenario {
            name: "server-rejects",
            config: firewalled(Firewall::ServerRejects),
            verdict: verdict("network", "icmp-unreachable"),
            exit_code: 1,
            go_says: "connect: no route to host",
        },
        Scenario {
            name: "server-drops",
            config: firewalled(Firewall::ServerDropsInput),
            verdict: verdict("network", "connect-timeout"),
            exit_code: 1,
            go_says: "connect: connection timed out",
        },
        Scenario {
            name: "client-drops",
            // The kernel's default SYN retries (~127 s) outlast Go's 30 s
            // dial deadline; with 2 retries the kernel would give up first
            // and Go would say "connection timed out" instead.
            config: LabConfig {
                syn_retries: None,
                ..firewalled(Firewall::ClientDropsOutput)
            },
            verdict: verdict("kernel", "local-firewall-drop"),
            exit_code: 1,
            go_says: "i/o timeout",
        },
    ]
}

/// Go gives up before any network syscall.
fn before_syscall() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "bad-go-mod",
            // A typo in go.mod: Go stops while parsing it. (`go mod tidy`
            // ignores -mod=vendor, so a missing vendor dir would not do.)
            config: LabConfig {
                module: paths::lab_module_dir("bad-go-mod"),
                ..LabConfig::default()
            },
            verdict: verdict("before-syscall", "no-network-attempt"),
            exit_code: 1,
            go_says: "unknown directive: requir",
        },
        Scenario {
            name: "bad-goproxy",
            // A typo in the scheme: cmd/go checks the GOPROXY list first.
            config: goproxy("htp://198.18.0.2:8080"),
            verdict: verdict("before-syscall", "bad-proxy-config"),
            exit_code: 1,
            go_says: "invalid proxy URL scheme (must be https, http, file)",
        },
        Scenario {
            name: "bad-http-proxy",
            // Go 1.19 silently ignores an HTTP_PROXY that does not parse as
            // a URL; a port out of range parses, and the dial refuses it
            // before creating a socket.
            config: with_env(&[("HTTP_PROXY", "http://127.0.0.1:312800")]),
            verdict: verdict("before-syscall", "bad-proxy-config"),
            exit_code: 1,
            go_says: "proxyconnect tcp: dial tcp: address 312800: invalid port",
        },
        Scenario {
            name: "git-missing",
            // lab.test/greet.git under GOPRIVATE: Go fetches it with git
            // directly (no ?go-get=1 lookup, fixtures/modules/README.md),
            // and PATH holds nothing but go.
            config: LabConfig {
                module: paths::lab_module_dir("git-path"),
                path: PathEnv::GoOnly,
                ..with_env(&[("GOPRIVATE", "lab.test")])
            },
            verdict: verdict("before-syscall", "vcs-unavailable"),
            exit_code: 1,
            go_says: "exec: \"git\": executable file not found in $PATH",
        },
    ]
}

/// The client's own kernel refuses or drops it.
fn kernel() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "client-rejects-reset",
            config: firewalled(Firewall::ClientRejectsReset),
            verdict: verdict("kernel", "local-firewall-reject"),
            exit_code: 1,
            go_says: "connect: connection refused",
        },
        Scenario {
            name: "client-rejects-icmp",
            config: firewalled(Firewall::ClientRejectsIcmp),
            verdict: verdict("kernel", "local-firewall-reject"),
            exit_code: 1,
            go_says: "connect: no route to host",
        },
        Scenario {
            name: "proxy-var-refused",
            // HTTP_PROXY applies: the lab's GOPROXY is http://.
            config: with_env(&[("HTTP_PROXY", "http://127.0.0.1:3128")]),
            verdict: verdict("kernel", "local-refused"),
            exit_code: 1,
            go_says: "proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused",
        },
        Scenario {
            name: "resolv-conf-missing",
            // Go asks 127.0.0.1:53 then [::1]:53 (twice each) and reports
            // the last one.
            config: LabConfig {
                resolv_conf: ResolvConf::Missing,
                ..goproxy(BY_NAME)
            },
            verdict: verdict("kernel", "no-resolver"),
            exit_code: 1,
            go_says: "lookup proxy.lab.test on [::1]:53",
        },
    ]
}

/// It left the machine and the other side answered badly (or not at all).
fn network() -> Vec<Scenario> {
    let status = |name, code, says| Scenario {
        name,
        config: LabConfig {
            proxy: Proxy::Status(code),
            ..LabConfig::default()
        },
        verdict: verdict("network", "http-status"),
        exit_code: 1,
        go_says: says,
    };
    let dns = |name, dns, firewall| Scenario {
        name,
        config: LabConfig {
            dns,
            firewall,
            ..goproxy(BY_NAME)
        },
        verdict: verdict("network", "dns-server-failure"),
        exit_code: 1,
        go_says: "lookup proxy.lab.test on 198.18.0.2:53: server misbehaving",
    };
    vec![
        Scenario {
            name: "server-rejects-host",
            config: firewalled(Firewall::ServerRejectsHostUnreachable),
            verdict: verdict("network", "icmp-unreachable"),
            exit_code: 1,
            go_says: "connect: no route to host",
        },
        dns("dns-servfail", Dns::Rcode(2), Firewall::None),
        dns("dns-refused", Dns::Rcode(5), Firewall::None),
        Scenario {
            // Go's resolver: 5 s per attempt, 2 attempts (~10 s).
            verdict: verdict("network", "dns-timeout"),
            go_says: "->198.18.0.2:53: i/o timeout",
            ..dns("dns-silent", Dns::Dnsmasq, Firewall::ServerDropsDns)
        },
        Scenario {
            // UDP answers TC=1: Go asks again over TCP (RFC 7766 5), which
            // answers.
            verdict: verdict("none", "none"),
            exit_code: 0,
            go_says: "",
            ..dns(
                "dns-truncated-tcp-ok",
                Dns::Truncated { tcp: true },
                Firewall::None,
            )
        },
        Scenario {
            // UDP answers TC=1 and nothing listens on TCP port 53.
            verdict: verdict("network", "connection-refused"),
            go_says: "lookup proxy.lab.test on 198.18.0.2:53: dial tcp 198.18.0.2:53: connect: connection refused",
            ..dns(
                "dns-truncated-tcp-refused",
                Dns::Truncated { tcp: false },
                Firewall::None,
            )
        },
        Scenario {
            name: "tls-untrusted",
            config: LabConfig {
                proxy: Proxy::Tls,
                ..goproxy(&format!("https://198.18.0.2:{TLS_PROXY_PORT}"))
            },
            verdict: verdict("network", "tls-untrusted-certificate"),
            exit_code: 1,
            go_says: "x509: certificate signed by unknown authority",
        },
        status("http-403", 403, "403 Forbidden"),
        status("http-404", 404, "404 Not Found"),
        status("http-502", 502, "502 Bad Gateway"),
        Scenario {
            name: "reset-mid-response",
            config: LabConfig {
                proxy: Proxy::Reset,
                ..LabConfig::default()
            },
            verdict: verdict("network", "connection-reset"),
            exit_code: 1,
            go_says: "read: connection reset by peer",
        },
        Scenario {
            name: "goproxy-fallback",
            // `|`: on any error Go tries the next entry (`,` only on 404/410).
            config: goproxy(&format!("http://198.18.0.2:8081|{LAB_GOPROXY}")),
            verdict: verdict("none", "none"),
            exit_code: 0,
            go_says: "",
        },
    ]
}

/// An address on the lab's own link where no host is: the kernel's ARP
/// requests go unanswered (~3 s) and the dial fails with EHOSTUNREACH.
pub const ABSENT_NEIGHBOUR_IP: &str = "198.18.0.77";

/// connect() refused at once by the client's own routing (ip-route(8)
/// route types) or for want of a source address: measured on Linux 6.18
/// with Go 1.19, connect() returns the errno itself and nothing is sent.
fn local_routes() -> Vec<Scenario> {
    let routed = |name, route, ip: &str, cause, says| Scenario {
        name,
        config: LabConfig {
            route,
            ..goproxy(&format!("http://{ip}:8080"))
        },
        verdict: verdict("kernel", cause),
        exit_code: 1,
        go_says: says,
    };
    vec![
        routed(
            "route-blackhole",
            ClientRoute::Blackhole,
            BLACKHOLE_IP,
            "local-route-blackhole",
            "dial tcp 198.19.255.2:8080: connect: invalid argument",
        ),
        routed(
            "route-prohibit",
            ClientRoute::Prohibit,
            PROHIBIT_IP,
            "local-route-prohibit",
            "dial tcp 198.19.255.3:8080: connect: permission denied",
        ),
        routed(
            "route-unreachable",
            ClientRoute::Unreachable,
            UNREACHABLE_IP,
            "local-route-unreachable",
            "dial tcp 198.19.255.4:8080: connect: no route to host",
        ),
        Scenario {
            name: "dns-route-blackhole",
            // The resolver's address is behind a blackhole route: the UDP
            // socket's connect() fails at once, as a TCP dial's would.
            config: LabConfig {
                route: ClientRoute::Blackhole,
                resolv_conf: ResolvConf::Server(BLACKHOLE_IP),
                ..goproxy(BY_NAME)
            },
            verdict: verdict("kernel", "local-route-blackhole"),
            exit_code: 1,
            go_says: "lookup proxy.lab.test on 198.19.255.2:53: dial udp 198.19.255.2:53: connect: invalid argument",
        },
        Scenario {
            name: "neighbour-absent",
            config: goproxy(&format!("http://{ABSENT_NEIGHBOUR_IP}:8080")),
            verdict: verdict("network", "neighbour-unreachable"),
            exit_code: 1,
            go_says: "dial tcp 198.18.0.77:8080: connect: no route to host",
        },
        routed(
            "ipv6-no-address",
            ClientRoute::Ipv6NoAddress,
            &format!("[{NO_SOURCE_V6_IP}]"),
            "local-address-unavailable",
            "dial tcp [fd67:7472:6163::2]:8080: connect: cannot assign requested address",
        ),
        Scenario {
            name: "ports-exhausted",
            // The same errno as ipv6-no-address, the other case of it:
            // the client has an address for the proxy, but its only
            // ephemeral port toward it is in TIME_WAIT.
            config: LabConfig {
                exhaust_ports: true,
                ..LabConfig::default()
            },
            verdict: verdict("kernel", "local-ports-exhausted"),
            exit_code: 1,
            go_says: "dial tcp 198.18.0.2:8080: connect: cannot assign requested address",
        },
    ]
}

/// Ctrl-C (SIGINT to the foreground process group) on a hanging fetch:
/// the verdict is the pending stage's state at the end. Measured under
/// gotrace: go dies of the SIGINT (gotrace exits 130) having printed only
/// its progress line.
fn cut_short() -> Vec<Scenario> {
    let ctrl_c = |name, after_s, config: LabConfig, layer, cause| Scenario {
        name,
        config: LabConfig {
            interrupt_after: Some(Duration::from_secs(after_s)),
            // The kernel must still be retrying when Ctrl-C comes.
            syn_retries: None,
            ..config
        },
        verdict: verdict(layer, cause),
        exit_code: 130,
        go_says: "go: downloading lab.test/greet v1.0.0",
    };
    vec![
        ctrl_c(
            "ctrl-c-client-drops",
            5,
            firewalled(Firewall::ClientDropsOutput),
            "kernel",
            "local-firewall-drop",
        ),
        ctrl_c(
            "ctrl-c-server-drops",
            5,
            firewalled(Firewall::ServerDropsInput),
            "network",
            "connect-timeout",
        ),
        ctrl_c(
            "ctrl-c-dns-silent",
            3,
            LabConfig {
                dns: Dns::Dnsmasq,
                firewall: Firewall::ServerDropsDns,
                ..goproxy(BY_NAME)
            },
            "network",
            "dns-timeout",
        ),
        ctrl_c(
            "ctrl-c-file-proxy-hangs",
            3,
            LabConfig {
                hung_file_proxy: true,
                ..LabConfig::default()
            },
            "before-syscall",
            "no-network-attempt",
        ),
    ]
}

/// A stage after the TCP connect fails (issue 13 item 2): a forward proxy
/// refusing with an HTTP status, a server silent after the handshake or
/// closing without a response; and a success with Go's prefix probing.
fn stages() -> Vec<Scenario> {
    let fwd = format!("http://198.18.0.2:{FORWARD_PROXY_PORT}");
    vec![
        Scenario {
            name: "proxy-connect-403",
            // https:// GOPROXY through HTTPS_PROXY: Go sends CONNECT.
            config: LabConfig {
                proxy: Proxy::Closed,
                forward_proxy: Some(Proxy::Status(403)),
                ..with_env_goproxy(
                    &[("HTTPS_PROXY", &fwd)],
                    &format!("https://198.18.0.2:{TLS_PROXY_PORT}"),
                )
            },
            verdict: verdict("network", "http-status"),
            exit_code: 1,
            go_says: "Forbidden",
        },
        Scenario {
            name: "proxy-connect-closes",
            // The forward proxy reads the CONNECT and closes (FIN).
            config: LabConfig {
                proxy: Proxy::Closed,
                forward_proxy: Some(Proxy::Close),
                ..with_env_goproxy(
                    &[("HTTPS_PROXY", &fwd)],
                    &format!("https://198.18.0.2:{TLS_PROXY_PORT}"),
                )
            },
            verdict: verdict("network", "closed-without-response"),
            exit_code: 1,
            go_says: ": unexpected EOF",
        },
        Scenario {
            name: "http-proxy-502",
            // http:// GOPROXY through HTTP_PROXY: Go sends the GET in
            // absolute form to the proxy.
            config: LabConfig {
                forward_proxy: Some(Proxy::Status(502)),
                ..with_env(&[("HTTP_PROXY", &fwd)])
            },
            verdict: verdict("network", "http-status"),
            exit_code: 1,
            go_says: "502 Bad Gateway",
        },
        Scenario {
            name: "tls-silent",
            // net/http's DefaultTransport: TLSHandshakeTimeout 10 s.
            config: LabConfig {
                proxy: Proxy::Silent,
                ..goproxy(&format!("https://198.18.0.2:{TLS_PROXY_PORT}"))
            },
            verdict: verdict("network", "no-response"),
            exit_code: 1,
            go_says: "net/http: TLS handshake timeout",
        },
        Scenario {
            name: "tls-alert",
            config: LabConfig {
                proxy: Proxy::TlsAlert,
                ..goproxy(&format!("https://198.18.0.2:{TLS_PROXY_PORT}"))
            },
            verdict: verdict("network", "tls-alert"),
            exit_code: 1,
            go_says: "remote error: tls: handshake failure",
        },
        Scenario {
            name: "server-closes",
            config: LabConfig {
                proxy: Proxy::Close,
                ..LabConfig::default()
            },
            verdict: verdict("network", "closed-without-response"),
            exit_code: 1,
            go_says: ": EOF",
        },
        Scenario {
            name: "server-resets-request",
            config: LabConfig {
                proxy: Proxy::ResetRequest,
                ..LabConfig::default()
            },
            verdict: verdict("network", "closed-without-response"),
            exit_code: 1,
            go_says: "connection reset by peer",
        },
        Scenario {
            name: "ctrl-c-http-silent",
            // cmd/go's HTTP client sets no response deadline: Go waits
            // until Ctrl-C.
            config: LabConfig {
                proxy: Proxy::Silent,
                interrupt_after: Some(Duration::from_secs(3)),
                ..goproxy(&format!("http://198.18.0.2:{TLS_PROXY_PORT}"))
            },
            verdict: verdict("network", "no-response"),
            exit_code: 130,
            go_says: "go: downloading lab.test/greet v1.0.0",
        },
        Scenario {
            name: "success-prefix-probing",
            config: LabConfig {
                module: paths::lab_module_dir("prefix-probe"),
                ..LabConfig::default()
            },
            verdict: verdict("none", "none"),
            exit_code: 0,
            go_says: "go: found lab.test/greet in lab.test/greet v1.0.0",
        },
    ]
}

/// The lab with extra environment variables and GOPROXY.
fn with_env_goproxy(vars: &[(&str, &str)], proxy: &str) -> LabConfig {
    LabConfig {
        goproxy: proxy.into(),
        ..with_env(vars)
    }
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// Runs `<gotrace> run -o <bundle> [--json] -- go mod tidy` in the lab's
/// client namespace and returns its output.
pub fn run_gotrace(
    lab: &Lab,
    gotrace: &Path,
    bundle: &Path,
    json: bool,
) -> Result<Output, LabError> {
    let mut c = lab.command(gotrace);
    c.arg("run").arg("-o").arg(bundle);
    if json {
        c.arg("--json");
    }
    c.args(["--", "go", "mod", "tidy"]);
    lab.output(c).map_err(LabError::io("running", gotrace))
}
