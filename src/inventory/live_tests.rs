use super::*;
use crate::event::{CallBatchBuilder, CallColumns, CallEvent};
use proptest::prelude::*;
use std::borrow::Cow;
use std::io::Write;

const H: i64 = 3_600_000;

fn times() -> InventoryTimes {
    InventoryTimes {
        dormant_after_ms: 10 * H,
        rotate_after_ms: 1000 * H,
        unused_after_ms: 5 * H,
        review_every_ms: 24 * H,
    }
}

fn grants(text: &str) -> GrantSet {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let mut g = GrantSet::default();
    g.load(f.path().to_str().unwrap()).unwrap();
    g
}

fn call(agent: &str, ts: i64, action: &str) -> CallEvent<'static> {
    CallEvent {
        ts_ms: ts,
        agent_id: Cow::Owned(agent.into()),
        action: Cow::Owned(action.into()),
        session_id: Some(Cow::Owned(format!("{agent}-key"))),
        ..CallEvent::default()
    }
}

type Got = (ReviewKind, ReviewActivity, String, i64, u32);

fn ev(kind: ReviewKind, activity: ReviewActivity, who: &str, episode: i64, seq: u32) -> Got {
    (kind, activity, who.to_string(), episode, seq)
}

/// Feeds `events` to partition 0, reviewing after each at its time;
/// returns every review event as (kind, activity, identity, episode, seq).
fn run(inv: &mut LiveInventory, events: &[CallEvent<'_>]) -> Vec<Got> {
    let batch = CallBatchBuilder::batch_of(events);
    let cols = CallColumns::new(&batch).unwrap();
    let mut out = Vec::new();
    let mut keep =
        |e: ReviewEvent| out.push((e.kind, e.activity, e.entry.id.clone(), e.episode, e.seq));
    for i in 0..cols.len() {
        let row = cols.row(i);
        if let Some(e) = inv.observe(&row, 0) {
            keep(e);
        }
        inv.review(0, row.ts_ms, &mut keep);
    }
    out
}

#[test]
fn dormancy_is_judged_in_event_time_raised_once_and_closed_on_return() {
    let mut inv = LiveInventory::new(times(), GrantSet::default(), 100);
    let mut events = vec![call("quiet", 0, "s3:GetObject")];
    // "busy" keeps event time moving, hourly, for 30 hours.
    events.extend((0..=30).map(|h| call("busy", h * H, "s3:GetObject")));
    let got = run(&mut inv, &events);
    // Quiet past 10 h at its first look after 10 h: raised once.
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::Dormant,
            ReviewActivity::Create,
            "quiet",
            0,
            0
        )]
    );
    // A late copy of its old call is not a return.
    let got = run(&mut inv, &[call("quiet", 0, "s3:GetObject")]);
    assert!(got.is_empty(), "{got:?}");
    let got = run(&mut inv, &[call("quiet", 31 * H, "s3:GetObject")]);
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::Dormant,
            ReviewActivity::Close,
            "quiet",
            0,
            1
        )]
    );
    // Quiet again: another finding, about the new quiet.
    let got = run(&mut inv, &[call("busy", 42 * H, "s3:GetObject")]);
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::Dormant,
            ReviewActivity::Create,
            "quiet",
            31 * H,
            0
        )]
    );
}

