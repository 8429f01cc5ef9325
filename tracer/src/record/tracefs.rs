//! tracefs: making sure it is mounted, and reading tracepoint record layouts
//! from each event's `format` file (Documentation/trace/events.rst).

use crate::error::{TracefsMountError, TracerError};
use std::collections::BTreeMap;
use std::path::Path;

/// Where tracefs is expected; aya looks here first.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs at [`TRACEFS`] when it is not there yet.
///
/// `ip netns exec` gives the command a fresh sysfs without tracefs under it,
/// and some machines never mount it; as root we can mount it ourselves
/// (in a private mount namespace after `ip netns exec`, so nothing leaks).
pub fn ensure_mounted() -> Result<(), TracerError> {
    let events = Path::new(TRACEFS).join("events");
    if events.is_dir() {
        return Ok(());
    }
    nix::mount::mount(
        Some("nodev"),
        TRACEFS,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| TracerError::Tracefs(TracefsMountError::Mount(e)))?;
    if events.is_dir() {
        Ok(())
    } else {
        Err(TracerError::Tracefs(TracefsMountError::NoEvents))
    }
}

/// The `format` file of one tracepoint, read once so several fields can
/// be looked up without re-reading it.
pub struct Format {
    tracepoint: String,
    text: String,
}

impl Format {
    /// Reads `events/<category>/<event>/format` under tracefs.
    pub fn read(category: &str, event: &str) -> Result<Format, TracerError> {
        let tracepoint = format!("{category}/{event}");
        let path = Path::new(TRACEFS)
            .join("events")
            .join(category)
            .join(event)
            .join("format");
        let text = std::fs::read_to_string(&path).map_err(|e| TracerError::TracepointFormat {
            tracepoint: tracepoint.clone(),
            problem: format!("cannot read {}: {e}", path.display()),
        })?;
        Ok(Format { tracepoint, text })
    }

    /// A format file's `text` read elsewhere (a saved copy), for
    /// `category/event`.
    pub fn from_text(tracepoint: &str, text: String) -> Format {
        Format {
            tracepoint: tracepoint.into(),
            text,
        }
    }

    /// Byte offset of `field` in the records, parsed from lines like
    /// `field:pid_t child_pid;\toffset:20;\tsize:4;...`.
    pub fn offset(&self, field: &str) -> Result<usize, TracerError> {
        parse_offset(&self.text, field).ok_or_else(|| TracerError::TracepointFormat {
            tracepoint: self.tracepoint.clone(),
            problem: format!("no field `{field}` in its format file"),
        })
    }

    /// Checks every `(field, offset)` of `expected` (offsets a program
    /// reads as constants) against this kernel's layout.
    pub fn check_layout(&self, expected: &[(&str, usize)]) -> Result<(), TracerError> {
        for &(field, want) in expected {
            let got = self.offset(field)?;
            if got != want {
                return Err(TracerError::TracepointFormat {
                    tracepoint: self.tracepoint.clone(),
                    problem: format!("field `{field}` is at offset {got}, expected {want}"),
                });
            }
        }
        Ok(())
    }

    /// The value -> name table of the print format's
    /// `__print_symbolic(REC-><field>, { 2, "NOT_SPECIFIED" }, ...)`, the
    /// only place the kernel publishes its enum names for this record.
    pub fn symbolic(&self, field: &str) -> Result<BTreeMap<u32, String>, TracerError> {
        parse_symbolic(&self.text, field).ok_or_else(|| TracerError::TracepointFormat {
            tracepoint: self.tracepoint.clone(),
            problem: format!("no numeric __print_symbolic list for `{field}` in its print fmt"),
        })
    }
}

