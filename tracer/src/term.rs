//! Text for the terminal: bundle- and capture-derived strings (Go's stderr,
//! DNS names, file names) come from untrusted input and must not drive the
//! terminal. Control characters are escaped as `ls -b` / `strace -xx` do:
//! the C0 set but newline, DEL, and the C1 set U+0080..U+009F (ECMA-48
//! section 5: a C1 CSI U+009B starts a sequence like ESC '['), as `\xNN`;
//! the bidirectional overrides and isolates U+202A..U+202E and
//! U+2066..U+2069 (Unicode UAX #9), which reorder what is shown, as
//! `\u{NNNN}`. JSON output is not escaped here: serde_json escapes controls.

use std::fmt::Write;

/// `text` with every control character escaped; `\n` is kept (the report's
/// layout), so is everything else, tab included as `\x09`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let u = u32::from(c);
        match c {
            '\n' => out.push('\n'),
            _ if u < 0x20 || (0x7f..=0x9f).contains(&u) => {
                let _ = write!(out, "\\x{u:02x}");
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{u:04x}}}");
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn controls_are_escaped_text_and_newlines_are_kept() {
        assert_eq!(escape("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape("\x1b[2J"), "\\x1b[2J");
        assert_eq!(escape("a\u{9b}2Jb"), "a\\x9b2Jb");
        assert_eq!(escape("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(escape("a\tb"), "a\\x09b");
        assert_eq!(
            escape("proxy.例え.jp\nnext\x7f"),
            "proxy.例え.jp\nnext\\x7f"
        );
    }
}
