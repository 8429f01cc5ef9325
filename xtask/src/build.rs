//! `build`: the eBPF probes, then the release gotrace binary embedding them.

use std::path::PathBuf;

use crate::{ebpf, util};

/// Builds everything and returns the gotrace binary's path.
pub fn run() -> Result<PathBuf, String> {
    let obj = ebpf::run()?;
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--locked", "-p", "gotrace"])
        .current_dir(gotrace_e2e::workspace_root())
        .env("GOTRACE_EBPF_OBJ", &obj);
    util::run(&mut cmd)?;
    let bin = util::gotrace_bin();
    if !bin.is_file() {
        return Err(format!(
            "cargo build succeeded but {} is missing",
            bin.display()
        ));
    }
    eprintln!("xtask: built {}", bin.display());
    Ok(bin)
}
