//! Reading capture.pcapng with tshark, the independent judge of what the
//! capture holds.

use std::path::Path;
use std::process::Command;

/// Runs `tshark -r FILE [-Y FILTER] -T fields -e F...` and returns one
/// Vec of field values per packet.
pub fn fields(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-r").arg(file);
    if !filter.is_empty() {
        c.args(["-Y", filter]);
    }
    c.args(["-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c
        .output()
        .expect("running tshark (install it: cargo xtask setup)");
    assert!(
        out.status.success(),
        "tshark -r {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// tshark reads the whole file: exit 0 and no complaint about damage.
pub fn assert_reads_cleanly(file: &Path) {
    assert!(file.is_file(), "no capture at {}", file.display());
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .output()
        .expect("running tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark -r {} exited {}: {stderr}",
        file.display(),
        out.status
    );
    for bad in ["appears to be damaged", "cut short", "corrupt"] {
        assert!(
            !stderr.contains(bad),
            "tshark says the capture {} {bad}: {stderr}",
            file.display()
        );
    }
}

/// `frame.time_epoch` ("1763752813.123456789") as integer nanoseconds;
/// f64 would lose the precision the 5 ms comparison relies on.
pub fn epoch_ns(s: &str) -> i128 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<i128>().expect("epoch seconds") * 1_000_000_000
        + frac[..9].parse::<i128>().expect("epoch fraction")
}

#[test]
fn epoch_ns_keeps_nanoseconds() {
    assert_eq!(epoch_ns("1.5"), 1_500_000_000);
    assert_eq!(epoch_ns("1763752813.000000007"), 1_763_752_813_000_000_007);
}

/// The network rule, checked on a capture: every IP packet stays on
/// loopback, 198.18.0.0/15, or IPv6 link-local/multicast (the veth's own
/// router solicitations and address checks).
pub fn assert_stays_in_lab(file: &Path) {
    let ok_v4 = |a: &str| {
        let o: Vec<u8> = a.split('.').filter_map(|p| p.parse().ok()).collect();
        o.len() == 4 && (o[0] == 127 || (o[0] == 198 && (o[1] == 18 || o[1] == 19)))
    };
    // "::" is the unspecified source of IPv6 duplicate address detection.
    let ok_v6 =
        |a: &str| a == "::" || a == "::1" || a.starts_with("fe80:") || a.starts_with("ff02:");
    let packets = fields(
        file,
        "ip || ipv6",
        &["frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"],
    );
    for p in &packets {
        let get = |i: usize| p.get(i).map(String::as_str).unwrap_or("");
        // An ICMP error quotes the packet it answers: several addresses, comma-separated.
        let v4 = [get(1), get(2)].into_iter().flat_map(|f| f.split(','));
        let v6 = [get(3), get(4)].into_iter().flat_map(|f| f.split(','));
        let bad: Vec<&str> = v4
            .filter(|a| !a.is_empty() && !ok_v4(a))
            .chain(v6.filter(|a| !a.is_empty() && !ok_v6(a)))
            .collect();
        assert!(
            bad.is_empty(),
            "frame {} of {} leaves the lab: {bad:?}",
            get(0),
            file.display()
        );
    }
}
