//! Why a bundle could not be read at all, or written. Anything less serious
//! when reading (a corrupt event line, a missing capture) is a warning in
//! [`crate::Bundle::warnings`] instead: a partial bundle still deserves an
//! analysis.

use std::path::PathBuf;

/// Reading a bundle failed ([`crate::read_bundle`], [`crate::bundle_from_bytes`]).
///
/// Every message names the path, says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The bundle directory does not exist.
    #[error("bundle {dir}: no such directory: pass the directory `gotrace run` wrote (gotrace-YYYYmmdd-HHMMSS/)")]
    NotFound {
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
        #[source]
        source: std::io::Error,
    },
    /// `meta.json` is not a regular file in the bundle, or unreadable.
    #[error("bundle {dir}: {source}")]
    Refused {
        /// The bundle directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: FileRefused,
    },
    /// `meta.json` is larger than any gotrace writes.
    #[error("{path}: not a valid gotrace meta.json (larger than {max_bytes} bytes): the bundle is damaged; re-run `gotrace run` to record a new one")]
    MetaTooLarge {
        /// The meta.json path.
        path: PathBuf,
        /// The limit, bytes.
        max_bytes: u64,
    },
    /// `meta.json` is not valid JSON of the bundle schema.
    #[error("{path}: not a valid gotrace meta.json ({source}): the bundle is damaged; re-run `gotrace run` to record a new one")]
    MetaCorrupt {
        /// The meta.json path.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The bundle was written by a newer gotrace.
    #[error("{path}: bundle format version {found} is newer than this gotrace understands ({supported}): upgrade gotrace to analyse it")]
    FormatTooNew {
        /// The meta.json path.
        path: PathBuf,
        /// `format_version` found in the file.
        found: u32,
        /// Newest version this reader understands ([`crate::FORMAT_VERSION`]).
        supported: u32,
    },
}

/// A file of the bundle that was not read: not a regular file (a link, a
/// FIFO, a directory: refused, bundles are untrusted input) or unreadable.
/// For `meta.json` this is [`ReadError::Refused`]; for the others a warning.
#[derive(Debug, thiserror::Error)]
pub enum FileRefused {
    /// Anything but a regular file inside the bundle.
    #[error("{name} is {kind}, not a regular file: not read (a bundle's files are never followed out of it nor waited on)")]
    NotRegular {
        /// The file's name in the bundle.
        name: String,
        /// "a FIFO", "a symbolic link", ...
        kind: &'static str,
    },
    /// open(2) or fstat(2) failed.
    #[error("{name}: cannot read: {source}: check its permissions")]
    Unreadable {
        /// The file's name in the bundle.
        name: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ReadError {
    /// True when the bundle does not exist at all (sysexits EX_NOINPUT), as
    /// opposed to existing but being unusable (EX_DATAERR).
    pub fn is_missing_input(&self) -> bool {
        matches!(
            self,
            ReadError::NotFound { .. } | ReadError::MetaMissing { .. }
        )
    }
}

/// Writing a bundle failed ([`crate::BundleWriter`]).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Creating or writing a file of the bundle failed.
    #[error("writing the trace bundle {dir}: {source}; check the directory is writable and the disk has space")]
    Io {
        /// The bundle directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing one file of the bundle failed (a full disk: ENOSPC, EIO).
    #[error("writing {name} in the trace bundle {dir}: {source}; {lost} bytes of it were not written; check the disk has space")]
    File {
        /// The bundle directory.
        dir: PathBuf,
        /// The file's name in it.
        name: String,
        /// Bytes that did not reach the file.
        lost: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A name the writer needs is taken by something it did not make (a
    /// link or file planted in the bundle directory): never written
    /// through, chowned or replaced.
    #[error("writing the trace bundle {dir}: {name} is {found} that gotrace did not make; refusing to write through or replace it (something in the bundle directory put it there?); remove it, or choose another directory")]
    NotOurs {
        /// The bundle directory.
        dir: PathBuf,
        /// The name in it.
        name: String,
        /// What is there ("a symbolic link", ...).
        found: &'static str,
    },
    /// The directory already holds a bundle (`meta.json`), which is never
    /// overwritten.
    #[error("writing the trace bundle {dir}: it already holds a bundle; choose another directory")]
    AlreadyABundle {
        /// The bundle directory.
        dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_fix() {
        let e = ReadError::MetaMissing { dir: "/x".into() };
        assert_eq!(
            e.to_string(),
            "bundle /x: meta.json missing: is this a gotrace bundle directory?"
        );
        assert!(e.is_missing_input());
        let e = ReadError::MetaTooLarge {
            path: "/x/meta.json".into(),
            max_bytes: 4,
        };
        assert_eq!(e.to_string(), "/x/meta.json: not a valid gotrace meta.json (larger than 4 bytes): the bundle is damaged; re-run `gotrace run` to record a new one");
        assert!(!e.is_missing_input());
    }
}
