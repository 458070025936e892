//! `warden convert` to day-partitioned Parquet and replay from it: the same
//! findings byte for byte as replaying the JSON; bad records reported and
//! skipped; late rows for a closed day go to the day's next part file; a
//! Parquet file of another layout is refused naming the column.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_warden");

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(BIN).args(args).args(paths).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for day in std::fs::read_dir(dir).unwrap() {
        let day = day.unwrap().path();
        for f in std::fs::read_dir(&day).unwrap() {
            v.push(f.unwrap().path());
        }
    }
    v.sort();
    v
}

fn replay_alerts(dir: &Path, input: &Path, name: &str) -> Vec<u8> {
    let alerts = dir.join(name);
    ok(run(
        &["replay", "--no-progress", "--alerts-out"],
        &[&alerts, input],
    ));
    std::fs::read(alerts).unwrap()
}

#[test]
fn replay_from_parquet_finds_exactly_what_replay_from_json_finds() {
    let dir = tempfile::tempdir().unwrap();
    let json = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        40,
        "2d",
        11,
        &["--attack-share", "0.3"],
    );
    let lake = dir.path().join("lake");
    let out = ok(run(
        &["convert", "--no-progress", "--out-dir"],
        &[&lake, &json],
    ));
    let text = std::fs::read_to_string(&json).unwrap();
    let mut days: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["ts"]
                .as_str()
                .unwrap()[..10]
                .to_string()
        })
        .collect();
    days.dedup();
    let lines = text.lines().count();
    assert!(
        out.starts_with(&format!(
            "{lines} rows in {0} files over {0} days",
            days.len()
        )),
        "{out}"
    );
    let files = parquet_files(&lake);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(&lake).unwrap().display().to_string())
        .collect();
    let want: Vec<String> = days
        .iter()
        .map(|d| format!("day={d}/part-00000.parquet"))
        .collect();
    assert_eq!(names, want);
    // Other tools can read the codes' meaning from the file.
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    assert_eq!(get("warden.schema").as_deref(), Some("call-event/1"));
    assert!(get("warden.agent_type_codes")
        .unwrap()
        .starts_with("ai_agent,"));

    let from_json = replay_alerts(dir.path(), &json, "a-json.jsonl");
    let from_parquet = replay_alerts(dir.path(), &lake, "a-parquet.jsonl");
    assert!(!from_json.is_empty());
    assert!(
        from_json == from_parquet,
        "findings differ between JSON and Parquet input"
    );

    // Convert refuses to write into a directory that holds data.
    let again = run(&["convert", "--no-progress", "--out-dir"], &[&lake, &json]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn bad_records_are_reported_and_late_rows_get_their_own_part() {
    let dir = tempfile::tempdir().unwrap();
    let json = common::simulate_fleet(dir.path(), "fleet.jsonl", 10, "3d", 4, &[]);
    let text = std::fs::read_to_string(&json).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let day = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["ts"]
            .as_str()
            .unwrap()[..10]
            .to_string()
    };
    let (d1, rest): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| day(l) == "2026-11-20");
    let (d1a, d1b) = d1.split_at(d1.len() / 2);
    // Day one's first half, a bad line, the rest (days two and three),
    // then day one's second half: late, after its writer was closed.
    let mut mixed: Vec<&str> = d1a.to_vec();
    mixed.push(r#"{"ts": "not a time", "agent_id": "x", "action": "y"}"#);
    mixed.extend(rest.iter().copied());
    mixed.extend(d1b.iter().copied());
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, mixed.join("\n") + "\n").unwrap();
    let lake = dir.path().join("lake");
    let out = run(&["convert", "--no-progress", "--out-dir"], &[&lake, &input]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = ok(out);
    assert!(
        stdout.contains(&format!("{} rows in 4 files over 3 days", lines.len())),
        "{stdout}"
    );
    assert!(stdout.contains("1 decode errors"), "{stdout}");
    assert!(
        err.contains(&format!("line {}", d1a.len() + 1)) && err.contains("ts"),
        "{err}"
    );
    let names: Vec<String> = parquet_files(&lake)
        .iter()
        .map(|p| p.strip_prefix(&lake).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "day=2026-11-20/part-00000.parquet",
            "day=2026-11-20/part-00001.parquet",
            "day=2026-11-21/part-00000.parquet",
            "day=2026-11-22/part-00000.parquet"
        ]
    );
    // Read back in path order, the calls are in time order again: the
    // same findings as the original, time-ordered file.
    assert!(
        replay_alerts(dir.path(), &json, "a.jsonl") == replay_alerts(dir.path(), &lake, "b.jsonl")
    );
    // Decoding and encoding on one thread or on two: the same files.
    for threads in ["1", "2"] {
        let other = dir.path().join(format!("lake-{threads}"));
        ok(run(
            &[
                "convert",
                "--no-progress",
                "--threads",
                threads,
                "--out-dir",
            ],
            &[&other, &input],
        ));
        let (a, b) = (parquet_files(&lake), parquet_files(&other));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!(
                std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
                "{threads} threads: {} differs",
                y.display()
            );
        }
    }
}

#[test]
fn parquet_of_another_layout_is_refused_naming_the_column() {
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Utf8, false),
        Field::new("agent_id", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["2026-11-20T00:00:00Z"])),
            Arc::new(StringArray::from(vec!["a"])),
        ],
    )
    .unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = run(&["replay", "--no-progress"], &[&path]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other.parquet") && err.contains("column `ts` is Utf8"),
        "{err}"
    );
}

#[test]
fn real_cloudtrail_logs_convert_and_replay_the_same() {
    let data = Path::new("../shared/data/cloudtrail/invictus-ir");
    if !data.exists() {
        common::skip_missing(data);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = ok(run(
        &[
            "convert",
            "--no-progress",
            "--format",
            "cloudtrail",
            "--out-dir",
        ],
        &[&lake, data],
    ));
    assert!(out.starts_with("2900 rows"), "{out}");
    let alerts = |input: &Path, name: &str| {
        let a = dir.path().join(name);
        ok(run(
            &[
                "replay",
                "--no-progress",
                "--format",
                "cloudtrail",
                "--alerts-out",
            ],
            &[&a, input],
        ));
        std::fs::read(a).unwrap()
    };
    // The lake is in event-time order; the CloudTrail files are in name
    // order, so compare finding sets rather than bytes.
    let set = |b: Vec<u8>| -> std::collections::BTreeSet<String> {
        String::from_utf8(b)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let (a, b) = (set(alerts(data, "a.jsonl")), set(alerts(&lake, "b.jsonl")));
    assert_eq!(a.len(), b.len());
}
