//! Loading the embedded eBPF object, attaching its programs (raw
//! tracepoints for syscalls and the process tree, classic tracepoints for
//! the kernel evidence), and reading its ring buffer and counters.

use aya::maps::{HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use gotrace_abi::{globals, RawEvent};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use crate::error::{EbpfError, TracerError};
use crate::record::kernel_events::{self, Names, Tracepoint};
use crate::record::{btf, fd_table, tracefs};

/// The eBPF object compiled from ebpf/probes, embedded by build.rs
/// (empty when the binary was built without it).
static OBJECT: &[u8] = include_bytes!(env!("GOTRACE_EBPF_OBJ"));

/// The syscall programs, on raw tracepoints: (program name in the object,
/// `raw_syscalls` tracepoint). One program per direction dispatches on
/// the syscall number (ebpf/probes/src/syscalls.rs). sys_exit first: it is
/// the costliest to verify ([`load_programs`]); an exit without its entry
/// recorded is ignored, so the attach order loses nothing.
const RAW_SYSCALLS: &[(&str, &str)] = &[("sys_exit", "sys_exit"), ("sys_enter", "sys_enter")];

/// The process-tree programs on raw tracepoints, when the kernel's BTF gives
/// the offsets they read ([`SCHED_BTF_MEMBERS`]).
const RAW_SCHED: &[(&str, &str)] = &[
    ("raw_sched_process_fork", "sched_process_fork"),
    ("raw_sched_process_exec", "sched_process_exec"),
    ("raw_sched_process_exit", "sched_process_exit"),
];

/// The same on classic tracepoints, for a kernel without BTF.
const CLASSIC_SCHED: &[Tracepoint] = &[
    ("sched_process_fork", "sched", "sched_process_fork"),
    ("sched_process_exec", "sched", "sched_process_exec"),
    ("sched_process_exit", "sched", "sched_process_exit"),
];

/// Members the raw sched programs read: the child's PID in
/// `sched_process_fork(parent, child)` and the path in
/// `sched_process_exec(p, old_pid, bprm)` (include/trace/events/sched.h).
const SCHED_BTF_MEMBERS: [(&str, &str); 2] = [("task_struct", "pid"), ("linux_binprm", "filename")];

/// A global of the object and the value to load it with.
type Global = (&'static str, u32);

/// The TCP state program, a classic tracepoint for now.
const SET_STATE: Tracepoint = ("inet_sock_set_state", "sock", "inet_sock_set_state");

/// Field offsets the `inet_sock_set_state` program reads as constants
/// (include/trace/events/sock.h since Linux 4.16); checked against the
/// running kernel before attaching.
const SET_STATE_LAYOUT: &[(&str, usize)] = &[
    ("skaddr", 8),
    ("oldstate", 16),
    ("newstate", 20),
    ("sport", 24),
    ("dport", 26),
    ("family", 28),
    ("protocol", 30),
    ("saddr", 32),
    ("daddr", 36),
    ("saddr_v6", 40),
    ("daddr_v6", 56),
];

/// What the probes are loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `gotrace run`: gotrace started the command.
    Run,
    /// `gotrace attach`: the process was already running.
    Attach,
}

/// Loaded and attached probes. Dropping it detaches everything.
pub struct Probes {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    /// Non-fatal problems met while attaching, for meta.json.
    pub warnings: Vec<String>,
    /// The kernel's enum names, to decode reasons with.
    pub names: Names,
    /// The kernel-evidence tracepoints attached (`category/event`), for
    /// meta.json's `kernel_events`.
    pub kernel_events: Vec<String>,
    /// Other fds whose close is slow, closed with the probes ([`Probes::linger`]).
    lingering: Vec<std::os::fd::OwnedFd>,
}

impl Probes {
    /// Loads the object, sets per-kernel offsets, attaches every tracepoint.
    ///
    /// Errors: [`TracerError::NoEbpfObject`], [`TracerError::Tracefs`],
    /// [`TracerError::TracepointFormat`], [`TracerError::Ebpf`].
    /// `mode` switches the mode-specific probes: for [`Mode::Attach`],
    /// writes to fd 2 are recorded (`kind::STDERR_WRITE`: gotrace does not
    /// own the process's stderr); for [`Mode::Run`], a task that changes
    /// namespace is stopped until its capture runs (`kind::NETNS_ENTER`).
    pub fn load(mode: Mode) -> Result<Probes, TracerError> {
        if OBJECT.is_empty() {
            return Err(TracerError::NoEbpfObject);
        }
        tracefs::ensure_mounted()?;
        raise_memlock_limit();
        let mut warnings = Vec::new();
        // aya's loader parses the kernel's BTF itself (EbpfLoader::new):
        // in parallel with gotrace's own reads of it and of tracefs.
        // The same thread detects the kernel's eBPF features (aya does it
        // once, lazily, in `load` otherwise).
        let aya_loader = std::thread::spawn(|| {
            let loader = EbpfLoader::new();
            let _ = aya::features();
            loader
        });
        let held = btf::Held::new();
        let (raw_sched, sched_globals) = sched_setup(&mut warnings)?;
        let kernel = kernel_events::prepare();
        let fd_globals = fd_table::globals(std::path::Path::new(btf::VMLINUX), &mut warnings);
        drop(held);
        let stderr_flag = u32::from(mode == Mode::Attach);
        let netns_flag = u32::from(mode == Mode::Run);
        let mut loader = aya_loader.join().unwrap_or_else(|_| EbpfLoader::new());
        for (name, value) in &sched_globals {
            loader.override_global(name, value, true);
        }
        loader.override_global(globals::CAPTURE_STDERR, &stderr_flag, true);
        loader.override_global(globals::FOLLOW_NETNS, &netns_flag, true);
        for (name, value) in kernel.globals.iter().chain(&fd_globals) {
            loader.override_global(name, value, true);
        }
        let mut ebpf = loader.load(OBJECT).map_err(EbpfError::Object)?;
        let set_state_ok = match tracefs::Format::read("sock", "inet_sock_set_state")
            .and_then(|f| f.check_layout(SET_STATE_LAYOUT))
        {
            Ok(()) => true,
            Err(e) => {
                warnings.push(format!("{e}: TCP state events disabled"));
                false
            }
        };
        let mut raw: Vec<(&str, &str)> = RAW_SYSCALLS.to_vec();
        let mut core: Vec<Tracepoint> = Vec::new();
        if raw_sched {
            raw.extend_from_slice(RAW_SCHED);
        } else {
            core.extend_from_slice(CLASSIC_SCHED);
        }
        if set_state_ok {
            core.push(SET_STATE);
        }
        let wanted: Vec<&str> = raw
            .iter()
            .map(|&(prog, _)| prog)
            .chain(
                core.iter()
                    .chain(&kernel.programs)
                    .map(|&(prog, _, _)| prog),
            )
            .collect();
        let mut loaded = load_programs(&mut ebpf, &wanted);
        for &(prog, tp) in &raw {
            let verified = loaded.remove(prog).unwrap_or(Ok(()));
            verified.and_then(|()| attach_raw(&mut ebpf, prog, tp))?;
        }
        for &(prog, category, event) in &core {
            let verified = loaded.remove(prog).unwrap_or(Ok(()));
            verified.and_then(|()| attach(&mut ebpf, prog, category, event))?;
        }
        warnings.extend(kernel.warnings);
        // Evidence on top of the syscall trace: a kernel that cannot run one
        // of these loses that evidence, not the run.
        let mut kernel_events = Vec::new();
        for (prog, category, event) in kernel.programs {
            let verified = loaded.remove(prog).unwrap_or(Ok(()));
            match verified.and_then(|()| attach(&mut ebpf, prog, category, event)) {
                Ok(()) => kernel_events.push(format!("{category}/{event}")),
                Err(e) => warnings.push(format!("{e}: {category}:{event} events disabled")),
            }
        }
        let events = ebpf
            .take_map("EVENTS")
            .ok_or_else(|| EbpfError::MissingMap {
                map: "EVENTS".into(),
            })?;
        let ring = RingBuf::try_from(events).map_err(EbpfError::RingBuf)?;
        Ok(Probes {
            ebpf,
            ring,
            warnings,
            names: kernel.names,
            kernel_events,
            lingering: Vec::new(),
        })
    }

    /// Keeps `fds` open until the probes go, so that their slow close is
    /// the reaper's and not in the user's wait ([`crate::record::reaper`]):
    /// the capture's packet sockets.
    pub fn linger(&mut self, fds: Vec<std::os::fd::OwnedFd>) {
        self.lingering.extend(fds);
    }

    /// The fds given to [`Probes::linger`].
    pub fn lingering(&self) -> Vec<RawFd> {
        self.lingering.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Adds `tgid` to the traced set (its later children follow by fork).
    pub fn trace(&mut self, tgid: u32) -> Result<(), TracerError> {
        self.map_insert("TRACED", tgid, 1u8)
    }

    /// Marks `fd` of `tgid` as a socket of type `sock_type` (SOCK_STREAM 1,
    /// SOCK_DGRAM 2), so its read/write/close are traced: for sockets that
    /// were open before an attach.
    pub fn add_socket_fd(&mut self, tgid: u32, fd: i32, sock_type: u32) -> Result<(), TracerError> {
        let key = (u64::from(tgid) << 32) | u64::from(fd as u32);
        self.map_insert("SOCKFDS", key, sock_type)
    }

    /// Registers a TCP socket open before an attach by its 5-tuple
    /// ([`gotrace_abi::presock_key`]), so the kernel's events on it
    /// (retransmits, RSTs, state changes, drops) are attributed to `tgid`.
    pub fn add_pre_existing_tcp(&mut self, key: u64, tgid: u32) -> Result<(), TracerError> {
        self.map_insert("PRESOCKS", key, tgid)
    }

    fn map_insert<K: aya::Pod, V: aya::Pod>(
        &mut self,
        name: &str,
        key: K,
        value: V,
    ) -> Result<(), TracerError> {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or_else(|| EbpfError::MissingMap { map: name.into() })?;
        let map_err = |source| EbpfError::Map {
            map: name.into(),
            source,
        };
        let mut m: HashMap<_, K, V> = HashMap::try_from(map).map_err(map_err)?;
        Ok(m.insert(key, value, 0).map_err(map_err)?)
    }

    /// The ring buffer's fd, to poll(2) on.
    pub fn ring_fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Passes every record waiting in the ring buffer to `f`, with the
    /// kernel's enum names to decode it; returns how many.
    /// Records shorter than [`RawEvent::SIZE`] are skipped (never happens
    /// with a matching object; guards against a mismatched one).
    pub fn drain(&mut self, mut f: impl FnMut(&RawEvent, &Names)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if item.len() >= RawEvent::SIZE {
                // SAFETY: RawEvent is plain old data of RawEvent::SIZE bytes;
                // read_unaligned copes with any alignment of the ring buffer slot.
                let ev = unsafe { std::ptr::read_unaligned(item.as_ptr() as *const RawEvent) };
                f(&ev, &self.names);
                n += 1;
            }
        }
        n
    }

    /// Times the kernel skipped one of the programs because another eBPF
    /// program was already running on that CPU: a softirq (timer
    /// retransmit, packet receive) interrupting any probe, ours or not,
    /// runs no tracepoint program (trace_call_bpf(), kernel/trace/bpf_trace.c).
    /// Those events are missing without being in [`Probes::lost_events`].
    pub fn missed_runs(&self) -> u64 {
        self.ebpf
            .programs()
            .filter_map(|(_, p)| p.fd().ok())
            .map(|fd| recursion_misses(fd.as_fd().as_raw_fd()))
            .sum()
    }

    /// Events the kernel side could not put in the ring buffer (full), summed over CPUs.
    pub fn lost_events(&self) -> u64 {
        let Some(map) = self.ebpf.map("LOST") else {
            return 0;
        };
        let Ok(arr) = PerCpuArray::<_, u64>::try_from(map) else {
            return 0;
        };
        arr.get(&0, 0).map(|v| v.iter().sum()).unwrap_or(0)
    }
}

/// `recursion_misses` of the program behind `fd`, from /proc/self/fdinfo
/// (Linux >= 5.12; 0 where the line is absent).
fn recursion_misses(fd: RawFd) -> u64 {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("recursion_misses:")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Loads (verifies) the programs named in `wanted` on up to four threads:
/// the kernel verifies each in the loading thread, and one after another
/// they were about half of gotrace's start-up. Each thread takes the next
/// program not yet taken, in `wanted`'s order, so the costliest (sys_exit:
/// 13.7 ms of 27 ms in all, measured on 6.18) should come early: one
/// thread verifies it while the others verify the rest. Returns each one's
/// result by name; a missing name is reported by [`attach`].
fn load_programs<'a>(
    ebpf: &mut Ebpf,
    wanted: &[&'a str],
) -> std::collections::HashMap<&'a str, Result<(), TracerError>> {
    let mut progs: Vec<(&'a str, &mut aya::programs::Program)> = ebpf
        .programs_mut()
        .filter_map(|(name, p)| wanted.iter().find(|w| **w == name).map(|w| (*w, p)))
        .collect();
    progs.sort_by_key(|(name, _)| wanted.iter().position(|w| w == name));
    let queue: Vec<std::sync::Mutex<(&'a str, &mut aya::programs::Program)>> =
        progs.into_iter().map(std::sync::Mutex::new).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(queue.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(cell) = queue.get(i) else { break };
                        // Each index is taken by one thread only: never contended.
                        let Ok(mut slot) = cell.lock() else { continue };
                        let (name, p) = &mut *slot;
                        done.push((*name, load_one(name, p)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

fn load_one(prog: &str, p: &mut aya::programs::Program) -> Result<(), TracerError> {
    let verdict = match p {
        aya::programs::Program::RawTracePoint(rtp) => rtp.load(),
        p => {
            let tp: &mut TracePoint = p.try_into().map_err(|source| EbpfError::NotTracepoint {
                prog: prog.into(),
                source,
            })?;
            tp.load()
        }
    };
    Ok(verdict.map_err(|source| EbpfError::Verifier {
        prog: prog.into(),
        log: log_tail(&format!("{source:#}"), VERIFIER_LOG_LINES),
        source,
    })?)
}

/// Whether the raw tracepoint process-tree programs can run (the kernel's
/// BTF has the members they read) and the globals to load them with; else
/// the globals of the classic ones, noting why in `warnings`.
///
/// Errors: [`TracerError::Tracefs`] / [`TracerError::TracepointFormat`]
/// when the classic fork record cannot be read either.
fn sched_setup(warnings: &mut Vec<String>) -> Result<(bool, Vec<Global>), TracerError> {
    let found = btf::member_offsets(std::path::Path::new(btf::VMLINUX), &SCHED_BTF_MEMBERS)
        .and_then(|r| r.into_iter().collect::<Result<Vec<u32>, _>>());
    match found.as_deref() {
        Ok(&[pid, filename]) => Ok((
            true,
            vec![
                (globals::TASK_PID_OFFSET, pid),
                (globals::BINPRM_FILENAME_OFFSET, filename),
            ],
        )),
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => "unexpected BTF answer".into(),
            };
            warnings.push(format!(
                "process events on classic tracepoints (sched:*), not raw ones: {why}"
            ));
            let fork_child =
                tracefs::Format::read("sched", "sched_process_fork")?.offset("child_pid")? as u32;
            Ok((false, vec![(globals::FORK_CHILD_PID_OFFSET, fork_child)]))
        }
    }
}

/// Program `prog` of the loaded object as kind `P` (a [`TracePoint`] or
/// [`RawTracePoint`]).
fn program<'a, P>(ebpf: &'a mut Ebpf, prog: &str) -> Result<&'a mut P, TracerError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p: &mut P = ebpf
        .program_mut(prog)
        .ok_or_else(|| EbpfError::MissingProgram { prog: prog.into() })?
        .try_into()
        .map_err(|source| EbpfError::NotTracepoint {
            prog: prog.into(),
            source,
        })?;
    Ok(p)
}

/// Attaches raw tracepoint program `prog`, loaded by [`load_programs`], to
/// tracepoint `tp` (BPF_RAW_TRACEPOINT_OPEN).
fn attach_raw(ebpf: &mut Ebpf, prog: &str, tp: &str) -> Result<(), TracerError> {
    let p: &mut RawTracePoint = program(ebpf, prog)?;
    p.attach(tp).map_err(|source| EbpfError::Attach {
        prog: prog.into(),
        category: "raw_tracepoint".into(),
        event: tp.into(),
        source,
    })?;
    Ok(())
}

/// Attaches `prog`, loaded by [`load_programs`], to `category:event`.
fn attach(ebpf: &mut Ebpf, prog: &str, category: &str, event: &str) -> Result<(), TracerError> {
    let p: &mut TracePoint = program(ebpf, prog)?;
    p.attach(category, event)
        .map_err(|source| EbpfError::Attach {
            prog: prog.into(),
            category: category.into(),
            event: event.into(),
            source,
        })?;
    Ok(())
}

/// Lines of the verifier's log kept in the error: the verdict is at its
/// end, and a whole log runs to thousands of lines.
const VERIFIER_LOG_LINES: usize = 12;

/// The last `n` lines of `text`, after a note of how many were left out.
fn log_tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= n {
        return text.to_string();
    }
    let cut = lines.len() - n;
    format!(
        "{}\n[... {cut} lines of the verifier log left out ...]\n{}",
        lines[0],
        lines[cut..].join("\n")
    )
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; raise it so the
/// 8 MiB ring buffer loads there too. Failure is harmless on newer kernels.
fn raise_memlock_limit() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall with a valid pointer.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_verifier_log_keeps_its_first_line_and_its_end() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let t = super::log_tail(&log, 3);
        assert_eq!(
            t,
            "line 1\n[... 97 lines of the verifier log left out ...]\nline 98\nline 99\nline 100"
        );
        assert_eq!(super::log_tail("short", 3), "short");
    }
}
