use super::*;

fn report(layer: Layer) -> Report {
    Report {
        verdict: Verdict {
            layer,
            cause: Cause::NoRoute,
            pending: false,
            summary: "connect() failed".into(),
            target: Some(Target {
                name: None,
                ip: Some("2001:db8::2".into()),
                port: Some(443),
            }),
            evidence: vec![Step {
                source: Source::Event,
                id: 4,
                t_ms: Some(1.25),
                text: "connect(fd 3, [2001:db8::2]:443) = -ENETUNREACH".into(),
            }],
            remediation: "add a route".into(),
            missing: vec![],
            other_failures: vec!["x".into()],
            analysis: Analysis::Bundle,
        },
        warnings: vec!["w".into()],
        context: Context {
            argv: vec!["go".into(), "mod".into(), "tidy".into()],
            exit: Some(ExitStatus::Code(1)),
            ..Context::default()
        },
    }
}

#[test]
fn json_keys_in_documented_order() {
    let j = report(Layer::Kernel).to_json();
    let order = [
        "\"layer\"",
        "\"cause\"",
        "\"summary\"",
        "\"target\"",
        "\"evidence\"",
        "\"remediation\"",
        "\"missing\"",
        "\"other_failures\"",
        "\"warnings\"",
        "\"analysis\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| j.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{j}");
    assert!(j.contains("\"layer\": \"kernel\""));
}

#[test]
fn text_has_timeline_verdict_and_caveats() {
    let mut r = report(Layer::Kernel);
    r.context.timeline = r.verdict.evidence.clone();
    let t = render_text(&r);
    assert!(t.contains("`go mod tidy` exited with status 1"), "{t}");
    assert!(t.contains("     1.25  #4      connect(fd 3"), "{t}");
    assert!(t.contains("kernel / no-route"), "{t}");
    assert!(t.contains("target:   [2001:db8::2]:443"), "{t}");
    assert!(t.contains("evidence: event #4"), "{t}");
    assert!(t.contains("fix:      add a route"), "{t}");
    assert!(t.contains("    - x") && t.contains("    - w"), "{t}");
}

#[test]
fn repeated_lines_fold_to_first_and_last() {
    let step = |id: u64, text: &str| Step {
        source: Source::Packet,
        id,
        t_ms: Some(id as f64),
        text: text.into(),
    };
    let mut steps = vec![step(1, "connect")];
    steps.extend((2..=7).map(|i| step(i, "[SYN]")));
    steps.push(step(8, "close"));
    let ev = vec![steps[3].clone()];
    let t = trim_timeline(&steps, &ev);
    let got: Vec<(u64, &str)> = t.iter().map(|s| (s.id, s.text.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "connect"),
            (2, "[SYN]  [x6]"),
            (4, "[SYN]"),
            (7, "[SYN]"),
            (8, "close")
        ]
    );
}

#[test]
fn long_timelines_keep_evidence_and_ends() {
    let steps: Vec<Step> = (1..=40)
        .map(|i| Step {
            source: Source::Event,
            id: i,
            t_ms: Some(i as f64),
            text: format!("step {i}"),
        })
        .collect();
    let ev = vec![steps[19].clone()];
    let t = trim_timeline(&steps, &ev);
    let ids: Vec<u64> = t.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 20, 38, 39, 40]);
}

#[test]
fn speaker_is_go_only_for_go() {
    assert_eq!(speaker(&["/usr/lib/go/bin/go".into(), "mod".into()]), "Go");
    assert_eq!(speaker(&["sh".into()]), "the command");
    assert_eq!(speaker(&[]), "the command");
}
