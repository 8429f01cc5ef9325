//! Reading a bundle directory from disk, tolerating partial bundles.
//!
//! Only `meta.json` is required; a missing or damaged `events.jsonl`,
//! capture or `stderr.log` becomes a warning so a killed run still gets
//! analysed (BUNDLE.md).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::dirfd::DirFd;
use crate::error::ReadError;
use crate::untrusted::{open_bundle_dir, open_regular};
use crate::{files, Event, Meta, FORMAT_VERSION};

/// `meta.json` larger than this (bytes) is not something gotrace wrote.
const META_MAX_BYTES: u64 = 4 << 20;
/// Only the tail of a long stderr is kept (bytes): Go prints its error last.
const STDERR_TAIL_BYTES: u64 = 1 << 20;
/// Largest `events.jsonl` read (bytes): past it a warning, and the events
/// after it are not used (the trace counts as damaged), so memory stays
/// bounded; gotrace's events are a few hundred bytes each.
pub const EVENTS_MAX_BYTES: u64 = 256 << 20;
/// Largest `capture.pcapng` read (bytes): past it a warning, and later
/// packets are not indexed.
pub const CAPTURE_MAX_BYTES: u64 = 1 << 30;
/// Longest `events.jsonl` line read (bytes, newline included); gotrace's
/// events are a few hundred bytes, so a longer line is damage.
pub const MAX_EVENT_LINE_BYTES: usize = 1 << 20;
/// Bad `events.jsonl` lines listed one by one; the rest are counted.
pub const MAX_BAD_LINE_WARNINGS: usize = 20;
/// The warning for a bundle without `events.jsonl`.
const EVENTS_MISSING: &str = "events.jsonl missing: no syscall trace, the verdict can only be inconclusive about where the failure happened";

/// A bundle as read from disk.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// Parsed `meta.json`.
    pub meta: Meta,
    /// Events sorted by time (then id); `None` when `events.jsonl` is absent.
    pub events: Option<Vec<Event>>,
    /// Some lines of `events.jsonl` were unreadable: an absence of events
    /// proves nothing.
    pub events_damaged: bool,
    /// The command's stderr (its last MiB at most); `None` when absent.
    pub stderr: Option<String>,
    /// Path of `capture.pcapng` when the file exists.
    pub capture: Option<PathBuf>,
    /// Problems found while reading, for the report.
    pub warnings: Vec<String>,
    /// `capture.pcapng` as opened ([`Bundle::take_capture`]).
    pub capture_file: Option<std::sync::Arc<File>>,
}

/// Reads the bundle in `dir`.
///
/// # Errors
/// [`ReadError`] when the directory or `meta.json` is missing, unreadable
/// or corrupt; everything else is a warning in [`Bundle::warnings`].
pub fn read_bundle(dir: &Path) -> Result<Bundle, ReadError> {
    let OpenBundle { mut bundle, events } = open_bundle(dir)?;
    if let Some(input) = events {
        let mut all = Vec::new();
        let damaged = input.for_each(&mut bundle.warnings, |ev| all.push(ev));
        sort_events(&mut all);
        bundle.events = Some(all);
        bundle.events_damaged = damaged;
    }
    Ok(bundle)
}

/// A bundle opened by [`open_bundle`]: everything read but the events,
/// which [`EventsInput::for_each`] streams.
#[derive(Debug)]
pub struct OpenBundle {
    /// The bundle, with [`Bundle::events`] `None` and
    /// [`Bundle::events_damaged`] false until the events are read.
    pub bundle: Bundle,
    /// `events.jsonl`, opened; `None` when it is missing or unreadable
    /// (the warning says which).
    pub events: Option<EventsInput>,
}

/// `events.jsonl` of an [`OpenBundle`], not read yet.
#[derive(Debug)]
pub struct EventsInput {
    input: BufReader<std::io::Take<File>>,
    /// The file's size (bytes) when it is larger than what is read.
    too_large: Option<u64>,
    /// Where its warnings go among the bundle's (after meta.json's), so
    /// that they read in the order [`read_bundle`] gives them.
    warnings_at: usize,
}

