//! Issue 3's failure matrix, end to end: for every lab scenario that
//! e2e.rs does not already cover, plain `go mod tidy` must exit and say
//! what the scenario records (measured on Debian's Go 1.19), and `gotrace
//! run` must reach the scenario's verdict. Also the lab mechanisms those
//! scenarios rely on (a resolv.conf that is really missing).
//!
//! Needs root, like e2e.rs. Slow ones: dns-silent (Go's resolver gives up
//! after 2 x 5 s), client-drops (Go's 30 s dial deadline), server-drops
//! (~7 s with the lab's tcp_syn_retries=2).

mod support;

use gotrace_e2e::{scenario, Lab, LabConfig, ResolvConf};

/// One plain-go test and one gotrace test per scenario; `COVERED` lists
/// the scenarios, to check that none is left without tests.
macro_rules! scenario_tests {
    ($($name:literal => $plain:ident, $traced:ident;)*) => {
        $(
            #[test]
            fn $plain() {
                support::plain_go($name);
            }

            #[test]
            fn $traced() {
                support::trace($name);
            }
        )*
        const COVERED: &[&str] = &[$($name),*];
    };
}

scenario_tests! {
    "bad-go-mod" => lab_go_bad_go_mod, gotrace_bad_go_mod;
    "bad-goproxy" => lab_go_bad_goproxy, gotrace_bad_goproxy;
    "bad-http-proxy" => lab_go_bad_http_proxy, gotrace_bad_http_proxy;
    "git-missing" => lab_go_git_missing, gotrace_git_missing;
    "client-rejects-reset" => lab_go_client_rejects_reset, gotrace_client_rejects_reset;
    "client-rejects-icmp" => lab_go_client_rejects_icmp, gotrace_client_rejects_icmp;
    "proxy-var-refused" => lab_go_proxy_var_refused, gotrace_proxy_var_refused;
    "resolv-conf-missing" => lab_go_resolv_conf_missing, gotrace_resolv_conf_missing;
    "server-rejects-host" => lab_go_server_rejects_host, gotrace_server_rejects_host;
    "dns-servfail" => lab_go_dns_servfail, gotrace_dns_servfail;
    "dns-refused" => lab_go_dns_refused, gotrace_dns_refused;
    "dns-silent" => lab_go_dns_silent, gotrace_dns_silent;
    "tls-untrusted" => lab_go_tls_untrusted, gotrace_tls_untrusted;
    "http-403" => lab_go_http_403, gotrace_http_403;
    "http-404" => lab_go_http_404, gotrace_http_404;
    "http-502" => lab_go_http_502, gotrace_http_502;
    "reset-mid-response" => lab_go_reset_mid_response, gotrace_reset_mid_response;
    "goproxy-fallback" => lab_go_goproxy_fallback, gotrace_goproxy_fallback;
}

/// gotrace tests only, for the firewall scenarios: they had no cause id
/// when e2e.rs got their plain-go tests (with timing checks), so their
/// gotrace tests live here. `SPLIT` lists them.
macro_rules! gotrace_tests {
    ($($name:literal => $traced:ident;)*) => {
        $(
            #[test]
            fn $traced() {
                support::trace($name);
            }
        )*
        const SPLIT: &[&str] = &[$($name),*];
    };
}

gotrace_tests! {
    "server-rejects" => gotrace_server_rejects;
    "server-drops" => gotrace_server_drops;
    "client-drops" => gotrace_client_drops;
}

/// Scenarios whose plain-go and gotrace tests are in e2e.rs (success's
/// plain test is `lab_go_succeeds_against_the_lab_proxy`).
const IN_E2E: &[&str] = &[
    "success",
    "connection-refused",
    "no-route",
    "proxy-off",
    "dns-port-unreachable",
    "dns-nxdomain",
];

/// Scenarios whose tests (with their evidence checks) are in
/// cut_short_and_routes.rs; the Ctrl-C ones there have no plain-go twin.
const IN_CUT_SHORT_AND_ROUTES: &[&str] = &[
    "route-blackhole",
    "route-prohibit",
    "route-unreachable",
    "ipv6-no-address",
    "ports-exhausted",
    "neighbour-absent",
    "dns-route-blackhole",
    "ctrl-c-client-drops",
    "ctrl-c-server-drops",
    "ctrl-c-dns-silent",
    "ctrl-c-file-proxy-hangs",
];

/// Scenarios whose tests (with their evidence checks) are in stages.rs;
/// the Ctrl-C one there has no plain-go twin.
const IN_STAGES: &[&str] = &[
    "proxy-connect-403",
    "proxy-connect-closes",
    "http-proxy-502",
    "tls-silent",
    "tls-alert",
    "server-closes",
    "server-resets-request",
    "ctrl-c-http-silent",
    "success-prefix-probing",
];

/// Scenarios whose tests (with their evidence checks) are in dns_tcp.rs.
const IN_DNS_TCP: &[&str] = &["dns-truncated-tcp-ok", "dns-truncated-tcp-refused"];

#[test]
fn every_scenario_has_a_plain_and_a_gotrace_test() {
    let tested: Vec<&str> = [
        IN_E2E,
        SPLIT,
        COVERED,
        IN_CUT_SHORT_AND_ROUTES,
        IN_STAGES,
        IN_DNS_TCP,
    ]
    .concat();
    for s in scenario::all() {
        assert!(
            tested.contains(&s.name),
            "scenario {} has no tests: add it to scenario_tests! in {}",
            s.name,
            file!()
        );
        assert!(s.verdict.is_some(), "scenario {} has no verdict", s.name);
    }
    assert_eq!(
        tested.len(),
        scenario::all().len(),
        "a tested name is not a scenario"
    );
}

/// `ResolvConf::Missing` really hides the file from lab commands (the
/// host's, which names a real resolver, must not show through) and only
/// that file; the host's /etc keeps it.
#[test]
fn lab_resolv_conf_missing_hides_only_that_file() {
    support::require_root();
    let host_before = std::fs::read("/etc/resolv.conf").ok();
    let lab = Lab::up(LabConfig {
        resolv_conf: ResolvConf::Missing,
        ..LabConfig::default()
    })
    .expect("setting up the lab");
    let script = "test ! -e /etc/resolv.conf && test -e /etc/hosts && test -e /etc/passwd";
    let out = lab.run("/bin/sh", &["-c", script]).expect("running sh");
    assert!(
        out.status.success(),
        "inside the lab /etc/resolv.conf must be missing and the rest of /etc intact: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read("/etc/resolv.conf").ok(),
        host_before,
        "the host's own /etc/resolv.conf must be untouched"
    );
}

/// The default lab shows go its own resolv.conf, naming only the lab server.
#[test]
fn lab_resolv_conf_names_only_the_lab_server() {
    support::require_root();
    let lab = Lab::up(LabConfig::default()).expect("setting up the lab");
    let out = lab
        .run("/bin/cat", &["/etc/resolv.conf"])
        .expect("running cat");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, "nameserver 198.18.0.2\n");
}
