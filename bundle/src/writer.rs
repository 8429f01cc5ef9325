//! Writing the trace bundle (BUNDLE.md) while the command runs.
//!
//! Everything is streamed: meta.json is written at start and replaced
//! atomically at the end, events.jsonl and stderr.log are appended and
//! flushed every poll round, so a SIGKILLed tracer leaves a bundle that
//! `gotrace analyze` still opens.
//!
//! When the command runs as another user (the tracer's sudo and `--user`),
//! the bundle directory and every file written in it are chowned to that
//! user ([`Owner`]) as soon as they are created, so even a SIGKILLed tracer
//! leaves a bundle its user can read, move and delete. Every file goes
//! through [`BundleWriter::create_file`] for that.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// An open bundle directory.
#[derive(Debug)]
pub struct BundleWriter {
    dir: PathBuf,
    events: BufWriter<File>,
    next_id: u64,
    /// Owner of the directory (if this writer made it) and of every file.
    owner: Option<Owner>,
    /// This writer created `dir` (it did not exist before).
    created_dir: bool,
}

/// Every file name a writer may create in a bundle, temp files included.
const WRITTEN: &[&str] = &[
    files::META,
    files::EVENTS,
    files::CAPTURE,
    files::STDERR,
    files::VERDICT,
    ".meta.json.tmp",
    ".verdict.json.tmp",
];

impl BundleWriter {
    /// Creates `dir` (and parents) and an empty `events.jsonl` in it.
    /// Refuses a directory that already holds a bundle (`meta.json`), so an
    /// earlier trace is never overwritten. With `owner`, `dir` is chowned to
    /// it when this call creates it (not a directory that was already
    /// there, nor the parents), and so is every file written in it.
    ///
    /// # Errors
    /// [`WriteError::AlreadyABundle`], or [`WriteError::Io`] when a
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
        if dir.join(files::META).exists() {
            return Err(WriteError::AlreadyABundle {
                dir: dir.to_path_buf(),
            });
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let created_dir = match std::fs::create_dir(dir) {
            Ok(()) => {
                if let Some(o) = owner {
                    std::os::unix::fs::chown(dir, Some(o.uid), Some(o.gid)).map_err(err)?;
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => false,
            Err(e) => return Err(err(e)),
        };
        let events = create_owned(&dir.join(files::EVENTS), owner).map_err(err)?;
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            events: BufWriter::new(events),
            next_id: 1,
            owner,
            created_dir,
        })
    }

    /// Removes what the writer wrote, when tracing could not start: never a
    /// half-made bundle that looks like a real one, and never anything else
    /// (a directory that existed keeps its other contents; it is removed
    /// only if this writer created it and it is now empty). Best effort:
    /// what cannot be removed stays.
    pub fn discard(self) {
        for name in WRITTEN {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// Creates (or truncates) file `name` in the bundle, owned by the
    /// bundle's owner from the start (the tracer's `capture.pcapng`,
    /// `stderr.log`).
    ///
    /// # Errors
    /// [`WriteError::Io`] when it cannot be created or chowned.
    pub fn create_file(&self, name: &str) -> Result<File, WriteError> {
        create_owned(&self.dir.join(name), self.owner).map_err(|e| self.err(e))
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a file inside the bundle.
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
    /// [`WriteError::Io`] when the write fails.
    pub fn write_event(&mut self, ev: &Event) -> Result<(), WriteError> {
        let line = serde_json::to_string(ev).map_err(|e| self.err(std::io::Error::other(e)))?;
        writeln!(self.events, "{line}").map_err(|e| self.err(e))?;
        self.next_id += 1;
        Ok(())
    }

    /// Flushes buffered events to the file.
    ///
    /// # Errors
    /// [`WriteError::Io`] when the write fails.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.events.flush().map_err(|e| self.err(e))
    }

    /// Writes meta.json (pretty-printed JSON) atomically: temp file +
    /// rename, so a reader sees the old or the new one, never half of one.
    ///
    /// # Errors
    /// [`WriteError::Io`] when the file cannot be written or renamed.
    pub fn write_meta(&self, meta: &Meta) -> Result<(), WriteError> {
        let json =
            serde_json::to_string_pretty(meta).map_err(|e| self.err(std::io::Error::other(e)))?;
        self.write_atomic(files::META, json.as_bytes())
    }

    /// Writes verdict.json (the analyzer's JSON, as given) atomically.
    ///
    /// # Errors
    /// [`WriteError::Io`] when the file cannot be written or renamed.
    pub fn write_verdict(&self, json: &str) -> Result<(), WriteError> {
        self.write_atomic(files::VERDICT, json.as_bytes())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
        let tmp = format!(".{name}.tmp");
        self.create_file(&tmp)?
            .write_all(bytes)
            .map_err(|e| self.err(e))?;
        std::fs::rename(self.dir.join(&tmp), self.dir.join(name)).map_err(|e| self.err(e))
    }

    fn err(&self, source: std::io::Error) -> WriteError {
        WriteError::Io {
            dir: self.dir.clone(),
            source,
        }
    }
}

/// File::create, then fchown to `owner` (before anything is written).
fn create_owned(path: &Path, owner: Option<Owner>) -> std::io::Result<File> {
    let file = File::create(path)?;
    if let Some(o) = owner {
        std::os::unix::fs::fchown(&file, Some(o.uid), Some(o.gid))?;
    }
    Ok(file)
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
        }
        // The parent made on the way is left alone.
        assert_eq!(owner_of(&dir.join("..")), owner_of(tmp.path()));
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
