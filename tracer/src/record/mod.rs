//! Recording the kernel side: loading and attaching the eBPF probes
//! (`probes`, with the per-kernel facts of `kernel_events`, `btf` and
//! `tracefs`; their release without a wait, `reaper`), decoding their raw events into bundle events (`decode`),
//! and the recording loop shared by `run` and `attach` (`session`, with the
//! `live` view).

pub mod btf;
pub mod decode;
pub mod fd_table;
pub mod kallsyms;
pub mod kernel_events;
pub mod live;
pub mod probes;
pub mod reaper;
pub mod route_lookup;
pub mod session;
pub mod tracefs;
