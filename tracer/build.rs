//! Embeds the eBPF object built by `cargo xtask build-ebpf`.
//!
//! `GOTRACE_EBPF_OBJ` names it (xtask sets it); otherwise the default build
//! path is used if present. Without one, an empty object is embedded so
//! `cargo check`/`clippy` work on stable, and gotrace says how to build it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=GOTRACE_EBPF_OBJ");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let default = manifest.join("../ebpf/probes/target/bpfel-unknown-none/release/gotrace-probes");
    let obj = std::env::var_os("GOTRACE_EBPF_OBJ")
        .map(PathBuf::from)
        .unwrap_or(default);
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("gotrace-probes.o");
    // Also when it does not exist yet: cargo then re-runs this script on every
    // build, so a later `xtask build-ebpf` is picked up.
    println!("cargo:rerun-if-changed={}", obj.display());
    if obj.is_file() {
        std::fs::copy(&obj, &out).expect("copying the eBPF object");
    } else {
        println!("cargo:warning=no eBPF object at {}: gotrace will refuse to trace; run `cargo xtask build`", obj.display());
        std::fs::write(&out, b"").expect("writing the empty eBPF object placeholder");
    }
    println!("cargo:rustc-env=GOTRACE_EBPF_OBJ={}", out.display());
}
