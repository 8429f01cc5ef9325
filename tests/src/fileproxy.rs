//! A GOPROXY that hangs without any network: a `file://` module tree
//! (go help goproxy: file URLs are read as a directory) in the lab dir
//! whose files are FIFOs nobody ever writes, so Go's open(2) of the first
//! one blocks, as on a hung network file system. The failure is then
//! before any network syscall, and only Ctrl-C ends it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::LabError;

/// The files Go may open first for the lab module's dependency.
const FILES: &[&str] = &["list", "v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip"];

/// Makes the tree under `work` and returns the GOPROXY value naming it.
pub(crate) fn hung(work: &Path) -> Result<String, LabError> {
    let root = work.join("fileproxy");
    let dir: PathBuf = root.join("lab.test/greet/@v");
    std::fs::create_dir_all(&dir).map_err(LabError::io("creating", &dir))?;
    for name in FILES {
        let path = dir.join(name);
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| LabError::Setup {
            what: "name a FIFO",
            detail: format!("{} holds a NUL byte", path.display()),
        })?;
        // SAFETY: `c` is a valid NUL-terminated path.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o666) } != 0 {
            return Err(LabError::io("mkfifo", &path)(
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(format!("file://{}", root.display()))
}
