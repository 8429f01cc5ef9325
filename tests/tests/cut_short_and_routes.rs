//! Issue 13's local-errno and Ctrl-C scenarios (scenario.rs
//! `local_routes`, `cut_short`): the real go under the real gotrace, each
//! asserting the verdict's layer and cause and what every cited event and
//! packet is.
//!
//! Needs root, like e2e.rs. The Ctrl-C ones have no plain-go twin: under
//! gotrace go dies of the SIGINT with only its progress line printed
//! (exit 130), while plain go, measured, catches it and exits 1 with
//! `dial tcp 198.18.0.2:8080: i/o timeout`.

mod support;

use serde_json::Value;
use support::{bundle, cited_events, cited_matching, tshark, Traced};

/// A local refusal: the last cited event is connect() = -errno to the
/// scenario's peer, no packet is cited and none went to the peer.
fn refused_locally(name: &str, errno: i64, peer_filter: &str) -> Traced {
    let t = support::trace(name);
    let cited = cited_events(&t);
    let connect = cited.last().expect("no cited event");
    assert_eq!(connect["kind"], "connect", "{connect}");
    assert_eq!(connect["ret"], -errno, "{connect}");
    assert!(bundle::cited(&t.verdict, "packet").is_empty());
    assert!(t.verdict.get("pending").is_none(), "{}", t.verdict);
    let sent = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        peer_filter,
        &["frame.number"],
    );
    assert!(sent.is_empty(), "packets to the peer: {sent:?}");
    t
}

/// A route refusal: as [`refused_locally`], and the first of the two
/// cited events is the kernel's failed route lookup to the same address,
/// whose `err` is the connect's errno, in the main table (254).
fn refused_by_route(name: &str, errno: i64, peer_filter: &str) -> Traced {
    let t = refused_locally(name, errno, peer_filter);
    let cited = cited_events(&t);
    assert_eq!(cited.len(), 2, "{:?}", t.verdict["evidence"]);
    let lookup = &cited[0];
    assert_eq!(lookup["kind"], "route_lookup", "{lookup}");
    assert_eq!(lookup["err"], -errno, "{lookup}");
    assert_eq!(lookup["table"], 254, "{lookup}");
    assert_eq!(lookup["dst"]["ip"], cited[1]["peer"]["ip"], "{lookup}");
    t
}

#[test]
fn lab_go_route_blackhole() {
    support::plain_go("route-blackhole");
}

#[test]
fn gotrace_route_blackhole_is_the_kernel_einval() {
    refused_by_route("route-blackhole", 22, "ip.dst==198.19.255.2");
}

#[test]
fn lab_go_route_prohibit() {
    support::plain_go("route-prohibit");
}

#[test]
fn gotrace_route_prohibit_is_the_kernel_eacces() {
    refused_by_route("route-prohibit", 13, "ip.dst==198.19.255.3");
}

#[test]
fn lab_go_route_unreachable() {
    support::plain_go("route-unreachable");
}

#[test]
fn gotrace_route_unreachable_is_the_kernel_ehostunreach() {
    refused_by_route("route-unreachable", 113, "ip.dst==198.19.255.4");
}

#[test]
fn lab_go_ipv6_no_address() {
    support::plain_go("ipv6-no-address");
}

#[test]
fn gotrace_ipv6_no_address_is_the_kernel_eaddrnotavail() {
    let t = refused_locally("ipv6-no-address", 99, "ipv6.dst==fd67:7472:6163::2");
    assert_eq!(cited_events(&t).len(), 1, "{:?}", t.verdict["evidence"]);
}

#[test]
fn lab_go_ports_exhausted() {
    support::plain_go("ports-exhausted");
}

/// The same errno, the other case: the client has 198.18.0.1 for the
/// proxy, but its one ephemeral port toward it is in TIME_WAIT. No SYN
/// from this attempt reaches the wire (the capture starts after the lab's
/// own closing connection), and the summary names the port range.
#[test]
fn gotrace_ports_exhausted_is_the_kernel_eaddrnotavail() {
    let t = refused_locally(
        "ports-exhausted",
        99,
        "tcp.flags.syn==1 && ip.dst==198.18.0.2",
    );
    assert_eq!(cited_events(&t).len(), 1, "{:?}", t.verdict["evidence"]);
    let summary = t.verdict["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("40000-40000, 1 port") && summary.contains("198.18.0.1 on veth0"),
        "{summary}"
    );
}

#[test]
fn lab_go_dns_route_blackhole() {
    support::plain_go("dns-route-blackhole");
}

/// The resolver behind a blackhole route: the UDP socket's connect() to
/// it fails with EINVAL and no query is sent.
#[test]
fn gotrace_dns_route_blackhole_is_the_kernel_einval() {
    let t = refused_by_route("dns-route-blackhole", 22, "ip.dst==198.19.255.2");
    assert_eq!(
        bundle::peer(&cited_events(&t)[1]).as_deref(),
        Some("198.19.255.2:53")
    );
}

#[test]
fn lab_go_neighbour_absent() {
    support::plain_go("neighbour-absent");
}

