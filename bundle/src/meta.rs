//! `meta.json`: what was run, where, when, and how the trace went.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::SockAddr;

/// Current bundle format version, written to [`Meta::format_version`].
pub const FORMAT_VERSION: u32 = 1;

/// The environment variables [`Meta::env`] keeps: those that decide where
/// and how Go fetches modules (`go help environment`, `go help
/// module-private`), and PATH, where Go looks for `git` for `direct` fetches.
pub const GO_ENV: &[&str] = &[
    "PATH",
    "GOPROXY",
    "GONOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOSUMDB",
    "GOFLAGS",
    "GOINSECURE",
    "GOTOOLCHAIN",
    "GODEBUG",
    "GOVCS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The Go-relevant variables among `vars` (an environment, as
/// `std::env::vars()` gives it): those named in [`GO_ENV`], for [`Meta::env`].
pub fn go_env(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter(|(k, _)| GO_ENV.contains(&k.as_str()))
        .collect()
}

/// The contents of `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Bundle format version; readers refuse versions newer than [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Version of the gotrace that wrote the bundle.
    pub gotrace_version: String,
    /// `"run"` (`gotrace run`: the command was started traced) or
    /// `"attach"` (`gotrace attach --pid N`: an already running process;
    /// see [`Meta::attach`]).
    pub mode: String,
    /// The traced command line (for an attach, the attached process's).
    pub argv: Vec<String>,
    /// Working directory of the command.
    pub cwd: String,
    /// Real uid/gid the command ran as.
    pub uid: u32,
    /// Real gid the command ran as.
    pub gid: u32,
    /// PID (TGID) of the traced root process (for an attach, the PID
    /// attached to).
    pub root_pid: u32,
    /// Start time, RFC 3339 UTC (`2026-11-21T19:04:12.123456789Z`).
    pub start_time: String,
    /// CLOCK_MONOTONIC ns when tracing started (the zero of report times;
    /// for an attach, when the probes were live and the
    /// [`Attach::pre_existing`] snapshot was taken).
    pub start_monotonic_ns: u64,
    /// CLOCK_MONOTONIC ns when tracing stopped (the command exited, or
    /// `gotrace attach` detached); absent if the tracer died.
    pub end_monotonic_ns: Option<u64>,
    /// How event times map to packet times.
    pub clock: ClockMap,
    /// `uname -r` of the tracing machine.
    pub kernel_release: String,
    /// How the command ended. `gotrace run` takes it from wait(2);
    /// `gotrace attach`, which is not the process's parent, from the root
    /// process's `exit` event ([`crate::Op::Exit`] `status`). Absent if the tracer
    /// died first, and for an attach that detached while the process was
    /// still running ([`Attach::ended_by`] `interrupted` or `duration`).
    pub exit: Option<ExitStatus>,
    /// Events the ring buffer could not take (`bpf_ringbuf_reserve` failed).
    pub lost_events: u64,
    /// Packets the capture socket dropped (`PACKET_STATISTICS` tp_drops).
    pub dropped_packets: u64,
    /// Go-relevant environment of the command (GOPROXY, GOPRIVATE, HTTPS_PROXY, ...):
    /// only variables that were set, among [`GO_ENV`] ([`go_env`]).
    pub env: BTreeMap<String, String>,
    /// Interfaces captured, in pcapng interface-id order.
    pub interfaces: Vec<Interface>,
    /// Warnings the tracer raised while recording (e.g. a probe that could not attach).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// `enum skb_drop_reason` of the tracing kernel: value -> name without
    /// the `SKB_DROP_REASON_` prefix (`12` -> `NETFILTER_DROP` on 6.18),
    /// read from the `__print_symbolic` list of
    /// `/sys/kernel/tracing/events/skb/kfree_skb/format`. Values differ
    /// between kernels, so offline analysis names drops with this table.
    #[serde(default)]
    pub drop_reasons: BTreeMap<u32, String>,
    /// The kernel-evidence tracepoints attached for this run
    /// (`category/event`: `tcp/tcp_retransmit_skb`, `skb/kfree_skb`,
    /// `fib/fib_table_lookup`...), so an analysis can tell "none recorded"
    /// from "not recorded on this kernel". Absent in bundles of older
    /// tracers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_events: Option<Vec<String>>,
    /// `/etc/resolv.conf` as the traced command saw it at start; absent in
    /// bundles of older tracers.
    #[serde(default)]
    pub resolv_conf: Option<ResolvConf>,
    /// The packet-filter ruleset of the command's network namespace at
    /// start (`nft list ruleset`), so a local drop can be traced to its rule.
    #[serde(default)]
    pub firewall: Option<Firewall>,
    /// Present when the bundle comes from `gotrace attach` (`mode` is
    /// `"attach"`): what was attached to and what was already open then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Attach>,
    /// What gotrace removed from the bundle before writing it (secrets);
    /// absent in bundles of older tracers, which redacted nothing (and
    /// then not written back either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<Redacted>,
    /// This host's own addresses and ephemeral port range in the command's
    /// network namespace at start, so that a connect(2) failing with
    /// EADDRNOTAVAIL can be told apart: no source address of the peer's
    /// family, or every ephemeral port taken. Absent in bundles of older
    /// tracers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_network: Option<LocalNetwork>,
}

