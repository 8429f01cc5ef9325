//! Names of kernel code addresses from /proc/kallsyms, for the `location`
//! of a packet drop on kernels whose `skb:kfree_skb` has no `reason`
//! (before 5.17): there the freeing function is the only evidence of who
//! dropped the packet (`nf_hook_slow`: a netfilter verdict). Read at run
//! time, as root, from procfs (not a path the traced command can change);
//! the name goes into the event so offline analysis needs no kernel.

use std::sync::Arc;

/// Text symbols sorted by address (proc(5): "address type name [module]").
#[derive(Debug, Default, Clone)]
pub struct Kallsyms(Arc<Vec<(u64, String)>>);

impl Kallsyms {
    /// This kernel's symbols; empty when /proc/kallsyms cannot be read or
    /// shows zeroed addresses (kptr_restrict without CAP_SYSLOG).
    pub fn load() -> Kallsyms {
        std::fs::read_to_string("/proc/kallsyms")
            .map(|t| Kallsyms::parse(&t))
            .unwrap_or_default()
    }

    /// Parses kallsyms text, keeping text symbols (`t`/`T`) of nonzero address.
    pub fn parse(text: &str) -> Kallsyms {
        let mut v: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let kind = f.next()?;
                let name = f.next()?;
                (addr != 0 && matches!(kind, "t" | "T")).then(|| (addr, name.to_string()))
            })
            .collect();
        v.sort_unstable();
        Kallsyms(Arc::new(v))
    }

    /// `name+0xoff` of the symbol holding `addr`; None before the first
    /// symbol or when none are known.
    pub fn name(&self, addr: u64) -> Option<String> {
        let n = self.0.partition_point(|(a, _)| *a <= addr);
        let (start, name) = self.0.get(n.checked_sub(1)?)?;
        Some(format!("{name}+{:#x}", addr - start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_an_address_by_the_text_symbol_below_it() {
        let k = Kallsyms::parse(
            "ffffffff81a00000 T nf_hook_slow\nffffffff81a00100 t nf_hook_entries_grow\n\
             ffffffff81a00080 D some_data\n0000000000000000 T zeroed\nnot a line\n",
        );
        assert_eq!(
            k.name(0xffff_ffff_81a0_0078).as_deref(),
            Some("nf_hook_slow+0x78")
        );
        assert_eq!(
            k.name(0xffff_ffff_81a0_0100).as_deref(),
            Some("nf_hook_entries_grow+0x0")
        );
        assert_eq!(k.name(0x1000), None);
        assert_eq!(Kallsyms::default().name(0xffff_ffff_81a0_0078), None);
    }
}
