//! `build-ebpf`: the probes crate (its own workspace) for bpfel-unknown-none
//! with nightly, build-std=core and bpf-linker 0.10.3 (FIELD-NOTES.md: 0.11+
//! needs a system LLVM 21-23 that Debian bookworm lacks).

use std::path::PathBuf;
use std::process::Command;

use crate::util;

const BPF_LINKER: &str = "bpf-linker@0.10.3";
const BPF_LINKER_VERSION: &str = "bpf-linker 0.10.3";

/// Builds the probes and returns the absolute path of the eBPF object.
pub fn run() -> Result<PathBuf, String> {
    ensure_rust_src()?;
    ensure_bpf_linker()?;
    let dir = gotrace_e2e::workspace_root().join("ebpf/probes");
    // `rustup run nightly` rather than `cargo +nightly`: works whichever cargo is first on PATH.
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        "nightly",
        "cargo",
        "build",
        "--release",
        "--locked",
        "-Z",
        "build-std=core",
        "--target",
        "bpfel-unknown-none",
    ])
    .current_dir(&dir);
    // Inherited from the outer `cargo run` (stable): they would pin the wrong
    // toolchain or move the probes' own target dir.
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "CARGO",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    util::run(&mut cmd).map_err(|e| {
        format!("{e}\n(the eBPF build needs nightly with rust-src and bpf-linker 0.10.3)")
    })?;
    let obj = dir.join("target/bpfel-unknown-none/release/gotrace-probes");
    if obj.is_file() {
        Ok(obj)
    } else {
        Err(format!(
            "the eBPF build succeeded but {} is missing",
            obj.display()
        ))
    }
}

fn ensure_rust_src() -> Result<(), String> {
    let installed = util::output(
        "rustup",
        &["component", "list", "--toolchain", "nightly", "--installed"],
    )
    .is_some_and(|list| list.lines().any(|l| l.starts_with("rust-src")));
    if installed {
        return Ok(());
    }
    util::run(Command::new("rustup").args([
        "component",
        "add",
        "rust-src",
        "--toolchain",
        "nightly",
    ]))
    .map_err(|e| {
        format!("{e}\nneeded: rustup with a nightly toolchain (`rustup toolchain install nightly`)")
    })
}

fn ensure_bpf_linker() -> Result<(), String> {
    let version = util::output("bpf-linker", &["--version"]).unwrap_or_default();
    if version.trim() == BPF_LINKER_VERSION {
        return Ok(());
    }
    eprintln!(
        "xtask: bpf-linker is {:?}, installing {BPF_LINKER} (about 90 s)",
        version.trim()
    );
    let mut cmd = Command::new("cargo");
    cmd.args(["install", BPF_LINKER, "--locked", "--force"]);
    cmd.env_remove("CARGO_TARGET_DIR");
    util::run(&mut cmd).map_err(|e| format!("{e}\ncannot install {BPF_LINKER}; install it by hand: cargo install {BPF_LINKER} --locked"))
}
