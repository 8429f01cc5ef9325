//! End-to-end test of the annotated capture (issue 16, item 1): after a
//! real refused `go mod tidy`, tshark reads capture.pcapng cleanly and
//! finds, on the packets of go's connection to the proxy, ptcpdump's
//! `PID:`/`Cmd:`/`Args:` comment naming go's TGID, gotrace's attempt
//! line, the verdict's cited packets marked as its evidence, and the
//! direction in `epb_flags`; the interface block names its network
//! namespace; re-analysing the annotated bundle gives the same verdict,
//! and `gotrace analyze` of the capture alone names go's process beside
//! the packets it cites.
//! Needs root; fails without it.

mod support;

use std::process::Command;

use support::{bundle, tshark};

#[test]
fn the_capture_names_the_process_the_attempt_and_the_evidence() {
    let t = support::trace("connection-refused");
    let capture = t.bundle.join("capture.pcapng");
    let proxy = format!(
        "ip.addr=={} && tcp.port=={}",
        gotrace_e2e::SERVER_IP,
        gotrace_e2e::PROXY_PORT
    );

    // Every packet of the dial to the proxy is go's, with its TGID.
    let rows = tshark::fields(&capture, &proxy, &["frame.number", "frame.comment"]);
    assert!(
        !rows.is_empty(),
        "no packet to the proxy in {}",
        capture.display()
    );
    let go_pids: Vec<u64> = bundle::events(&t.bundle)
        .iter()
        .filter(|e| e["kind"] == "connect")
        .filter_map(|e| e["tgid"].as_u64())
        .collect();
    for row in &rows {
        let comment = row.get(1).map(String::as_str).unwrap_or("");
        // tshark -T fields shows a comment's newlines as `\n` and joins
        // a packet's comments with `,`.
        let pid = comment
            .strip_prefix("PID: ")
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|p| p.parse::<u64>().ok());
        assert!(
            pid.is_some_and(|p| go_pids.contains(&p)),
            "packet {} has no PID of a connecting process {go_pids:?}: {comment:?}",
            row[0]
        );
        assert!(comment.contains("Cmd: "), "{comment:?}");
        assert!(comment.contains("gotrace: attempt "), "{comment:?}");
    }

    // The verdict's cited packets say so.
    let cited = bundle::cited(&t.verdict, "packet");
    assert!(!cited.is_empty(), "{}", t.verdict);
    for n in &cited {
        let c = tshark::fields(&capture, &format!("frame.number=={n}"), &["frame.comment"]);
        let text = c
            .first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_default();
        assert!(
            text.contains("gotrace: evidence for connection-refused"),
            "cited packet {n}: {text:?}"
        );
    }

    // Direction: our SYN outbound (10), the proxy's RST inbound (01);
    // tshark prints the two bits as a hex word.
    let dir = |filter: &str| {
        tshark::fields(
            &capture,
            &format!("{proxy} && {filter}"),
            &["frame.packet_flags_direction"],
        )
    };
    let syn = dir("tcp.flags.syn==1 && tcp.flags.ack==0");
    let rst = dir("tcp.flags.reset==1");
    assert!(
        syn.iter().all(|r| r[0] == "0x00000002") && !syn.is_empty(),
        "SYN: {syn:?}"
    );
    assert!(
        rst.iter().all(|r| r[0] == "0x00000001") && !rst.is_empty(),
        "RST: {rst:?}"
    );

    // The interface block names its namespace.
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&capture)
        .args([
            "-c",
            "1",
            "-T",
            "fields",
            "-e",
            "frame.interface_description",
        ])
        .output()
        .expect("tshark");
    let descr = String::from_utf8_lossy(&out.stdout);
    assert!(
        descr.contains("in net:["),
        "interface description: {descr:?}"
    );

    // The annotated bundle re-analyses to the same verdict.
    let again = Command::new(support::gotrace())
        .args(["analyze", "--json"])
        .arg(&t.bundle)
        .output()
        .expect("gotrace analyze");
    let v = bundle::verdict_from_stdout(&String::from_utf8_lossy(&again.stdout))
        .expect("a verdict from gotrace analyze");
    assert_eq!(
        (&v["layer"], &v["cause"], &v["evidence"]),
        (
            &t.verdict["layer"],
            &t.verdict["cause"],
            &t.verdict["evidence"]
        )
    );
}
