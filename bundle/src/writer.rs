//! Writing the trace bundle (BUNDLE.md) while the command runs.
//!
//! Everything is streamed: meta.json is written at start and replaced
//! atomically at the end, events.jsonl and stderr.log are appended and
//! flushed every poll round, so a SIGKILLed tracer leaves a bundle that
//! `gotrace analyze` still opens.
//!
//! When the command runs as another user (the tracer's sudo and `--user`),
//! the bundle directory, the directories made for it, and every file
//! written in it are chowned to that user ([`Owner`]) as soon as they are
//! created, so even a SIGKILLed tracer leaves a bundle its user can read,
//! move and delete. That user's command can write the directory while
//! gotrace (root) does: every file is reached through the directory's fd,
//! created new (never through a name the command could have planted), and
//! only gotrace's own files are ever replaced or removed (dirfd.rs).
//!
//! A full disk must not cost the final meta.json (the command's exit
//! status): space for it is reserved at start (fallocate(2)) in its temp
//! file, which the final write fills and renames.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::dirfd::{self, DirFd, FileId};
use crate::error::WriteError;
use crate::{files, Event, Meta};

/// Who the bundle's directory and files belong to: the user the traced
/// command runs as, so they can read and remove what was written as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Numeric user id (chown(2)'s `owner`).
    pub uid: u32,
    /// Numeric group id (chown(2)'s `group`).
    pub gid: u32,
}

/// `(uid, gid)` as plain numbers or as any id type that converts to one
/// (nix's `Uid`/`Gid`).
impl<U: Into<u32>, G: Into<u32>> From<(U, G)> for Owner {
    fn from((uid, gid): (U, G)) -> Owner {
        Owner {
            uid: uid.into(),
            gid: gid.into(),
        }
    }
}

/// Bytes reserved for the final meta.json: far above what a run writes
/// (a few KiB; an attach to a process with thousands of sockets lists
/// each one).
pub const META_RESERVE_BYTES: u64 = 256 * 1024;

/// The bundle directory this writer made, to remove it on discard: the
/// directory it is in, its name there and its identity.
#[derive(Debug)]
struct MadeDir {
    parent: DirFd,
    name: OsString,
    id: FileId,
}

/// An open bundle directory.
#[derive(Debug)]
pub struct BundleWriter {
    dir: PathBuf,
    fd: DirFd,
    events: BufWriter<File>,
    next_id: u64,
    /// Owner of the directories this writer made and of every file.
    owner: Option<Owner>,
    made_dir: Option<MadeDir>,
    /// Every file this writer made, by name, as it is now, each held open
    /// so that its inode number cannot be given to a file planted after it
    /// is unlinked (identities are compared by inode number).
    made: Mutex<Vec<Made>>,
    /// meta.json's temp file with [`META_RESERVE_BYTES`] reserved, between
    /// the first meta.json and the final one.
    meta_reserve: Mutex<Option<(File, FileId)>>,
}

/// A file the writer made: its name, identity, and a handle that keeps
/// the identity unique.
#[derive(Debug)]
struct Made {
    name: String,
    id: FileId,
    held: Option<File>,
}

/// The temp file a file is written to before its atomic rename.
fn temp_name(name: &str) -> String {
    format!(".{name}.tmp")
}

