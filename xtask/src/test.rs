//! `test`: setup + build, then every test of the workspace (analyzer unit
//! tests, tracer tests, the e2e tests against the freshly built binary).

use crate::{build, setup, util};

/// Runs the whole test suite; `extra` is passed on to `cargo test`.
pub fn run(extra: &[String]) -> Result<(), String> {
    if !gotrace_e2e::is_root() {
        eprintln!("xtask: warning: not root; the e2e tests will fail (they need network namespaces and eBPF)");
    }
    setup::run()?;
    let gotrace = build::run()?;
    let mut cmd = util::cargo();
    // --no-fail-fast: one failing test binary must not hide the others' results.
    cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .args(extra)
        .current_dir(gotrace_e2e::workspace_root())
        .env("GOTRACE_BIN", &gotrace);
    util::run(&mut cmd)
}
