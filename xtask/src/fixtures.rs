//! `record-fixtures`: run every e2e scenario under gotrace and keep the
//! bundles in fixtures/bundles/<scenario>/ for the analyzer's offline tests.

use std::path::Path;

use gotrace_e2e::{scenario, Lab};

/// A bundle bigger than this is worth a look before committing it.
const LARGE: u64 = 512 * 1024;

/// Records all scenarios; fails when one cannot be recorded.
pub fn run() -> Result<(), String> {
    if !gotrace_e2e::is_root() {
        return Err("recording needs root: run `sudo cargo xtask record-fixtures`".into());
    }
    // GOTRACE_BIN if set, else what `cargo xtask build` produced.
    let gotrace = std::env::var_os("GOTRACE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(crate::util::gotrace_bin);
    if !gotrace.is_file() {
        return Err(format!(
            "no gotrace at {} (run `cargo xtask build` or set GOTRACE_BIN)",
            gotrace.display()
        ));
    }
    gotrace_e2e::survive_interrupts();
    let root = gotrace_e2e::fixtures_dir().join("bundles");
    for s in scenario::all() {
        if gotrace_e2e::interrupted() {
            return Err("interrupted".into());
        }
        let lab = Lab::up(s.config.clone()).map_err(|e| format!("{}: {e}", s.name))?;
        let bundle = lab.temp_dir().join("bundle");
        let out = scenario::run_gotrace(&lab, &gotrace, &bundle, false)
            .map_err(|e| format!("{}: {e}", s.name))?;
        if out.status.code() != Some(s.exit_code) {
            return Err(format!(
                "{}: gotrace exited {} (expected {}):\n{}",
                s.name,
                out.status,
                s.exit_code,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dest = root.join(s.name);
        let _ = std::fs::remove_dir_all(&dest);
        let size = copy_files(&bundle, &dest)?;
        if let Some(v) = s.verdict {
            // Read by analyzer/tests/fixture_bundles.rs: the verdict this bundle must give.
            let expected = format!(
                "{{\"layer\": \"{}\", \"cause\": \"{}\"}}\n",
                v.layer, v.cause
            );
            let file = dest.join("expected.json");
            std::fs::write(&file, expected)
                .map_err(|e| format!("writing {}: {e}", file.display()))?;
        }
        let note = if size > LARGE {
            " (large: check before committing)"
        } else {
            ""
        };
        eprintln!(
            "xtask: recorded {} -> {} ({size} bytes){note}",
            s.name,
            dest.display()
        );
    }
    Ok(())
}

/// Copies the regular files of `src` into `dest`; returns the bytes copied.
fn copy_files(src: &Path, dest: &Path) -> Result<u64, String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let mut total = 0;
    let entries = std::fs::read_dir(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            total += std::fs::copy(&path, dest.join(entry.file_name()))
                .map_err(|e| format!("copying {}: {e}", path.display()))?;
        }
    }
    Ok(total)
}