impl BundleWriter {
    /// Creates `dir` (and parents) and an empty `events.jsonl` in it.
    /// Refuses a directory that already holds a bundle (`meta.json`), so an
    /// earlier trace is never overwritten. With `owner`, the directories
    /// this call creates (`dir` and its missing parents, not those that
    /// were already there) are chowned to it, and so is every file written
    /// in it. Directories that existed are opened as the path names them
    /// (links followed: whoever typed the path chose them); those it makes
    /// are opened without following a link.
    ///
    /// # Errors
    /// [`WriteError::AlreadyABundle`], [`WriteError::NotOurs`] when
    /// `events.jsonl` is already there, or [`WriteError::Io`] when a
    /// directory or file cannot be created or chowned.
    pub fn create<O: Into<Owner>>(
        dir: &Path,
        owner: Option<O>,
    ) -> Result<BundleWriter, WriteError> {
        let owner = owner.map(Into::into);
        let err = |source| WriteError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let (fd, made_dir) = open_dirs(dir, owner).map_err(err)?;
        if fd.entry(OsStr::new(files::META)).map_err(err)?.is_some() {
            return Err(WriteError::AlreadyABundle {
                dir: dir.to_path_buf(),
            });
        }
        let (events, events_id) = match create_in(&fd, dir, files::EVENTS, owner) {
            Ok(f) => f,
            Err(e) => {
                if let Some(m) = &made_dir {
                    m.parent.remove_if(&m.name, m.id, true);
                }
                return Err(e);
            }
        };
        let held = events.try_clone().ok();
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            fd,
            events: BufWriter::new(events),
            next_id: 1,
            owner,
            made_dir,
            made: Mutex::new(vec![Made {
                name: files::EVENTS.to_string(),
                id: events_id,
                held,
            }]),
            meta_reserve: Mutex::new(None),
        })
    }

    /// Removes what the writer wrote, when tracing could not start: never a
    /// half-made bundle that looks like a real one, and never anything else
    /// (a directory that existed keeps its other contents, a file is
    /// removed only while it is still the one this writer made, and the
    /// directory only if this writer created it and it is now empty).
    /// Best effort: what cannot be removed stays.
    pub fn discard(self) {
        self.meta_reserve.lock().map(|mut r| r.take()).ok();
        let made = std::mem::take(&mut *self.made.lock().unwrap_or_else(|p| p.into_inner()));
        for m in made {
            self.fd.remove_if(OsStr::new(&m.name), m.id, false);
        }
        if let Some(m) = &self.made_dir {
            m.parent.remove_if(&m.name, m.id, true);
        }
    }

    /// Creates file `name` in the bundle, new (never through or over
    /// anything already at that name) and owned by the bundle's owner from
    /// the start (the tracer's `capture.pcapng`, `stderr.log`). The file
    /// is open for reading and writing.
    ///
    /// # Errors
    /// [`WriteError::NotOurs`] when something is already at `name`,
    /// [`WriteError::Io`] when it cannot be created or chowned.
    pub fn create_file(&self, name: &str) -> Result<File, WriteError> {
        let (file, id) = create_in(&self.fd, &self.dir, name, self.owner)?;
        self.record(name, Some((id, file.try_clone().ok())));
        Ok(file)
    }

    /// A new read-only handle on the file this writer made as `name`,
    /// whatever is at that name now (opened through /proc/self/fd, which
    /// reaches the open file, not the name; proc(5)): for analysing what
    /// gotrace wrote, never what the command put in its place. `None` when
    /// the writer made no such file (or /proc is not mounted).
    pub fn reopen(&self, name: &str) -> Option<File> {
        use std::os::fd::AsRawFd;
        let made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        let held = made.iter().find(|m| m.name == name)?.held.as_ref()?;
        File::open(format!("/proc/self/fd/{}", held.as_raw_fd())).ok()
    }

    /// Who the bundle's files belong to (`None`: gotrace's own user).
    pub fn owner(&self) -> Option<Owner> {
        self.owner
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a file inside the bundle (for messages: files are reached
    /// through the directory's fd, not by path).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The id the next event will get (ids are 1-based line numbers).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Appends one event as a JSON line (buffered: see [`BundleWriter::flush`]).
    /// The caller numbers events with [`BundleWriter::next_id`].
    ///
    /// # Errors
    /// [`WriteError::File`] when the write fails.
    pub fn write_event(&mut self, ev: &Event) -> Result<(), WriteError> {
        let line = serde_json::to_string(ev).map_err(|e| self.io(std::io::Error::other(e)))?;
        writeln!(self.events, "{line}")
            .map_err(|e| self.file_err(files::EVENTS, line.len() as u64 + 1, e))?;
        self.next_id += 1;
        Ok(())
    }

    /// Flushes buffered events to the file.
    ///
    /// # Errors
    /// [`WriteError::File`] when the write fails (`lost`: the bytes still
    /// buffered).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        let pending = self.events.buffer().len() as u64;
        self.events
            .flush()
            .map_err(|e| self.file_err(files::EVENTS, pending, e))
    }

    /// Writes meta.json (pretty-printed JSON) atomically: temp file +
    /// rename, so a reader sees the old or the new one, never half of one.
    /// A meta.json without an end time (the one written at start) is
    /// followed by a final one: space for that is reserved right away.
    ///
    /// # Errors
    /// [`WriteError::File`] when the file cannot be written or renamed,
    /// [`WriteError::NotOurs`] when a name it needs was taken over.
    pub fn write_meta(&self, meta: &Meta) -> Result<(), WriteError> {
        let json =
            serde_json::to_string_pretty(meta).map_err(|e| self.io(std::io::Error::other(e)))?;
        self.write_atomic(files::META, json.as_bytes())?;
        if meta.end_monotonic_ns.is_none() {
            self.reserve_meta();
        }
        Ok(())
    }

    /// Writes verdict.json (the analyzer's JSON, as given) atomically.
    ///
    /// # Errors
    /// As [`BundleWriter::write_meta`].
    pub fn write_verdict(&self, json: &str) -> Result<(), WriteError> {
        self.write_atomic(files::VERDICT, json.as_bytes())
    }

    /// Writes report.html (the page as given) atomically.
    ///
    /// # Errors
    /// As [`BundleWriter::write_meta`].
    pub fn write_report_html(&self, page: &str) -> Result<(), WriteError> {
        self.write_atomic(files::REPORT_HTML, page.as_bytes())
    }

    /// Makes meta.json's temp file now, with [`META_RESERVE_BYTES`]
    /// allocated. Without the space (or the file) the final write simply
    /// makes its temp file then.
    fn reserve_meta(&self) {
        let tmp = temp_name(files::META);
        let Ok(file) = self.create_file(&tmp) else {
            return;
        };
        let id = self.made_id(&tmp);
        match (dirfd::reserve(&file, META_RESERVE_BYTES), id) {
            (Ok(()), Some(id)) => {
                if let Ok(mut r) = self.meta_reserve.lock() {
                    *r = Some((file, id));
                }
            }
            _ => self.remove_made(&tmp),
        }
    }

    /// `bytes` into temp file `.NAME.tmp`, renamed to `name`. The rename
    /// replaces `name` only when it is the file this writer put there; a
    /// failed write removes the temp file.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
        self.write_atomic_with(name, bytes.len() as u64, |f| fill(f, bytes))
    }

    /// Replaces file `name`, which this writer made, with what `write`
    /// puts in a new temp file (`.NAME.tmp`, renamed over it): for
    /// rewriting capture.pcapng with packet annotations. The same checks
    /// as meta.json's write: the rename replaces `name` only while it is
    /// still the file this writer made; a failed `write` removes the temp
    /// file and leaves `name` as it was.
    ///
    /// # Errors
    /// [`WriteError::NotOurs`] when `name` or the temp name was taken
    /// over, [`WriteError::File`] when `write` or the rename failed.
    pub fn replace_with(
        &self,
        name: &str,
        write: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<(), WriteError> {
        self.write_atomic_with(name, 0, write)
    }

    /// [`Self::write_atomic`] with the content written by `write`; `len`
    /// is what a failure loses, for the error.
    fn write_atomic_with(
        &self,
        name: &str,
        len: u64,
        write: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<(), WriteError> {
        let tmp = temp_name(name);
        let reserved = match name == files::META {
            true => self.meta_reserve.lock().ok().and_then(|mut r| r.take()),
            false => None,
        };
        let (mut file, id) = match reserved {
            Some((file, id)) => (file, id),
            None => {
                let file = self.create_file(&tmp)?;
                let id = self.made_id(&tmp).ok_or_else(|| self.not_ours(&tmp))?;
                (file, id)
            }
        };
        // The reserved temp file is gotrace's only while its name still
        // points at it.
        if self.entry(&tmp)?.map(|e| e.id) != Some(id) {
            self.forget(&tmp);
            return Err(self.not_ours(&tmp));
        }
        let fail = |w: &Self, e: WriteError| {
            w.remove_made(&tmp);
            Err(e)
        };
        if let Err(e) = write(&mut file) {
            return fail(self, self.file_err(name, len, e));
        }
        let replace = match self.entry(name)? {
            None => false,
            Some(e) if Some(e.id) == self.made_id(name) => true,
            Some(e) => return fail(self, self.not_ours_found(name, e.kind_name())),
        };
        // Between the checks and the rename the command can swap either
        // name; a rename never writes through a link, so the worst it gets
        // is its own link in place of gotrace's file, in its own directory.
        if let Err(e) = self.fd.rename(OsStr::new(&tmp), OsStr::new(name), replace) {
            let err = match e.raw_os_error() {
                Some(libc::EEXIST) => self.not_ours(name),
                _ => self.file_err(name, len, e),
            };
            return fail(self, err);
        }
        self.forget(&tmp);
        self.record(name, Some((id, Some(file))));
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<Option<dirfd::Entry>, WriteError> {
        self.fd.entry(OsStr::new(name)).map_err(|e| self.io(e))
    }

    /// Sets (or with `None` drops) what this writer made at `name`.
    fn record(&self, name: &str, made: Option<(FileId, Option<File>)>) {
        let mut all = self.made.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|m| m.name != name);
        if let Some((id, held)) = made {
            all.push(Made {
                name: name.to_string(),
                id,
                held,
            });
        }
    }

    fn forget(&self, name: &str) {
        self.record(name, None);
    }

    fn made_id(&self, name: &str) -> Option<FileId> {
        let made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        made.iter().find(|m| m.name == name).map(|m| m.id)
    }

    /// Removes `name` if it is still the file this writer made there.
    fn remove_made(&self, name: &str) {
        if let Some(id) = self.made_id(name) {
            self.fd.remove_if(OsStr::new(name), id, false);
        }
        self.forget(name);
    }

    fn not_ours(&self, name: &str) -> WriteError {
        let found = match self.fd.entry(OsStr::new(name)) {
            Ok(Some(e)) => e.kind_name(),
            _ => "a file",
        };
        self.not_ours_found(name, found)
    }

    fn not_ours_found(&self, name: &str, found: &'static str) -> WriteError {
        WriteError::NotOurs {
            dir: self.dir.clone(),
            name: name.to_string(),
            found,
        }
    }

    fn file_err(&self, name: &str, lost: u64, source: std::io::Error) -> WriteError {
        WriteError::File {
            dir: self.dir.clone(),
            name: name.to_string(),
            lost,
            source,
        }
    }

    fn io(&self, source: std::io::Error) -> WriteError {
        WriteError::Io {
            dir: self.dir.clone(),
            source,
        }
    }
}

/// A reserve left unused (tracing stopped before the final meta.json) is
/// not left behind.
impl Drop for BundleWriter {
    fn drop(&mut self) {
        let reserved = self.meta_reserve.get_mut().ok().and_then(|r| r.take());
        if let Some((_, id)) = reserved {
            self.fd
                .remove_if(OsStr::new(&temp_name(files::META)), id, false);
        }
    }
}

/// Creates `name` in `fd` (the bundle `dir`, for messages) with its identity.
fn create_in(
    fd: &DirFd,
    dir: &Path,
    name: &str,
    owner: Option<Owner>,
) -> Result<(File, FileId), WriteError> {
    let io = |source| WriteError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let file = match fd.create_file(OsStr::new(name), owner) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let found = match fd.entry(OsStr::new(name)) {
                Ok(Some(e)) => e.kind_name(),
                _ => "a file",
            };
            return Err(WriteError::NotOurs {
                dir: dir.to_path_buf(),
                name: name.to_string(),
                found,
            });
        }
        Err(e) => return Err(io(e)),
    };
    let id = dirfd::file_id(&file).map_err(io)?;
    Ok((file, id))
}

