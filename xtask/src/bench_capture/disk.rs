//! The disk side of the benchmark: free space before writing, and the
//! page-cache state of the capture before each timed run.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Bytes available to an unprivileged writer on the filesystem of `dir`
/// (`statvfs`: f_bavail x f_frsize).
///
/// # Errors
/// When `dir` cannot be examined.
pub fn free_bytes(dir: &Path) -> Result<u64, String> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| format!("{}: path holds a NUL byte", dir.display()))?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("checking free space in {}: {e}", dir.display()));
    }
    // fsblkcnt_t and c_ulong are 32 bits on some targets, 64 on this one.
    #[allow(clippy::useless_conversion)]
    let (avail, frsize) = (u64::from(st.f_bavail), u64::from(st.f_frsize));
    Ok(avail.saturating_mul(frsize))
}

/// Space needed to write a file of `size` bytes: the size plus 10%.
pub fn needed_bytes(size: u64) -> u64 {
    size.saturating_add(size / 10)
}

/// How the capture sits in the page cache when a timed run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Read whole once before each run, so each starts from memory.
    Warm,
    /// Evicted before each run (`posix_fadvise(POSIX_FADV_DONTNEED)` on the
    /// clean, synced file; no root needed), so each starts from the disk.
    Cold,
}

impl Cache {
    /// How the report states it.
    pub fn describe(self) -> &'static str {
        match self {
            Cache::Warm => "warm: the file is read whole once before each run",
            Cache::Cold => {
                "cold: the file is evicted from the page cache (posix_fadvise DONTNEED) before each run"
            }
        }
    }

    /// Puts `path` in this state.
    ///
    /// # Errors
    /// When the file cannot be read or advised.
    pub fn prepare(self, path: &Path) -> Result<(), String> {
        let mut f = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        match self {
            Cache::Warm => {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("reading {}: {e}", path.display())),
                    }
                }
            }
            Cache::Cold => {
                // SAFETY: a valid open descriptor; offset 0, length 0 = whole file.
                let r =
                    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
                if r != 0 {
                    let e = std::io::Error::from_raw_os_error(r);
                    return Err(format!(
                        "evicting {} from the page cache: {e}",
                        path.display()
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_and_margin() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
        assert_eq!(needed_bytes(1000), 1100);
        let f = dir.path().join("f");
        std::fs::write(&f, vec![1u8; 3 << 20]).unwrap();
        Cache::Warm.prepare(&f).unwrap();
        Cache::Cold.prepare(&f).unwrap();
    }
}
