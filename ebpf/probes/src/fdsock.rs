//! What an fd of the current task refers to, read from the kernel's own fd
//! table: `task->files->fdt->fd[fd]` is the `struct file *`; a socket's
//! file has an inode of type S_IFSOCK and `private_data` pointing at its
//! `struct socket`, whose `sk` is the `struct sock *` that every TCP
//! tracepoint names (include/linux/fdtable.h, include/linux/net.h,
//! net/socket.c sock_alloc_file).
//!
//! An fd number is only a name: between a close(2) on one thread and the
//! next open(2) on another the same number can mean a file. Looking the fd
//! up when the syscall enters makes "this fd is a socket" a fact about the
//! kernel's table at that moment, whatever close, dup2, close_range or an
//! exec with CLOEXEC did to it since the tracer last saw it.
//!
//! The offsets come from the kernel's BTF (set by the tracer); with any of
//! them unknown ([`FILES_OFF`] 0) every lookup is [`Fd::Unknown`] and the
//! probes fall back to the `SOCKFDS` bookkeeping alone.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_kernel},
    Global,
};

/// `task_struct.files`; 0 = offsets unknown, no lookups.
#[no_mangle]
static FILES_OFF: Global<u32> = Global::new(0);
/// `files_struct.fdt`.
#[no_mangle]
static FDT_OFF: Global<u32> = Global::new(0);
/// `fdtable.max_fds` (unsigned int).
#[no_mangle]
static MAX_FDS_OFF: Global<u32> = Global::new(0);
/// `fdtable.fd` (struct file **).
#[no_mangle]
static FD_ARRAY_OFF: Global<u32> = Global::new(0);
/// `file.f_inode`.
#[no_mangle]
static F_INODE_OFF: Global<u32> = Global::new(0);
/// `inode.i_mode` (umode_t, u16).
#[no_mangle]
static I_MODE_OFF: Global<u32> = Global::new(0);
/// `file.private_data` (the `struct socket *` of a socket file).
#[no_mangle]
static PRIVATE_OFF: Global<u32> = Global::new(0);
/// `socket.sk`.
#[no_mangle]
static SOCKET_SK_OFF: Global<u32> = Global::new(0);

/// File type bits of `i_mode` and the socket type (include/uapi/linux/stat.h).
const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;

/// What an fd of the current task is.
#[derive(Clone, Copy)]
pub enum Fd {
    /// A socket: its `struct sock *` (0 if the socket has none yet).
    Socket(u64),
    /// Not open, or open on something that is not a socket.
    NotSocket,
    /// The table could not be read (offsets unknown, a read failed).
    Unknown,
}

#[inline(always)]
fn read_u64(addr: u64) -> Option<u64> {
    unsafe { bpf_probe_read_kernel(addr as *const u64).ok() }
}

/// Looks `fd` up in the current task's fd table.
#[inline(always)]
pub fn lookup(fd: i32) -> Fd {
    let files_off = FILES_OFF.load() as u64;
    if files_off == 0 || fd < 0 {
        return Fd::Unknown;
    }
    let task = unsafe { bpf_get_current_task() };
    let Some(files) = read_u64(task + files_off).filter(|p| *p != 0) else { return Fd::Unknown };
    let Some(fdt) = read_u64(files + FDT_OFF.load() as u64).filter(|p| *p != 0) else { return Fd::Unknown };
    let Ok(max) = (unsafe { bpf_probe_read_kernel((fdt + MAX_FDS_OFF.load() as u64) as *const u32) }) else {
        return Fd::Unknown;
    };
    if fd as u32 >= max {
        return Fd::NotSocket;
    }
    let Some(array) = read_u64(fdt + FD_ARRAY_OFF.load() as u64).filter(|p| *p != 0) else { return Fd::Unknown };
    let Some(file) = read_u64(array + 8 * fd as u64) else { return Fd::Unknown };
    if file == 0 {
        return Fd::NotSocket;
    }
    let Some(inode) = read_u64(file + F_INODE_OFF.load() as u64).filter(|p| *p != 0) else { return Fd::Unknown };
    let Ok(mode) = (unsafe { bpf_probe_read_kernel((inode + I_MODE_OFF.load() as u64) as *const u16) }) else {
        return Fd::Unknown;
    };
    if mode & S_IFMT != S_IFSOCK {
        return Fd::NotSocket;
    }
    let sk = read_u64(file + PRIVATE_OFF.load() as u64)
        .filter(|p| *p != 0)
        .and_then(|sock| read_u64(sock + SOCKET_SK_OFF.load() as u64))
        .unwrap_or(0);
    Fd::Socket(sk)
}

/// The `struct sock *` behind `fd`, 0 when it is unknown or not a socket.
#[inline(always)]
pub fn sk_of(fd: i32) -> u64 {
    match lookup(fd) {
        Fd::Socket(sk) => sk,
        _ => 0,
    }
}
