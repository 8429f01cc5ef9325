//! Writing the trace bundle (docs/BUNDLE.md) while the command runs.
//!
//! Everything is streamed: meta.json is written at start and replaced
//! atomically at the end, events.jsonl and stderr.log are appended and
//! flushed every poll round, so a SIGKILLed tracer leaves a bundle that
//! `gotrace analyze` still opens.
//!
//! When the command runs as another user (sudo, `--user`: see `user`), the
//! bundle directory and every file gotrace writes in it are chowned to that
//! user as soon as they are created, so even a SIGKILLed gotrace leaves a
//! bundle its user can read, move and delete. Every file goes through
//! [`BundleWriter::create_file`] for that.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gotrace_analyzer::bundle::{files, Event, Meta};
use nix::unistd::{Gid, Uid};

use crate::error::TracerError;

/// An open bundle directory.
pub struct BundleWriter {
    dir: PathBuf,
    events: BufWriter<File>,
    next_id: u64,
    /// Owner of the directory (if gotrace made it) and of every file.
    owner: Option<(Uid, Gid)>,
    /// gotrace created `dir` (it did not exist before).
    created_dir: bool,
}

/// Every file name gotrace may write in a bundle, temp files included.
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
    /// Creates `dir` (and parents). Refuses a directory that already holds a
    /// bundle, so an earlier trace is never overwritten. With `owner`, `dir`
    /// is chowned to it when gotrace creates it (not a directory that was
    /// already there, nor the parents), and so is every file written in it.
    pub fn create(dir: &Path, owner: Option<(Uid, Gid)>) -> Result<BundleWriter, TracerError> {
        let err = |e| TracerError::Bundle {
            path: dir.to_path_buf(),
            source: e,
        };
        if dir.join(files::META).exists() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it already holds a bundle; choose another -o PATH",
            )));
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let created_dir = match std::fs::create_dir(dir) {
            Ok(()) => {
                if let Some((uid, gid)) = owner {
                    nix::unistd::chown(dir, Some(uid), Some(gid)).map_err(|e| err(e.into()))?;
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

    /// Removes what gotrace wrote, when tracing could not start: never a
    /// half-made bundle that looks like a real one, and never anything else
    /// (an existing `-o` directory keeps its other contents; it is removed
    /// only if gotrace created it and it is now empty).
    pub fn discard(self) {
        for name in WRITTEN {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// Creates (or truncates) file `name` in the bundle, owned by the
    /// bundle's owner from the start.
    pub fn create_file(&self, name: &str) -> Result<File, TracerError> {
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

    /// Appends one event as a JSON line.
    pub fn write_event(&mut self, ev: &Event) -> Result<(), TracerError> {
        let line = serde_json::to_string(ev).map_err(|e| self.err(std::io::Error::other(e)))?;
        writeln!(self.events, "{line}").map_err(|e| self.err(e))?;
        self.next_id += 1;
        Ok(())
    }

    /// Flushes buffered events to the file.
    pub fn flush(&mut self) -> Result<(), TracerError> {
        self.events.flush().map_err(|e| self.err(e))
    }

    /// Writes meta.json atomically (temp file + rename).
    pub fn write_meta(&self, meta: &Meta) -> Result<(), TracerError> {
        let json =
            serde_json::to_string_pretty(meta).map_err(|e| self.err(std::io::Error::other(e)))?;
        self.write_atomic(files::META, json.as_bytes())
    }

    /// Writes verdict.json atomically.
    pub fn write_verdict(&self, json: &str) -> Result<(), TracerError> {
        self.write_atomic(files::VERDICT, json.as_bytes())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), TracerError> {
        let tmp = format!(".{name}.tmp");
        self.create_file(&tmp)?
            .write_all(bytes)
            .map_err(|e| self.err(e))?;
        std::fs::rename(self.dir.join(&tmp), self.dir.join(name)).map_err(|e| self.err(e))
    }

    fn err(&self, source: std::io::Error) -> TracerError {
        TracerError::Bundle {
            path: self.dir.clone(),
            source,
        }
    }
}

/// File::create, then fchown to `owner` (before anything is written).
fn create_owned(path: &Path, owner: Option<(Uid, Gid)>) -> std::io::Result<File> {
    let file = File::create(path)?;
    if let Some((uid, gid)) = owner {
        nix::unistd::fchown(&file, Some(uid), Some(gid))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discard_removes_only_what_gotrace_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp.path().join("existing");
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
        let w = BundleWriter::create(&mine, None).unwrap();
        w.create_file(files::STDERR).unwrap();
        w.discard();
        assert!(
            mine.join("notes.txt").is_file(),
            "a file of the user's was removed"
        );
        assert!(!mine.join(files::EVENTS).exists() && !mine.join(files::STDERR).exists());

        let fresh = tmp.path().join("fresh");
        BundleWriter::create(&fresh, None).unwrap().discard();
        assert!(!fresh.exists(), "the directory gotrace made is removed");
    }
    use gotrace_analyzer::bundle::Op;

    #[test]
    fn events_get_consecutive_ids_and_an_existing_bundle_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        let mut w = BundleWriter::create(&dir, None).unwrap();
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
        let again = BundleWriter::create(&dir, None).err().expect("must refuse");
        assert!(
            again.to_string().contains("already holds a bundle"),
            "{again}"
        );
    }

    /// Root chowns to 65534 (a real change of owner); anyone else can only
    /// "chown" to their own ids, which still runs every call.
    fn test_owner() -> (Uid, Gid) {
        if Uid::effective().is_root() {
            (Uid::from_raw(65534), Gid::from_raw(65534))
        } else {
            (Uid::effective(), Gid::effective())
        }
    }

    fn owner_of(p: &Path) -> (u32, u32) {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::symlink_metadata(p).unwrap();
        (md.uid(), md.gid())
    }

    #[test]
    fn a_new_bundle_dir_and_every_file_belong_to_the_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("made/b");
        let (uid, gid) = test_owner();
        let want = (uid.as_raw(), gid.as_raw());
        let w = BundleWriter::create(&dir, Some((uid, gid))).unwrap();
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
        // The parent gotrace made for -o is left alone.
        assert_eq!(owner_of(&dir.join("..")), owner_of(tmp.path()));
    }

    #[test]
    fn an_existing_dir_keeps_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let before = owner_of(tmp.path());
        let (uid, gid) = test_owner();
        let w = BundleWriter::create(tmp.path(), Some((uid, gid))).unwrap();
        w.write_verdict("{}").unwrap();
        assert_eq!(owner_of(tmp.path()), before);
        assert_eq!(
            owner_of(&tmp.path().join(files::VERDICT)),
            (uid.as_raw(), gid.as_raw())
        );
    }
}
