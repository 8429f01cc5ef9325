//! A generated module graph for load tests (`cargo xtask bench`): `n`
//! modules `lab.test/m000`.. each requiring and importing the next few, a
//! GOPROXY tree serving them, and a root module importing every one, so
//! `go mod tidy` from an empty module cache fetches all `n`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{zip, LabError};

/// Each module requires (and imports) this many of the modules after it.
const FAN_OUT: usize = 3;
/// The one version every module has.
const VERSION: &str = "v1.0.0";
/// A fixed commit time for the `.info` files.
const TIME: &str = "2024-01-01T00:00:00Z";

/// Where [`generate`] put things.
#[derive(Debug, Clone)]
pub struct ModuleGraph {
    /// The GOPROXY tree (`lab.test/mNNN/@v/{list,v1.0.0.info,.mod,.zip}`),
    /// for [`crate::LabConfig::proxy_tree`].
    pub proxy_tree: PathBuf,
    /// The root module (`example.lab/graph`), for [`crate::LabConfig::module`].
    pub root_module: PathBuf,
    /// How many modules the tree serves.
    pub modules: usize,
}

/// `lab.test/mNNN`.
fn path(i: usize) -> String {
    format!("lab.test/m{i:03}")
}

/// Module `i`'s dependencies: the next [`FAN_OUT`] modules that exist.
fn deps(i: usize, n: usize) -> impl Iterator<Item = usize> {
    (i + 1..n).take(FAN_OUT)
}

/// A go.mod for `module` requiring `requires` at [`VERSION`].
fn go_mod(module: &str, requires: impl Iterator<Item = String>) -> String {
    let mut s = format!("module {module}\n\ngo 1.19\n");
    let reqs: Vec<String> = requires.collect();
    if !reqs.is_empty() {
        s.push_str("\nrequire (\n");
        for r in reqs {
            let _ = writeln!(s, "\t{r} {VERSION}");
        }
        s.push_str(")\n");
    }
    s
}

/// A Go file of package `name` importing `imports` (for their side effects).
fn go_file(name: &str, imports: impl Iterator<Item = String>, body: &str) -> String {
    let mut s = format!("package {name}\n\n");
    let imports: Vec<String> = imports.collect();
    if !imports.is_empty() {
        s.push_str("import (\n");
        for i in imports {
            let _ = writeln!(s, "\t_ \"{i}\"");
        }
        s.push_str(")\n\n");
    }
    s.push_str(body);
    s
}

/// Writes `n` modules under `dir/goproxy` and the root module under
/// `dir/root`.
pub fn generate(dir: &Path, n: usize) -> Result<ModuleGraph, LabError> {
    let tree = dir.join("goproxy");
    for i in 0..n {
        let module = path(i);
        let name = format!("m{i:03}");
        let mod_file = go_mod(&module, deps(i, n).map(path));
        let src = go_file(
            &name,
            deps(i, n).map(path),
            &format!("// Name is this module's name.\nconst Name = \"{name}\"\n"),
        );
        let at_v = tree.join(&module).join("@v");
        std::fs::create_dir_all(&at_v).map_err(LabError::io("creating", &at_v))?;
        let prefix = format!("{module}@{VERSION}");
        let zip = zip::build(&[
            (format!("{prefix}/go.mod"), mod_file.clone().into_bytes()),
            (format!("{prefix}/{name}.go"), src.into_bytes()),
        ])
        .map_err(LabError::io("zipping", &at_v))?;
        let info = format!("{{\"Version\":\"{VERSION}\",\"Time\":\"{TIME}\"}}\n");
        for (file, data) in [
            ("list".to_string(), format!("{VERSION}\n").into_bytes()),
            (format!("{VERSION}.info"), info.into_bytes()),
            (format!("{VERSION}.mod"), mod_file.into_bytes()),
            (format!("{VERSION}.zip"), zip),
        ] {
            let p = at_v.join(file);
            std::fs::write(&p, data).map_err(LabError::io("writing", &p))?;
        }
    }
    let root = dir.join("root");
    std::fs::create_dir_all(&root).map_err(LabError::io("creating", &root))?;
    let files = [
        ("go.mod", go_mod("example.lab/graph", (0..n).map(path))),
        (
            "main.go",
            go_file("main", (0..n).map(path), "func main() {}\n"),
        ),
    ];
    for (file, text) in files {
        let p = root.join(file);
        std::fs::write(&p, text).map_err(LabError::io("writing", &p))?;
    }
    Ok(ModuleGraph {
        proxy_tree: tree,
        root_module: root,
        modules: n,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn modules_require_the_next_ones_and_the_root_requires_all() {
        let dir = tempfile::tempdir().unwrap();
        let g = super::generate(dir.path(), 5).unwrap();
        let m3 = std::fs::read_to_string(g.proxy_tree.join("lab.test/m003/@v/v1.0.0.mod")).unwrap();
        assert_eq!(
            m3,
            "module lab.test/m003\n\ngo 1.19\n\nrequire (\n\tlab.test/m004 v1.0.0\n)\n"
        );
        let last =
            std::fs::read_to_string(g.proxy_tree.join("lab.test/m004/@v/v1.0.0.mod")).unwrap();
        assert_eq!(last, "module lab.test/m004\n\ngo 1.19\n");
        let root = std::fs::read_to_string(g.root_module.join("go.mod")).unwrap();
        assert_eq!(root.matches(" v1.0.0").count(), 5);
        let main = std::fs::read_to_string(g.root_module.join("main.go")).unwrap();
        assert!(main.contains("_ \"lab.test/m000\"") && main.contains("_ \"lab.test/m004\""));
        let zip = std::fs::read(g.proxy_tree.join("lab.test/m000/@v/v1.0.0.zip")).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert!(z.by_name("lab.test/m000@v1.0.0/m000.go").is_ok());
    }
}
