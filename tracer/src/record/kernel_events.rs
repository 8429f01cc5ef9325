//! Setup of the kernel-evidence programs (ABI kinds 16..19: retransmits,
//! RSTs received and sent, dropped packets): which of them this kernel can
//! run, the per-kernel offsets they get as globals, and the enum name tables
//! the decoder resolves reasons with. Nothing here fails a run: a missing
//! tracepoint or field becomes a warning in meta.json, since the syscall
//! trace and the capture still stand without this evidence.

use std::collections::BTreeMap;
use std::path::Path;

use gotrace_abi::globals;

use crate::record::btf;
use crate::record::tracefs::Format;

/// (program name in the object, tracepoint category, event).
pub type Tracepoint = (&'static str, &'static str, &'static str);

/// Offsets the programs read as constants (include/trace/events/tcp.h and
/// skb.h); the same since these fields exist, checked before attaching.
const RETRANSMIT: &[(&str, usize)] = &[
    ("skaddr", 16),
    ("state", 24),
    ("sport", 28),
    ("dport", 30),
    ("family", 32),
    ("saddr", 34),
    ("daddr", 38),
    ("saddr_v6", 42),
    ("daddr_v6", 58),
];
const RECEIVE_RESET: &[(&str, usize)] = &[
    ("skaddr", 8),
    ("sport", 16),
    ("dport", 18),
    ("family", 20),
    ("saddr", 22),
    ("daddr", 26),
    ("saddr_v6", 30),
    ("daddr_v6", 46),
];
/// The sockaddr-blob layout of Linux >= 6.10 (with `reason`); older
/// kernels' 5-tuple layout is not read.
const SEND_RESET: &[(&str, usize)] = &[
    ("skaddr", 16),
    ("state", 24),
    ("reason", 28),
    ("saddr", 32),
    ("daddr", 60),
];
const KFREE_SKB: &[(&str, usize)] = &[("skbaddr", 8), ("location", 16)];

/// `sk_buff.sk` on x86_64 (and other 64-bit layouts) since Linux 4.x, used
/// when the kernel's BTF cannot confirm it.
const SKB_SK_FALLBACK: u32 = 24;
/// The probes mask record offsets with 0xff and `sk_buff` offsets with 0xfff.
const MAX_RECORD_OFFSET: usize = 0xff;
const MAX_SKB_OFFSET: u32 = 0xfff;

/// Enum names of the tracing kernel, from its format files.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// `enum skb_drop_reason`, value -> name without `SKB_DROP_REASON_`.
    pub drop_reasons: BTreeMap<u32, String>,
    /// `enum sk_rst_reason`, value -> name.
    pub rst_reasons: BTreeMap<u32, String>,
}

/// What the loader needs: programs to attach, globals to set, names, warnings.
#[derive(Default)]
pub struct Setup {
    pub programs: Vec<Tracepoint>,
    pub globals: Vec<(&'static str, u32)>,
    pub names: Names,
    pub warnings: Vec<String>,
}

/// The members whose offsets come from the kernel's BTF, read in one go.
const BTF_MEMBERS: [(&str, &str); 2] = [("task_struct", "exit_code"), ("sk_buff", "sk")];

/// Decides, from tracefs and BTF, what this kernel supports.
pub fn prepare() -> Setup {
    let mut s = Setup::default();
    let [exit_code, skb_sk] = match btf::member_offsets(Path::new(btf::VMLINUX), &BTF_MEMBERS) {
        Ok(found) => {
            let mut it = found.into_iter().map(|r| r.map_err(|e| e.to_string()));
            [(); 2].map(|()| it.next().unwrap_or_else(|| Err("not looked up".into())))
        }
        Err(e) => [(); 2].map(|()| Err(e.to_string())),
    };
    if let Some(f) = s.checked("tcp", "tcp_retransmit_skb", RETRANSMIT, "retransmit events") {
        let err = match f.offset("err") {
            Ok(o) if o <= MAX_RECORD_OFFSET => o as u32,
            _ => {
                s.warnings.push("tcp:tcp_retransmit_skb has no usable `err` field on this kernel: retransmits are recorded with err 0, so one a local netfilter hook dropped looks like one lost on the wire".into());
                0
            }
        };
        s.globals.push((globals::RETRANSMIT_ERR_OFFSET, err));
        s.programs
            .push(("tcp_retransmit_skb", "tcp", "tcp_retransmit_skb"));
    }
    if s.checked(
        "tcp",
        "tcp_receive_reset",
        RECEIVE_RESET,
        "RST-received events",
    )
    .is_some()
    {
        s.programs
            .push(("tcp_receive_reset", "tcp", "tcp_receive_reset"));
    }
    if let Some(f) = s.checked("tcp", "tcp_send_reset", SEND_RESET, "RST-sent events") {
        match f.symbolic("reason") {
            Ok(t) => s.names.rst_reasons = t,
            Err(e) => s
                .warnings
                .push(format!("{e}: RST reasons are recorded as numbers only")),
        }
        s.programs.push(("tcp_send_reset", "tcp", "tcp_send_reset"));
    }
    if let Some(f) = s.checked("skb", "kfree_skb", KFREE_SKB, "packet-drop events") {
        s.kfree_skb(&f, skb_sk);
    }
    s.exit_code(exit_code);
    s
}

impl Setup {
    /// `task_struct.exit_code` from the kernel's BTF, for the exit status of
    /// processes that are not gotrace's children (attach); without it,
    /// exit events carry no status (a warning says so).
    fn exit_code(&mut self, offset: Result<u32, String>) {
        match offset {
            Ok(o) => self.globals.push((globals::TASK_EXIT_CODE_OFFSET, o)),
            Err(e) => self.warnings.push(format!(
                "the kernel's BTF has no task_struct.exit_code ({e}): exit events carry no status, so an attached process's exit status is unknown"
            )),
        }
    }

