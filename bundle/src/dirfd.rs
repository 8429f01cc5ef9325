//! Files and directories reached only through directory file descriptors.
//!
//! The bundle directory belongs to the user the traced command runs as, and
//! the command runs while gotrace (root) writes there: anything it plants
//! under a name gotrace uses (a symbolic link to /etc/shadow, a hard link,
//! a FIFO) must never be written through, chowned or replaced. So every
//! operation is relative to a directory fd opened once (openat(2) and
//! friends): creating is `O_CREAT | O_EXCL | O_NOFOLLOW` (open(2): with
//! both, a symbolic link at the name fails with EEXIST and is not
//! followed), ownership is set by fd (fchown(2)), a rename replaces only a
//! file whose identity ([`FileId`], fstatat(2) with `AT_SYMLINK_NOFOLLOW`)
//! is one gotrace made, and otherwise uses renameat2(2)'s
//! `RENAME_NOREPLACE`.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use crate::Owner;

/// Mode a new bundle file is created with: the owner's alone, since a
/// bundle holds payloads, packets and the environment (the umask may only
/// remove more).
pub(crate) const FILE_MODE: libc::mode_t = 0o600;
/// Mode of a directory gotrace makes (the bundle dir, the parents of
/// `-o`): the owner's alone, for the same reason.
pub(crate) const DIR_MODE: libc::mode_t = 0o700;

/// A file's identity: its device and inode numbers (stat(2)), which a
/// rename keeps and a replacement does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

/// What a name in a directory refers to, without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its identity.
    pub id: FileId,
    /// `st_mode & S_IFMT`.
    pub kind: libc::mode_t,
}

impl Entry {
    /// "a symbolic link", "a directory", ... for messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }
}

/// "a symbolic link", "a directory", ... for a `st_mode & S_IFMT`.
pub(crate) fn kind_name(kind: libc::mode_t) -> &'static str {
    match kind {
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR | libc::S_IFBLK => "a device",
        _ => "a file gotrace did not write",
    }
}

