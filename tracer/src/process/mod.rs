//! The traced process and gotrace's own: starting the command (`spawn`,
//! as `user`, its stderr through `tee`), finding a running one (`target`) and the sockets it holds
//! (`procnet`), gotrace's capabilities (`privileges`) and signals
//! (`signals`), network namespaces (`netns`), the resolver
//! configuration a process sees (`resolv`) and waking on an exit (`pidfd`).

pub mod netns;
pub mod pidfd;
pub mod privileges;
pub mod procnet;
pub mod resolv;
pub mod signals;
pub mod spawn;
pub mod target;
pub mod tee;
pub mod tree;
pub mod user;