/// The parsing half of [`Format::symbolic`]: entries whose value is not a
/// number (an enum name the kernel left unresolved) are skipped; `None`
/// when the list is missing or holds no numeric entry.
fn parse_symbolic(format: &str, field: &str) -> Option<BTreeMap<u32, String>> {
    let key = format!("__print_symbolic(REC->{field},");
    let mut rest = &format[format.find(&key)? + key.len()..];
    let mut out = BTreeMap::new();
    while let Some(entry) = rest.trim_start().strip_prefix('{') {
        let (entry, after) = entry.split_once('}')?;
        let (value, name) = entry.split_once(',')?;
        let name = name.trim().strip_prefix('"')?.strip_suffix('"')?;
        let value = value.trim();
        let value = match value.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => value.parse().ok(),
        };
        if let Some(v) = value {
            out.insert(v, name.to_string());
        }
        match after.trim_start().strip_prefix(',') {
            Some(next) => rest = next,
            None => break,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The parsing half of [`Format::offset`], separate so it can be tested.
fn parse_offset(format: &str, field: &str) -> Option<usize> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?;
        let (decl, rest) = decl.split_once(';')?;
        let name = decl.rsplit([' ', '*']).next()?;
        let name = name.split('[').next()?;
        if name != field {
            return None;
        }
        rest.split(';')
            .find_map(|kv| kv.trim().strip_prefix("offset:")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_offset, parse_symbolic, Format};

    /// This project's machine's format files (Linux 6.18), copied verbatim.
    const KFREE_SKB_6_18: &str = include_str!("../../testdata/kfree_skb-6.18.format");
    const SEND_RESET_6_18: &str = include_str!("../../testdata/tcp_send_reset-6.18.format");
    const RETRANSMIT_6_18: &str = include_str!("../../testdata/tcp_retransmit_skb-6.18.format");

    #[test]
    fn drop_reasons_come_from_the_print_fmt() {
        let reasons = parse_symbolic(KFREE_SKB_6_18, "reason").unwrap();
        assert_eq!(reasons.len(), 127);
        assert_eq!(reasons[&2], "NOT_SPECIFIED");
        assert_eq!(reasons[&12], "NETFILTER_DROP");
        assert_eq!(reasons[&54], "IP_OUTNOROUTES");
        assert_eq!(reasons[&128], "MAX");
        assert!(!reasons.contains_key(&0) && !reasons.contains_key(&1));
        assert_eq!(parse_symbolic(KFREE_SKB_6_18, "protocol"), None);
    }

    #[test]
    fn rst_reasons_skip_the_state_list_before_them() {
        let reasons = parse_symbolic(SEND_RESET_6_18, "reason").unwrap();
        assert_eq!(reasons.len(), 26);
        assert_eq!(reasons[&0], "NOT_SPECIFIED");
        assert_eq!(reasons[&1], "NO_SOCKET");
        assert_eq!(reasons[&25], "MAX");
        // `state` maps TCP_* names, not numbers: no table.
        assert_eq!(parse_symbolic(SEND_RESET_6_18, "state"), None);
    }

    #[test]
    fn damaged_symbolic_lists_do_not_panic() {
        let list = r#"x __print_symbolic(REC->reason, { 0x10, "HEX" }, { NAME, "SKIPPED" }, { 3, "THREE" })"#;
        let t = parse_symbolic(list, "reason").unwrap();
        assert_eq!(
            (t[&16].as_str(), t[&3].as_str(), t.len()),
            ("HEX", "THREE", 2)
        );
        for cut in 0..list.len() {
            let _ = parse_symbolic(&list[..cut], "reason");
        }
        assert_eq!(
            parse_symbolic(r#"__print_symbolic(REC->reason, { 1, NOQUOTE })"#, "reason"),
            None
        );
    }

    #[test]
    fn layout_check_names_the_moved_field() {
        let f = Format {
            tracepoint: "tcp/tcp_retransmit_skb".into(),
            text: RETRANSMIT_6_18.into(),
        };
        assert!(f
            .check_layout(&[("skaddr", 16), ("state", 24), ("err", 76)])
            .is_ok());
        let e = f
            .check_layout(&[("skaddr", 16), ("family", 30)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `family` is at offset 32, expected 30"),
            "{e}"
        );
        let e = f.check_layout(&[("reason", 28)]).unwrap_err().to_string();
        assert!(e.contains("no field `reason`"), "{e}");
    }

    const FORK_6_18: &str = "name: sched_process_fork\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";
    const FORK_5_15: &str = "\tfield:char parent_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:char child_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:44;\tsize:4;\tsigned:1;\n";

    #[test]
    fn finds_child_pid_in_both_layouts() {
        assert_eq!(parse_offset(FORK_6_18, "child_pid"), Some(20));
        assert_eq!(parse_offset(FORK_5_15, "child_pid"), Some(44));
        assert_eq!(parse_offset(FORK_5_15, "parent_comm"), Some(8));
        assert_eq!(parse_offset(FORK_6_18, "child"), None);
    }
}
