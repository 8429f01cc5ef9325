use std::path::PathBuf;

use super::*;
use crate::capture::CaptureIndex;

fn fixture(name: &str) -> crate::FullAnalysis {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/bundles")
        .join(name);
    let mut b = gotrace_bundle::read_bundle(&dir).expect("fixture bundle");
    let capture = match (b.take_capture(), &b.capture) {
        (Some(f), Some(p)) => CaptureIndex::from_file(f, p).ok(),
        _ => None,
    };
    crate::analyze_full(&b, capture)
}

/// Every `href="#X"` in `page` has an element with `id="X"`.
fn dangling_links(page: &str) -> Vec<String> {
    page.split("href=\"#")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| !page.contains(&format!("id=\"{id}\"")))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_refused_dial_shows_the_verdict_its_evidence_linked_and_the_connect_stage() {
    let full = fixture("connection-refused");
    let page = render_html(&full.report, &full.html);
    let v = &full.report.verdict;
    assert!(page.contains("connection-refused"), "cause id");
    assert!(page.contains("<section id=\"evidence\">"));
    for e in &v.evidence {
        assert!(
            page.contains(&format!("href=\"#{}\"", anchor(e.source, e.id))),
            "{e:?}"
        );
        assert!(
            page.contains(&format!(
                "<tr id=\"{}\" class=\"cited\"",
                anchor(e.source, e.id)
            )),
            "{e:?}"
        );
    }
    assert_eq!(dangling_links(&page), Vec::<String>::new());
    assert!(page.contains("TCP connect"));
    assert!(page.contains("Go settings used"));
    // Self-contained: nothing fetched, no script, no link out.
    for bad in ["<script", " src=", "href=\"http", "url("] {
        assert!(!page.contains(bad), "{bad}");
    }
}

#[test]
fn every_fixture_renders_with_its_stages_and_no_dangling_link() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !dir.join(&name).join("meta.json").is_file() {
            continue;
        }
        let full = fixture(&name);
        let page = render_html(&full.report, &full.html);
        assert!(page.len() < 1 << 20, "{name}: {} bytes", page.len());
        assert_eq!(dangling_links(&page), Vec::<String>::new(), "{name}");
        for a in &full.html.attempts {
            for s in &a.stages {
                assert!(s.end_ms >= s.start_ms, "{name}: {s:?}");
                assert!(page.contains(s.name), "{name}: {}", s.name);
            }
        }
        n += 1;
    }
    assert!(n >= 30, "only {n} fixtures");
}

#[test]
fn hostile_text_cannot_shape_the_page() {
    assert_eq!(
        esc("<script>alert('x')</script>&\"\u{1b}[2J"),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\u{fffd}[2J"
    );
    let mut full = fixture("connection-refused");
    full.report.verdict.summary = "<img src=x onerror=alert(1)>".into();
    full.html.settings = vec![("GOPROXY".into(), "\"><script>".into())];
    let page = render_html(&full.report, &full.html);
    assert!(
        !page.contains("<img") && !page.contains("<script"),
        "raw markup reached the page"
    );
}
