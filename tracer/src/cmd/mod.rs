//! The sub-commands: `run` and `attach` record a bundle and report on it,
//! `analyze` reports on a bundle or capture already written. What `run`
//! and `attach` share (their common options, the default bundle directory,
//! the ready file) lives here, in their parent, so neither imports the
//! other.

pub mod analyze;
pub mod attach;
pub mod json_out;
pub mod report;
pub mod run;

use std::path::PathBuf;

use crate::error::TracerError;

/// Options `gotrace run` and `gotrace attach` share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// Bundle directory; default [`default_dir`].
    pub output: Option<PathBuf>,
    /// Print the verdict as JSON on stdout instead of the text report.
    pub json: bool,
    /// File created (holding the traced PID) once tracing is live.
    pub ready_file: Option<PathBuf>,
    /// Print one line per network event as it happens (on stderr).
    pub live: bool,
    /// `--no-redact`: keep secrets (URL passwords, credential headers) in
    /// the bundle; off by default, so redaction is on.
    pub no_redact: bool,
    /// `--json-file PATH`: also write the verdict JSON there.
    pub json_file: Option<PathBuf>,
}

impl RecordOptions {
    /// Whether secrets are kept out of the bundle ([`crate::redact`]).
    pub fn redact(&self) -> bool {
        !self.no_redact
    }

    /// Where the verdict JSON goes; the file is opened as `owner`
    /// ([`json_out::JsonOutput::owner`]).
    pub fn json_output(&self, owner: Option<gotrace_bundle::Owner>) -> json_out::JsonOutput {
        json_out::JsonOutput {
            stdout: self.json,
            file: self.json_file.clone(),
            owner,
        }
    }

    /// The bundle directory to write: `-o PATH`, else [`default_dir`].
    pub fn bundle_dir(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(default_dir)
    }

    /// Creates the ready file, if one was asked for, holding `pid` and a
    /// newline, owned by `owner` (the bundle's). It is made new, through
    /// its directory's fd with `O_EXCL | O_NOFOLLOW`: it may be in a
    /// directory the traced process can write, and whatever that planted
    /// at the name (a link to a root-owned file) is refused, not written
    /// through. Errors: [`TracerError::Sys`] naming the file (EEXIST when
    /// something is already there).
    pub fn write_ready_file(
        &self,
        pid: u32,
        owner: Option<gotrace_bundle::Owner>,
    ) -> Result<(), TracerError> {
        let Some(ready) = &self.ready_file else {
            return Ok(());
        };
        let err = |e: std::io::Error| {
            let what = match e.raw_os_error() {
                Some(libc::EEXIST) => format!(
                    "writing {} (gotrace creates it and never writes through or over what is there: remove it first)",
                    ready.display()
                ),
                _ => format!("writing {}", ready.display()),
            };
            TracerError::sys(what, e)
        };
        let mut f = gotrace_bundle::create_new(ready, owner).map_err(err)?;
        std::io::Write::write_all(&mut f, format!("{pid}\n").as_bytes()).map_err(err)
    }
}

/// `./gotrace-YYYYmmdd-HHMMSS` in local time, with `-N` appended if taken.
pub fn default_dir() -> PathBuf {
    let base = chrono::Local::now()
        .format("gotrace-%Y%m%d-%H%M%S")
        .to_string();
    let mut dir = PathBuf::from(&base);
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_file_holds_the_pid_and_a_newline() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let opts = RecordOptions {
            ready_file: Some(ready.clone()),
            ..RecordOptions::default()
        };
        opts.write_ready_file(4242, None).unwrap();
        assert_eq!(std::fs::read_to_string(&ready).unwrap(), "4242\n");
        // None asked for: nothing written, no error.
        RecordOptions::default().write_ready_file(1, None).unwrap();
        // A link planted at the name is refused, its target untouched.
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep").unwrap();
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let opts = RecordOptions {
            ready_file: Some(planted),
            ..RecordOptions::default()
        };
        let e = opts.write_ready_file(1, None).unwrap_err();
        assert!(e.to_string().contains("remove it first"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn an_unwritable_ready_file_names_the_file() {
        let opts = RecordOptions {
            ready_file: Some("/nonexistent/dir/ready".into()),
            ..RecordOptions::default()
        };
        let e = opts.write_ready_file(1, None).unwrap_err();
        assert!(matches!(e, TracerError::Sys { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("writing /nonexistent/dir/ready: "),
            "{e}"
        );
    }

    #[test]
    fn output_overrides_the_default_directory() {
        let opts = RecordOptions {
            output: Some("here".into()),
            ..RecordOptions::default()
        };
        assert_eq!(opts.bundle_dir(), PathBuf::from("here"));
        let d = default_dir().display().to_string();
        // gotrace-YYYYmmdd-HHMMSS (a -N suffix only if one is taken).
        assert!(
            d.starts_with("gotrace-") && d.len() >= "gotrace-20260101-000000".len(),
            "{d}"
        );
        assert_eq!(&d[16..17], "-", "{d}");
    }
}