/// Nobody answers ARP for an on-link address: the cited events are the
/// connect, the kernel's NEIGH_FAILED drop of our SYN and SO_ERROR
/// EHOSTUNREACH; the cited packet is the ICMP host unreachable the kernel
/// made for itself; ARP requests went out and no SYN did.
#[test]
fn gotrace_neighbour_absent_is_the_network() {
    let t = support::trace("neighbour-absent");
    let kinds: Vec<String> = cited_events(&t)
        .iter()
        .map(|e| match e["kind"].as_str() {
            Some("skb_drop") => format!("skb_drop {}", e["reason_name"]),
            Some("so_error") => format!("so_error {}", e["so_error"]),
            Some(k) => k.to_string(),
            None => String::new(),
        })
        .collect();
    assert_eq!(
        kinds,
        ["connect", "skb_drop \"NEIGH_FAILED\"", "so_error 113"],
        "{}",
        t.verdict
    );
    let icmp = cited_matching(&t, "icmp.type==3 && icmp.code==1 && ip.src==198.18.0.1");
    assert_eq!(icmp.len(), 1, "{}", t.verdict);
    let capture = t.bundle.join("capture.pcapng");
    let arp = tshark::fields(
        &capture,
        "arp.dst.proto_ipv4==198.18.0.77",
        &["frame.number"],
    );
    assert!(!arp.is_empty(), "no ARP request for the absent host");
    let syns = tshark::fields(
        &capture,
        "tcp && !icmp && ip.dst==198.18.0.77",
        &["frame.number"],
    );
    // (The ICMP error quotes our SYN: only a bare TCP packet counts.)
    assert!(syns.is_empty(), "a SYN reached the wire: {syns:?}");
}

/// The SYN never left: the cited events are the connect, the kernel's
/// NETFILTER_DROP of our SYN (before 5.17: its drop in nf_hook_slow) and,
/// where the kernel records a retransmit's error, one refused with EPERM; no
/// packet, and the summary says the run ended while the dial was pending.
#[test]
fn gotrace_ctrl_c_on_a_locally_dropped_dial() {
    let t = support::trace("ctrl-c-client-drops");
    let kinds: Vec<String> = cited_events(&t)
        .iter()
        .map(|e| match e["kind"].as_str() {
            // Before 5.17 a drop has no reason: the freeing function speaks.
            Some("skb_drop") if e["reason_name"].is_null() => {
                let at = e["location_name"].as_str().unwrap_or("");
                format!("skb_drop in {}", at.split('+').next().unwrap_or(""))
            }
            Some("skb_drop") => format!("skb_drop {}", e["reason_name"]),
            Some("tcp_retransmit") => format!("tcp_retransmit {}", e["err"]),
            Some(k) => k.to_string(),
            None => String::new(),
        })
        .collect();
    // What this kernel can record: a drop reason (5.17+), a retransmit's
    // transmit error (newer kernels; -EPERM = the local hook refused it).
    let format = |ev: &str| {
        std::fs::read_to_string(format!("/sys/kernel/tracing/events/{ev}/format"))
            .unwrap_or_default()
    };
    let drop = if format("skb/kfree_skb").contains(" reason;") {
        "skb_drop \"NETFILTER_DROP\""
    } else {
        "skb_drop in nf_hook_slow"
    };
    let mut expected = vec!["connect", drop];
    if format("tcp/tcp_retransmit_skb").contains(" err;") {
        expected.push("tcp_retransmit -1");
    }
    assert_eq!(kinds, expected, "{}", t.verdict);
    assert!(bundle::cited(&t.verdict, "packet").is_empty());
    assert_eq!(t.verdict["pending"], true, "{}", t.verdict);
    let summary = t.verdict["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("killed by signal 2) while the dial was pending")
            && summary.contains("Go's dial deadline would have fired at 30 s"),
        "{summary}"
    );
}

/// SYNs left and got no answer: the cited packet is our first SYN to the
/// proxy, with no SYN-ACK or RST anywhere; the cited events are the
/// connect and the kernel's last SYN retransmit (err 0).
#[test]
fn gotrace_ctrl_c_on_an_unanswered_dial() {
    let t = support::trace("ctrl-c-server-drops");
    let syns = cited_matching(
        &t,
        "tcp.flags.syn==1 && tcp.flags.ack==0 && ip.dst==198.18.0.2 && tcp.dstport==8080",
    );
    assert_eq!(syns.len(), 1, "{}", t.verdict);
    let answers = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "ip.src==198.18.0.2 && tcp.srcport==8080",
        &["frame.number"],
    );
    assert!(answers.is_empty(), "the proxy answered: {answers:?}");
    let kinds: Vec<Value> = cited_events(&t).iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["connect", "tcp_retransmit"], "{}", t.verdict);
    assert!(cited_events(&t)
        .iter()
        .all(|e| e["kind"] != "tcp_retransmit" || e["err"] == 0));
    assert_eq!(t.verdict["pending"], true, "{}", t.verdict);
    let summary = t.verdict["summary"].as_str().unwrap_or("");
    assert!(summary.contains("while the dial was pending"), "{summary}");
}

