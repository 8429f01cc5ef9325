//! Writing the trace bundle (docs/BUNDLE.md) while the command runs.
//!
//! Everything is streamed: meta.json is written at start and replaced
//! atomically at the end, events.jsonl and stderr.log are appended and
//! flushed every poll round, so a SIGKILLed tracer leaves a bundle that
//! `gotrace analyze` still opens.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gotrace_analyzer::bundle::{files, Event, Meta};

use crate::error::TracerError;

/// An open bundle directory.
pub struct BundleWriter {
    dir: PathBuf,
    events: BufWriter<File>,
    next_id: u64,
}

impl BundleWriter {
    /// Creates `dir` (and parents). Refuses a directory that already holds a
    /// bundle, so an earlier trace is never overwritten.
    pub fn create(dir: &Path) -> Result<BundleWriter, TracerError> {
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
        std::fs::create_dir_all(dir).map_err(err)?;
        let events = File::create(dir.join(files::EVENTS)).map_err(err)?;
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            events: BufWriter::new(events),
            next_id: 1,
        })
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
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(|e| self.err(e))
    }

    fn err(&self, source: std::io::Error) -> TracerError {
        TracerError::Bundle {
            path: self.dir.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_analyzer::bundle::Op;

    #[test]
    fn events_get_consecutive_ids_and_an_existing_bundle_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        let mut w = BundleWriter::create(&dir).unwrap();
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
        let again = BundleWriter::create(&dir).err().expect("must refuse");
        assert!(
            again.to_string().contains("already holds a bundle"),
            "{again}"
        );
    }
}
