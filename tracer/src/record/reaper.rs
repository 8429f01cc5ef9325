//! Taking the probes' detach cost out of the user's wait.
//!
//! Closing a perf-event tracepoint link takes an RCU grace period in the
//! closing task (perf_trace_destroy -> tracepoint_synchronize_unregister,
//! serialised on event_mutex: ~70 ms per link measured on 6.18, issue 15),
//! and a process's exit closes its fds before its parent can reap it. So
//! at the end of a run gotrace forks a *reaper* that holds copies of the
//! eBPF fds and the capture's packet sockets (whose close waits for an RCU
//! grace period too, [`Probes::linger`]), and nothing else (no pipe, no
//! bundle file), then exits: its
//! own closes only drop references. The reaper has PR_SET_PDEATHSIG =
//! SIGKILL (prctl(2)), so it dies as soon as gotrace does, however gotrace
//! ends, and its exit does the slow release with nobody waiting on it.

use std::os::fd::RawFd;

use crate::record::probes::Probes;

/// Ends `probes` without waiting for the kernel to detach them: forks the
/// reaper (see the module doc), then drops them here. If the fork fails,
/// they are dropped here with the usual wait.
pub fn hand_off(probes: Probes) {
    let mut keep = ebpf_fds();
    keep.extend(probes.lingering());
    let max = max_fd(&keep);
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child runs only async-signal-safe calls (signal, prctl,
    // getppid, close, pause, _exit) on memory allocated before the fork, as
    // required after fork(2) in a multi-threaded process.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { reaper(parent, &keep, max) }
    }
    drop(probes);
}

/// The reaper's life: never returns.
///
/// # Safety
/// Only to be called in the child of fork(2).
unsafe fn reaper(parent: libc::pid_t, keep: &[RawFd], max: RawFd) -> ! {
    // Ctrl-C and friends end it like gotrace; gotrace's handlers are not
    // meant for this process.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        libc::signal(sig, libc::SIG_DFL);
    }
    libc::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        0,
        0,
        0,
    );
    // gotrace may have died before the prctl: the signal then never comes.
    if libc::getppid() != parent {
        libc::_exit(0);
    }
    for fd in 0..=max {
        if !keep.contains(&fd) {
            libc::close(fd);
        }
    }
    loop {
        libc::pause();
    }
}

/// gotrace's open eBPF objects: fds whose /proc/self/fd link names a bpf
/// anon inode (`anon_inode:bpf-link`, `bpf-prog`, `bpf-map`) or a perf
/// event (`anon_inode:[perf_event]`, classic tracepoint attachments).
fn ebpf_fds() -> Vec<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let fd: RawFd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let t = target.to_string_lossy();
            (t.starts_with("anon_inode:bpf") || t == "anon_inode:[perf_event]").then_some(fd)
        })
        .collect()
}

/// The highest fd to close in the reaper: the soft RLIMIT_NOFILE bound,
/// capped so a huge limit does not mean millions of close calls.
fn max_fd(keep: &[RawFd]) -> RawFd {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall with a valid pointer.
    let cur = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(65536) as RawFd
    } else {
        1024
    };
    cur.max(keep.iter().copied().max().unwrap_or(0) + 1)
}
