//! A clean Go environment for one lab run: its own GOPATH, module cache,
//! build cache and HOME under the lab's temp dir, and nothing inherited
//! from the caller that could send go elsewhere.

use std::path::Path;

use crate::LabError;

/// The PATH lab commands see (go, git, and the usual system dirs).
pub const LAB_PATH: &str =
    "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Environment for `go` in the lab, rooted at `home` (created by the
/// caller), with GOPROXY set to `goproxy`. The caller clears the rest of
/// the environment, so GOTOOLCHAIN, GOFLAGS from the user, proxies, etc.
/// are all unset.
pub fn go_env(home: &Path, goproxy: &str) -> Vec<(String, String)> {
    let h = |sub: &str| home.join(sub).display().to_string();
    vec![
        ("PATH".into(), LAB_PATH.into()),
        ("HOME".into(), home.display().to_string()),
        ("GOPATH".into(), h("gopath")),
        ("GOMODCACHE".into(), h("gopath/pkg/mod")),
        ("GOCACHE".into(), h("gocache")),
        ("GOENV".into(), "off".into()),
        ("GOPROXY".into(), goproxy.into()),
        // The lab's modules are not in any checksum database, and there is none to ask.
        ("GOSUMDB".into(), "off".into()),
        ("GONOSUMDB".into(), "lab.test".into()),
        // -modcacherw: the cache stays deletable without chmod games.
        ("GOFLAGS".into(), "-mod=mod -modcacherw".into()),
        ("GOWORK".into(), "off".into()),
        // Never download a toolchain (Go >= 1.21 would on a newer go.mod); 1.19 ignores it.
        ("GOTOOLCHAIN".into(), "local".into()),
        ("LANG".into(), "C".into()),
    ]
}

/// The PATH lab commands get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathEnv {
    /// [`LAB_PATH`].
    #[default]
    Lab,
    /// A directory holding nothing but a `go` symlink: no git (Go's
    /// `direct` fetches need it), no ssh, no shell tools.
    GoOnly,
}

impl PathEnv {
    /// The PATH value; for [`PathEnv::GoOnly`] this creates
    /// `<work>/go-only-bin/go` pointing at the go found on [`LAB_PATH`].
    pub(crate) fn prepare(self, work: &Path) -> Result<String, LabError> {
        match self {
            PathEnv::Lab => Ok(LAB_PATH.into()),
            PathEnv::GoOnly => {
                let go = LAB_PATH
                    .split(':')
                    .map(|dir| Path::new(dir).join("go"))
                    .find(|p| p.is_file())
                    .ok_or_else(|| LabError::MissingTool("go".into()))?;
                let bin = work.join("go-only-bin");
                std::fs::create_dir_all(&bin).map_err(LabError::io("creating", &bin))?;
                let link = bin.join("go");
                std::os::unix::fs::symlink(&go, &link).map_err(LabError::io("linking", &link))?;
                Ok(bin.display().to_string())
            }
        }
    }
}

/// `base` with each `(name, value)` of `overrides` replacing the variable
/// of that name, or added when `base` has none.
pub fn with_overrides(
    mut base: Vec<(String, String)>,
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    for (name, value) in overrides {
        base.retain(|(n, _)| n != name);
        base.push((name.clone(), value.clone()));
    }
    base
}