/// An open directory (`O_DIRECTORY`).
#[derive(Debug)]
pub(crate) struct DirFd {
    fd: OwnedFd,
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn stat_fd(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-buffer; fd is open.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

fn id_of(st: &libc::stat) -> FileId {
    FileId {
        dev: st.st_dev,
        ino: st.st_ino,
    }
}

/// The identity of an open file.
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    Ok(id_of(&stat_fd(file.as_raw_fd())?))
}

/// fchown(2) of `fd` to `owner`, if any.
fn chown_fd(fd: RawFd, owner: Option<Owner>) -> io::Result<()> {
    match owner {
        // SAFETY: plain syscall on an open fd.
        Some(o) => cvt(unsafe { libc::fchown(fd, o.uid, o.gid) }).map(|_| ()),
        None => Ok(()),
    }
}

impl DirFd {
    /// The starting point of a path: `/` for an absolute one, the working
    /// directory otherwise.
    pub(crate) fn start(absolute: bool) -> io::Result<DirFd> {
        let p: &CStr = if absolute { c"/" } else { c"." };
        // SAFETY: a valid C string; the fd returned is owned below.
        let fd = cvt(unsafe {
            libc::open(
                p.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a fresh fd nobody else owns.
        Ok(DirFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Opens the directory `name` in this one. `follow`: a symbolic link
    /// at `name` is followed (a directory that already existed, chosen by
    /// whoever typed the path); otherwise it fails (ELOOP/ENOTDIR).
    pub(crate) fn open_dir(&self, name: &OsStr, follow: bool) -> io::Result<DirFd> {
        let c = c_name(name)?;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        // SAFETY: valid dirfd and C string; the fd returned is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | nofollow,
            )
        })?;
        // SAFETY: a fresh fd nobody else owns.
        Ok(DirFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Makes directory `name` here and opens it (without following a link
    /// put there meanwhile), owned by `owner`. `Ok(None)`: `name` already
    /// exists. The new directory must be gotrace's own (its uid the
    /// effective one): anything else was swapped in between mkdirat and
    /// openat, and is refused (EEXIST) rather than chowned.
    pub(crate) fn make_dir(&self, name: &OsStr, owner: Option<Owner>) -> io::Result<Option<DirFd>> {
        let c = c_name(name)?;
        // SAFETY: valid dirfd and C string.
        match cvt(unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), DIR_MODE) }) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(None),
            Err(e) => return Err(e),
        }
        let dir = self.open_dir(name, false)?;
        let st = stat_fd(dir.fd.as_raw_fd())?;
        // SAFETY: geteuid has no failure mode.
        if st.st_uid != unsafe { libc::geteuid() } {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        chown_fd(dir.fd.as_raw_fd(), owner)?;
        Ok(Some(dir))
    }

    /// This directory's identity.
    pub(crate) fn id(&self) -> io::Result<FileId> {
        Ok(id_of(&stat_fd(self.fd.as_raw_fd())?))
    }

    /// What `name` is here, not following a link; `None` when absent.
    pub(crate) fn entry(&self, name: &OsStr) -> io::Result<Option<Entry>> {
        let c = c_name(name)?;
        // SAFETY: a zeroed stat is a valid out-buffer; valid dirfd and C string.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        match cvt(rc) {
            Ok(_) => Ok(Some(Entry {
                id: id_of(&st),
                kind: st.st_mode & libc::S_IFMT,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens `name` here for reading as untrusted input: `O_NOFOLLOW` (a
    /// symbolic link fails with ELOOP, open(2)), `O_NONBLOCK` so that a FIFO
    /// opens at once instead of waiting for a writer (fifo(7)), `O_NOCTTY`
    /// so a terminal device never becomes ours. Returns the file with its
    /// `st_mode & S_IFMT` (fstat(2) of the opened fd, so no swap between a
    /// check and the open matters); `O_NONBLOCK` is cleared again for a
    /// regular file (fcntl(2) `F_SETFL`), which it does not affect anyway.
    pub(crate) fn open_read(&self, name: &OsStr) -> io::Result<(File, libc::mode_t)> {
        let c = c_name(name)?;
        let flags =
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: valid dirfd and C string; the fd returned is owned below.
        let fd = cvt(unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags) })?;
        // SAFETY: a fresh fd nobody else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        let kind = stat_fd(fd)?.st_mode & libc::S_IFMT;
        if kind == libc::S_IFREG {
            // SAFETY: plain fcntl on an open fd.
            let fl = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
        }
        Ok((file, kind))
    }

    /// Creates the new file `name` here for writing (EEXIST if anything,
    /// a link included, is at that name), owned by `owner`.
    pub(crate) fn create_file(&self, name: &OsStr, owner: Option<Owner>) -> io::Result<File> {
        let c = c_name(name)?;
        let flags =
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: valid dirfd and C string; the fd returned is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags,
                libc::c_uint::from(FILE_MODE),
            )
        })?;
        // SAFETY: a fresh fd nobody else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        chown_fd(fd, owner)?;
        Ok(file)
    }

    /// Renames `from` to `to` within this directory. `replace`: `to` may
    /// exist and is replaced (renameat(2)); otherwise renameat2(2) with
    /// `RENAME_NOREPLACE` fails with EEXIST if it does. A rename never
    /// follows a link at either name.
    pub(crate) fn rename(&self, from: &OsStr, to: &OsStr, replace: bool) -> io::Result<()> {
        let (f, t) = (c_name(from)?, c_name(to)?);
        let fd = self.fd.as_raw_fd();
        let flags = if replace { 0 } else { libc::RENAME_NOREPLACE };
        // SAFETY: valid dirfd and C strings.
        cvt(unsafe { libc::renameat2(fd, f.as_ptr(), fd, t.as_ptr(), flags) }).map(|_| ())
    }

    /// Removes the entry `name` (a directory when `dir`); never follows a link.
    pub(crate) fn remove(&self, name: &OsStr, dir: bool) -> io::Result<()> {
        let c = c_name(name)?;
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: valid dirfd and C string.
        cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), flags) }).map(|_| ())
    }

    /// Removes `name` only if it is still the file `id` (gotrace's own).
    pub(crate) fn remove_if(&self, name: &OsStr, id: FileId, dir: bool) {
        if matches!(self.entry(name), Ok(Some(e)) if e.id == id) {
            let _ = self.remove(name, dir);
        }
    }
}

