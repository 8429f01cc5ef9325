//! The lab's error type.

use std::path::PathBuf;

/// Why the lab could not be set up or a command in it could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab needs root (network namespaces, veths, /etc/netns).
    #[error("the lab needs root (network namespaces, veth pairs, /etc/netns); run as root, e.g. `sudo cargo xtask test`")]
    NotRoot,
    /// A program the lab needs is not installed.
    #[error("`{0}` not found; run `sudo cargo xtask setup` to install the lab's tools")]
    MissingTool(String),
    /// A setup command ran but failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line, for the message.
        cmd: String,
        /// Its exit status, as text.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file or process operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or program involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server did not become ready in time.
    #[error("{0} did not become ready within {1:?}")]
    NotReady(String, std::time::Duration),
    /// A lab state could not be reached (the check after the commands).
    #[error("the lab could not {what}: {detail}")]
    Setup {
        /// The state sought.
        what: &'static str,
        /// What was found instead.
        detail: String,
    },
    /// A server process exited during setup.
    #[error("{name} exited during setup ({status}): {stderr}")]
    ServerDied {
        /// Which server.
        name: String,
        /// Its exit status, as text.
        status: String,
        /// The tail of its stderr log.
        stderr: String,
    },
}

impl LabError {
    /// Wraps an I/O error with what was being done and on which path.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LabError::Io { what, path, source }
    }
}