impl EventsInput {
    /// Calls `each` with every readable event, in file order (not sorted:
    /// [`sort_events`] gives the order [`read_bundle`] leaves them in),
    /// adding the reading's warnings to `warnings` where [`read_bundle`]
    /// puts them. Returns whether the events are damaged (unreadable
    /// lines, or a file past [`EVENTS_MAX_BYTES`]).
    pub fn for_each(self, warnings: &mut Vec<String>, each: impl FnMut(Event)) -> bool {
        let mut mine = Vec::new();
        let damaged = for_each_event(self.input, &mut mine, each);
        if let Some(len) = self.too_large {
            mine.push(format!("events.jsonl is {len} bytes; only its first {EVENTS_MAX_BYTES} bytes were read, later events are not used"));
        }
        let at = self.warnings_at.min(warnings.len());
        warnings.splice(at..at, mine);
        damaged || self.too_large.is_some()
    }

    /// An `events.jsonl` already open (the tracer's own, through its
    /// writer's handle), read whole as [`bundle_from_bytes`] reads its
    /// bytes; its warnings go after meta.json's.
    pub fn from_file(f: File) -> EventsInput {
        EventsInput {
            input: BufReader::with_capacity(1 << 16, f.take(u64::MAX)),
            too_large: None,
            warnings_at: 0,
        }
    }
}

/// [`bundle_from_bytes`] with `events.jsonl` given as an open file, not
/// read yet ([`EventsInput::from_file`]): the events of
/// [`OpenBundle::events`] are then streamed.
///
/// # Errors
/// As [`bundle_from_bytes`].
pub fn open_bundle_from(
    dir: &Path,
    meta: &[u8],
    events: Option<File>,
    stderr: Option<&[u8]>,
) -> Result<OpenBundle, ReadError> {
    let mut bundle = bundle_from_bytes(dir, meta, None, stderr)?;
    let events = events.map(|f| {
        // bundle_from_bytes warned that there are no events: there are.
        bundle.warnings.retain(|w| w != EVENTS_MISSING);
        EventsInput {
            warnings_at: bundle.warnings.len(),
            ..EventsInput::from_file(f)
        }
    });
    bundle.events = None;
    Ok(OpenBundle { bundle, events })
}

