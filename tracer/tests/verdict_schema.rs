//! The verdict JSON against its schema (docs/verdict.schema.json): the
//! `--json` object of every recorded fixture bundle, analysed as a bundle
//! and its capture analysed alone (capture-only), validates with a JSON
//! Schema 2020-12 validator; objects that break it are refused, so the
//! check has teeth. No root needed.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validator() -> jsonschema::Validator {
    let path = workspace().join("docs/verdict.schema.json");
    let text = std::fs::read_to_string(&path).expect("reading the schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the schema is a valid 2020-12 schema")
}

fn errors(validator: &jsonschema::Validator, v: &Value) -> Vec<String> {
    validator
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn fixture_bundles() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("fixtures/bundles"))
        .expect("reading fixtures/bundles")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_fixture_verdict_follows_the_schema() {
    let validator = validator();
    let bundles = fixture_bundles();
    assert!(bundles.len() >= 20, "fixtures missing: {bundles:?}");
    let mut checked = 0;
    for dir in &bundles {
        let bundle = gotrace_analyzer::analyze_bundle(dir).expect("analysing the fixture");
        let capture = gotrace_analyzer::analyze_capture_path(&dir.join("capture.pcapng"))
            .expect("analysing the fixture's capture");
        for (what, report) in [("bundle", bundle), ("capture-only", capture)] {
            let v = serde_json::from_str::<Value>(&report.to_json()).expect("JSON");
            let errs = errors(&validator, &v);
            assert!(
                errs.is_empty(),
                "{} ({what}): {errs:#?}\n{v:#}",
                dir.display()
            );
            assert_eq!(v["analysis"], what, "{}", dir.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * bundles.len());
}

#[test]
fn objects_that_break_the_schema_are_refused() {
    let validator = validator();
    let dir = workspace().join("fixtures/bundles/connection-refused");
    let report = gotrace_analyzer::analyze_bundle(&dir).unwrap();
    let good = serde_json::from_str::<Value>(&report.to_json()).unwrap();
    assert!(errors(&validator, &good).is_empty());
    let broken = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut v = good.clone();
        f(v.as_object_mut().unwrap());
        v
    };
    for (why, v) in [
        (
            "unknown key",
            broken(&|m| {
                m.insert("extra".into(), json!(1));
            }),
        ),
        (
            "missing key",
            broken(&|m| {
                m.remove("cause");
            }),
        ),
        (
            "bad layer",
            broken(&|m| {
                m.insert("layer".into(), json!("somewhere"));
            }),
        ),
        (
            "other version",
            broken(&|m| {
                m.insert("format_version".into(), json!(2));
            }),
        ),
        (
            "bad evidence source",
            broken(&|m| {
                m["evidence"][0]["source"] = json!("guess");
            }),
        ),
        (
            "port out of range",
            broken(&|m| {
                m["target"]["port"] = json!(70000);
            }),
        ),
    ] {
        assert!(!errors(&validator, &v).is_empty(), "{why} was accepted");
    }
}
