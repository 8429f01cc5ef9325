//! Reading a bundle: the verdict on stdout, events.jsonl, meta.json.

use std::path::Path;

use serde_json::Value;

/// The verdict object gotrace printed on stdout after the command's own
/// output: the first line starting with `{` from which a JSON object parses.
pub fn verdict_from_stdout(stdout: &str) -> Option<Value> {
    let mut offset = 0;
    for line in stdout.split_inclusive('\n') {
        if line.starts_with('{') {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(stdout[offset..].trim())
            {
                return Some(v);
            }
        }
        offset += line.len();
    }
    None
}

/// Every event in `<bundle>/events.jsonl`.
pub fn events(bundle: &Path) -> Vec<Value> {
    let path = bundle.join("events.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad line in {}: {e}: {l}", path.display()))
        })
        .collect()
}

/// `<bundle>/meta.json`.
pub fn meta(bundle: &Path) -> Value {
    let path = bundle.join("meta.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The ids the verdict cites from `source` ("event" or "packet").
pub fn cited(verdict: &Value, source: &str) -> Vec<u64> {
    verdict["evidence"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["source"] == source)
                .filter_map(|e| e["id"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

/// The peer of an event as "ip:port", when it has one.
pub fn peer(event: &Value) -> Option<String> {
    let p = &event["peer"];
    Some(format!("{}:{}", p["ip"].as_str()?, p["port"].as_u64()?))
}

#[test]
fn verdict_is_found_after_command_output() {
    let v = verdict_from_stdout("hello {not json\n{\n  \"layer\": \"none\"\n}\n").expect("verdict");
    assert_eq!(v["layer"], "none");
    assert!(verdict_from_stdout("no json here\n").is_none());
}
