//! tracefs: making sure it is mounted, and reading tracepoint record layouts
//! from each event's `format` file (Documentation/trace/events.rst).

use crate::error::TracerError;
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
    .map_err(|e| TracerError::Tracefs(e.to_string()))?;
    if events.is_dir() {
        Ok(())
    } else {
        Err(TracerError::Tracefs(
            "no events/ directory after mounting".into(),
        ))
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

    /// Byte offset of `field` in the records, parsed from lines like
    /// `field:pid_t child_pid;\toffset:20;\tsize:4;...`.
    pub fn offset(&self, field: &str) -> Result<usize, TracerError> {
        parse_offset(&self.text, field).ok_or_else(|| TracerError::TracepointFormat {
            tracepoint: self.tracepoint.clone(),
            problem: format!("no field `{field}` in its format file"),
        })
    }
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
    use super::parse_offset;

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
