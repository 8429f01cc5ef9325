//! Setup of the kernel-evidence programs (ABI kinds 16..19: retransmits,
//! RSTs received and sent, dropped packets; route lookups in
//! `route_lookup`): which of them this kernel can run, the per-kernel
//! offsets they get as globals, and the enum name tables the decoder
//! resolves reasons with. Nothing here fails a run: a missing
//! tracepoint or field becomes a warning in meta.json, since the syscall
//! trace and the capture still stand without this evidence.

use std::collections::BTreeMap;
use std::path::Path;

use gotrace_abi::{globals, tcp_layout};

use crate::record::btf;
use crate::record::kallsyms::Kallsyms;
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
/// `tcp_event_sk_skb` without `family` (5.10): the v4-mapped daddr_v6
/// tells the family (tcp_layout::NO_FAMILY).
const RETRANSMIT_NO_FAMILY: &[(&str, usize)] = &[
    ("skaddr", 16),
    ("state", 24),
    ("sport", 28),
    ("dport", 30),
    ("saddr", 32),
    ("daddr", 36),
    ("saddr_v6", 40),
    ("daddr_v6", 56),
];
/// `tcp_event_sk` without `family` (5.10).
const RECEIVE_RESET_NO_FAMILY: &[(&str, usize)] = &[
    ("skaddr", 8),
    ("sport", 16),
    ("dport", 18),
    ("saddr", 20),
    ("daddr", 24),
    ("saddr_v6", 28),
    ("daddr_v6", 44),
];
/// The sockaddr-blob layout of Linux >= 6.10 (with `reason`); before, the
/// event is a `tcp_event_sk_skb` like tcp_retransmit_skb.
const SEND_RESET: &[(&str, usize)] = &[
    ("skaddr", 16),
    ("state", 24),
    ("reason", 28),
    ("saddr", 32),
    ("daddr", 60),
];
/// Each TCP event's known layouts, newest first: (tcp_layout value, fields).
type Layouts = &'static [(u32, &'static [(&'static str, usize)])];
const RETRANSMIT_LAYOUTS: Layouts = &[
    (tcp_layout::FAMILY, RETRANSMIT),
    (tcp_layout::NO_FAMILY, RETRANSMIT_NO_FAMILY),
];
const RECEIVE_RESET_LAYOUTS: Layouts = &[
    (tcp_layout::FAMILY, RECEIVE_RESET),
    (tcp_layout::NO_FAMILY, RECEIVE_RESET_NO_FAMILY),
];
const SEND_RESET_LAYOUTS: Layouts = &[
    (tcp_layout::SOCKADDR, SEND_RESET),
    (tcp_layout::FAMILY, RETRANSMIT),
    (tcp_layout::NO_FAMILY, RETRANSMIT_NO_FAMILY),
];
const KFREE_SKB: &[(&str, usize)] = &[("skbaddr", 8), ("location", 16)];

/// `sk_buff.sk` on x86_64 (and other 64-bit layouts) since Linux 4.x, used
/// when the kernel's BTF cannot confirm it.
const SKB_SK_FALLBACK: u32 = 24;
/// The probes mask record offsets with 0xff and `sk_buff` offsets with 0xfff.
pub(super) const MAX_RECORD_OFFSET: usize = 0xff;
const MAX_SKB_OFFSET: u32 = 0xfff;

/// Enum names of the tracing kernel, from its format files.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// `enum skb_drop_reason`, value -> name without `SKB_DROP_REASON_`.
    pub drop_reasons: BTreeMap<u32, String>,
    /// `enum sk_rst_reason`, value -> name.
    pub rst_reasons: BTreeMap<u32, String>,
    /// Kernel text symbols, loaded only when drops have no reason (< 5.17),
    /// to name their `location`; empty otherwise.
    pub symbols: Kallsyms,
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
    if let Some((f, layout)) = s.tcp_event(
        "tcp_retransmit_skb",
        RETRANSMIT_LAYOUTS,
        "retransmit events",
    ) {
        s.retransmit_err(&f);
        s.globals.push((globals::RETRANSMIT_LAYOUT, layout));
    }
    if let Some((_, layout)) = s.tcp_event(
        "tcp_receive_reset",
        RECEIVE_RESET_LAYOUTS,
        "RST-received events",
    ) {
        s.globals.push((globals::RECEIVE_RESET_LAYOUT, layout));
    }
    if let Some((f, layout)) = s.tcp_event("tcp_send_reset", SEND_RESET_LAYOUTS, "RST-sent events")
    {
        // Only the 6.10 layout has `reason`; before, no RST has one.
        if layout == tcp_layout::SOCKADDR {
            match f.symbolic("reason") {
                Ok(t) => s.names.rst_reasons = t,
                Err(e) => s
                    .warnings
                    .push(format!("{e}: RST reasons are recorded as numbers only")),
            }
        }
        s.globals.push((globals::SEND_RESET_LAYOUT, layout));
    }
    if let Some(f) = s.checked("skb", "kfree_skb", KFREE_SKB, "packet-drop events") {
        s.kfree_skb(&f, skb_sk);
    }
    s.no_local_drop_evidence();
    s.route_lookups();
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

    /// The format of `tcp:event` and the first of `layouts` it matches
    /// (its program is then attached); else a warning that `what` are
    /// disabled, citing the mismatch with the newest layout.
    fn tcp_event(
        &mut self,
        event: &'static str,
        layouts: Layouts,
        what: &str,
    ) -> Option<(Format, u32)> {
        let f = match Format::read("tcp", event) {
            Ok(f) => f,
            Err(e) => {
                self.warnings.push(format!("{e}: {what} disabled"));
                return None;
            }
        };
        match pick_layout(&f, layouts) {
            Ok(layout) => {
                self.programs.push((event, "tcp", event));
                Some((f, layout))
            }
            Err(e) => {
                self.warnings.push(format!("{e}: {what} disabled"));
                None
            }
        }
    }

    /// `err` of tcp_retransmit_skb (newer kernels): -EPERM when a local
    /// netfilter hook refused the retransmit. Without it the retransmit
    /// says nothing of its fate, but nothing is lost while kfree_skb is
    /// attached: the drop record on the same socket tells a local drop.
    fn retransmit_err(&mut self, f: &Format) {
        let err = match f.offset("err") {
            Ok(o) if o <= MAX_RECORD_OFFSET => o as u32,
            _ => 0,
        };
        self.globals.push((globals::RETRANSMIT_ERR_OFFSET, err));
    }

    /// The one real loss of a kernel whose retransmits carry no `err`
    /// (before 6.13): without packet-drop records as well, nothing tells
    /// a SYN a local netfilter hook dropped from one lost on the wire.
    fn no_local_drop_evidence(&mut self) {
        let has = |name: &str| self.programs.iter().any(|p| p.0 == name);
        let err = self
            .globals
            .iter()
            .any(|&(n, v)| n == globals::RETRANSMIT_ERR_OFFSET && v != 0);
        if has("tcp_retransmit_skb") && !err && !has("kfree_skb") {
            self.warnings.push("on this kernel retransmits carry no error and packet drops are not recorded: a SYN that a local firewall dropped cannot be told from one lost on the wire; the syscalls and the capture still show whether any answer came".into());
        }
    }

    /// NEIGH_FAILED (after 5.15; 6.1 has it) is the only sign that a packet died waiting for
    /// a neighbour (ARP / neighbour discovery) that never answered: older
    /// kernels drop such packets without saying so.
    fn neighbour_reason(&mut self) {
        if !self
            .names
            .drop_reasons
            .values()
            .any(|n| n == "NEIGH_FAILED")
        {
            self.warnings.push("this kernel's drop reasons have no NEIGH_FAILED: a dial to a neighbour that never answered ARP cannot be told from other unanswered dials; local firewall drops (NETFILTER_DROP) are still told".into());
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
                    Ok(t) => {
                        self.names.drop_reasons = t;
                        self.neighbour_reason();
                    }
                    Err(e) => self
                        .warnings
                        .push(format!("{e}: drop reasons are recorded as numbers only")),
                }
                o as u32
            }
            _ => {
                // No reason before 5.17: the freeing function (`location`,
                // named through /proc/kallsyms) tells a netfilter drop.
                self.names.symbols = Kallsyms::load();
                self.warnings.push(if self.names.symbols.name(u64::MAX).is_none() {
                    "packet drops have no reason on this kernel (before 5.17) and /proc/kallsyms gave no symbols: a local firewall drop cannot be told from other drops; the syscalls and the capture still show whether any answer came".into()
                } else {
                    "packet drops have no reason on this kernel (before 5.17): a local firewall drop is still told by the function that freed the packet (nf_hook_slow), but other drop causes, such as a neighbour that never answered (NEIGH_FAILED), cannot be decided".into()
                });
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

/// The first of `layouts` (newest first) whose fields `f` has at their
/// offsets; Err: the mismatch with the newest one.
fn pick_layout(f: &Format, layouts: Layouts) -> Result<u32, crate::error::TracerError> {
    let mut newest = None;
    for &(layout, fields) in layouts {
        match f.check_layout(fields) {
            Ok(()) => return Ok(layout),
            Err(e) => {
                newest.get_or_insert(e);
            }
        }
    }
    Err(newest.expect("every event has at least one layout"))
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

    fn format(name: &str, text: &str) -> Format {
        Format::from_text(name, text.into())
    }

    #[test]
    fn each_kernel_s_tcp_layout_is_known() {
        let r510 = format(
            "tcp/tcp_retransmit_skb",
            include_str!("../../testdata/tcp_retransmit_skb-5.10.format"),
        );
        let r618 = format(
            "tcp/tcp_retransmit_skb",
            include_str!("../../testdata/tcp_retransmit_skb-6.18.format"),
        );
        let rr510 = format(
            "tcp/tcp_receive_reset",
            include_str!("../../testdata/tcp_receive_reset-5.10.format"),
        );
        let s510 = format(
            "tcp/tcp_send_reset",
            include_str!("../../testdata/tcp_send_reset-5.10.format"),
        );
        let s66 = format(
            "tcp/tcp_send_reset",
            include_str!("../../testdata/tcp_send_reset-6.6.format"),
        );
        let s618 = format(
            "tcp/tcp_send_reset",
            include_str!("../../testdata/tcp_send_reset-6.18.format"),
        );
        assert_eq!(
            pick_layout(&r510, RETRANSMIT_LAYOUTS).unwrap(),
            tcp_layout::NO_FAMILY
        );
        assert_eq!(
            pick_layout(&r618, RETRANSMIT_LAYOUTS).unwrap(),
            tcp_layout::FAMILY
        );
        assert_eq!(
            pick_layout(&rr510, RECEIVE_RESET_LAYOUTS).unwrap(),
            tcp_layout::NO_FAMILY
        );
        assert_eq!(
            pick_layout(&s510, SEND_RESET_LAYOUTS).unwrap(),
            tcp_layout::NO_FAMILY
        );
        assert_eq!(
            pick_layout(&s66, SEND_RESET_LAYOUTS).unwrap(),
            tcp_layout::FAMILY
        );
        assert_eq!(
            pick_layout(&s618, SEND_RESET_LAYOUTS).unwrap(),
            tcp_layout::SOCKADDR
        );
        let e = pick_layout(
            &format("tcp/tcp_send_reset", "format:\n"),
            SEND_RESET_LAYOUTS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no field `skaddr`"), "{e}");
    }

    #[test]
    fn a_missing_err_is_a_warning_only_without_drop_records() {
        let mut s = Setup::default();
        s.programs
            .push(("tcp_retransmit_skb", "tcp", "tcp_retransmit_skb"));
        s.globals.push((globals::RETRANSMIT_ERR_OFFSET, 0));
        s.programs.push(("kfree_skb", "skb", "kfree_skb"));
        s.no_local_drop_evidence();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        s.programs.pop();
        s.no_local_drop_evidence();
        assert!(
            s.warnings[0].contains("cannot be told from one lost on the wire"),
            "{:?}",
            s.warnings
        );
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
    fn a_kernel_without_neigh_failed_says_what_it_cannot_tell() {
        let mut s = Setup::default();
        s.kfree_skb(
            &format(
                "skb/kfree_skb",
                include_str!("../../testdata/kfree_skb-5.15.format"),
            ),
            Ok(24),
        );
        assert_eq!(
            s.names.drop_reasons.get(&6).map(String::as_str),
            Some("NETFILTER_DROP")
        );
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].contains("no NEIGH_FAILED"),
            "{:?}",
            s.warnings
        );
        let mut s = Setup::default();
        s.kfree_skb(
            &format(
                "skb/kfree_skb",
                include_str!("../../testdata/kfree_skb-6.6.format"),
            ),
            Ok(24),
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
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
