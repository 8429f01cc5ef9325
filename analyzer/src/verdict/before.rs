//! Failures Go reports before it makes any network syscall, told apart by
//! its own words (only when the trace shows the network was not the
//! problem): `GOPROXY=off`, a proxy setting it cannot parse, a missing
//! version-control tool.

use crate::cause::Cause;
use crate::proto::goerr::{GoClues, InsecureRefusal};

/// The before-syscall cause Go's stderr states, with a summary; `status`
/// is "exited with status 1", `when` says when it failed.
pub(super) fn classify(clues: &GoClues, status: &str, when: &str) -> Option<(Cause, String)> {
    if clues.proxy_off {
        return Some((
            Cause::ProxyDisabled,
            format!("the command {status} {when}: module lookup is disabled by GOPROXY=off"),
        ));
    }
    if let Some(line) = &clues.bad_proxy {
        return Some((
            Cause::BadProxyConfig,
            format!(
                "the command {status} {when}: Go rejected a proxy setting: {}",
                tail(line)
            ),
        ));
    }
    if let Some(refusal) = &clues.insecure {
        let what = match refusal {
            InsecureRefusal::Credentials(l) => format!(
                "Go refused to pass credentials to an http:// URL: {}",
                from(l, "refusing")
            ),
            InsecureRefusal::Scheme(l) => format!(
                "Go refused a direct fetch over plain http (the module is not in GOINSECURE): {}",
                from(l, "insecure URL")
            ),
        };
        return Some((
            Cause::InsecureUrlRefused,
            format!("the command {status} {when}: {what}"),
        ));
    }
    if let Some(tool) = &clues.vcs_missing {
        return Some((
            Cause::VcsUnavailable,
            format!("the command {status} {when}: a direct fetch (GOPRIVATE, GONOPROXY or `direct` in GOPROXY) needs `{tool}`, which is not in PATH"),
        ));
    }
    None
}

/// `line` from the first `phrase` on (all of it without one).
fn from<'a>(line: &'a str, phrase: &str) -> &'a str {
    line.find(phrase)
        .and_then(|i| line.get(i..))
        .unwrap_or(line)
}

/// Go's error without the module prefix (`go: m@v: `): from the first
/// phrase Go uses for a proxy problem.
fn tail(line: &str) -> &str {
    ["invalid proxy", "proxyconnect", "GOPROXY"]
        .iter()
        .filter_map(|p| line.find(p))
        .min()
        .and_then(|i| line.get(i..))
        .unwrap_or(line)
}