/// Queries left and got no answer: the cited event is Go's query write to
/// the DNS server, the cited packet that query on the wire, and no DNS
/// response is in the capture.
#[test]
fn gotrace_ctrl_c_on_a_silent_dns_server() {
    let t = support::trace("ctrl-c-dns-silent");
    let cited = cited_events(&t);
    assert!(!cited.is_empty(), "{}", t.verdict);
    // Go writes its query on a connected UDP socket: the write names no
    // peer, the socket's connect() does.
    let events = bundle::events(&t.bundle);
    for e in &cited {
        assert_eq!(e["kind"], "send", "{e}");
        let dns_socket = events.iter().any(|c| {
            c["kind"] == "connect"
                && c["tgid"] == e["tgid"]
                && c["fd"] == e["fd"]
                && c["id"].as_u64() < e["id"].as_u64()
                && bundle::peer(c).as_deref() == Some("198.18.0.2:53")
        });
        assert!(dns_socket, "cited write is not to the DNS server: {e}");
    }
    let queries = cited_matching(
        &t,
        "dns.flags.response==0 && ip.dst==198.18.0.2 && udp.dstport==53",
    );
    assert_eq!(queries.len(), 1, "{}", t.verdict);
    let answers = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "dns.flags.response==1",
        &["frame.number"],
    );
    assert!(answers.is_empty(), "a DNS answer came: {answers:?}");
    assert_eq!(t.verdict["pending"], true, "{}", t.verdict);
    let summary = t.verdict["summary"].as_str().unwrap_or("");
    assert!(summary.contains("while Go was still waiting"), "{summary}");
}

/// Ctrl-C on a go hung opening a file of its `file://` GOPROXY (a FIFO
/// nobody writes, as a hung network file system): no socket was ever
/// opened, so the failure is before any network syscall, and neither the
/// trace nor the wire holds a network attempt.
#[test]
fn gotrace_ctrl_c_on_a_hung_file_proxy_is_before_the_network() {
    let t = support::trace("ctrl-c-file-proxy-hangs");
    let events = bundle::events(&t.bundle);
    let sockets: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "socket" && (e["domain"] == 2 || e["domain"] == 10))
        .collect();
    assert!(sockets.is_empty(), "an inet socket was opened: {sockets:?}");
    let traffic = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "tcp || udp",
        &["frame.number"],
    );
    assert!(traffic.is_empty(), "traffic: {traffic:?}");
    let summary = t.verdict["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("killed by signal 2")
            && summary.contains("without a single network syscall"),
        "{summary}"
    );
}

/// `gotrace attach --duration` on a go whose SYNs this host's OUTPUT chain
/// drops: the detach comes while the dial is pending, and the verdict is
/// its state then (the kernel's drop records), not "nothing failed yet".
#[test]
fn gotrace_attach_duration_on_a_locally_dropped_dial() {
    support::require_root();
    let scratch = support::Scratch::new("attach-duration-drop");
    let lab = gotrace_e2e::Lab::up(gotrace_e2e::LabConfig {
        firewall: gotrace_e2e::Firewall::ClientDropsOutput,
        syn_retries: None,
        ..gotrace_e2e::LabConfig::default()
    })
    .expect("setting up the lab");
    let mut go = lab
        .command("go")
        .args(["mod", "tidy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting go");
    // `ip netns exec` execs go: the child's PID is go's. Wait for its
    // SYN_SENT socket to the proxy (state 02 in /proc/PID/net/tcp).
    let table = format!("/proc/{}/net/tcp", go.id());
    let port = format!(":{:04X} 02 ", gotrace_e2e::PROXY_PORT);
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&table).is_ok_and(|t| t.contains(&port)) {
        assert!(start.elapsed().as_secs() < 30, "go never dialed the proxy");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let dir = scratch.path().join("bundle");
    let out = std::process::Command::new(support::gotrace())
        .args(["attach", "--pid", &go.id().to_string(), "--duration", "3s"])
        .args(["--json", "-q", "-o"])
        .arg(&dir)
        .output()
        .expect("running gotrace attach");
    let _ = go.kill();
    let _ = go.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = bundle::verdict_from_stdout(&stdout).unwrap_or_else(|| {
        panic!(
            "no verdict: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(bundle::meta(&dir)["attach"]["ended_by"], "duration");
    assert_eq!(
        (v["layer"].as_str(), v["cause"].as_str()),
        (Some("kernel"), Some("local-firewall-drop")),
        "{v:#}"
    );
    assert_eq!(v["pending"], true, "{v:#}");
    let events = bundle::events(&dir);
    let refused = bundle::cited(&v, "event").into_iter().any(|id| {
        events.iter().any(|e| {
            e["id"] == id
                && (e["reason_name"] == "NETFILTER_DROP"
                    || (e["kind"] == "tcp_retransmit" && e["err"] == -1))
        })
    });
    assert!(refused, "no cited drop record: {v:#}");
    let summary = v["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("gotrace detached: --duration) while the dial was pending"),
        "{summary}"
    );
}
