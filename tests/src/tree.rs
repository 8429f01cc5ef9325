//! The static GOPROXY tree the lab's module proxy serves, built from
//! `fixtures/goproxy/` at setup time (no binary zip is committed).

use std::path::{Path, PathBuf};

use crate::{paths, zip, LabError};

/// Copies `fixtures/goproxy/tree` into `dest` and writes each module zip
/// from `fixtures/goproxy/zip/<module>@<version>/` into
/// `dest/<module>/@v/<version>.zip`. Returns `dest`.
pub fn build_tree(dest: &Path) -> Result<PathBuf, LabError> {
    let src = paths::fixtures_dir().join("goproxy");
    copy_dir(&src.join("tree"), dest)?;
    let zips = src.join("zip");
    for module_dir in walk_module_dirs(&zips)? {
        let rel = module_dir
            .strip_prefix(&zips)
            .unwrap_or(&module_dir)
            .to_string_lossy()
            .into_owned();
        let Some((module, version)) = rel.rsplit_once('@') else {
            continue;
        };
        let mut entries = Vec::new();
        for file in files_under(&module_dir)? {
            let inner = file
                .strip_prefix(&module_dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            let data = std::fs::read(&file).map_err(LabError::io("reading", &file))?;
            entries.push((format!("{rel}/{inner}"), data));
        }
        entries.sort();
        let out = dest.join(module).join("@v").join(format!("{version}.zip"));
        let bytes = zip::build(&entries).map_err(LabError::io("zipping", &out))?;
        std::fs::write(&out, bytes).map_err(LabError::io("writing", &out))?;
    }
    Ok(dest.to_path_buf())
}

/// Directories whose name contains `@` (a `module@version` root) under `root`.
fn walk_module_dirs(root: &Path) -> Result<Vec<PathBuf>, LabError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(LabError::io("listing", &dir))? {
            let path = entry.map_err(LabError::io("listing", &dir))?.path();
            if !path.is_dir() {
                continue;
            }
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains('@'))
            {
                found.push(path);
            } else {
                stack.push(path);
            }
        }
    }
    Ok(found)
}

/// Every regular file under `root`, recursively.
pub(crate) fn files_under(root: &Path) -> Result<Vec<PathBuf>, LabError> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(LabError::io("listing", &dir))? {
            let path = entry.map_err(LabError::io("listing", &dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Copies the directory tree `src` to `dest` (created if needed).
pub fn copy_dir(src: &Path, dest: &Path) -> Result<(), LabError> {
    for file in files_under(src)? {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(LabError::io("creating", parent))?;
        }
        std::fs::copy(&file, &target).map_err(LabError::io("copying", &file))?;
    }
    Ok(())
}