/// Creates the new file `path` (for writing, owned by `owner`) the way
/// the bundle's files are: through its directory's fd, with `O_CREAT |
/// O_EXCL | O_NOFOLLOW`, so whatever is already at that name (a planted
/// link) makes it fail with EEXIST instead of being written through. The
/// directory is opened as the path names it. For files outside the bundle
/// that gotrace writes while the command runs (`--ready-file`).
///
/// # Errors
/// The error of open(2)/openat(2)/fchown(2); EEXIST when `path` exists.
pub fn create_new(path: &std::path::Path, owner: Option<Owner>) -> io::Result<File> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) if p.is_absolute() => {
            let rel = p.strip_prefix("/").unwrap_or(p);
            let root = DirFd::start(true)?;
            if rel.as_os_str().is_empty() {
                root
            } else {
                root.open_dir(rel.as_os_str(), true)?
            }
        }
        Some(p) => DirFd::start(false)?.open_dir(p.as_os_str(), true)?,
        None => DirFd::start(false)?,
    };
    parent.create_file(name, owner)
}

/// Reserves `len` bytes for `file` (fallocate(2)), so a later write of up
/// to that size succeeds on a full disk.
pub(crate) fn reserve(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: plain syscall on an open fd.
    cvt(unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;

    fn open(path: &std::path::Path) -> DirFd {
        DirFd::start(true)
            .unwrap()
            .open_dir(path.strip_prefix("/").unwrap().as_os_str(), true)
            .unwrap()
    }

    #[test]
    fn a_planted_link_is_refused_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("precious");
        std::fs::write(&target, "root's").unwrap();
        let bundle = tmp.path().join("b");
        std::fs::create_dir(&bundle).unwrap();
        std::os::unix::fs::symlink(&target, bundle.join("meta.json")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", bundle.join("dangling")).unwrap();
        let dir = open(&bundle);
        for name in ["meta.json", "dangling"] {
            let e = dir.create_file(OsStr::new(name), None).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{name}: {e}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root's");
        assert!(!std::path::Path::new("/nonexistent").exists());
        let e = dir.entry(OsStr::new("meta.json")).unwrap().unwrap();
        assert_eq!(e.kind_name(), "a symbolic link");
        // A directory link is not entered when asked not to follow.
        std::os::unix::fs::symlink(tmp.path(), bundle.join("up")).unwrap();
        assert!(dir.open_dir(OsStr::new("up"), false).is_err());
    }

    #[test]
    fn noreplace_renames_refuse_an_existing_name_and_replace_renames_swap_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("precious");
        std::fs::write(&target, "root's").unwrap();
        let dir = open(tmp.path());
        dir.create_file(OsStr::new("t"), None)
            .unwrap()
            .write_all(b"new")
            .unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join("link")).unwrap();
        let e = dir
            .rename(OsStr::new("t"), OsStr::new("link"), false)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        // Replacing a link replaces the link itself, never what it points to.
        dir.rename(OsStr::new("t"), OsStr::new("link"), true)
            .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root's");
        let mut s = String::new();
        File::open(tmp.path().join("link"))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "new");
    }

    #[test]
    fn a_made_dir_is_owned_and_an_existing_name_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open(tmp.path());
        let me = std::fs::metadata(tmp.path()).unwrap();
        let owner = Owner {
            uid: me.uid(),
            gid: me.gid(),
        };
        let made = dir.make_dir(OsStr::new("x"), Some(owner)).unwrap();
        assert!(made.is_some());
        assert!(dir
            .make_dir(OsStr::new("x"), Some(owner))
            .unwrap()
            .is_none());
        let md = std::fs::metadata(tmp.path().join("x")).unwrap();
        assert_eq!((md.uid(), md.gid()), (owner.uid, owner.gid));
        let id = made.unwrap().id().unwrap();
        dir.remove_if(OsStr::new("x"), id, true);
        assert!(!tmp.path().join("x").exists());
    }
}
