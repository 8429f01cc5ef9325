//! The client's `/etc/resolv.conf`. `ip netns exec` bind-mounts
//! `/etc/netns/<ns>/resolv.conf` over `/etc/resolv.conf`, but only when
//! that file exists: otherwise the HOST's file shows through, and it names
//! a real resolver. So "no resolv.conf" needs more than leaving it out.

use std::ffi::OsString;
use std::path::Path;

use crate::netns::{NetnsPair, SERVER_IP};
use crate::LabError;

/// What the client's `/etc/resolv.conf` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ResolvConf {
    /// `nameserver 198.18.0.2` (the lab's DNS address, served or not).
    #[default]
    LabServer,
    /// An empty file: Go then asks 127.0.0.1:53 and [::1]:53, inside the
    /// client namespace.
    Empty,
    /// `nameserver <address>`: a server other than the lab's (e.g. one
    /// behind a client route that refuses it).
    Server(&'static str),
    /// No file at all (Go again asks 127.0.0.1:53 and [::1]:53): each lab
    /// command runs behind [`hide_args`], never seeing the host's file.
    Missing,
}

impl ResolvConf {
    /// Writes `/etc/netns/<client>/resolv.conf`, unless it must be missing.
    pub(crate) fn install(&self, netns: &NetnsPair) -> Result<(), LabError> {
        match self {
            ResolvConf::LabServer => {
                netns.write_client_resolv_conf(&format!("nameserver {SERVER_IP}\n"))
            }
            ResolvConf::Empty => netns.write_client_resolv_conf(""),
            ResolvConf::Server(ip) => netns.write_client_resolv_conf(&format!("nameserver {ip}\n")),
            ResolvConf::Missing => Ok(()),
        }
    }
}

/// Inside the mount namespace `ip netns exec` creates for one command:
/// a tmpfs on `$0` (private to that namespace), an overlay on /etc whose
/// upper dir holds a whiteout (char device 0:0) for resolv.conf, then exec
/// the command. Tools by absolute path: PATH may be the lab's go-only one.
const HIDE_RESOLV_CONF: &str = r#"set -e
/bin/mount -t tmpfs gotrace-lab "$0"
/bin/mkdir "$0/upper" "$0/work"
/bin/mknod "$0/upper/resolv.conf" c 0 0
/bin/mount -t overlay gotrace-lab -o "lowerdir=/etc,upperdir=$0/upper,workdir=$0/work" /etc
exec "$@""#;

/// The words to put between `ip netns exec <ns>` and the command so that
/// it runs with no `/etc/resolv.conf`; `mount_dir` is an empty directory
/// (the tmpfs goes there, visible only to that command).
pub(crate) fn hide_args(mount_dir: &Path) -> Vec<OsString> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        HIDE_RESOLV_CONF.into(),
        mount_dir.into(),
    ]
}
