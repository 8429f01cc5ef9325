//! A reason-less packet drop's freeing function as evidence. Before Linux
//! 5.17 `skb:kfree_skb` has no `reason`; the recorder then names the
//! drop's `location` through /proc/kallsyms (`location_name`), and the
//! function that freed the packet says who dropped it.

/// The drop reason the freeing function `location_name` (`symbol+0xoff`)
/// implies, when it implies one: `nf_hook_slow` frees the packets a
/// netfilter hook returned NF_DROP for (net/netfilter/core.c), which
/// later kernels report as `NETFILTER_DROP`.
pub(super) fn implied_reason(location_name: &str) -> Option<&'static str> {
    match location_name.split('+').next()? {
        "nf_hook_slow" => Some("NETFILTER_DROP"),
        _ => None,
    }
}

/// The drop's value for the verdict when only its location speaks:
/// `NETFILTER_DROP (freed in nf_hook_slow+0x78; no reason on this kernel)`.
pub(super) fn describe(location_name: &str) -> Option<String> {
    implied_reason(location_name)
        .map(|r| format!("{r} (freed in {location_name}; no reason on this kernel)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nf_hook_slow_implies_a_netfilter_drop() {
        assert_eq!(implied_reason("nf_hook_slow+0x78"), Some("NETFILTER_DROP"));
        assert_eq!(implied_reason("nf_hook_slow_list+0x10"), None);
        assert_eq!(implied_reason("tcp_v4_rcv+0x1"), None);
        let d = describe("nf_hook_slow+0x78").unwrap();
        assert!(crate::correlate::is_netfilter(&d), "{d}");
        assert!(describe("kfree_skb_list+0x2").is_none());
    }
}