/// The local end's resources for a connect(2): what the kernel picks the
/// source address and port from (ip(7) "ip_local_port_range";
/// getifaddrs(3)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalNetwork {
    /// Every address of every interface (getifaddrs(3)), loopback and
    /// link-local included.
    pub addresses: Vec<LocalAddress>,
    /// `net.ipv4.ip_local_port_range` (also used for IPv6): the first and
    /// last port connect(2) may pick; None when it could not be read.
    pub ip_local_port_range: Option<[u16; 2]>,
}

/// One address of an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAddress {
    /// Interface name (`lo`, `eth0`).
    pub interface: String,
    /// The address.
    pub ip: std::net::IpAddr,
    /// Prefix length in bits (from the netmask).
    pub prefix_len: u8,
}

impl LocalAddress {
    /// Whether connect(2) could use this address as the source toward
    /// `peer`: same family, and neither loopback nor (IPv6) link-local
    /// unless the peer is too (RFC 4291 2.5.3 and 2.5.6: such addresses
    /// do not leave the host or the link).
    pub fn can_reach(&self, peer: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.ip, peer.to_canonical()) {
            (IpAddr::V4(a), IpAddr::V4(p)) => !a.is_loopback() || p.is_loopback(),
            (IpAddr::V6(a), IpAddr::V6(p)) => {
                (!a.is_loopback() || p.is_loopback())
                    && (!a.is_unicast_link_local() || p.is_unicast_link_local())
            }
            _ => false,
        }
    }
}

/// What was redacted from a bundle: `enabled` false when it was recorded
/// with `--no-redact` (the bundle then holds every secret it saw).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redacted {
    /// Whether redaction was on.
    pub enabled: bool,
    /// Names of the [`Meta::env`] variables whose values had a URL password
    /// (or a user name alone, often a token) replaced, as Go's
    /// `net/url.(*URL).Redacted` prints it (`http://user:xxxxx@host`).
    #[serde(default)]
    pub variables: Vec<String>,
    /// `Authorization`, `Proxy-Authorization` and `Cookie` header values in
    /// cleartext HTTP/1.x in capture.pcapng overwritten with `x` (same
    /// length, TCP checksum updated): one per header line seen in a frame.
    #[serde(default)]
    pub header_values: u64,
    /// The same header values overwritten in events.jsonl's payload heads
    /// (`data_hex` of `send`/`recv` events).
    #[serde(default)]
    pub payload_heads: u64,
    /// Indices into [`Meta::argv`] of the arguments whose URL userinfo was
    /// redacted the same way (`env GOPROXY=http://u:pw@h go`). Absent when
    /// none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<usize>,
}

