//! The kernel fd-table offsets the syscall probes read (`ebpf/probes`
//! fdsock.rs): with them, an fd is a socket only while the kernel's own
//! table says so, and every syscall event on a socket carries its
//! `struct sock *`, the identity the TCP tracepoints use.

use std::path::Path;

use gotrace_abi::globals;

use crate::record::btf;

/// `(struct, member)` pairs in the order of [`GLOBALS`]
/// (include/linux/sched.h, fdtable.h, fs.h, net.h).
const MEMBERS: [(&str, &str); 8] = [
    ("task_struct", "files"),
    ("files_struct", "fdt"),
    ("fdtable", "max_fds"),
    ("fdtable", "fd"),
    ("file", "f_inode"),
    ("inode", "i_mode"),
    ("file", "private_data"),
    ("socket", "sk"),
];

/// The probe globals [`MEMBERS`] set, in the same order.
const GLOBALS: [&str; 8] = [
    globals::FILES_OFF,
    globals::FDT_OFF,
    globals::MAX_FDS_OFF,
    globals::FD_ARRAY_OFF,
    globals::F_INODE_OFF,
    globals::I_MODE_OFF,
    globals::PRIVATE_OFF,
    globals::SOCKET_SK_OFF,
];

/// The globals to load the probes with, from the BTF at `path`; none when
/// any member is missing (the probes then trust their own fd bookkeeping),
/// with a warning saying what that loses.
pub fn globals(path: &Path, warnings: &mut Vec<String>) -> Vec<(&'static str, u32)> {
    let found = btf::member_offsets(path, &MEMBERS)
        .and_then(|r| r.into_iter().collect::<Result<Vec<u32>, _>>());
    match found {
        // files_struct.fdt at offset 0 would read as "unknown" in the probe;
        // no kernel has task_struct.files there.
        Ok(offsets) if offsets.len() == GLOBALS.len() && offsets[0] != 0 => {
            GLOBALS.iter().copied().zip(offsets).collect()
        }
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => "task_struct.files at offset 0".into(),
            };
            warnings.push(format!(
                "fds are not checked against the kernel's fd table ({why}): an fd number reused by a file right after a socket's close may be recorded as socket I/O, and syscall events carry no socket address"
            ));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_kernel_has_every_member() {
        let path = Path::new(btf::VMLINUX);
        if !path.exists() {
            eprintln!("no {}: skipped", path.display());
            return;
        }
        let mut w = Vec::new();
        let g = globals(path, &mut w);
        assert!(w.is_empty(), "{w:?}");
        let off = |name: &str| g.iter().find(|(n, _)| *n == name).map(|(_, o)| *o);
        // Layouts unchanged from 5.10 to 6.18 on x86_64 (include/linux/fdtable.h,
        // fs.h, net.h): a wrong member lookup shows here.
        assert_eq!(off(globals::MAX_FDS_OFF), Some(0), "{g:?}");
        assert_eq!(off(globals::FD_ARRAY_OFF), Some(8), "{g:?}");
        assert_eq!(off(globals::I_MODE_OFF), Some(0), "{g:?}");
        assert_eq!(off(globals::SOCKET_SK_OFF), Some(24), "{g:?}");
        assert!(off(globals::FILES_OFF).is_some_and(|o| o > 0), "{g:?}");
    }

    #[test]
    fn unreadable_btf_is_a_warning_and_no_globals() {
        let mut w = Vec::new();
        assert!(globals(Path::new("/nonexistent/btf"), &mut w).is_empty());
        assert!(w[0].contains("fd table"), "{w:?}");
    }
}
