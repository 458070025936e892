//! The sinks beyond Kafka against local receivers, driven by the real
//! binary (`warden replay --deliver`): each receiver fails first and then
//! recovers, and everything Warden wrote to its findings/revocations files
//! arrives exactly once.

mod common;

use common::receivers::{read_frames, wait_for, HttpReceiver};
use ring::hmac;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_warden");
/// Fast retries so a failing receiver costs the test little time.
const FAST_RETRY: &str =
    "delivery = { retry_initial_ms = 20, retry_max_ms = 200, timeout_ms = 5000 }";

struct Replayed {
    alerts: Vec<Value>,
    tokens: Vec<String>,
    report: Value,
}

/// A simulated fleet with attacks (cached per test directory).
fn fleet(dir: &Path) -> PathBuf {
    common::simulate_fleet(dir, "fleet.jsonl", 60, "2d", 11, &["--attack-share", "0.3"])
}

fn replay_deliver(dir: &Path, config: &str, env: &[(&str, &str)]) -> Replayed {
    let input = fleet(dir);
    let cfg = dir.join("warden.toml");
    std::fs::write(&cfg, config).unwrap();
    let (alerts, revs, report) = (
        dir.join("alerts.jsonl"),
        dir.join("revocations.jwt"),
        dir.join("report.json"),
    );
    let out = Command::new(BIN)
        .args(["replay", "--no-progress", "--deliver", "--config"])
        .arg(&cfg)
        .arg("--alerts-out")
        .arg(&alerts)
        .arg("--revocations-out")
        .arg(&revs)
        .arg("--report")
        .arg(&report)
        .arg(&input)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay --deliver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    Replayed {
        alerts: text(&alerts)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        tokens: text(&revs).lines().map(String::from).collect(),
        report: serde_json::from_str(&text(&report)).unwrap(),
    }
}

fn sink_stats<'a>(r: &'a Replayed, name: &str) -> &'a Value {
    r.report["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stats for sink {name}: {}", r.report["sinks"]))
}

/// Ids that arrived, each with how many times.
fn counted<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for id in ids {
        *m.entry(id.to_string()).or_insert(0) += 1;
    }
    m
}

fn assert_each_once(got: &BTreeMap<String, usize>, want: &BTreeSet<String>) {
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let got: BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(&got, want, "delivered set differs from what Warden wrote");
}