    /// The format of `category:event` if its layout is `expected`; else a
    /// warning that `what` are disabled.
    fn checked(
        &mut self,
        category: &str,
        event: &str,
        expected: &[(&str, usize)],
        what: &str,
    ) -> Option<Format> {
        match Format::read(category, event).and_then(|f| f.check_layout(expected).map(|()| f)) {
            Ok(f) => Some(f),
            Err(e) => {
                self.warnings.push(format!("{e}: {what} disabled"));
                None
            }
        }
    }

    /// `protocol` and `reason` moved when `rx_sk` was added (6.x), and
    /// `reason` only exists since 5.17: both go to the program as globals.
    /// `skb_sk`: the offset of `sk_buff.sk` from the kernel's BTF.
    fn kfree_skb(&mut self, f: &Format, skb_sk: Result<u32, String>) {
        let protocol = match f.offset("protocol") {
            Ok(o) if o <= MAX_RECORD_OFFSET => o as u32,
            Ok(o) => {
                self.warnings.push(format!("skb:kfree_skb field `protocol` at offset {o} is out of the probe's range: packet-drop events disabled"));
                return;
            }
            Err(e) => {
                self.warnings
                    .push(format!("{e}: packet-drop events disabled"));
                return;
            }
        };
        let reason = match f.offset("reason") {
            Ok(o) if o <= MAX_RECORD_OFFSET => {
                match f.symbolic("reason") {
                    Ok(t) => self.names.drop_reasons = t,
                    Err(e) => self
                        .warnings
                        .push(format!("{e}: drop reasons are recorded as numbers only")),
                }
                o as u32
            }
            _ => {
                self.warnings.push("skb:kfree_skb has no usable `reason` field on this kernel: drops are recorded without a reason".into());
                0
            }
        };
        let sk = match skb_sk {
            Ok(o) if o <= MAX_SKB_OFFSET => o,
            found => {
                let why = match found {
                    Ok(o) => format!("it says {o}, beyond the probe's range"),
                    Err(e) => e.to_string(),
                };
                self.warnings.push(format!("the kernel's BTF could not confirm the offset of sk_buff.sk ({why}): assuming {SKB_SK_FALLBACK}, the x86_64 value since Linux 4.x; drops may be attributed wrongly on another layout"));
                SKB_SK_FALLBACK
            }
        };
        self.globals.extend([
            (globals::KFREE_SKB_PROTOCOL_OFFSET, protocol),
            (globals::KFREE_SKB_REASON_OFFSET, reason),
            (globals::SKB_SK_OFFSET, sk),
        ]);
        self.programs.push(("kfree_skb", "skb", "kfree_skb"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This project's machine's skb:kfree_skb format (Linux 6.18).
    fn kfree_skb_6_18() -> Format {
        Format::from_text(
            "skb/kfree_skb",
            include_str!("../../testdata/kfree_skb-6.18.format").into(),
        )
    }

    fn global(s: &Setup, name: &str) -> Option<u32> {
        s.globals.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    #[test]
    fn kfree_skb_gets_its_offsets_names_and_program() {
        let mut s = Setup::default();
        s.kfree_skb(&kfree_skb_6_18(), Ok(24));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(s.programs, [("kfree_skb", "skb", "kfree_skb")]);
        assert_eq!(global(&s, globals::SKB_SK_OFFSET), Some(24));
        let f = kfree_skb_6_18();
        let at = |field| f.offset(field).unwrap() as u32;
        assert_eq!(
            global(&s, globals::KFREE_SKB_PROTOCOL_OFFSET),
            Some(at("protocol"))
        );
        assert_eq!(
            global(&s, globals::KFREE_SKB_REASON_OFFSET),
            Some(at("reason"))
        );
        assert_eq!(
            s.names.drop_reasons.get(&12).map(String::as_str),
            Some("NETFILTER_DROP")
        );
    }

    #[test]
    fn an_unconfirmed_sk_offset_falls_back_with_a_warning() {
        for skb_sk in [Err("no BTF".to_string()), Ok(MAX_SKB_OFFSET + 1)] {
            let mut s = Setup::default();
            s.kfree_skb(&kfree_skb_6_18(), skb_sk);
            assert_eq!(global(&s, globals::SKB_SK_OFFSET), Some(SKB_SK_FALLBACK));
            assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
            assert!(s.warnings[0].contains("sk_buff.sk"), "{:?}", s.warnings);
        }
    }

    #[test]
    fn kfree_skb_without_protocol_is_disabled() {
        let mut s = Setup::default();
        s.kfree_skb(
            &Format::from_text("skb/kfree_skb", "format:\n".into()),
            Ok(24),
        );
        assert!(s.programs.is_empty() && s.globals.is_empty());
        assert!(
            s.warnings[0].ends_with("packet-drop events disabled"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn a_missing_exit_code_offset_is_a_warning_not_a_global() {
        let mut s = Setup::default();
        s.exit_code(Ok(2412));
        assert_eq!(global(&s, globals::TASK_EXIT_CODE_OFFSET), Some(2412));
        let mut s = Setup::default();
        s.exit_code(Err("no BTF".into()));
        assert!(s.globals.is_empty());
        assert!(
            s.warnings[0].contains("task_struct.exit_code (no BTF)"),
            "{:?}",
            s.warnings
        );
    }
}
