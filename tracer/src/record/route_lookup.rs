//! Setup of the route-lookup programs (ABI kind ROUTE_LOOKUP):
//! `fib:fib_table_lookup` and `fib6:fib6_table_lookup`, whose record
//! offsets (include/trace/events/fib.h, fib6.h) moved between kernels and
//! go to the programs as globals. Missing, they cost the evidence that
//! tells a route refusal (`blackhole`, `prohibit`, `unreachable`) from a
//! policy hook or a neighbour with the same errno: a warning, not a
//! failed run.

use gotrace_abi::globals;

use super::kernel_events::{Setup, Tracepoint, MAX_RECORD_OFFSET};
use super::tracefs::Format;

/// Fixed since the events carry `err` (Linux 4.19 for fib6).
const FIXED: &[(&str, usize)] = &[("tb_id", 8), ("err", 12)];

/// One family's event: its program and the globals its offsets go to.
struct Event {
    program: Tracepoint,
    /// (field, global) for src, dst, sport, dport.
    fields: [(&'static str, &'static str); 4],
    /// `rt_type`'s global, if the event may have one.
    rt_type: Option<&'static str>,
}

const FIB: Event = Event {
    program: ("fib_table_lookup", "fib", "fib_table_lookup"),
    fields: [
        ("src", globals::FIB_SRC_OFF),
        ("dst", globals::FIB_DST_OFF),
        ("sport", globals::FIB_SPORT_OFF),
        ("dport", globals::FIB_DPORT_OFF),
    ],
    rt_type: None,
};

const FIB6: Event = Event {
    program: ("fib6_table_lookup", "fib6", "fib6_table_lookup"),
    fields: [
        ("src", globals::FIB6_SRC_OFF),
        ("dst", globals::FIB6_DST_OFF),
        ("sport", globals::FIB6_SPORT_OFF),
        ("dport", globals::FIB6_DPORT_OFF),
    ],
    rt_type: Some(globals::FIB6_RT_TYPE_OFF),
};

impl Setup {
    /// Adds both route-lookup programs this kernel's format files allow.
    pub(super) fn route_lookups(&mut self) {
        for (event, family) in [(&FIB, "IPv4"), (&FIB6, "IPv6")] {
            let (_, category, name) = event.program;
            match Format::read(category, name) {
                Ok(f) => self.route_event(&f, event, family),
                Err(e) => self.route_loss(&e.to_string(), family),
            }
        }
    }

    fn route_event(&mut self, f: &Format, event: &Event, family: &str) {
        if let Err(e) = f.check_layout(FIXED) {
            return self.route_loss(&e.to_string(), family);
        }
        let mut globals = Vec::new();
        for (field, global) in event.fields {
            match f.offset(field) {
                Ok(o) if o <= MAX_RECORD_OFFSET => globals.push((global, o as u32)),
                Ok(o) => {
                    let why = format!(
                        "{}: field `{field}` at offset {o} is out of the probe's range",
                        event.program.1
                    );
                    return self.route_loss(&why, family);
                }
                Err(e) => return self.route_loss(&e.to_string(), family),
            }
        }
        if let Some(global) = event.rt_type {
            let o = match f.offset("rt_type") {
                Ok(o) if o <= MAX_RECORD_OFFSET => o as u32,
                _ => 0,
            };
            globals.push((global, o));
        }
        self.globals.extend(globals);
        self.programs.push(event.program);
    }

    fn route_loss(&mut self, why: &str, family: &str) {
        self.warnings.push(format!(
            "{why}: {family} route lookups are not recorded: a connect refused by a blackhole, prohibit or unreachable route is still told by its errno with nothing on the wire, but not from a policy hook (EACCES) or a neighbour (EHOSTUNREACH) with the same errno"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(s: &Setup, name: &str) -> Option<u32> {
        s.globals.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    #[test]
    fn the_6_18_formats_give_their_offsets() {
        let mut s = Setup::default();
        let f = Format::from_text(
            "fib/fib_table_lookup",
            include_str!("../../testdata/fib_table_lookup-6.18.format").into(),
        );
        s.route_event(&f, &FIB, "IPv4");
        let f6 = Format::from_text(
            "fib6/fib6_table_lookup",
            include_str!("../../testdata/fib6_table_lookup-6.18.format").into(),
        );
        s.route_event(&f6, &FIB6, "IPv6");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(s.programs, [FIB.program, FIB6.program]);
        assert_eq!(global(&s, globals::FIB_DST_OFF), Some(32));
        assert_eq!(global(&s, globals::FIB_DPORT_OFF), Some(58));
        assert_eq!(global(&s, globals::FIB6_DST_OFF), Some(47));
        assert_eq!(global(&s, globals::FIB6_RT_TYPE_OFF), Some(69));
    }

    #[test]
    fn a_record_without_err_is_a_stated_loss() {
        let mut s = Setup::default();
        let old = "format:\n\tfield:u32 tb_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:int oif;\toffset:12;\tsize:4;\tsigned:1;\n";
        s.route_event(
            &Format::from_text("fib6/fib6_table_lookup", old.into()),
            &FIB6,
            "IPv6",
        );
        assert!(s.programs.is_empty());
        assert!(
            s.warnings[0].contains("IPv6 route lookups are not recorded"),
            "{:?}",
            s.warnings
        );
    }
}
