//! The deployment files against the binary they deploy (deploy/): every
//! metric the alert rules and the dashboard use is one `warden run` serves,
//! and an SSF receiver that knows only Warden's issuer discovers the
//! transmitter and verifies pushed revocations with the JWKS it found.
//! The manifests themselves are validated by scripts/check_deploy.py and
//! the rules by promtool (scripts/test.sh).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_warden")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` from 127.0.0.1:`port`: (status, body), or None while nothing
/// listens.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// Every `warden_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("warden_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// `warden demo` with its output in files beside `config` (a pipe nobody
/// reads while it runs could fill and stall it).
fn demo(port: u16, config: &Path, seconds: u32) -> Child {
    let log = |name: &str| std::fs::File::create(config.with_file_name(name)).unwrap();
    Command::new(bin())
        .args([
            "demo",
            "--duration",
            &format!("{seconds}s"),
            "--agents",
            "24",
        ])
        .args(["--seed", "3", "--partitions", "2"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(config)
        .stdout(log("demo.out"))
        .stderr(log("demo.err"))
        .spawn()
        .unwrap()
}

/// Waits for the demo; its stdout.
fn finish(mut child: Child, config: &Path) -> String {
    let status = child.wait().unwrap();
    let read = |name: &str| std::fs::read_to_string(config.with_file_name(name)).unwrap();
    let text = read("demo.out");
    assert!(status.success(), "{text}\n{}", read("demo.err"));
    text
}

#[test]
fn rules_and_dashboard_use_only_metrics_that_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    // One sink, so its series are served too (nothing listens on port 9:
    // its records are retried and dropped, which is also what the rules
    // watch for).
    std::fs::write(
        &config,
        "version = 1\n[[sinks]]\ntype = \"ssf_push\"\nurl = \"http://127.0.0.1:9/events\"\n\
         allow_insecure_http = true\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = demo(port, &config, 6);
    // Scrape until the demo ends: some series (the latency quantiles) are
    // published only once calls flow.
    let mut served = BTreeSet::new();
    let mut decided = false;
    while child.try_wait().unwrap().is_none() {
        if let Some((200, body)) = get(port, "/metrics") {
            decided |= body.lines().any(|l| {
                l.starts_with("warden_events_total ") && l.split_whitespace().nth(1) != Some("0")
            });
            served.extend(
                body.lines()
                    .filter(|l| !l.starts_with('#'))
                    .flat_map(metric_names),
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    finish(child, &config);
    assert!(decided, "no scrape saw a decided call");

    let mut used = BTreeSet::new();
    let files = [
        "deploy/prometheus/warden-rules.yml",
        "deploy/prometheus/warden-rules.test.yml",
        "deploy/grafana/warden-dashboard.json",
    ];
    for f in files {
        used.extend(metric_names(&std::fs::read_to_string(repo(f)).unwrap()));
    }
    assert!(
        used.len() >= 15,
        "too few metrics found in {files:?}: {used:?}"
    );
    let missing: Vec<_> = used.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "used by the rules or dashboard but not served: {missing:?}\nserved: {served:?}"
    );
    for series in [
        "warden_ready",
        "warden_agents_capacity",
        "warden_consumer_partition_lag",
        "warden_sink_dropped_total",
    ] {
        assert!(served.contains(series), "{series} not served");
    }
}

fn keys(dir: &Path, name: &str) -> String {
    let out = Command::new(bin())
        .args(["keys", "generate", "--name", name, "--out-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("kid "))
        .unwrap()
        .to_string()
}

/// Rotation in progress: the active key signs, the next one is already
/// published. A receiver given only the issuer URL finds the metadata, the
/// JWKS (both keys), and verifies every pushed revocation with it; a
/// tampered copy of each fails. The SSF push endpoint is Python with PyJWT
/// (tests/e2e/ssf_receiver.py), so no Warden code verifies anything.
#[test]
fn a_receiver_verifies_revocations_with_what_it_discovered() {
    let dir = tempfile::tempdir().unwrap();
    let active = keys(dir.path(), "active");
    let next = keys(dir.path(), "next");
    assert_ne!(active, next);
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/");

    let port_file = dir.path().join("receiver.port");
    let summary = dir.path().join("receiver.json");
    let mut receiver = Command::new("python3")
        .arg(repo("tests/e2e/ssf_receiver.py"))
        .arg(&issuer)
        .arg(&port_file)
        .arg(&summary)
        .spawn()
        .expect("python3 runs the SSF receiver (scripts/test.sh installs PyJWT)");
    let deadline = Instant::now() + Duration::from_secs(20);
    let receiver_port = loop {
        if let Ok(p) = std::fs::read_to_string(&port_file) {
            break p.trim().to_string();
        }
        if let Ok(Some(status)) = receiver.try_wait() {
            panic!("the SSF receiver exited ({status}): is PyJWT installed (pip install 'pyjwt[crypto]')?");
        }
        assert!(Instant::now() < deadline, "the SSF receiver did not start");
        std::thread::sleep(Duration::from_millis(100));
    };

    let config = dir.path().join("warden.toml");
    let d = dir.path().display();
    std::fs::write(
        &config,
        format!(
            "version = 1\n[decisions]\nrevoke = \"enforce\"\n\
             [signing]\nkey_file = \"{d}/active.pem\"\npublish_jwks = [\"{d}/next.jwks.json\"]\n\
             issuer = \"{issuer}\"\n\
             [[sinks]]\ntype = \"ssf_push\"\nurl = \"http://127.0.0.1:{receiver_port}/events\"\n\
             allow_insecure_http = true\n"
        ),
    )
    .unwrap();
    let text = finish(demo(port, &config, 8), &config);

    Command::new("kill")
        .args(["-TERM", &receiver.id().to_string()])
        .status()
        .unwrap();
    receiver.wait().unwrap();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let verified = s["verified"].as_array().unwrap();
    assert!(!verified.is_empty(), "no revocation pushed:\n{text}\n{s}");
    assert_eq!(s["rejected"], serde_json::json!([]), "{s}");
    assert_eq!(s["tampered_accepted"], 0, "{s}");
    assert_eq!(s["jwks_kids"], serde_json::json!([active, next]), "{s}");
    assert!(verified.iter().all(|v| v["kid"] == active.as_str()), "{s}");
    assert_eq!(s["metadata"]["issuer"], issuer.as_str());
    assert_eq!(
        s["metadata"]["delivery_methods_supported"],
        serde_json::json!(["urn:ietf:rfc:8935"])
    );
}
