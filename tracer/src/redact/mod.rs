//! Secrets kept out of the bundle (unless `--no-redact`): URL passwords in
//! meta.json's environment ([`url`]) and in the command's argv
//! ([`argv`]), credential HTTP header values in
//! capture.pcapng ([`frame`]) and in events.jsonl's payload heads
//! ([`event`]). What was redacted is recorded in meta.json's `redacted`.
//!
//! Everything the report and verdict.json quote from the environment comes
//! from meta.json, so redacting meta.json redacts them too; Go's own
//! messages (stderr.log) print URLs through `net/url.(*URL).Redacted`
//! already.

pub mod frame;
pub mod http;
pub mod url;

use std::collections::BTreeMap;

use gotrace_bundle::{Event, Op};

/// Redacts every value of `env` in place; returns the names of the
/// variables that changed, in name order.
pub fn env(env: &mut BTreeMap<String, String>) -> Vec<String> {
    let mut changed = Vec::new();
    for (k, v) in env.iter_mut() {
        if let Some(r) = url::redact_value(k, v) {
            *v = r;
            changed.push(k.clone());
        }
    }
    changed
}

/// Redacts URL userinfo in every element of the command's `argv` in place
/// (`env GOPROXY=http://u:pw@h go ...`, `git clone https://TOKEN@h/r`);
/// returns the indices of the elements that changed.
///
/// An element `NAME=value` whose NAME looks like an environment variable
/// (as `env(1)` and shells take it) is redacted as that variable's value,
/// so `HTTPS_PROXY=u:pw@proxy:3128` without a scheme is caught too.
pub fn argv(argv: &mut [String]) -> Vec<usize> {
    let mut changed = Vec::new();
    for (i, arg) in argv.iter_mut().enumerate() {
        let redacted = match assignment(arg) {
            Some((name, value)) => url::redact_value(name, value).map(|v| format!("{name}={v}")),
            None => url::redact_value("", arg),
        };
        if let Some(r) = redacted {
            *arg = r;
            changed.push(i);
        }
    }
    changed
}

/// `NAME=value` split at the first `=` when NAME is a POSIX environment
/// variable name (letters, digits, `_`, not starting with a digit; POSIX.1
/// XBD 8.1).
fn assignment(arg: &str) -> Option<(&str, &str)> {
    let (name, value) = arg.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some((name, value))
}

/// Overwrites credential header values in a `send`/`recv` event's payload
/// head (`data_hex`); returns how many were overwritten.
pub fn event(ev: &mut Event) -> u64 {
    let (Op::Send(io) | Op::Recv(io)) = &mut ev.op else {
        return 0;
    };
    let Some(hex) = io.data_hex.as_mut() else {
        return 0;
    };
    let Some(mut bytes) = from_hex(hex) else {
        return 0;
    };
    let n = http::overwrite_secret_headers(&mut bytes);
    if n > 0 {
        *hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    n
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::Io;

    #[test]
    fn env_redaction_names_the_variables_it_changed() {
        let mut e = BTreeMap::from([
            (
                "GOPROXY".to_string(),
                "http://user:s3cret@198.18.0.2:8080".to_string(),
            ),
            (
                "HTTPS_PROXY".to_string(),
                "http://u:pw@198.18.0.2:3128".to_string(),
            ),
            ("GOFLAGS".to_string(), "-mod=mod".to_string()),
        ]);
        assert_eq!(env(&mut e), ["GOPROXY", "HTTPS_PROXY"]);
        assert_eq!(e["GOPROXY"], "http://user:xxxxx@198.18.0.2:8080");
        assert_eq!(e["HTTPS_PROXY"], "http://u:xxxxx@198.18.0.2:3128");
        assert_eq!(e["GOFLAGS"], "-mod=mod");
    }

    #[test]
    fn argv_redaction_catches_urls_and_assignments() {
        let mut a: Vec<String> = [
            "env",
            "GOPROXY=http://user:s3cret@198.18.0.2:8080",
            "HTTPS_PROXY=suser:s3cure@198.18.0.2:3128",
            "git",
            "clone",
            "https://TOKEN@git.example.test/r",
            "-x=1",
            "go",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(argv(&mut a), [1, 2, 5]);
        assert_eq!(a[1], "GOPROXY=http://user:xxxxx@198.18.0.2:8080");
        assert_eq!(a[2], "HTTPS_PROXY=suser:xxxxx@198.18.0.2:3128");
        assert_eq!(a[5], "https://xxxxx@git.example.test/r");
        assert_eq!(a[6], "-x=1");
        // Without a URL or a proxy variable, nothing changes.
        let mut plain: Vec<String> = ["go", "mod", "tidy", "A=b@c"].map(String::from).to_vec();
        assert!(argv(&mut plain).is_empty());
        assert_eq!(plain, ["go", "mod", "tidy", "A=b@c"]);
    }

    #[test]
    fn a_payload_head_is_redacted_in_its_hex() {
        let head = b"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n";
        let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
        let mut ev = Event {
            id: 1,
            ts_ns: 0,
            tgid: 1,
            tid: 1,
            comm: "go".into(),
            op: Op::Send(Io {
                syscall: "write".into(),
                fd: 3,
                ret: head.len() as i64,
                errno: None,
                peer: None,
                data_hex: Some(hex),
                sock: None,
            }),
        };
        assert_eq!(event(&mut ev), 1);
        let Op::Send(Io {
            data_hex: Some(h), ..
        }) = &ev.op
        else {
            unreachable!()
        };
        let bytes = from_hex(h).unwrap();
        assert_eq!(bytes, b"GET / HTTP/1.1\r\nAuthorization: xxxxxxxxxx\r\n");
    }
}
