//! A clean Go environment for one lab run: its own GOPATH, module cache,
//! build cache and HOME under the lab's temp dir, and nothing inherited
//! from the caller that could send go elsewhere.

use std::path::Path;

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
