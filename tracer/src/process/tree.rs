//! The descendants of a running process, for `attach`: every process whose
//! parent chain leads to it, read from `/proc/N/stat` (proc(5): field 4 is
//! the parent's PID, after the `(comm)` that may itself hold spaces and
//! parentheses, so the line is split at its last `)`).

use std::collections::{HashMap, VecDeque};

/// PIDs (TGIDs) of `pid`'s descendants now, parents before children. A
/// process that exits while /proc is read is simply not listed.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = std::fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|s| parent_of(&s))
        {
            children.entry(ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut queue = VecDeque::from([pid]);
    while let Some(p) = queue.pop_front() {
        let mut kids = children.remove(&p).unwrap_or_default();
        kids.sort_unstable();
        for k in kids {
            if k != pid && !out.contains(&k) {
                out.push(k);
                queue.push_back(k);
            }
        }
    }
    out
}

/// The parent PID in a `/proc/N/stat` line.
fn parent_of(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// `/proc/PID/comm` without its newline, or empty when unreadable.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn the_parent_is_read_after_the_last_parenthesis() {
        assert_eq!(parent_of("42 (go) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("43 (a) b) (c) R 9 1 1"), Some(9));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn a_shell_with_a_background_child_has_both_levels() {
        // sh -> (sleep, sh -> sleep): grandchildren are found too.
        let mut sh = Command::new("sh")
            .args(["-c", "sleep 30 & sh -c 'sleep 30 & wait' & wait"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = sh.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = Vec::new();
        while Instant::now() < deadline {
            found = descendants(pid);
            if found.len() >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let comms: Vec<String> = found.iter().map(|p| comm(*p)).collect();
        // Kill the whole group we made, by PID.
        for p in found.iter().rev() {
            unsafe { libc::kill(*p as i32, libc::SIGKILL) };
        }
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(found.len(), 3, "{found:?} {comms:?}");
        assert_eq!(
            comms.iter().filter(|c| *c == "sleep").count(),
            2,
            "{comms:?}"
        );
        assert!(!found.contains(&pid));
    }
}
