//! Opening a bundle's files as untrusted input.
//!
//! Bundles arrive as tarballs from strangers and `gotrace analyze` may run
//! as root, so a name in the bundle may be a symbolic link to /etc/shadow,
//! a FIFO that nobody writes (a plain open(2) blocks forever), a directory
//! or a device. Each file is reached through the bundle directory's fd
//! (openat(2), the directory itself may be a link: the user typed it),
//! checked without following a link (fstatat(2) `AT_SYMLINK_NOFOLLOW`),
//! opened with `O_NOFOLLOW | O_NONBLOCK` and fstat(2)ed again, so only a
//! regular file inside the bundle is ever read.

use std::ffi::OsStr;
use std::fs::File;
use std::path::Path;

use crate::dirfd::{kind_name, DirFd};
use crate::error::FileRefused;

/// Opens the bundle directory `dir`, following a link there (the user's
/// choice) but nothing below it.
pub(crate) fn open_bundle_dir(dir: &Path) -> std::io::Result<DirFd> {
    let start = DirFd::start(dir.is_absolute())?;
    let rel = dir.strip_prefix("/").unwrap_or(dir);
    if rel.as_os_str().is_empty() {
        return Ok(start);
    }
    start.open_dir(rel.as_os_str(), true)
}

/// Opens `name` in the bundle if it is a regular file: `Ok(None)` when it
/// is absent, [`FileRefused`] when it is anything else or unreadable.
/// Returns the file and its size (bytes).
pub(crate) fn open_regular(dir: &DirFd, name: &str) -> Result<Option<(File, u64)>, FileRefused> {
    let os = OsStr::new(name);
    let unreadable = |source| FileRefused::Unreadable {
        name: name.to_string(),
        source,
    };
    let not_regular = |kind| FileRefused::NotRegular {
        name: name.to_string(),
        kind: kind_name(kind),
    };
    // Checked before opening: opening a device may itself do something.
    match dir.entry(os) {
        Ok(None) => return Ok(None),
        Ok(Some(e)) if e.kind != libc::S_IFREG => return Err(not_regular(e.kind)),
        Ok(Some(_)) => {}
        Err(e) => return Err(unreadable(e)),
    }
    match dir.open_read(os) {
        Ok((f, libc::S_IFREG)) => {
            let len = f.metadata().map(|m| m.len()).map_err(unreadable)?;
            Ok(Some((f, len)))
        }
        // Swapped since the check.
        Ok((_, kind)) => Err(not_regular(kind)),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(not_regular(libc::S_IFLNK)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(unreadable(e)),
    }
}

#[cfg(test)]
mod tests {
    use crate::read_bundle;
    use std::time::Duration;

    const META: &str = include_str!("../../fixtures/bundles/bad-go-mod/meta.json");

    /// read_bundle on another thread: a hang (a FIFO opened blocking)
    /// fails the test instead of stalling it.
    fn read_within(dir: &std::path::Path) -> Result<crate::Bundle, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read_bundle(&d).map_err(|e| e.to_string()));
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("read_bundle hung")
    }

    fn mkfifo(p: &std::path::Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn fifos_links_out_and_directories_are_refused_never_waited_on() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("shadow");
        std::fs::write(&secret, "root:SECRET-HASH\n").unwrap();
        let b = tmp.path().join("b");
        std::fs::create_dir(&b).unwrap();
        mkfifo(&b.join("meta.json"));
        let e = read_within(&b).unwrap_err();
        assert!(
            e.contains("meta.json is a FIFO, not a regular file: not read"),
            "{e}"
        );
        std::fs::remove_file(b.join("meta.json")).unwrap();
        std::os::unix::fs::symlink(&secret, b.join("meta.json")).unwrap();
        let e = read_within(&b).unwrap_err();
        assert!(e.contains("meta.json is a symbolic link"), "{e}");
        std::fs::remove_file(b.join("meta.json")).unwrap();
        std::fs::write(b.join("meta.json"), META).unwrap();
        mkfifo(&b.join("events.jsonl"));
        std::os::unix::fs::symlink(&secret, b.join("stderr.log")).unwrap();
        std::fs::create_dir(b.join("capture.pcapng")).unwrap();
        let got = read_within(&b).unwrap();
        assert!(got.stderr.is_none() && got.events.is_none() && got.capture.is_none());
        let w = got.warnings.join("\n");
        for want in [
            "events.jsonl is a FIFO, not a regular file: not read",
            "stderr.log is a symbolic link, not a regular file: not read",
            "capture.pcapng is a directory, not a regular file: not read",
        ] {
            assert!(w.contains(want), "{want} in {w}");
        }
        assert!(!w.contains("SECRET"));
    }

    #[test]
    fn a_bundle_dir_given_as_a_link_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let b = tmp.path().join("b");
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("meta.json"), META).unwrap();
        std::os::unix::fs::symlink(&b, tmp.path().join("link")).unwrap();
        assert!(read_within(&tmp.path().join("link")).is_ok());
    }

    #[test]
    fn a_too_large_stderr_is_truncated_with_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("meta.json"), META).unwrap();
        let big = vec![b'x'; (1 << 20) + 100];
        std::fs::write(tmp.path().join("stderr.log"), big).unwrap();
        let got = read_within(tmp.path()).unwrap();
        assert_eq!(got.stderr.unwrap().len(), 1 << 20);
        assert!(got
            .warnings
            .iter()
            .any(|w| w.contains("only its last 1048576 bytes")));
    }
}
