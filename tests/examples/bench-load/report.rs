//! Results as `key value` lines, read back by xtask/src/bench/.

use std::fmt::Write as _;
use std::path::Path;

/// Writes `pairs` to `out`, one `key value` per line.
pub fn write(out: &Path, pairs: &[(&str, String)]) -> Result<(), String> {
    let mut text = String::new();
    for (k, v) in pairs {
        let _ = writeln!(text, "{k} {v}");
    }
    std::fs::write(out, text).map_err(|e| format!("writing {}: {e}", out.display()))
}