#[test]
fn unused_grants_are_raised_updated_as_they_are_used_and_closed() {
    let g = grants(
        r#"{"grants":[{"identity":"svc","actions":["s3:GetObject","s3:PutObject","iam:*"]}]}"#,
    );
    let mut inv = LiveInventory::new(times(), g, 100);
    let got = run(
        &mut inv,
        &(0..8)
            .map(|h| call("svc", h * H, "s3:GetObject"))
            .collect::<Vec<_>>(),
    );
    // Watched for 5 h: two of three grants unused.
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::UnusedGrants,
            ReviewActivity::Create,
            "svc",
            1,
            0
        )]
    );
    let got = run(&mut inv, &[call("svc", 8 * H, "s3:PutObject")]);
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::UnusedGrants,
            ReviewActivity::Update,
            "svc",
            1,
            1
        )]
    );
    let got = run(&mut inv, &[call("svc", 9 * H, "iam:ListRoles")]);
    assert_eq!(
        got,
        vec![ev(
            ReviewKind::UnusedGrants,
            ReviewActivity::Close,
            "svc",
            1,
            2
        )]
    );
    // Nothing left to say while it keeps using what it holds.
    let got = run(&mut inv, &[call("svc", 10 * H, "s3:GetObject")]);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn records_are_published_on_change_and_counts_on_the_schedule() {
    let mut inv = LiveInventory::new(times(), GrantSet::default(), 100);
    run(
        &mut inv,
        &[call("a", 0, "s3:GetObject"), call("b", 1, "s3:GetObject")],
    );
    let mut ids = Vec::new();
    let n = inv.publish(0, 1, true, &mut |id, rec| {
        assert_eq!(rec.entry.id, id);
        assert_eq!(rec.as_of_ms, 1);
        ids.push(id.to_string())
    });
    assert_eq!((n, ids), (2, vec!["a".to_string(), "b".to_string()]));
    // Counts only: not at the next opportunity, but on the schedule.
    run(&mut inv, &[call("a", 2, "s3:GetObject")]);
    assert_eq!(inv.publish(0, 2, true, &mut |_, _| {}), 0);
    // Something new: at once.
    run(&mut inv, &[call("b", 3, "s3:PutObject")]);
    let mut ids = Vec::new();
    inv.publish(0, 3, true, &mut |id, _| ids.push(id.to_string()));
    assert_eq!(ids, ["b"]);
    let mut ids = Vec::new();
    inv.publish(0, 3, false, &mut |id, _| ids.push(id.to_string()));
    assert_eq!(ids, ["a"]);
    assert_eq!(inv.publish(0, 3, false, &mut |_, _| {}), 0);
}

#[test]
fn identities_past_the_bound_are_counted_not_kept() {
    let mut inv = LiveInventory::new(times(), GrantSet::default(), 2);
    run(
        &mut inv,
        &(0..5)
            .map(|i| call(&format!("id{i}"), i, "x:Y"))
            .collect::<Vec<_>>(),
    );
    assert_eq!((inv.identities(), inv.overflowed), (2, 3));
    assert_eq!(inv.drop_partition(0), 2);
    assert_eq!(inv.identities(), 0);
}

#[test]
fn a_record_from_another_build_is_refused_not_misread() {
    let mut inv = LiveInventory::new(times(), GrantSet::default(), 10);
    let key = format!("{STATE_KEY_PREFIX}a");
    let e = inv.restore(key.as_bytes(), &[99, 1, 2], 0).unwrap_err();
    assert!(matches!(e, InventoryStateError::Version { found: 99 }));
    let e = inv.restore(key.as_bytes(), &[STATE_VERSION, 0xff], 0);
    assert!(e.is_err());
    assert_eq!(inv.identities(), 0);
}

