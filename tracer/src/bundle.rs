//! The bundle writer is the format crate's ([`gotrace_bundle::BundleWriter`]);
//! what stays here is the tracer's side of it: its errors in the tracer's
//! terms (the `-o PATH` to choose, the exit status of [`TracerError`]).

pub use gotrace_bundle::BundleWriter;
use gotrace_bundle::WriteError;

use crate::error::TracerError;

impl From<WriteError> for TracerError {
    fn from(e: WriteError) -> TracerError {
        match e {
            WriteError::Io { dir, source } => TracerError::Bundle { path: dir, source },
            e @ (WriteError::File { .. } | WriteError::NotOurs { .. }) => {
                TracerError::BundleFile(e)
            }
            WriteError::AlreadyABundle { dir } => TracerError::Bundle {
                path: dir,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "it already holds a bundle; choose another -o PATH",
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_bundle_names_the_option_to_change() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(gotrace_bundle::files::META), "{}").unwrap();
        let e = BundleWriter::create(tmp.path(), None::<gotrace_bundle::Owner>).unwrap_err();
        assert_eq!(
            TracerError::from(e).to_string(),
            format!(
                "writing the trace bundle {}: it already holds a bundle; choose another -o PATH; check the directory is writable and the disk has space",
                tmp.path().display()
            )
        );
    }
}
