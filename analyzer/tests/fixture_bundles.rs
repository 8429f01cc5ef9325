//! Golden tests over recorded bundles in `fixtures/bundles/NAME/` (added by
//! the lab engineers; read-only here). Every bundle must analyse without
//! error and reproduce its `expected.json` exactly:
//!
//! ```json
//! {"layer": "network", "cause": "connection-refused",
//!  "evidence": [{"source": "event", "id": 10}, {"source": "packet", "id": 3}]}
//! ```
//!
//! All three keys are required (`"evidence": []` when the verdict cites
//! none); the evidence cited must be that set, no more and no less (order
//! free). A missing, empty or partial `expected.json` is a failure, so a new
//! bundle cannot pass by pinning nothing. The directory is part of the
//! repository: missing it, or finding no bundle in it, is a failure.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use gotrace_analyzer::analyze_bundle;
use serde_json::Value;

/// How to write an expected.json, appended to every complaint about one.
const HOW: &str = "write it as {\"layer\": ..., \"cause\": ..., \"evidence\": \
    [{\"source\": \"event\"|\"packet\", \"id\": N}, ...]} from the bundle's verdict \
    (`gotrace analyze --json DIR`), \"evidence\": [] when it cites none";

/// One cited item: `source` ("event" or "packet") and its 1-based id.
type Cited = (String, u64);

/// What an `expected.json` pins.
struct Expected {
    layer: String,
    cause: String,
    evidence: BTreeSet<Cited>,
}

#[test]
fn recorded_bundles_reproduce_their_expected_verdicts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let entries = std::fs::read_dir(&root).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the recorded bundles are part of the repository (cargo xtask record-fixtures)",
            root.display()
        )
    });
    let mut failures = Vec::new();
    let mut bundles = 0;
    for e in entries.flatten() {
        let dir = e.path();
        if dir.join("meta.json").exists() {
            bundles += 1;
            failures.extend(check(&dir));
        }
    }
    assert!(
        bundles > 0,
        "no bundle (a directory with meta.json) in {}",
        root.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Problems of one bundle against its `expected.json` (empty = fine).
fn check(dir: &Path) -> Vec<String> {
    let report = match analyze_bundle(dir) {
        Ok(r) => r,
        Err(err) => return vec![format!("{}: {err}", dir.display())],
    };
    let path = dir.join("expected.json");
    let want = match std::fs::read_to_string(&path) {
        Ok(text) => match parse_expected(&text) {
            Ok(want) => want,
            Err(problem) => return vec![format!("{}: {problem}; {HOW}", path.display())],
        },
        Err(err) => {
            return vec![format!(
                "{}: {err}; every bundle needs one: {HOW}",
                path.display()
            )]
        }
    };
    let got: Value = serde_json::from_str(&report.to_json()).unwrap();
    let mut failures = Vec::new();
    for (key, want) in [("layer", &want.layer), ("cause", &want.cause)] {
        if got[key].as_str() != Some(want.as_str()) {
            failures.push(format!(
                "{}: {key} is {}, expected \"{want}\"",
                dir.display(),
                got[key]
            ));
        }
    }
    let cited: BTreeSet<Cited> = got["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| cited(e).ok())
        .collect();
    for missing in want.evidence.difference(&cited) {
        failures.push(format!("{}: evidence {missing:?} not cited", dir.display()));
    }
    for extra in cited.difference(&want.evidence) {
        failures.push(format!(
            "{}: cites evidence {extra:?}, which expected.json does not list",
            dir.display()
        ));
    }
    failures
}

/// An `expected.json`'s content, or what is wrong with it.
fn parse_expected(text: &str) -> Result<Expected, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let missing: Vec<&str> = ["layer", "cause", "evidence"]
        .into_iter()
        .filter(|k| v.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("no {}", missing.join(", no ")));
    }
    let string = |key: &str| {
        v[key]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("{key} is {}, not a string", v[key]))
    };
    let items = v["evidence"]
        .as_array()
        .ok_or_else(|| format!("evidence is {}, not an array", v["evidence"]))?;
    let mut evidence = BTreeSet::new();
    for item in items {
        let c = cited(item)?;
        if !evidence.insert(c.clone()) {
            return Err(format!("evidence {c:?} listed twice"));
        }
    }
    Ok(Expected {
        layer: string("layer")?,
        cause: string("cause")?,
        evidence,
    })
}

/// One `{"source": "event"|"packet", "id": N}` entry.
fn cited(item: &Value) -> Result<Cited, String> {
    let source = item["source"]
        .as_str()
        .filter(|s| matches!(*s, "event" | "packet"));
    match (source, item["id"].as_u64()) {
        (Some(s), Some(id)) => Ok((s.to_string(), id)),
        _ => Err(format!(
            "evidence entry {item} is not {{\"source\": \"event\"|\"packet\", \"id\": N}}"
        )),
    }
}

#[test]
fn the_golden_check_can_fail() {
    let mut b = common::Bundle::new(Some(1));
    let (c, s, syn, rst) = common::refused_dial(&mut b, false);
    b.stderr = Some(common::REFUSED_STDERR.into());
    let dir = b.write();
    let ev = |source: &str, id: u64| format!(r#"{{"source":"{source}","id":{id}}}"#);
    let exact = [
        ev("event", c),
        ev("event", s),
        ev("packet", syn),
        ev("packet", rst),
    ];
    let expect = |layer: &str, evidence: &[String]| {
        format!(
            r#"{{"layer":"{layer}","cause":"connection-refused","evidence":[{}]}}"#,
            evidence.join(",")
        )
    };
    let failures = |text: Option<&str>| {
        let path = dir.join("expected.json");
        match text {
            Some(t) => std::fs::write(&path, t).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        check(&dir)
    };

    // The exact verdict passes, in any order.
    assert_eq!(
        failures(Some(&expect("network", &exact))),
        Vec::<String>::new()
    );
    let mut reversed = exact.clone();
    reversed.reverse();
    assert_eq!(
        failures(Some(&expect("network", &reversed))),
        Vec::<String>::new()
    );

    // A missing, empty or partial expected.json fails and says how to write one.
    for text in [
        None,
        Some("{}"),
        Some(r#"{"layer":"network","cause":"connection-refused"}"#),
    ] {
        let f = failures(text);
        assert_eq!(f.len(), 1, "{text:?}: {f:?}");
        assert!(f[0].contains("\"evidence\": []"), "{text:?}: {}", f[0]);
    }
    assert!(failures(Some("{}"))[0].contains("no layer, no cause, no evidence"));

    // Malformed entries fail rather than being skipped.
    for bad in [r#"{"source":"kernel","id":1}"#, r#"{"source":"event"}"#] {
        let f = failures(Some(&expect("network", &[bad.to_string()])));
        assert_eq!(f.len(), 1, "{bad}: {f:?}");
    }
    let twice = [exact[0].clone(), exact[0].clone()];
    assert!(failures(Some(&expect("network", &twice)))[0].contains("listed twice"));

    // Wrong layer, an uncited id, and a cited id left out: one failure each.
    let mut wrong = exact[1..].to_vec();
    wrong.push(ev("packet", 99));
    let f = failures(Some(&expect("kernel", &wrong)));
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(f[0].contains("layer is \"network\""), "{}", f[0]);
    assert!(f[1].contains("(\"packet\", 99) not cited"), "{}", f[1]);
    assert!(f[2].contains("does not list"), "{}", f[2]);
}