/// How `gotrace attach --pid N` found the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    /// The TGID attached to (also [`Meta::root_pid`]).
    pub pid: u32,
    /// The network namespace captured, as `readlink /proc/N/ns/net` prints
    /// it (`net:[4026532281]`).
    #[serde(default)]
    pub netns: Option<String>,
    /// Internet sockets the process held when tracing started, from
    /// `/proc/N/fd` (socket inodes) joined with `/proc/N/net/{tcp,tcp6,udp,udp6}`
    /// (proc(5)). Their socket()/connect() happened before the attach, so
    /// only this snapshot names their peers.
    #[serde(default)]
    pub pre_existing: Vec<PreExistingSocket>,
    /// Descendants of the attached process already running at the attach
    /// (TGIDs, parents before children): traced from the attach on, like
    /// children forked later. Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descendants: Vec<u32>,
    /// Why tracing stopped: `"exited"` (the process exited;
    /// [`Meta::exit`] holds its status), `"interrupted"` (SIGINT/SIGTERM/SIGHUP
    /// to gotrace: it detached, the process kept running), `"duration"`
    /// (`--duration` elapsed, detached). Absent when gotrace was killed (then
    /// [`Meta::end_monotonic_ns`] is absent too). With `interrupted` or
    /// `duration` there is no exit status and the analyzer never reports
    /// success: the process had not finished.
    #[serde(default)]
    pub ended_by: Option<String>,
}

/// One socket open before the attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreExistingSocket {
    /// The fd in the attached process.
    pub fd: i32,
    /// Socket inode (`socket:[inode]` in /proc/N/fd).
    pub inode: u64,
    /// `"tcp"` or `"udp"`.
    pub proto: String,
    /// Local end.
    pub local: SockAddr,
    /// Remote end; absent for listeners and unconnected UDP sockets
    /// (remote `0.0.0.0:0` in /proc/net).
    #[serde(default)]
    pub peer: Option<SockAddr>,
    /// TCP state named as in include/net/tcp_states.h (`SYN_SENT`,
    /// `ESTABLISHED`, `LISTEN`...); for UDP `ESTABLISHED` (connected) or
    /// `CLOSE` (unconnected), as /proc/net/udp reports them.
    pub state: crate::TcpState,
    /// The process holding it, when not the attached one: a descendant
    /// that was already running at the attach (a `git` child of `go`).
    /// Absent for the attached process's own sockets and in older bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// That descendant's comm (`/proc/PID/comm`), with [`Self::pid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
}

/// The resolver configuration Go's pure-Go resolver reads (src/net/dnsconfig_unix.go).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvConf {
    /// The path read (`/etc/resolv.conf`).
    pub path: String,
    /// Whether the file could be read. When it cannot, or names no
    /// nameserver, Go asks `127.0.0.1:53` and `[::1]:53`.
    pub present: bool,
    /// Why it could not be read (`No such file or directory`).
    #[serde(default)]
    pub error: Option<String>,
    /// The `nameserver` lines' addresses, in file order.
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// A packet-filter ruleset snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// The command that printed it (`nft list ruleset`).
    pub command: String,
    /// Its output, at most 64 KiB (cut at a line end).
    pub ruleset: String,
}

/// Maps CLOCK_MONOTONIC (events) to CLOCK_REALTIME (pcapng timestamps).
///
/// `realtime_ns = monotonic_ns + realtime_minus_monotonic_ns`. Both clocks are
/// sampled back to back at start; `uncertainty_ns` is the gap between the two
/// samples (the error bound of the mapping, ignoring NTP slew during the run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockMap {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, ns.
    pub realtime_minus_monotonic_ns: i64,
    /// Error bound of the mapping, ns.
    pub uncertainty_ns: u64,
}

/// How the traced command ended: `{"code": N}` or `{"signal": N}` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exited with this status (`WEXITSTATUS`).
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

/// One captured interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    /// pcapng interface id (index of its IDB in the section).
    pub id: u32,
    /// Kernel interface name (`lo`, `eth0`).
    pub name: String,
    /// Kernel ifindex.
    pub ifindex: u32,
    /// pcapng/pcap LINKTYPE_* value.
    pub link_type: u16,
    /// The network namespace (`net:[inode]`) when it is not the one gotrace
    /// started in: `attach` to a process in another namespace, or a `run`
    /// whose command entered one (`ip netns exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_env_keeps_only_the_go_relevant_variables() {
        let vars = [("GOPROXY", "off"), ("HOME", "/root"), ("no_proxy", "x")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let kept = go_env(vars);
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            [
                ("GOPROXY".into(), "off".into()),
                ("no_proxy".into(), "x".into())
            ]
        );
    }
}
