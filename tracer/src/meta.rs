//! Building meta.json's contents at the start of a run.

use std::collections::BTreeMap;
use std::path::Path;

use gotrace_analyzer::bundle::{ClockMap, Meta, FORMAT_VERSION};

use crate::{firewall, resolv};

/// Environment variables that decide where and how Go fetches modules
/// (`go help environment`, `go help module-private`), kept in meta.json,
/// and PATH, where Go looks for `git` for `direct` fetches.
const GO_ENV: &[&str] = &[
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

/// The Go-relevant variables that are set in this process's environment
/// (the command inherits it unchanged).
pub fn go_env() -> BTreeMap<String, String> {
    GO_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// meta.json as known at start: no exit status or end time yet. Includes
/// the resolver configuration and firewall ruleset this process sees (the
/// command's: it runs in the same namespaces). `uid`/`gid` are gotrace's
/// own; `run` replaces them with the command's when it runs the command as
/// another user (sudo, `--user`: see `user`).
pub fn initial(argv: &[String], root_pid: u32, clock: ClockMap, start_monotonic_ns: u64) -> Meta {
    let mut warnings = Vec::new();
    let firewall = firewall::snapshot(&mut warnings);
    Meta {
        format_version: FORMAT_VERSION,
        gotrace_version: env!("CARGO_PKG_VERSION").into(),
        mode: "run".into(),
        argv: argv.to_vec(),
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        root_pid,
        start_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        start_monotonic_ns,
        end_monotonic_ns: None,
        clock,
        kernel_release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        exit: None,
        lost_events: 0,
        dropped_packets: 0,
        env: go_env(),
        interfaces: Vec::new(),
        warnings,
        drop_reasons: Default::default(),
        resolv_conf: Some(resolv::read(Path::new(resolv::PATH))),
        firewall,
        attach: None,
    }
}
