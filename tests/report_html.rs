//! `--report-html` of replay and tune: one self-contained file (no script,
//! no network), every chart an SVG that parses, and, where Debian's
//! Chromium is installed (scripts/test.sh installs it), the page rendered
//! headless with every chart laid out at its size.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_warden");

fn reports(dir: &Path) -> Vec<PathBuf> {
    let input =
        common::simulate_fleet(dir, "fleet.jsonl", 40, "2d", 11, &["--attack-share", "0.3"]);
    let replay = dir.join("replay.html");
    let tune = dir.join("tune.html");
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(Command::new(BIN)
        .args(["replay", "--no-progress", "--report-html"])
        .arg(&replay)
        .arg(&input));
    ok(Command::new(BIN)
        .args([
            "tune",
            "--no-progress",
            "--thresholds",
            "45,60,75",
            "--report-html",
        ])
        .arg(&tune)
        .arg(&input));
    vec![replay, tune]
}

/// The `<svg>…</svg>` elements of a page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        let j = rest[i..].find("</svg>").expect("every svg is closed") + i + 6;
        out.push(&rest[i..j]);
        rest = &rest[j..];
    }
    out
}

#[test]
fn reports_are_self_contained_and_every_chart_parses() {
    let dir = tempfile::tempdir().unwrap();
    for path in reports(dir.path()) {
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "{}: no scripts", path.display());
        for attr in ["src=", "href=", "url(", "@import"] {
            assert!(
                !html.contains(attr),
                "{}: external reference {attr}",
                path.display()
            );
        }
        let without_ns = html.replace("http://www.w3.org/2000/svg", "");
        assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
        let charts = svgs(&html);
        assert!(
            charts.len() >= 5,
            "{}: {} charts",
            path.display(),
            charts.len()
        );
        for svg in &charts {
            let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| {
                panic!("{}: an SVG does not parse: {e}\n{svg}", path.display())
            });
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            assert_eq!(
                root.tag_name().namespace(),
                Some("http://www.w3.org/2000/svg")
            );
            assert!(root.attribute("viewBox").is_some());
            let title = root
                .children()
                .find(|n| n.has_tag_name("title"))
                .expect("a title");
            assert!(!title.text().unwrap_or("").is_empty());
            // Something is drawn: lines, bars or points.
            assert!(
                doc.descendants().any(|n| n.has_tag_name("polyline")
                    || n.has_tag_name("rect") && n.attribute("fill") != Some("#fff")),
                "{}: an empty chart",
                path.display()
            );
        }
    }
    let tune = std::fs::read_to_string(dir.path().join("tune.html")).unwrap();
    assert!(tune.contains("Recommended: <b>finding_threshold"));
    assert!(tune.contains("Precision/recall of findings"));
    let replay = std::fs::read_to_string(dir.path().join("replay.html")).unwrap();
    assert!(replay.contains("Recall per attack scenario"));
    assert!(replay.contains("<td>"), "the top agents table has rows");
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1360,2400",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn reports_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: Debian chromium is not installed (scripts/test.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for path in reports(dir.path()) {
        let html = std::fs::read_to_string(&path).unwrap();
        let n = svgs(&html).len();
        // A copy with a probe that measures every chart after layout.
        let probe = path.with_extension("probe.html");
        let script = "<script>addEventListener('load',()=>{const s=[...document.querySelectorAll('svg')].map(e=>{const r=e.getBoundingClientRect();return [Math.round(r.width),Math.round(r.height)]});const p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify(s);document.body.appendChild(p)})</script>";
        std::fs::write(&probe, html.replace("</body>", &format!("{script}</body>"))).unwrap();
        let out = headless(browser, &dir.path().join("profile"))
            .args(["--virtual-time-budget=5000", "--dump-dom"])
            .arg(format!("file://{}", probe.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
        let end = dom[start..].find("</pre>").unwrap() + start;
        let sizes: Vec<(u32, u32)> = serde_json::from_str(&dom[start..end]).unwrap();
        assert_eq!(
            sizes.len(),
            n,
            "{}: every chart is in the rendered page",
            path.display()
        );
        for (w, h) in sizes {
            assert!(
                w >= 300 && h >= 60,
                "{}: a chart laid out at {w}x{h}",
                path.display()
            );
        }
        // And a picture of the page, to look at.
        let png = path.with_extension("png");
        let shot = headless(browser, &dir.path().join("profile"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", path.display()))
            .output()
            .unwrap();
        assert!(shot.status.success());
        assert!(
            std::fs::metadata(&png).unwrap().len() > 20_000,
            "a blank page?"
        );
    }
}
