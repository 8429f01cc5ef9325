//! Where the benchmark writes, and the cleanup: a new temporary directory
//! (removed at the end), or `--out DIR` (only the files the benchmark made
//! there are removed). `--keep` keeps everything.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The benchmark's directory; cleans up on drop, errors and Ctrl-C included.
pub struct WorkDir {
    dir: PathBuf,
    temp: Option<tempfile::TempDir>,
    made: RefCell<Vec<PathBuf>>,
    keep: bool,
}

impl WorkDir {
    /// Uses `out` (created if missing) or a new directory in the system's
    /// temporary directory.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(out: Option<&Path>, keep: bool) -> Result<WorkDir, String> {
        let (dir, temp) = match out {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .map_err(|e| format!("creating --out {}: {e}", d.display()))?;
                (d.to_path_buf(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("gotrace-bench-")
                    .tempdir()
                    .map_err(|e| {
                        format!(
                            "creating a directory in {}: {e} (set TMPDIR or pass --out DIR)",
                            std::env::temp_dir().display()
                        )
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        Ok(WorkDir {
            dir,
            temp,
            made: RefCell::new(Vec::new()),
            keep,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of a file the benchmark will make (removed at the end).
    pub fn file(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        self.made.borrow_mut().push(p.clone());
        p
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            if let Some(t) = self.temp.take() {
                let _ = t.keep();
            }
            return;
        }
        for p in self.made.borrow().iter() {
            let _ = std::fs::remove_file(p);
        }
        // A TempDir removes itself (and anything left in it) when dropped.
    }
}
