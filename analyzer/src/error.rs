//! Errors that stop an analysis. Everything less serious (a corrupt event
//! line, a truncated capture) is a warning in the report instead: a
//! partial bundle still deserves a verdict.

use std::path::PathBuf;

/// Why a bundle (or capture) could not be analysed at all.
///
/// Every message names the file, says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The bundle could not be read (directory or `meta.json` missing,
    /// unreadable, corrupt, or of a newer format); its message is the user's.
    #[error(transparent)]
    Bundle(#[from] gotrace_bundle::ReadError),
    /// A file exists but could not be read (permissions, I/O error).
    #[error("{path}: cannot read: {source}: check its permissions")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The capture file to analyse does not exist.
    #[error("{path}: no such file: pass a pcap or pcapng capture (tcpdump -w, Wireshark), `-` for standard input, or a bundle directory")]
    CaptureNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A capture file is not pcap/pcapng or its first block is unusable.
    #[error("{path}: {problem}: pass a pcapng or pcap file (as written by gotrace, tcpdump -w or Wireshark)")]
    Capture {
        /// The capture file.
        path: PathBuf,
        /// What is wrong with its start.
        #[source]
        problem: crate::capture::CaptureError,
    },
}

impl AnalyzeError {
    /// True when the input does not exist at all (sysexits EX_NOINPUT), as
    /// opposed to existing but being unusable (EX_DATAERR).
    pub fn is_missing_input(&self) -> bool {
        match self {
            AnalyzeError::Bundle(e) => e.is_missing_input(),
            AnalyzeError::CaptureNotFound { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_fix() {
        let e = AnalyzeError::from(gotrace_bundle::ReadError::MetaMissing { dir: "/x".into() });
        assert_eq!(
            e.to_string(),
            "bundle /x: meta.json missing: is this a gotrace bundle directory?"
        );
        assert!(e.is_missing_input());
        let e = AnalyzeError::from(gotrace_bundle::ReadError::MetaTooLarge {
            path: "/x/meta.json".into(),
            max_bytes: 4,
        });
        assert!(e.to_string().starts_with("/x/meta.json: "));
        assert!(!e.is_missing_input());
    }
}
