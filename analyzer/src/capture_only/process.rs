//! Process names from packet comments: a capture written by gotrace (or
//! ptcpdump) says in each packet's first comment which process it
//! belongs to (`PID: 42\nCmd: /usr/bin/go\nArgs: go mod tidy`); the
//! capture-only report then names the process beside the packets it cites.

use std::collections::HashMap;

use crate::correlate::{Source, Step};

/// Packets whose process is remembered, at most (memory bound: a large
/// annotated capture keeps only the first ones, which is where failing
/// dials usually are).
const MAX_TAGGED: usize = 1 << 16;
/// Bytes of a `Cmd:` value kept.
const MAX_CMD: usize = 256;

/// The process of a packet, as its comment named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) cmd: String,
}

/// Packet number -> the process its comment names.
#[derive(Debug, Default)]
pub(crate) struct ProcessTags {
    by_packet: HashMap<u64, Process>,
}

impl ProcessTags {
    /// Remembers packet `number`'s process from its `PID: ` comment.
    pub(crate) fn note(&mut self, number: u64, comment: &[u8]) {
        if comment.is_empty() || self.by_packet.len() >= MAX_TAGGED {
            return;
        }
        if let Some(p) = parse(comment) {
            self.by_packet.insert(number, p);
        }
    }

    /// Appends `[PID N, CMD]` to the text of each cited packet with one
    /// (the annotation comes from the file, so it says so once).
    pub(crate) fn label(&self, steps: &mut [Step]) {
        for s in steps.iter_mut().filter(|s| s.source == Source::Packet) {
            if let Some(p) = self.by_packet.get(&s.id) {
                s.text.push_str(&format!(
                    " [PID {} {}, from the packet's comment]",
                    p.pid, p.cmd
                ));
            }
        }
    }
}

/// `PID: <n>` on the first line, `Cmd: <text>` on a later one (ptcpdump's
/// and gotrace's comment). Control characters in the command are dropped:
/// the file is a stranger's.
fn parse(comment: &[u8]) -> Option<Process> {
    let text = std::str::from_utf8(comment).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.strip_prefix("PID: ")?.trim().parse().ok()?;
    let cmd = lines
        .find_map(|l| l.strip_prefix("Cmd: "))
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CMD)
        .collect();
    Some(Process { pid, cmd })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptcpdump_and_gotrace_comments_name_the_process() {
        assert_eq!(
            parse(b"PID: 1234\nCmd: /usr/bin/curl\nArgs: curl 1.1.1.1"),
            Some(Process {
                pid: 1234,
                cmd: "/usr/bin/curl".into()
            })
        );
        assert_eq!(
            parse(b"PID: 7\nCmd: go\x1b[2J"),
            Some(Process {
                pid: 7,
                cmd: "go[2J".into()
            })
        );
        assert_eq!(parse(b"PID: x\nCmd: go"), None);
        assert_eq!(parse(b"\xff\xfe"), None);
    }

    #[test]
    fn cited_packets_get_their_process_and_others_stay() {
        let mut t = ProcessTags::default();
        t.note(3, b"PID: 42\nCmd: go");
        t.note(4, b"");
        let step = |id| Step {
            source: Source::Packet,
            id,
            t_ms: None,
            text: "SYN".into(),
        };
        let mut steps = vec![step(3), step(4)];
        t.label(&mut steps);
        assert_eq!(steps[0].text, "SYN [PID 42 go, from the packet's comment]");
        assert_eq!(steps[1].text, "SYN");
    }
}
