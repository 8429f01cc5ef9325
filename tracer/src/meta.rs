//! Building meta.json's contents at the start of a run: the facts of the
//! running system (resolver, firewall, kernel, clocks) gathered into the
//! format's [`Meta`].

use std::collections::BTreeMap;
use std::path::Path;

pub use gotrace_bundle::go_env;
use gotrace_bundle::{ClockMap, Meta, Redacted, FORMAT_VERSION};

use crate::firewall;
use crate::process::netns::NetNs;
use crate::process::resolv;

/// The traced process as meta.json describes it.
pub struct Subject<'a> {
    /// `"run"` or `"attach"`.
    pub mode: &'static str,
    pub argv: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub root_pid: u32,
    /// Its Go-relevant environment ([`go_env`]).
    pub env: BTreeMap<String, String>,
    /// Its resolv.conf as a path gotrace can read (`/proc/N/root/etc/resolv.conf`
    /// for another mount namespace).
    pub resolv_conf: &'a Path,
    /// Its network namespace when not gotrace's own.
    pub netns: Option<&'a NetNs>,
}

impl Subject<'_> {
    /// A command gotrace starts itself: it inherits gotrace's environment,
    /// working directory and namespaces.
    pub fn child(argv: &[String], pid: u32) -> Subject<'static> {
        Subject {
            mode: "run",
            argv: argv.to_vec(),
            cwd: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            root_pid: pid,
            env: go_env(std::env::vars()),
            resolv_conf: Path::new(resolv::PATH),
            netns: None,
        }
    }
}

/// meta.json as known at start: no exit status or end time yet. Includes
/// the resolver configuration and firewall ruleset the subject sees.
/// `uid`/`gid` are the subject's; `run` replaces them with the command's
/// when it runs the command as another user (sudo, `--user`: see `user`).
/// With `redact` (not `--no-redact`), URL passwords in `env` are masked
/// ([`crate::redact::env`]) and `redacted` says which; the header counts
/// are filled in when the recording ends.
pub fn initial(
    subject: Subject<'_>,
    clock: ClockMap,
    start_monotonic_ns: u64,
    redact: bool,
) -> Meta {
    let mut warnings = Vec::new();
    let firewall = firewall::snapshot(&mut warnings, subject.netns);
    initial_with(
        subject,
        clock,
        start_monotonic_ns,
        redact,
        (firewall, warnings),
    )
}

/// [`initial`] with the firewall ruleset already taken
/// ([`firewall::snapshot`]'s result and its warnings): `run` takes it on
/// a thread while the probes load, so `nft` is not on the start-up path.
pub fn initial_with(
    mut subject: Subject<'_>,
    clock: ClockMap,
    start_monotonic_ns: u64,
    redact: bool,
    (firewall, mut warnings): (Option<gotrace_bundle::Firewall>, Vec<String>),
) -> Meta {
    let (variables, arguments) = if redact {
        (
            crate::redact::env(&mut subject.env),
            crate::redact::argv(&mut subject.argv),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let redacted = Redacted {
        enabled: redact,
        variables,
        arguments,
        ..Redacted::default()
    };
    let local_network = match crate::local_net::snapshot(subject.netns) {
        Ok(n) => Some(n),
        Err(e) => {
            warnings.push(format!("this host's addresses are not recorded: {e}"));
            None
        }
    };
    let mut resolv_conf = resolv::read(subject.resolv_conf);
    // Report the path Go reads, not the /proc route gotrace took to it.
    resolv_conf.path = resolv::PATH.into();
    Meta {
        format_version: FORMAT_VERSION,
        gotrace_version: env!("CARGO_PKG_VERSION").into(),
        mode: subject.mode.into(),
        argv: subject.argv,
        cwd: subject.cwd,
        uid: subject.uid,
        gid: subject.gid,
        root_pid: subject.root_pid,
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
        env: subject.env,
        interfaces: Vec::new(),
        warnings: std::mem::take(&mut warnings),
        drop_reasons: Default::default(),
        kernel_events: None,
        resolv_conf: Some(resolv_conf),
        firewall,
        attach: None,
        redacted: Some(redacted),
        local_network,
    }
}
