//! `demo`: the main job on the bundled example. A lab whose module proxy
//! port is closed, `gotrace run -- go mod tidy` in it, the report on the
//! terminal, and the bundle kept in the workspace.

use std::time::{SystemTime, UNIX_EPOCH};

use gotrace_e2e::{Lab, LabConfig};

use crate::{build, setup};

/// Runs the demo; Ok when gotrace produced its report.
pub fn run() -> Result<(), String> {
    if !gotrace_e2e::is_root() {
        return Err(
            "the demo needs root (network namespaces, eBPF): run `sudo cargo xtask demo`".into(),
        );
    }
    setup::run()?;
    let gotrace = build::run()?;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let bundle = gotrace_e2e::workspace_root().join(format!("gotrace-demo-{secs}"));
    gotrace_e2e::survive_interrupts();
    // The lab is dropped (namespaces deleted) at the end of this function,
    // also on the error paths.
    let lab = Lab::up(LabConfig {
        proxy: gotrace_e2e::Proxy::Closed,
        ..LabConfig::default()
    })
    .map_err(|e| e.to_string())?;
    eprintln!(
        "\nxtask: demo: module proxy {} has its port closed; running in netns {}:\n  {} run -o {} -- go mod tidy\n",
        gotrace_e2e::LAB_GOPROXY,
        lab.client_ns(),
        gotrace.display(),
        bundle.display()
    );
    let status = lab
        .command(&gotrace)
        .arg("run")
        .arg("-o")
        .arg(&bundle)
        .args(["--", "go", "mod", "tidy"])
        .status()
        .map_err(|e| format!("cannot run {}: {e}", gotrace.display()))?;
    // go mod tidy fails here by design (exit 1) and gotrace passes that on.
    match status.code() {
        Some(0 | 1) => {
            eprintln!("\nxtask: demo: bundle written to {}", bundle.display());
            eprintln!(
                "xtask: demo: re-read it any time with: gotrace analyze {}",
                bundle.display()
            );
            Ok(())
        }
        _ => Err(format!(
            "gotrace run exited {status}; bundle (if any) at {}",
            bundle.display()
        )),
    }
}
