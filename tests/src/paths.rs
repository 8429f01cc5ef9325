//! Where the workspace, the fixtures and the gotrace binary live.

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    // This crate sits at <root>/tests; valid for xtask too, which links it.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `fixtures/` in the workspace.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("fixtures")
}

/// The Go module the lab runs `go mod tidy` on.
pub fn demo_module_dir() -> PathBuf {
    fixtures_dir().join("demo-module")
}

/// The gotrace binary the e2e tests run: `$GOTRACE_BIN`, else
/// `<workspace>/target/release/gotrace` (what `cargo xtask build` produces).
pub fn gotrace_bin() -> PathBuf {
    match std::env::var_os("GOTRACE_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join("target/release/gotrace"),
    }
}

/// `tests/lab/`: the lab's helper scripts (module proxy, DNS responder).
pub fn lab_script(name: &str) -> PathBuf {
    workspace_root().join("tests/lab").join(name)
}

/// `fixtures/modules/<name>`: a module other than the demo for scenarios
/// that need their own go.mod (e.g. a broken one).
pub fn lab_module_dir(name: &str) -> PathBuf {
    fixtures_dir().join("modules").join(name)
}
