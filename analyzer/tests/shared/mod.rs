//! Where the shared real-world captures are (read-only): the directory is
//! `$GOTRACE_SHARED_CAPTURES` when set, else `<workspace>/../shared/captures`
//! (CI clones `shared/` beside the repository), never an absolute path: the
//! repository may be checked out anywhere. Not finding them is a failure,
//! never a skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

const ENV: &str = "GOTRACE_SHARED_CAPTURES";

/// The captures directory; panics saying where it looked when none exists.
pub(crate) fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os(ENV) {
        let d = PathBuf::from(d);
        assert!(
            d.is_dir(),
            "{ENV}={} is not a directory: point it at the shared captures",
            d.display()
        );
        return d;
    }
    // CARGO_MANIFEST_DIR is <workspace>/analyzer.
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures");
    assert!(
        beside.is_dir(),
        "shared captures not found: {ENV} is unset and {} does not exist; \
         clone the shared repository beside this one or set {ENV}=/path/to/shared/captures",
        beside.display()
    );
    beside
}

/// A capture the assertions need; panics when it is missing.
pub(crate) fn capture(name: &str) -> PathBuf {
    let p = dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing from the shared captures",
        p.display()
    );
    p
}