#[test]
fn splunk_hec_batches_and_nothing_is_lost_or_doubled_when_splunk_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let hec = HttpReceiver::start(
        3,
        503,
        r#"{"text":"Server is busy","code":9}"#,
        200,
        r#"{"text":"Success","code":0}"#,
        Box::new(|h, body| {
            if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Splunk s3cret-token") {
                return Err((401, r#"{"text":"Invalid authorization","code":3}"#.into()));
            }
            // Batches are envelopes back to back; each must parse.
            let n = serde_json::Deserializer::from_slice(body)
                .into_iter::<Value>()
                .map(|v| v.map(|_| ()))
                .collect::<Result<Vec<_>, _>>();
            match n {
                Ok(_) => Ok(()),
                Err(e) => Err((
                    400,
                    format!("{{\"text\":\"Invalid data format: {e}\",\"code\":6}}"),
                )),
            }
        }),
    );
    let config = format!(
        "[[sinks]]\ntype = \"splunk_hec\"\nurl = \"{}/services/collector/event\"\n\
         token_env = \"TEST_HEC_TOKEN\"\nindex = \"security_alerts\"\nhost = \"warden-test\"\n\
         batch_max_events = 25\nbatch_wait_ms = 50\nallow_insecure_http = true\n{FAST_RETRY}\n",
        hec.url
    );
    let r = replay_deliver(dir.path(), &config, &[("TEST_HEC_TOKEN", "s3cret-token")]);

    let requests = hec.accepted();
    let envelopes: Vec<Value> = requests
        .iter()
        .flat_map(|q| {
            serde_json::Deserializer::from_slice(&q.body)
                .into_iter::<Value>()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        })
        .collect();
    let want: BTreeSet<String> = r
        .alerts
        .iter()
        .map(|e| e["metadata"]["uid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        want.len() > 30,
        "the fleet should make findings: {}",
        want.len()
    );
    assert_each_once(
        &counted(
            envelopes
                .iter()
                .map(|e| e["event"]["metadata"]["uid"].as_str().unwrap()),
        ),
        &want,
    );
    for e in &envelopes {
        let class = e["event"]["class_uid"].as_u64().unwrap();
        let st = if class == 7001 {
            "ocsf:remediation_activity"
        } else {
            "ocsf:detection_finding"
        };
        assert_eq!(e["sourcetype"], st);
        assert_eq!(e["index"], "security_alerts");
        assert_eq!(e["host"], "warden-test");
        assert_eq!(e["source"], "warden");
        assert_eq!(e["fields"]["class_uid"], class.to_string());
        assert_eq!(
            e["time"].as_f64().unwrap(),
            e["event"]["time"].as_i64().unwrap() as f64 / 1000.0
        );
    }
    // Batched: fewer requests than events, none over the limit; the three
    // refused attempts were retried.
    assert!(
        requests.len() < envelopes.len() / 2,
        "{} requests",
        requests.len()
    );
    for q in &requests {
        let n = serde_json::Deserializer::from_slice(&q.body)
            .into_iter::<Value>()
            .count();
        assert!((1..=25).contains(&n));
    }
    assert_eq!(hec.attempts(), requests.len() + 3);
    let s = sink_stats(&r, "splunk_hec");
    assert_eq!(s["delivered"], envelopes.len());
    assert_eq!(s["retries"], 3);
    assert_eq!(s["dropped_retries_exhausted"], 0);
    assert_eq!(s["dropped_rejected"], 0);
}

/// Standard Webhooks verification written out here, independent of
/// Warden's signer: HMAC-SHA256 over `id.timestamp.body` with the base64
/// key after `whsec_`.
fn verify_standard_webhook(
    secret: &str,
    h: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    use base64::Engine as _;
    let get = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .ok_or(format!("missing {k}"))
    };
    let (id, ts, sig) = (
        get("webhook-id")?,
        get("webhook-timestamp")?,
        get("webhook-signature")?,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts_n: i64 = ts.parse().map_err(|_| "timestamp not a number")?;
    if (now - ts_n).abs() > 300 {
        return Err("timestamp outside 5 minutes".into());
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &signed);
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.as_ref())
    );
    if sig.split(' ').any(|s| s == want) {
        Ok(())
    } else {
        Err(format!("bad signature {sig}"))
    }
}

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn webhooks_are_signed_routed_by_severity_and_retried_until_the_receiver_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let soar = HttpReceiver::start(
        2,
        500,
        "upstream down",
        200,
        "",
        Box::new(|h, body| {
            verify_standard_webhook(WEBHOOK_SECRET, h, body).map_err(|e| (401, e))?;
            let v: Value = serde_json::from_slice(body).map_err(|e| (400, e.to_string()))?;
            if h.get("webhook-id").unwrap().to_str().unwrap() != v["metadata"]["uid"] {
                return Err((400, "webhook-id is not the record's uid".into()));
            }
            Ok(())
        }),
    );
    // A second webhook whose receiver refuses the credentials: nothing is
    // retried (it cannot help), every record is counted as rejected, and
    // the first sink is unaffected.
    let locked = HttpReceiver::start(
        0,
        200,
        "",
        200,
        "",
        Box::new(|_, _| Err((403, "forbidden".into()))),
    );
    let config = format!(
        "[[sinks]]\ntype = \"webhook\"\nname = \"soar\"\nurl = \"{}/hooks/warden\"\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n\
         severities = [\"high\", \"critical\"]\n{FAST_RETRY}\n\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"locked\"\nurl = \"{}/x\"\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n{FAST_RETRY}\n",
        soar.url, locked.url
    );
    let r = replay_deliver(
        dir.path(),
        &config,
        &[("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    );

    let routed: BTreeSet<String> = r
        .alerts
        .iter()
        .filter(|e| e["severity_id"].as_u64().unwrap() >= 4)
        .map(|e| e["metadata"]["uid"].as_str().unwrap().to_string())
        .collect();
    let below = r
        .alerts
        .iter()
        .filter(|e| e["severity_id"].as_u64().unwrap() < 4)
        .count();
    assert!(
        !routed.is_empty() && below > 0,
        "the fleet should make both: {} / {below}",
        routed.len()
    );
    let got = soar.accepted();
    assert_each_once(
        &counted(
            got.iter()
                .map(|q| q.headers["webhook-id"].to_str().unwrap()),
        ),
        &routed,
    );
    assert!(soar.refused().is_empty(), "refused: {:?}", soar.refused());
    assert_eq!(soar.attempts(), got.len() + 2);
    let s = sink_stats(&r, "soar");
    assert_eq!(s["retries"], 2);
    assert_eq!(s["delivered"], routed.len());

    let l = sink_stats(&r, "locked");
    assert_eq!(l["dropped_rejected"], r.alerts.len());
    assert_eq!(l["retries"], 0);
    assert_eq!(locked.attempts(), r.alerts.len());
}

#[test]
fn ssf_push_delivers_every_revocation_set_once_and_they_verify() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Command::new(BIN)
        .args(["keys", "generate", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );
    let private = dir.path().join("warden-signing.pem");
    let public = dir.path().join("warden-signing.pub.pem");
    let receiver = HttpReceiver::start(
        1,
        503,
        "",
        202,
        "",
        Box::new(|h, _| {
            let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
            if get("authorization") != "Bearer ssf-t0ken" {
                return Err((401, r#"{"err":"authentication_failed"}"#.into()));
            }
            if get("content-type") != "application/secevent+jwt"
                || get("accept") != "application/json"
            {
                return Err((400, r#"{"err":"invalid_request"}"#.into()));
            }
            Ok(())
        }),
    );
    let config = format!(
        "[signing]\nkey_file = \"{}\"\nissuer = \"https://warden.test\"\naudience = [\"https://idp.test\"]\n\n\
         [[sinks]]\ntype = \"ssf_push\"\nurl = \"{}/ssf/push\"\nauthorization_env = \"TEST_SSF_AUTH\"\nallow_insecure_http = true\n{FAST_RETRY}\n",
        private.display(),
        receiver.url
    );
    let r = replay_deliver(
        dir.path(),
        &config,
        &[("TEST_SSF_AUTH", "Bearer ssf-t0ken")],
    );
    let jti = |t: &str| common::set_parts(t).1["jti"].as_str().unwrap().to_string();
    let want: BTreeSet<String> = r.tokens.iter().map(|t| jti(t)).collect();
    assert!(!want.is_empty(), "the fleet should make revocations");
    let got = receiver.accepted();
    let pushed: Vec<String> = got
        .iter()
        .map(|q| String::from_utf8(q.body.to_vec()).unwrap())
        .collect();
    let pushed_jtis: Vec<String> = pushed.iter().map(|t| jti(t)).collect();
    assert_each_once(&counted(pushed_jtis.iter().map(String::as_str)), &want);
    assert_eq!(receiver.attempts(), got.len() + 1);
    // What arrived verifies against the published key, as a receiver does.
    let file = dir.path().join("pushed.jwt");
    std::fs::write(&file, pushed.join("\n") + "\n").unwrap();
    let v = Command::new(BIN)
        .args(["verify", "--public-key"])
        .arg(&public)
        .arg(&file)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// A syslog collector that is down at first (connection refused) and comes
/// up later: every finding and remediation arrives exactly once, as the
/// CEF that the findings file renders to.
#[test]
fn syslog_over_tcp_waits_for_a_collector_that_comes_up_late() {
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path());
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = format!(
        "[[sinks]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\nhostname = \"warden-test\"\n{FAST_RETRY}\n"
    );
    let cfg = dir.path().join("warden.toml");
    std::fs::write(&cfg, config).unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let report = dir.path().join("report.json");
    let mut child = Command::new(BIN)
        .args(["replay", "--no-progress", "--deliver", "--config"])
        .arg(&cfg)
        .arg("--alerts-out")
        .arg(&alerts)
        .arg("--report")
        .arg(&report)
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let f2 = frames.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let f3 = f2.clone();
            std::thread::spawn(move || read_frames(&mut conn, &f3));
        }
    });
    assert!(child.wait().unwrap().success());
    let events: Vec<Value> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    wait_for("every frame", Duration::from_secs(10), || {
        frames.lock().unwrap().len() >= events.len()
    });
    let got = frames.lock().unwrap().clone();
    let mut want: Vec<String> = events.iter().map(warden::sinks::cef::from_ocsf).collect();
    let mut cefs: Vec<String> = got
        .iter()
        .map(|m| {
            assert!(m.contains(" warden-test warden - "), "{m}");
            m[m.find("CEF:0|").expect("CEF message")..].to_string()
        })
        .collect();
    want.sort();
    cefs.sort();
    assert_eq!(cefs, want);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let s = &report["sinks"][0];
    assert!(
        s["retries"].as_u64().unwrap() > 0,
        "the first attempts were refused: {s}"
    );
    assert_eq!(s["delivered"], events.len());
}

#[test]
fn syslog_over_tls_checks_the_collector_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let server_config = Arc::new(server_config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let handshakes = Arc::new(Mutex::new(Vec::<String>::new()));
    let (f2, h2) = (frames.clone(), handshakes.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let tcp = tcp.unwrap();
            let conn = rustls::ServerConnection::new(server_config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let (f3, h3) = (f2.clone(), h2.clone());
            std::thread::spawn(move || {
                while tls.conn.is_handshaking() {
                    if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                        h3.lock().unwrap().push(e.to_string());
                        return;
                    }
                }
                h3.lock().unwrap().push("ok".into());
                read_frames(&mut tls, &f3);
            });
        }
    });

    // Trusting the CA: delivered. Without it (system roots only): refused,
    // retried until the window closes, then given up and counted.
    let ok = format!(
        "[[sinks]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"localhost\"\nca_file = \"{}\"\n{FAST_RETRY}\n",
        ca_file.display()
    );
    let r = replay_deliver(dir.path(), &ok, &[]);
    wait_for("every frame", Duration::from_secs(10), || {
        frames.lock().unwrap().len() >= r.alerts.len()
    });
    assert_eq!(frames.lock().unwrap().len(), r.alerts.len());
    assert_eq!(sink_stats(&r, "syslog")["delivered"], r.alerts.len());

    let untrusted = format!(
        "[[sinks]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"localhost\"\n\
         delivery = {{ retry_initial_ms = 20, retry_max_ms = 50, retry_for_seconds = 1 }}\n"
    );
    let before = frames.lock().unwrap().len();
    let r2 = replay_deliver(dir.path(), &untrusted, &[]);
    let s = sink_stats(&r2, "syslog");
    assert_eq!(s["delivered"], 0);
    assert!(s["dropped_retries_exhausted"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(frames.lock().unwrap().len(), before);
    assert!(handshakes.lock().unwrap().iter().any(|h| h != "ok"));
}