/// Moves partition 0 to a fresh inventory through its state records.
fn moved(inv: &mut LiveInventory, g: &GrantSet) -> LiveInventory {
    let mut records = Vec::new();
    inv.snapshot(0, false, &mut |k, v| {
        records.push((k.to_string(), v.to_vec()))
    });
    let mut other = LiveInventory::new(times(), g.clone(), 100);
    for (k, v) in &records {
        assert!(LiveInventory::is_state_key(k.as_bytes()));
        other.restore(k.as_bytes(), v, 0).unwrap();
    }
    other
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// A partition moved through its state records at any point goes on
    /// to decide exactly what it would have decided where it was.
    #[test]
    fn a_moved_partition_decides_as_if_it_had_stayed(
        calls in prop::collection::vec((0usize..4, 0i64..40, 0usize..4), 1..60),
        cut in 0usize..60,
    ) {
        let g = grants(r#"{"grants":[{"identity":"id0","actions":["a:0","a:1","a:2"]},{"identity":"id1","actions":["a:*"]}]}"#);
        let mut ts = 0;
        let events: Vec<_> = calls
            .iter()
            .map(|&(who, gap, act)| {
                ts += gap * H / 4;
                call(&format!("id{who}"), ts, &format!("a:{act}"))
            })
            .collect();
        let cut = cut.min(events.len());
        let mut stayed = LiveInventory::new(times(), g.clone(), 100);
        run(&mut stayed, &events[..cut]);
        let mut moving = LiveInventory::new(times(), g.clone(), 100);
        run(&mut moving, &events[..cut]);
        let mut moving = moved(&mut moving, &g);
        let stayed_after = run(&mut stayed, &events[cut..]);
        let moved_after = run(&mut moving, &events[cut..]);
        prop_assert_eq!(stayed_after, moved_after);
        // Nothing was published: both publish every identity, alike.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        stayed.publish(0, ts, false, &mut |_, r| a.push(serde_json::to_string(r).unwrap()));
        moving.publish(0, ts, false, &mut |_, r| b.push(serde_json::to_string(r).unwrap()));
        prop_assert_eq!(a, b);
    }
}

#[test]
fn a_grant_used_again_after_the_window_closes_its_finding_at_once() {
    let g = grants(r#"{"grants":[{"identity":"svc","actions":["s3:GetObject","s3:PutObject"]}]}"#);
    let mut inv = LiveInventory::new(times(), g, 100);
    // PutObject once at the start, then only GetObject: past 5 h it is unused.
    let mut events = vec![call("svc", 0, "s3:PutObject")];
    events.extend((1..=7).map(|h| call("svc", h * H, "s3:GetObject")));
    let got = run(&mut inv, &events);
    // Reviewed at 5 h (PutObject used 5 h before: still in), then not
    // again for a day: nothing yet.
    assert!(got.is_empty(), "{got:?}");
    let mut later: Vec<_> = (8..=30)
        .map(|h| call("svc", h * H, "s3:GetObject"))
        .collect();
    later.push(call("svc", 31 * H, "s3:PutObject"));
    let got = run(&mut inv, &later);
    assert_eq!(
        got,
        vec![
            ev(
                ReviewKind::UnusedGrants,
                ReviewActivity::Create,
                "svc",
                1,
                0
            ),
            ev(ReviewKind::UnusedGrants, ReviewActivity::Close, "svc", 1, 1),
        ]
    );
}

/// Ids a sender could craft to collide under an unkeyed hash (their low
/// 15 bits agree under FxHash), and the values they use.
fn colliding_ids(n: usize) -> Vec<String> {
    use std::hash::BuildHasher;
    let fx = rustc_hash::FxBuildHasher;
    (0u64..)
        .map(|k| format!("svc-flood-{k:x}"))
        .filter(|id| fx.hash_one(id.as_str()) & 0x7fff == 0)
        .take(n)
        .collect()
}

/// The inventory's tables hash caller-written ids with keys drawn per
/// table, so their order differs between two inventories fed the same
/// calls; what they write to the state topic must not: records come in
/// id order, byte for byte the same, and restore to the same decisions.
#[test]
fn state_records_are_written_in_id_order_whatever_the_table_keys() {
    let ids = colliding_ids(24);
    let events: Vec<_> = (0..3)
        .flat_map(|round| {
            ids.iter().enumerate().map(move |(i, id)| {
                // Three actions each, so each record holds a map of them.
                let action = format!("a:{}", (i as i64 + round) % 5);
                call(id, (round * 24 + i as i64) * 1000, &action)
            })
        })
        .collect();
    let snapshot = |inv: &mut LiveInventory| {
        let mut records = Vec::new();
        inv.snapshot(0, false, &mut |k, v| {
            records.push((k.to_string(), v.to_vec()))
        });
        records
    };
    let mut a = LiveInventory::new(times(), GrantSet::default(), 100);
    let mut b = LiveInventory::new(times(), GrantSet::default(), 100);
    run(&mut a, &events);
    run(&mut b, &events);
    let (ra, rb) = (snapshot(&mut a), snapshot(&mut b));
    assert_eq!(ra.len(), ids.len());
    assert_eq!(ra, rb);
    let keys: Vec<&str> = ra.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    // Nothing changed since: a changed-only checkpoint writes nothing.
    let mut again = 0;
    a.snapshot(0, true, &mut |_, _| again += 1);
    assert_eq!(again, 0);
    // Restored elsewhere, each identity is found again by its id.
    let mut c = moved(&mut b, &GrantSet::default());
    assert_eq!(c.identities(), ids.len());
    assert_eq!(snapshot(&mut c), ra);
}
