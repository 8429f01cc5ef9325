//! The root e2e tests to run in each kernel: gotrace-e2e's test binaries,
//! built on the host, and the libtest names selected by `--scenarios`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util;

/// The smoke subset CI runs on every kernel: one test per failure layer
/// and the Ctrl-C paths, each short under TCG (no 30 s Go deadline).
/// success; network: RST received + SO_ERROR; kernel: a local nft drop
/// (ended by Ctrl-C) and an unanswered dial (ended by Ctrl-C, told apart
/// from the local drop only by kernel evidence); DNS: NXDOMAIN; above
/// TCP: an untrusted TLS certificate; a `prohibit` route, which proves
/// the route-lookup probe's record layout on each kernel. (gotrace_http_404 passed on every
/// kernel too but costs 25-45 s a kernel under TCG: `--scenarios smoke,http_404`.)
pub const SMOKE: &[&str] = &[
    "gotrace_success_is_layer_none",
    "gotrace_connection_refused_cites_the_rst_and_so_error",
    "gotrace_ctrl_c_on_a_locally_dropped_dial",
    "gotrace_ctrl_c_on_an_unanswered_dial",
    "gotrace_dns_nxdomain_sees_the_answer",
    "gotrace_tls_untrusted",
    "gotrace_route_prohibit_is_the_kernel_eacces",
];

/// One test: its binary and its exact libtest name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    pub binary: PathBuf,
    pub name: String,
}

/// Builds gotrace-e2e's test binaries and lists their tests; with
/// `filters`, only the tests whose name is one of them or contains one
/// (`smoke` stands for [`SMOKE`]). Err when a filter selects nothing.
pub fn select(filters: &[String]) -> Result<Vec<Test>, String> {
    let mut all = Vec::new();
    for binary in build()? {
        let out = Command::new(&binary)
            .args(["--list", "--format", "terse"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("listing the tests of {}: {e}", binary.display()))?;
        for name in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
        {
            all.push(Test {
                binary: binary.clone(),
                name: name.to_string(),
            });
        }
    }
    if filters.is_empty() {
        return Ok(all);
    }
    // (pattern, exact): `smoke` names its tests exactly, a filter of the
    // user's selects every test whose name contains it.
    let wanted: Vec<(&str, bool)> = filters
        .iter()
        .flat_map(|f| match f.as_str() {
            "smoke" => SMOKE.iter().map(|s| (*s, true)).collect(),
            f => vec![(f, false)],
        })
        .collect();
    let picks = |t: &Test, (w, exact): (&str, bool)| {
        if exact {
            t.name == w
        } else {
            t.name.contains(w)
        }
    };
    for &w in &wanted {
        if !all.iter().any(|t| picks(t, w)) {
            return Err(format!("no gotrace-e2e test is named like {:?}", w.0));
        }
    }
    Ok(all
        .into_iter()
        .filter(|t| wanted.iter().any(|&w| picks(t, w)))
        .collect())
}

/// `cargo test -p gotrace-e2e --no-run`: the paths of its test binaries.
fn build() -> Result<Vec<PathBuf>, String> {
    let out = util::cargo()
        .args([
            "test",
            "-p",
            "gotrace-e2e",
            "--locked",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(gotrace_e2e::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting cargo test --no-run: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the e2e tests failed ({})", out.status));
    }
    let bins: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .collect();
    if bins.is_empty() {
        return Err("cargo test --no-run built no gotrace-e2e test binary".into());
    }
    Ok(bins)
}
