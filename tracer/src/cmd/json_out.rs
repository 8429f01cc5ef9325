//! Where the verdict JSON of `run`/`attach` goes: `--json` prints it as the
//! last line of stdout, `--json-file PATH` writes it to a file, apart from
//! whatever the command printed.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use gotrace_bundle::Owner;

/// The JSON outputs asked for.
#[derive(Debug, Clone, Default)]
pub struct JsonOutput {
    /// `--json`: on stdout, as its last line.
    pub stdout: bool,
    /// `--json-file PATH`.
    pub file: Option<PathBuf>,
    /// Whom the file is opened as: the user the command ran as (sudo,
    /// `--user`), or gotrace's own user when `None`.
    pub owner: Option<Owner>,
}

impl JsonOutput {
    /// Writes `json` (pretty, as verdict.json holds it) where asked. A
    /// failure to write the file is returned (the caller reports it); a
    /// closed stdout is not an error.
    pub fn emit(&self, json: &str) -> std::io::Result<()> {
        if self.stdout {
            let mut out = std::io::stdout().lock();
            let sep = if stdout_ends_a_line() { "" } else { "\n" };
            let _ = writeln!(out, "{sep}{}", compact(json));
            let _ = out.flush();
        }
        match &self.file {
            Some(path) => write_file(path, self.owner, json).map_err(|e| {
                std::io::Error::new(e.kind(), format!("--json-file {}: {e}", path.display()))
            }),
            None => Ok(()),
        }
    }
}

/// `json` on one line: the white space between tokens dropped (pretty
/// JSON has no other; string contents are kept byte for byte).
pub fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// Whether the JSON can start right away on stdout: nothing was written
/// to it, or what was ends with `\n`. That is only knowable when stdout is
/// a regular file (its last byte can be read back); for a pipe or a
/// terminal, which the command writes to directly and gotrace never sees,
/// the answer is no, and the JSON line is preceded by a newline, which
/// may leave an empty line before it.
fn stdout_ends_a_line() -> bool {
    let Ok(meta) = std::fs::metadata("/proc/self/fd/1") else {
        return false;
    };
    if !meta.file_type().is_file() {
        return false;
    }
    // SAFETY: lseek on fd 1 with SEEK_CUR moves nothing; it reads the offset.
    let offset = unsafe { libc::lseek(1, 0, libc::SEEK_CUR) };
    if offset <= 0 {
        return offset == 0;
    }
    // fd 1 may be write-only: read the byte through a new read-only open of
    // the same file (the magic link names the open file, not a path).
    let mut byte = [0u8];
    File::open("/proc/self/fd/1")
        .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut byte, offset as u64 - 1))
        .is_ok_and(|()| byte[0] == b'\n')
}

/// Creates or truncates `path` and writes `json` into it, mode 0600, never
/// through a symbolic link in its last component (O_NOFOLLOW).
///
/// With an `owner` (gotrace is root and the command ran as someone else)
/// the file is opened with that user's file-system identity (setfsuid(2),
/// setfsgid(2) and no supplementary groups, on a thread of its own, since
/// those are per-thread credentials): the path is the user's to choose,
/// and any directory or link on it may be theirs, so the kernel checks
/// every component with their rights and root's are never lent to them.
/// A path the user cannot write is an error; run with `--user root` to
/// write where only root can.
fn write_file(path: &Path, owner: Option<Owner>, json: &str) -> std::io::Result<()> {
    let mut text = json.as_bytes().to_vec();
    text.push(b'\n');
    write_private_file(path, owner, &text)
}

/// Writes `bytes` to `path`, made new (0600) or truncated, never through a
/// symbolic link (O_NOFOLLOW), opened as `owner` when given (so under sudo
/// it is the user's file and the user's permissions decide).
///
/// # Errors
/// The open's or write's I/O error (ELOOP for a link at `path`).
pub(crate) fn write_private_file(
    path: &Path,
    owner: Option<Owner>,
    bytes: &[u8],
) -> std::io::Result<()> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    };
    let mut file = match owner {
        None => open()?,
        Some(o) => std::thread::scope(|s| {
            s.spawn(|| {
                become_for_files(o)?;
                open()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the opening thread panicked")))
        })?,
    };
    file.write_all(bytes)?;
    file.sync_all().or(Ok(()))
}

/// Switches the calling thread's file-system credentials to `o`. The raw
/// setgroups syscall changes this thread only (glibc's wrapper would change
/// every thread of gotrace).
fn become_for_files(o: Owner) -> std::io::Result<()> {
    // SAFETY: plain syscalls on the calling thread's credentials.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::setfsgid(o.gid);
        libc::setfsuid(o.uid);
        // Each returns the previous value: a second call shows whether the
        // first took effect.
        if libc::setfsgid(o.gid) != o.gid as i32 || libc::setfsuid(o.uid) != o.uid as i32 {
            return Err(std::io::Error::from_raw_os_error(libc::EPERM));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_drops_layout_and_keeps_strings() {
        let pretty = "{\n  \"a\": \"x  y\\\" \\n z\",\n  \"b\": [\n    1,\n    2\n  ]\n}";
        assert_eq!(compact(pretty), r#"{"a":"x  y\" \n z","b":[1,2]}"#);
        let v: serde_json::Value = serde_json::from_str(&compact(pretty)).unwrap();
        assert_eq!(
            v,
            serde_json::from_str::<serde_json::Value>(pretty).unwrap()
        );
    }

    #[test]
    fn the_json_file_is_written_and_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.json");
        write_file(&path, None, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_file(&link, None, "{}").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