/// Opens the bundle directory `dir` and reads all of it but the events
/// (see [`read_bundle`], which reads them too).
///
/// # Errors
/// As [`read_bundle`].
pub fn open_bundle(dir: &Path) -> Result<OpenBundle, ReadError> {
    if !dir.exists() {
        return Err(ReadError::NotFound {
            dir: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(ReadError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    let fd = open_bundle_dir(dir).map_err(|source| ReadError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let meta = read_meta(dir, &fd)?;
    let mut warnings = meta_warnings(&meta);

    let events = match open_regular(&fd, files::EVENTS) {
        Ok(Some((f, len))) => Some(EventsInput {
            input: BufReader::with_capacity(1 << 16, f.take(EVENTS_MAX_BYTES)),
            too_large: (len > EVENTS_MAX_BYTES).then_some(len),
            warnings_at: warnings.len(),
        }),
        Ok(None) => {
            warnings.push(EVENTS_MISSING.to_string());
            None
        }
        Err(e) => {
            warnings.push(format!("{e}; no syscall trace"));
            None
        }
    };

    let capture = match open_regular(&fd, files::CAPTURE) {
        Ok(Some((f, len))) => {
            if len > CAPTURE_MAX_BYTES {
                warnings.push(format!("capture.pcapng is {len} bytes; only its first {CAPTURE_MAX_BYTES} bytes are read, later packets are not used"));
            }
            Some(std::sync::Arc::new(f))
        }
        Ok(None) => {
            warnings.push("capture.pcapng missing: no packet evidence, network failures cannot be confirmed on the wire".to_string());
            None
        }
        Err(e) => {
            warnings.push(format!("{e}; no packet evidence"));
            None
        }
    };

    let stderr = read_stderr(&fd, &mut warnings);
    Ok(OpenBundle {
        bundle: Bundle {
            dir: dir.to_path_buf(),
            meta,
            events: None,
            events_damaged: false,
            stderr,
            capture: capture.is_some().then(|| dir.join(files::CAPTURE)),
            capture_file: capture,
            warnings,
        },
        events,
    })
}

impl Bundle {
    /// The bundle's `capture.pcapng`, already opened by [`read_bundle`]
    /// (a regular file inside the bundle, never a link or FIFO), bounded to
    /// its first [`CAPTURE_MAX_BYTES`]. `None` for a bundle without one or
    /// from [`bundle_from_bytes`], or once taken: it is read once.
    pub fn take_capture(&mut self) -> Option<std::io::Take<File>> {
        let f = self.capture_file.take()?;
        let f = std::sync::Arc::try_unwrap(f)
            .or_else(|a| a.try_clone())
            .ok()?;
        Some(f.take(CAPTURE_MAX_BYTES))
    }
}

/// The warnings `meta.json` alone raises: an unfinished trace, lost events
/// and packets, and the tracer's own warnings.
fn meta_warnings(meta: &Meta) -> Vec<String> {
    let mut warnings: Vec<String> = unfinished_warning(meta).into_iter().collect();
    if meta.lost_events > 0 {
        warnings.push(format!(
            "{} events were lost by the kernel ring buffer: the syscall trace is incomplete",
            meta.lost_events
        ));
    }
    if meta.dropped_packets > 0 {
        warnings.push(format!(
            "{} packets were dropped by the capture socket: the capture is incomplete",
            meta.dropped_packets
        ));
    }
    for w in &meta.warnings {
        warnings.push(format!("tracer: {w}"));
    }
    warnings
}

/// A bundle from in-memory file contents (`meta.json`, `events.jsonl`,
/// `stderr.log`; `None` for a missing file), read as [`read_bundle`] reads
/// a directory: for fuzzing and for tools that hold a bundle in memory.
/// `dir` only names the bundle in messages. The capture is not part of it:
/// the analyzer indexes it on its own (`gotrace_analyzer::capture::CaptureIndex::from_reader`)
/// and takes both (`gotrace_analyzer::analyze`).
///
/// # Errors
/// [`ReadError::MetaTooLarge`], [`ReadError::MetaCorrupt`] or
/// [`ReadError::FormatTooNew`] when `meta` is not a usable `meta.json`.
pub fn bundle_from_bytes(
    dir: &Path,
    meta: &[u8],
    events: Option<&[u8]>,
    stderr: Option<&[u8]>,
) -> Result<Bundle, ReadError> {
    let meta = parse_meta(meta, dir.join(files::META))?;
    let mut warnings = meta_warnings(&meta);
    let (events, events_damaged) = match events {
        Some(bytes) => {
            let read = read_events(bytes, &mut warnings);
            (Some(read.events), read.damaged)
        }
        None => {
            warnings.push(EVENTS_MISSING.to_string());
            (None, false)
        }
    };
    // Only the tail is kept, as from a file.
    let stderr = stderr.map(|b| {
        let tail = b.len().saturating_sub(STDERR_TAIL_BYTES as usize);
        String::from_utf8_lossy(b.get(tail..).unwrap_or_default()).into_owned()
    });
    Ok(Bundle {
        dir: dir.to_path_buf(),
        meta,
        events,
        events_damaged,
        stderr,
        capture: None,
        capture_file: None,
        warnings,
    })
}

/// The warning for a trace that did not end normally, if any.
///
/// `gotrace run` always records the exit status and the end time, so
/// missing either means the tracer was killed. `gotrace attach` may
/// detach from a process that keeps running (`attach.ended_by`
/// `interrupted`, `duration`): no exit status, but an end time, which is
/// normal (the report's header says so). Without an end time the tracer
/// was killed whatever the mode.
fn unfinished_warning(meta: &Meta) -> Option<String> {
    const KILLED: &str = "meta.json has no exit status or end time: the trace was not finished (gotrace was killed?); analysing what was recorded";
    if meta.end_monotonic_ns.is_none() {
        return Some(KILLED.to_string());
    }
    if meta.exit.is_some() {
        return None;
    }
    let attach = meta.attach.as_ref();
    match attach.and_then(|a| a.ended_by.as_deref().map(|by| (a.pid, by))) {
        Some((_, "interrupted" | "duration")) => None,
        Some((pid, "exited")) => Some(format!(
            "meta.json has no exit status although PID {pid} exited while traced (its exit event was lost?)"
        )),
        _ => Some(KILLED.to_string()),
    }
}

fn read_meta(dir: &Path, fd: &DirFd) -> Result<Meta, ReadError> {
    let path = dir.join(files::META);
    let file = match open_regular(fd, files::META) {
        Ok(Some((f, _))) => f,
        Ok(None) => {
            return Err(ReadError::MetaMissing {
                dir: dir.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(ReadError::Refused {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(META_MAX_BYTES + 1).read_to_end(&mut bytes) {
        return Err(ReadError::Unreadable { path, source: e });
    }
    parse_meta(&bytes, path)
}

/// Parses the bytes of `meta.json` (`path` names it in errors), refusing
/// more than [`META_MAX_BYTES`].
fn parse_meta(bytes: &[u8], path: PathBuf) -> Result<Meta, ReadError> {
    if bytes.len() as u64 > META_MAX_BYTES {
        return Err(ReadError::MetaTooLarge {
            path,
            max_bytes: META_MAX_BYTES,
        });
    }
    // Check the version before the schema, so a newer bundle gets "upgrade"
    // instead of a confusing missing-field error.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| ReadError::MetaCorrupt {
            path: path.clone(),
            source,
        })?;
    if let Some(v) = value.get("format_version").and_then(|v| v.as_u64()) {
        if v > u64::from(FORMAT_VERSION) {
            return Err(ReadError::FormatTooNew {
                path,
                found: u32::try_from(v).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
    }
    serde_json::from_value(value).map_err(|source| ReadError::MetaCorrupt { path, source })
}

/// What [`read_events`] got out of `events.jsonl`.
#[derive(Debug, Clone, Default)]
pub struct ReadEvents {
    /// Events sorted by time (then id).
    pub events: Vec<Event>,
    /// Some lines were unreadable (or reading stopped at an I/O error): an
    /// absence of events proves nothing.
    pub damaged: bool,
}

/// Parses `events.jsonl`. A bad last line is reported as truncation (the
/// tracer died mid-write); a bad line elsewhere is skipped with its number.
///
/// Memory is bounded whatever the input: a line longer than
/// [`MAX_EVENT_LINE_BYTES`] is skipped (one warning), and only the first
/// [`MAX_BAD_LINE_WARNINGS`] bad lines are listed, then a count of the rest.
pub fn read_events<R: BufRead>(input: R, warnings: &mut Vec<String>) -> ReadEvents {
    let mut events = Vec::new();
    let damaged = for_each_event(input, warnings, |ev| events.push(ev));
    sort_events(&mut events);
    ReadEvents { events, damaged }
}

/// Sorts events as [`read_events`] leaves them: by time, then id. The ring
/// buffer is per CPU, so file order may differ slightly from time order.
pub fn sort_events(events: &mut [Event]) {
    events.sort_by_key(|e| (e.ts_ns, e.id));
}

/// [`read_events`] without keeping the events: `each` gets every readable
/// one in file order. Returns whether some lines were unreadable (or
/// reading stopped at an I/O error).
pub fn for_each_event<R: BufRead>(
    mut input: R,
    warnings: &mut Vec<String>,
    mut each: impl FnMut(Event),
) -> bool {
    let mut damaged = false;
    // The first bad lines, the total, and the latest one past the list (it
    // may be the truncated last line, reported whatever the cap).
    let mut bad: Vec<(usize, BadLine)> = Vec::new();
    let mut bad_total = 0usize;
    let mut bad_latest: Option<(usize, BadLine)> = None;
    let mut last_nonempty = 0usize;
    let mut line = Vec::new();
    let mut lineno = 0usize;
    loop {
        let too_long = match read_line_capped(&mut input, &mut line, MAX_EVENT_LINE_BYTES) {
            Ok(None) => break,
            Ok(Some(too_long)) => too_long,
            Err(e) => {
                warnings.push(format!(
                    "events.jsonl: read error after line {lineno}: {e}; later events are not used"
                ));
                damaged = true;
                break;
            }
        };
        lineno += 1;
        let problem = if too_long {
            BadLine::TooLong
        } else {
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Event>(text) {
                Ok(ev) => {
                    each(ev);
                    last_nonempty = lineno;
                    continue;
                }
                Err(e) => BadLine::Json(e.to_string()),
            }
        };
        last_nonempty = lineno;
        bad_total += 1;
        if bad.len() < MAX_BAD_LINE_WARNINGS {
            bad.push((lineno, problem));
        } else {
            bad_latest = Some((lineno, problem));
        }
    }
    damaged |= bad_total > 0;
    let mut unlisted = bad_total - bad.len();
    let truncated_last = bad_latest.filter(|(n, _)| *n == last_nonempty);
    if truncated_last.is_some() {
        unlisted -= 1;
    }
    for (n, problem) in bad {
        warnings.push(problem.warning(n, n == last_nonempty));
    }
    if unlisted > 0 {
        warnings.push(format!(
            "events.jsonl: {unlisted} more unreadable lines skipped (only the first {MAX_BAD_LINE_WARNINGS} are listed)"
        ));
    }
    if let Some((n, problem)) = truncated_last {
        warnings.push(problem.warning(n, true));
    }
    damaged
}

/// Why a line of `events.jsonl` was not used.
enum BadLine {
    /// Not an event (serde's message).
    Json(String),
    /// Longer than [`MAX_EVENT_LINE_BYTES`].
    TooLong,
}

impl BadLine {
    fn warning(&self, n: usize, last: bool) -> String {
        match self {
            BadLine::TooLong => format!(
                "events.jsonl:{n}: line longer than {MAX_EVENT_LINE_BYTES} bytes skipped (not something gotrace writes)"
            ),
            BadLine::Json(err) if last => format!(
                "events.jsonl:{n}: last line is truncated ({err}); the trace ends early (tracer killed?)"
            ),
            BadLine::Json(err) => format!("events.jsonl:{n}: corrupt line skipped ({err})"),
        }
    }
}

/// Reads one line (newline included) into `line`, keeping at most `max`
/// bytes: the rest of a longer line is consumed and dropped. `None` at the
/// end of input, else whether the line was longer than `max`.
fn read_line_capped<R: BufRead>(
    input: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (n, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + n <= max {
                line.extend_from_slice(buf.get(..n).unwrap_or_default());
            } else {
                too_long = true;
                line.clear();
            }
        }
        input.consume(n);
        if end {
            return Ok(Some(too_long));
        }
    }
}

fn read_stderr(fd: &DirFd, warnings: &mut Vec<String>) -> Option<String> {
    let (mut f, len) = match open_regular(fd, files::STDERR) {
        Ok(Some(f)) => f,
        Ok(None) => {
            // The wording of a failed open(2), as before.
            let e = std::io::Error::from_raw_os_error(libc::ENOENT);
            warnings.push(format!(
                "stderr.log: {e}: Go's error message cannot be matched to the trace"
            ));
            return None;
        }
        Err(e) => {
            warnings.push(format!(
                "{e}: Go's error message cannot be matched to the trace"
            ));
            return None;
        }
    };
    if len > STDERR_TAIL_BYTES {
        if f.seek(SeekFrom::Start(len - STDERR_TAIL_BYTES)).is_err() {
            return None;
        }
        warnings.push(format!(
            "stderr.log is {len} bytes; only its last {STDERR_TAIL_BYTES} bytes were read"
        ));
    }
    let mut bytes = Vec::new();
    if let Err(e) = f.take(STDERR_TAIL_BYTES).read_to_end(&mut bytes) {
        warnings.push(format!("stderr.log: read error: {e}"));
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64) -> String {
        format!(
            r#"{{"id":{id},"ts_ns":{},"tgid":1,"tid":1,"comm":"go","kind":"close","fd":3,"ret":0}}"#,
            100 - id
        )
    }

    #[test]
    fn truncated_last_line_and_corrupt_middle_line() {
        let text = format!("{}\nnot json\n{}\n{{\"id\":4,\"ts", line(1), line(3));
        let mut w = Vec::new();
        let read = read_events(text.as_bytes(), &mut w);
        assert!(read.damaged);
        let ev = read.events;
        assert_eq!(ev.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 1]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("events.jsonl:2: corrupt line skipped"));
        assert!(w[1].starts_with("events.jsonl:4: last line is truncated"));
    }

    #[test]
    fn an_over_long_line_is_skipped_with_one_warning() {
        let long = "x".repeat(MAX_EVENT_LINE_BYTES + 10);
        let text = format!("{}\n{long}\n{}\n", line(1), line(3));
        // A small buffer makes the reader cross many chunk boundaries.
        for cap in [7, 1 << 16] {
            let mut w = Vec::new();
            let read = read_events(
                std::io::BufReader::with_capacity(cap, text.as_bytes()),
                &mut w,
            );
            assert_eq!(
                read.events.iter().map(|e| e.id).collect::<Vec<_>>(),
                vec![3, 1]
            );
            assert!(read.damaged);
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(
                w[0].starts_with("events.jsonl:2: line longer than 1048576 bytes"),
                "{w:?}"
            );
        }
        // Without any newline (a file of garbage): one warning, no events.
        let mut w = Vec::new();
        let endless = std::io::BufReader::new(std::io::repeat(b'x').take(3 << 20));
        let read = read_events(endless, &mut w);
        assert!(read.events.is_empty() && read.damaged);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("events.jsonl:1: line longer than"),
            "{w:?}"
        );
        // A line of exactly the limit (newline included) is still read.
        let mut exact = line(5);
        exact.push_str(&" ".repeat(MAX_EVENT_LINE_BYTES - exact.len() - 1));
        exact.push('\n');
        let mut w = Vec::new();
        let read = read_events(exact.as_bytes(), &mut w);
        assert_eq!(read.events.len(), 1, "{w:?}");
        assert!(w.is_empty() && !read.damaged);
    }

    #[test]
    fn bad_line_warnings_are_capped() {
        let mut text = String::new();
        for _ in 0..50 {
            text.push_str("garbage\n");
        }
        text.push_str(&line(1));
        text.push('\n');
        let mut w = Vec::new();
        let read = read_events(text.as_bytes(), &mut w);
        assert_eq!(read.events.len(), 1);
        assert!(read.damaged);
        assert_eq!(w.len(), MAX_BAD_LINE_WARNINGS + 1, "{w:?}");
        assert!(w[0].starts_with("events.jsonl:1: corrupt line skipped"));
        assert!(w[19].starts_with("events.jsonl:20: corrupt line skipped"));
        assert!(
            w[20].starts_with("events.jsonl: 30 more unreadable lines skipped"),
            "{w:?}"
        );
        // A truncated last line is still reported past the cap.
        text.push_str("{\"id\":9,\"ts");
        let mut w = Vec::new();
        read_events(text.as_bytes(), &mut w);
        assert_eq!(w.len(), MAX_BAD_LINE_WARNINGS + 2, "{w:?}");
        assert!(w[20].starts_with("events.jsonl: 30 more"), "{w:?}");
        assert!(
            w[21].starts_with("events.jsonl:52: last line is truncated"),
            "{w:?}"
        );
    }

    #[test]
    fn an_over_large_meta_is_refused_from_disk_and_from_memory() {
        let big = vec![b' '; META_MAX_BYTES as usize + 1];
        let e = bundle_from_bytes(Path::new("mem"), &big, None, None).unwrap_err();
        assert!(
            matches!(&e, ReadError::MetaTooLarge { path, .. } if path == Path::new("mem/meta.json")),
            "{e}"
        );
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(files::META), &big).unwrap();
        let e = read_bundle(tmp.path()).unwrap_err();
        assert!(matches!(e, ReadError::MetaTooLarge { .. }), "{e}");
        // One byte less is parsed (and is not JSON of a bundle).
        let e = bundle_from_bytes(Path::new("mem"), &big[1..], None, None).unwrap_err();
        assert!(matches!(e, ReadError::MetaCorrupt { .. }), "{e}");
    }

    #[test]
    fn blank_lines_and_missing_final_newline_are_fine() {
        let text = format!("\n{}\n\n{}", line(1), line(2));
        let mut w = Vec::new();
        let read = read_events(text.as_bytes(), &mut w);
        assert_eq!(read.events.len(), 2);
        assert!(!read.damaged);
        assert!(w.is_empty());
    }
}
