//! The live inventory in the worker: review findings judged at every call
//! in its partition's event time (each caused by that call, so its delivery
//! holds the call's commit like any other output, and what is decided does
//! not depend on how calls fell into windows), and inventory records
//! published on change and on a schedule.

use super::{RunSummary, Worker};
use crate::emit::{Body, OutputRecord, RecordKind};
use crate::event::CallRow;
use crate::inventory::{review_finding, LiveInventory, ReviewActivity, ReviewEvent};
use crate::stream::events::{InventoryPublished, ReviewFindingMade};
use crate::stream::offsets::OffsetTracker;
use crate::stream::output::{Origin, Outputs};
use crate::stream::StreamError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Takes in one call of `partition` and judges what is due at `watermark`
/// (none before the partition's first call), handing each review finding
/// to `send`.
pub(super) fn observe(
    inv: &mut LiveInventory,
    row: &CallRow<'_>,
    partition: i32,
    watermark: Option<i64>,
    send: &mut dyn FnMut(&ReviewEvent) -> Result<(), StreamError>,
) -> Result<(), StreamError> {
    if let Some(closed) = inv.observe(row, partition as u32) {
        send(&closed)?;
    }
    let Some(watermark) = watermark else {
        return Ok(());
    };
    let mut due = Vec::new();
    inv.review(partition as u32, watermark, &mut |ev| due.push(ev));
    due.iter().try_for_each(send)
}

/// Produces one review finding caused by the call at `origin`.
pub(super) fn send_review(
    outputs: &mut Outputs,
    offsets: &mut OffsetTracker,
    summary: &mut RunSummary,
    ev: &ReviewEvent,
    origin: Origin,
) -> Result<(), StreamError> {
    let (id, value) = review_finding(ev);
    let event_type = match ev.activity {
        ReviewActivity::Create => "io.ocsf.iam_analysis_finding.create",
        ReviewActivity::Update => "io.ocsf.iam_analysis_finding.update",
        ReviewActivity::Close => "io.ocsf.iam_analysis_finding.close",
    };
    let rec = OutputRecord {
        id,
        kind: RecordKind::AccessReview,
        event_type,
        key: ev.entry.id.clone(),
        severity_id: value["severity_id"].as_u64().unwrap_or(1) as u8,
        time_ms: ev.time_ms,
        body: Body::Ocsf(Arc::new(value)),
    };
    let acks = outputs.review(&rec, origin)?;
    if let Origin::Call { partition, offset } = origin {
        for _ in 0..acks {
            offsets.sent(partition, offset);
        }
    }
    summary.review_findings += 1;
    ReviewFindingMade {
        identity: &ev.entry.id,
        kind: ev.kind.as_str(),
        activity: ev.activity.as_str(),
    }
    .emit();
    Ok(())
}

impl Worker {
    /// Publishes the inventory records due: those with something new
    /// (every second), or every changed one (`scheduled`: every
    /// `inventory_publish_seconds`, on revoke and at shutdown). Each is
    /// judged as of its partition's newest event time.
    pub(crate) fn publish_inventory(&mut self, scheduled: bool) {
        if self.failed {
            return;
        }
        let Worker {
            inventory,
            outputs,
            owned,
            summary,
            ..
        } = self;
        let Some(inv) = inventory.as_mut() else {
            return;
        };
        let mut first_err = None;
        let mut buf = Vec::new();
        let mut records = 0;
        for (&p, clock) in owned.iter() {
            let Some(as_of) = clock.max_ts else {
                continue;
            };
            records += inv.publish(p as u32, as_of, !scheduled, &mut |identity, rec| {
                if first_err.is_some() {
                    return;
                }
                buf.clear();
                serde_json::to_writer(&mut buf, rec).expect("inventory records serialise");
                let id = format!("wdn-inv-{:032x}", xxhash_rust::xxh3::xxh3_128(&buf));
                if let Err(e) = outputs.inventory(identity, &id, as_of, &buf) {
                    first_err = Some(e);
                }
            });
        }
        summary.inventory_records += records as u64;
        if records > 0 {
            InventoryPublished { records, scheduled }.emit();
        }
        if let Some(e) = first_err {
            self.fail(StreamError::Produce(e));
        }
    }

    /// The publishing schedule, between windows.
    pub(super) fn publish_inventory_due(&mut self) {
        if self.inventory.is_none() {
            return;
        }
        let every = Duration::from_secs(self.cfg.stream.inventory_publish_seconds as u64);
        let scheduled = self.last_inventory_publish.elapsed() >= every;
        if scheduled {
            self.last_inventory_publish = Instant::now();
        }
        self.publish_inventory(scheduled);
    }
}