/// Writes `bytes` from the start of `file` and cuts it there (a reserved
/// file is longer).
fn fill(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.rewind()?;
    file.write_all(bytes)?;
    file.set_len(bytes.len() as u64)
}

/// Opens `dir`, making it and its missing parents (mkdir -p) one step at
/// a time, each relative to the fd of the one before; returns its fd and,
/// when this call made it, what [`BundleWriter::discard`] needs to remove it.
fn open_dirs(dir: &Path, owner: Option<Owner>) -> std::io::Result<(DirFd, Option<MadeDir>)> {
    let comps: Vec<Component> = dir.components().collect();
    let mut cur = DirFd::start(dir.is_absolute())?;
    for (i, c) in comps.iter().enumerate() {
        let name = match c {
            Component::RootDir | Component::Prefix(_) => continue,
            Component::CurDir => OsStr::new("."),
            Component::ParentDir => OsStr::new(".."),
            Component::Normal(n) => n,
        };
        let made = match c {
            Component::Normal(_) => cur.make_dir(name, owner)?,
            _ => None,
        };
        match made {
            Some(d) if i + 1 == comps.len() => {
                let id = d.id()?;
                let m = MadeDir {
                    parent: cur,
                    name: name.to_os_string(),
                    id,
                };
                return Ok((d, Some(m)));
            }
            Some(d) => cur = d,
            None => cur = cur.open_dir(name, true)?,
        }
    }
    Ok((cur, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Op;

    /// No owner: the directory and files keep the creating user's ids.
    const NOBODY: Option<Owner> = None;

    #[test]
    fn discard_removes_only_what_the_writer_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp.path().join("existing");
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
        let w = BundleWriter::create(&mine, NOBODY).unwrap();
        w.create_file(files::STDERR).unwrap();
        w.discard();
        assert!(
            mine.join("notes.txt").is_file(),
            "a file of the user's was removed"
        );
        assert!(!mine.join(files::EVENTS).exists() && !mine.join(files::STDERR).exists());

        let fresh = tmp.path().join("fresh");
        BundleWriter::create(&fresh, NOBODY).unwrap().discard();
        assert!(!fresh.exists(), "the directory the writer made is removed");
    }

    #[test]
    fn events_get_consecutive_ids_and_an_existing_bundle_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        let mut w = BundleWriter::create(&dir, NOBODY).unwrap();
        let ev = Event {
            id: w.next_id(),
            ts_ns: 1,
            tgid: 2,
            tid: 2,
            comm: "go".into(),
            op: Op::Exit { status: None },
        };
        w.write_event(&ev).unwrap();
        assert_eq!(w.next_id(), 2);
        w.flush().unwrap();
        let text = std::fs::read_to_string(dir.join(files::EVENTS)).unwrap();
        let back: Event = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, ev);

        std::fs::write(dir.join(files::META), "{}").unwrap();
        let again = BundleWriter::create(&dir, NOBODY).expect_err("must refuse");
        assert!(
            matches!(&again, WriteError::AlreadyABundle { dir: d } if *d == dir),
            "{again}"
        );
        assert!(
            again.to_string().contains("already holds a bundle"),
            "{again}"
        );
    }

    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(p).unwrap().permissions().mode()
    }

    fn owner_of(p: &Path) -> Owner {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::symlink_metadata(p).unwrap();
        Owner {
            uid: md.uid(),
            gid: md.gid(),
        }
    }

    /// Root chowns to 65534 (a real change of owner); anyone else can only
    /// "chown" to their own ids (those a new directory gets), which still
    /// runs every call.
    fn test_owner(scratch: &Path) -> Owner {
        let me = owner_of(scratch);
        if me.uid == 0 {
            (65534u32, 65534u32).into()
        } else {
            me
        }
    }

    #[test]
    fn a_new_bundle_dir_and_every_file_belong_to_the_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("made/b");
        let want = test_owner(tmp.path());
        let w = BundleWriter::create(&dir, Some(want)).unwrap();
        w.create_file(files::STDERR).unwrap();
        w.write_verdict("{}").unwrap();
        assert_eq!(owner_of(&dir), want);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in names {
            assert_eq!(owner_of(&dir.join(&name)), want, "{name}");
            // Payloads, packets and the environment: the owner's eyes only.
            assert_eq!(mode_of(&dir.join(&name)) & 0o077, 0, "{name}");
        }
        assert_eq!(mode_of(&dir) & 0o077, 0);
        // The parent made on the way is the owner's too; the one that
        // existed is left alone.
        assert_eq!(owner_of(&dir.join("..")), want);
        assert_eq!(mode_of(&dir.join("..")) & 0o077, 0);
        assert_ne!(owner_of(tmp.path()), want);
    }

    fn meta(end: Option<u64>) -> Meta {
        Meta {
            format_version: crate::FORMAT_VERSION,
            gotrace_version: "0.1.0".into(),
            mode: "run".into(),
            argv: vec!["true".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            root_pid: 1,
            start_time: "2026-01-01T00:00:00Z".into(),
            start_monotonic_ns: 1,
            end_monotonic_ns: end,
            clock: crate::ClockMap {
                realtime_minus_monotonic_ns: 0,
                uncertainty_ns: 0,
            },
            kernel_release: "6".into(),
            exit: end.map(|_| crate::ExitStatus::Code(0)),
            lost_events: 0,
            dropped_packets: 0,
            env: Default::default(),
            interfaces: vec![],
            warnings: vec![],
            drop_reasons: Default::default(),
            kernel_events: None,
            resolv_conf: None,
            firewall: None,
            attach: None,
            redacted: None,
            local_network: None,
        }
    }

    fn link(target: &Path, at: &Path) {
        let _ = std::fs::remove_file(at);
        std::os::unix::fs::symlink(target, at).unwrap();
    }

    /// The final meta.json fills the space reserved at start: nothing is
    /// left behind, and the reserve exists in between.
    #[test]
    fn the_final_meta_fills_the_reserve_made_at_start() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let w = BundleWriter::create(tmp.path(), NOBODY).unwrap();
        w.write_meta(&meta(None)).unwrap();
        let reserve = tmp.path().join(".meta.json.tmp");
        let md = std::fs::metadata(&reserve).unwrap();
        assert!(md.blocks() * 512 >= META_RESERVE_BYTES, "{}", md.blocks());
        w.write_meta(&meta(Some(5))).unwrap();
        assert!(!reserve.exists());
        let back: Meta =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(files::META)).unwrap())
                .unwrap();
        assert_eq!(back, meta(Some(5)));
        // An unused reserve goes with the writer.
        let other = tmp.path().join("o");
        let w = BundleWriter::create(&other, NOBODY).unwrap();
        w.write_meta(&meta(None)).unwrap();
        drop(w);
        assert!(!other.join(".meta.json.tmp").exists());
    }

    /// Links planted at every name the writer uses (temp names included)
    /// are refused, never written through, and discard leaves them be.
    #[test]
    fn planted_links_are_refused_and_their_targets_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("precious");
        std::fs::write(&target, "root's").unwrap();
        let dir = tmp.path().join("b");
        let w = BundleWriter::create(&dir, NOBODY).unwrap();
        w.write_meta(&meta(None)).unwrap();
        let expect_refused = |r: Result<(), WriteError>, name: &str| {
            let e = r.expect_err(name);
            assert!(
                matches!(&e, WriteError::NotOurs { name: n, found: "a symbolic link", .. } if n == name),
                "{name}: {e}"
            );
            assert!(e.to_string().contains("refusing to write through"), "{e}");
        };
        link(&target, &dir.join(".verdict.json.tmp"));
        expect_refused(w.write_verdict("{}"), ".verdict.json.tmp");
        std::fs::remove_file(dir.join(".verdict.json.tmp")).unwrap();
        link(&target, &dir.join(files::VERDICT));
        expect_refused(w.write_verdict("{}"), files::VERDICT);
        // The reserve swapped for a link.
        link(&target, &dir.join(".meta.json.tmp"));
        expect_refused(w.write_meta(&meta(Some(1))), ".meta.json.tmp");
        std::fs::remove_file(dir.join(".meta.json.tmp")).unwrap();
        link(&target, &dir.join(files::META));
        expect_refused(w.write_meta(&meta(Some(1))), files::META);
        assert!(
            !dir.join(".meta.json.tmp").exists(),
            "a failed write leaves no temp file"
        );
        link(&target, &dir.join(files::STDERR));
        let e = w.create_file(files::STDERR).unwrap_err();
        assert!(matches!(e, WriteError::NotOurs { .. }), "{e}");
        link(&target, &dir.join(files::EVENTS));
        w.discard();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root's");
        for name in [files::META, files::VERDICT, files::STDERR, files::EVENTS] {
            assert!(
                std::fs::symlink_metadata(dir.join(name))
                    .unwrap()
                    .is_symlink(),
                "{name}: discard removed what it did not make"
            );
        }
        // An existing bundle name is refused at create too.
        let again = tmp.path().join("c");
        std::fs::create_dir(&again).unwrap();
        link(&target, &again.join(files::EVENTS));
        let e = BundleWriter::create(&again, NOBODY).unwrap_err();
        assert!(matches!(e, WriteError::NotOurs { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root's");
    }

    /// What the writer wrote is read back from its own files, not from
    /// whatever now has their names.
    #[test]
    fn reopen_reads_the_writers_file_not_what_replaced_it() {
        use std::io::Read;
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("precious");
        std::fs::write(&target, "root's").unwrap();
        let dir = tmp.path().join("b");
        let w = BundleWriter::create(&dir, NOBODY).unwrap();
        w.create_file(files::STDERR)
            .unwrap()
            .write_all(b"go: said this")
            .unwrap();
        w.write_meta(&meta(Some(1))).unwrap();
        link(&target, &dir.join(files::STDERR));
        link(&target, &dir.join(files::META));
        let read = |name| {
            let mut s = String::new();
            w.reopen(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        assert_eq!(read(files::STDERR), "go: said this");
        assert_eq!(
            serde_json::from_str::<Meta>(&read(files::META)).unwrap(),
            meta(Some(1))
        );
        assert!(w.reopen(files::VERDICT).is_none());
    }

    /// A directory made for -o is never a link planted in its place.
    #[test]
    fn a_link_in_place_of_a_missing_dir_is_not_made_into_the_bundle() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        // An existing link in the path is followed: the path's author chose it.
        link(&elsewhere, &tmp.path().join("via"));
        let w = BundleWriter::create(&tmp.path().join("via/b"), NOBODY).unwrap();
        assert!(elsewhere.join("b").join(files::EVENTS).is_file());
        w.discard();
        assert!(!elsewhere.join("b").exists());
    }

    #[test]
    fn an_existing_dir_keeps_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let before = owner_of(tmp.path());
        let owner = test_owner(tmp.path());
        let w = BundleWriter::create(tmp.path(), Some(owner)).unwrap();
        w.write_verdict("{}").unwrap();
        assert_eq!(owner_of(tmp.path()), before);
        assert_eq!(owner_of(&tmp.path().join(files::VERDICT)), owner);
    }
}
