//! Errors that stop an analysis. Everything less serious (a corrupt event
//! line, a truncated capture) is a warning in the report instead: a
//! partial bundle still deserves a verdict.

use std::path::PathBuf;

/// Why a bundle (or capture) could not be analysed at all.
///
/// Every message names the file, says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The bundle directory does not exist.
    #[error("bundle {dir}: no such directory: pass the directory `gotrace run` wrote (gotrace-YYYYmmdd-HHMMSS/)")]
    BundleNotFound {
        /// The path given.
        dir: PathBuf,
    },
    /// The path exists but is not a directory.
    #[error("bundle {dir}: not a directory: pass the bundle directory, not a file inside it (a bare pcap/pcapng capture is analysed with analyze_capture_path, `gotrace analyze FILE`)")]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// `meta.json` is absent.
    #[error("bundle {dir}: meta.json missing: is this a gotrace bundle directory?")]
    MetaMissing {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// A file exists but could not be read (permissions, I/O error).
    #[error("{path}: cannot read: {source}: check its permissions")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `meta.json` is not valid JSON of the bundle schema.
    #[error("{path}: not a valid gotrace meta.json ({detail}): the bundle is damaged; re-run `gotrace run` to record a new one")]
    MetaCorrupt {
        /// The meta.json path.
        path: PathBuf,
        /// What the JSON parser said.
        detail: String,
    },
    /// The bundle was written by a newer gotrace.
    #[error("{path}: bundle format version {found} is newer than this gotrace understands ({supported}): upgrade gotrace to analyse it")]
    FormatTooNew {
        /// The meta.json path.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Newest version this analyzer reads.
        supported: u32,
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
        matches!(
            self,
            AnalyzeError::BundleNotFound { .. }
                | AnalyzeError::MetaMissing { .. }
                | AnalyzeError::CaptureNotFound { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_fix() {
        let e = AnalyzeError::MetaMissing { dir: "/x".into() };
        assert_eq!(
            e.to_string(),
            "bundle /x: meta.json missing: is this a gotrace bundle directory?"
        );
        assert!(e.is_missing_input());
        let e = AnalyzeError::MetaCorrupt {
            path: "/x/meta.json".into(),
            detail: "EOF".into(),
        };
        assert!(e.to_string().starts_with("/x/meta.json: "));
        assert!(!e.is_missing_input());
    }
}
