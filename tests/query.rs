//! `warden query` (the real binary) over a simulated fleet, its replay's
//! findings and revocations, the same calls as a Parquet lake, and the real
//! CloudTrail logs: every example in docs/query.md runs, and answers are
//! checked against counts made here from the files themselves.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_warden");

struct Fixture {
    _dir: tempfile::TempDir,
    calls: PathBuf,
    findings: PathBuf,
    revocations: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (findings, revocations) = common::replayed_fleet(dir.path(), 40, "2d", 11);
    Fixture {
        calls: dir.path().join("fleet.jsonl"),
        findings,
        revocations,
        _dir: dir,
    }
}

fn query(args: &[&str], calls: &[&Path], f: &Fixture, stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["query", "--no-progress"]);
    for c in calls {
        cmd.arg("--calls").arg(c);
    }
    cmd.arg("--findings")
        .arg(&f.findings)
        .arg("--revocations")
        .arg(&f.revocations)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn json_rows(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A `SELECT k, n` over the fixture as a map.
fn counts_by(f: &Fixture, sql: &str) -> BTreeMap<String, u64> {
    json_rows(&query(&["--format", "json", sql], &[&f.calls], f, None))
        .iter()
        .map(|r| {
            (
                r["k"].as_str().unwrap().to_string(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The ```sql blocks of docs/query.md.
fn documented_queries() -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/query.md")).unwrap();
    doc.split("```sql\n")
        .skip(1)
        .map(|s| s.split("```").next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn every_documented_query_runs_and_answers() {
    let f = fixture();
    let queries = documented_queries();
    assert!(queries.len() >= 7, "{queries:?}");
    for q in &queries {
        let rows = json_rows(&query(&["--format", "json", q], &[&f.calls], &f, None));
        assert!(!rows.is_empty(), "no rows from a documented query:\n{q}");
    }
}

#[test]
fn answers_match_counts_made_from_the_files() {
    let f = fixture();
    let calls = lines(&f.calls);
    let findings: Vec<Value> = lines(&f.findings)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let revocations = lines(&f.revocations);

    // Calls, by outcome name (the view maps the codes).
    let mut by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    for l in &calls {
        let v: Value = serde_json::from_str(l).unwrap();
        let o = v["outcome"].as_str().unwrap_or("success").to_string();
        *by_outcome.entry(o).or_default() += 1;
    }
    let got = counts_by(
        &f,
        "SELECT outcome AS k, count(*) AS n FROM calls GROUP BY outcome",
    );
    assert_eq!(got, by_outcome);

    // New findings per agent, against the OCSF records.
    let mut created: BTreeMap<String, u64> = BTreeMap::new();
    for v in &findings {
        if v["class_uid"] == 2004 && v["activity_name"] == "Create" {
            let agent = v["evidences"][0]["actor"]["user"]["uid"].as_str().unwrap();
            *created.entry(agent.to_string()).or_default() += 1;
        }
    }
    assert!(!created.is_empty(), "the fixture has findings");
    let got = counts_by(
        &f,
        "SELECT agent_id AS k, count(*) AS n FROM findings WHERE activity = 'Create' GROUP BY agent_id",
    );
    assert_eq!(got, created);

    // Every revocation once (SETs and the findings file's remediation
    // activities describe the same ones), each joined to its finding.
    assert!(!revocations.is_empty(), "the fixture has revocations");
    let rows = json_rows(&query(
        &[
            "--format",
            "json",
            "SELECT count(*) AS n, count(DISTINCT revocation_uid) AS ids, \
             sum(CASE WHEN f.finding_uid IS NULL THEN 1 ELSE 0 END) AS orphans \
             FROM revocations r LEFT JOIN (SELECT DISTINCT finding_uid FROM findings) f \
             ON f.finding_uid = r.finding_uid",
        ],
        &[],
        &f,
        None,
    ));
    assert_eq!(rows[0]["n"].as_u64().unwrap(), revocations.len() as u64);
    assert_eq!(rows[0]["ids"].as_u64().unwrap(), revocations.len() as u64);
    assert_eq!(rows[0]["orphans"].as_u64().unwrap(), 0);

    // CSV has a header and one line per row.
    let out = query(
        &[
            "--format",
            "csv",
            "SELECT agent_id, action FROM calls ORDER BY ts, agent_id LIMIT 3",
        ],
        &[&f.calls],
        &f,
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("agent_id,action"));
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn a_parquet_lake_is_scanned_in_place_and_answers_the_same() {
    let f = fixture();
    let lake = f.calls.with_file_name("lake");
    let out = Command::new(BIN)
        .args(["convert", "--no-progress", "--out-dir"])
        .arg(&lake)
        .arg(&f.calls)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = "SELECT agent_type, outcome, count(*) AS n, count(DISTINCT agent_id) AS agents, \
               sum(bytes_out) AS bytes FROM calls \
               WHERE ts >= TIMESTAMP '2026-11-21T00:00:00Z' \
               GROUP BY agent_type, outcome ORDER BY agent_type, outcome";
    let from_json = json_rows(&query(&["--format", "json", sql], &[&f.calls], &f, None));
    let out = query(&["--format", "json", sql], &[&lake], &f, None);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let from_lake = json_rows(&out);
    assert!(!from_json.is_empty());
    assert_eq!(from_lake, from_json);
    assert!(stderr.contains("scanned in place"), "{stderr}");
}

#[test]
fn statements_from_a_pipe_run_in_order_and_a_failure_is_named() {
    let f = fixture();
    let script = "SELECT count(*) AS n FROM findings WHERE activity = 'Create';\n\
                  \\format csv\n\
                  SELECT no_such_column FROM calls;\n\
                  -- a comment; with a semicolon\n\
                  SELECT 'a;b' AS s;\n";
    let out = query(&[], &[&f.calls], &f, Some(script));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed statement fails the run");
    assert!(stderr.contains("error in statement 2"), "{stderr}");
    assert!(stderr.contains("no_such_column"), "{stderr}");
    // Statement 1 as a table, statement 3 as CSV after `\format csv`.
    assert!(stdout.contains("| n "), "{stdout}");
    assert!(stdout.contains("s\na;b\n"), "{stdout}");
}

#[test]
fn bad_findings_lines_are_named_and_the_rest_load() {
    let f = fixture();
    let mut text = lines(&f.findings);
    let total_created = text
        .iter()
        .filter(|l| l.contains("\"activity_name\":\"Create\""))
        .count();
    text.insert(1, "{\"class_uid\": 2004, \"time\": \"soon\"}".to_string());
    text.insert(3, "not json at all".to_string());
    let broken = f.findings.with_file_name("broken.jsonl");
    std::fs::write(&broken, text.join("\n")).unwrap();
    let out = Command::new(BIN)
        .args(["query", "--no-progress", "--format", "json", "--findings"])
        .arg(&broken)
        .arg("SELECT count(*) AS n FROM findings WHERE activity = 'Create'")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let rows = json_rows(&out);
    assert_eq!(rows[0]["n"].as_u64().unwrap(), total_created as u64);
    assert!(
        stderr.contains("line 2") && stderr.contains("`time`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4") && stderr.contains("not JSON"),
        "{stderr}"
    );
}

#[test]
fn the_prompt_answers_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is needed to give the prompt a terminal");
        return;
    }
    let f = fixture();
    let cmd = format!(
        "{BIN} query --no-progress --calls {} --findings {}",
        f.calls.display(),
        f.findings.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // A line editor flushes what was typed before it asked: type each line
    // only once the prompt for it is on the screen, as a person would.
    let wait_for = |what: &str, count: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while seen.lock().unwrap().matches(what).count() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "no {what:?} (x{count}) on the terminal: {}",
                seen.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    for (line, then, count) in [
        ("SELECT count(*) AS answer", "...> ", 1),
        ("FROM findings;", "warden> ", 2),
        ("\\d revocations", "warden> ", 3),
    ] {
        wait_for("warden> ", 1);
        stdin.write_all(format!("{line}\r").as_bytes()).unwrap();
        wait_for(then, count);
    }
    stdin.write_all(b"\\q\r").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = seen.lock().unwrap().clone();
    assert!(status.success(), "{text}");
    assert!(text.contains("| answer"), "{text}");
    assert!(text.contains("revocation_uid"), "{text}");
}

#[test]
fn real_cloudtrail_logs_are_queried() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/cloudtrail/invictus-ir"
    ));
    if !dir.exists() {
        common::skip_missing(dir);
        return;
    }
    let out = Command::new(BIN)
        .args([
            "query",
            "--no-progress",
            "--calls-format",
            "cloudtrail",
            "--format",
            "json",
            "--calls",
        ])
        .arg(dir)
        .arg(
            "SELECT count(*) AS n, count(DISTINCT agent_id) AS principals, \
             sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied FROM calls",
        )
        .output()
        .unwrap();
    let rows = json_rows(&out);
    // The same count `warden convert`/`replay` read from this set.
    assert_eq!(rows[0]["n"].as_u64().unwrap(), 2900);
    assert!(rows[0]["principals"].as_u64().unwrap() > 1);
    assert!(rows[0]["denied"].as_u64().unwrap() > 0);
}
