//! Where the shared real-world captures are (read-only): the directory is
//! `$GOTRACE_SHARED_CAPTURES` when set, else `<workspace>/../shared/captures`
//! (CI clones `shared/` beside the repo), else `/work/shared/captures`.
//! None of them existing is a failure, never a skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

const ENV: &str = "GOTRACE_SHARED_CAPTURES";
const FALLBACK: &str = "/work/shared/captures";

/// The captures directory; panics saying where it looked when none exists.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os(ENV) {
        let d = PathBuf::from(d);
        assert!(
            d.is_dir(),
            "{ENV}={} is not a directory: point it at the shared captures",
            d.display()
        );
        return d;
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures");
    let candidates = [beside, PathBuf::from(FALLBACK)];
    if let Some(d) = candidates.iter().find(|d| d.is_dir()) {
        return d.clone();
    }
    panic!(
        "shared captures not found: {ENV} is unset and neither {} nor {} exists; \
         clone the shared repository beside this one or set {ENV}=/path/to/shared/captures",
        candidates[0].display(),
        candidates[1].display()
    );
}

/// A capture the assertions need; panics when it is missing.
pub fn capture(name: &str) -> PathBuf {
    let p = dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing from the shared captures",
        p.display()
    );
    p
}
