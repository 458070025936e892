//! The loop every sink runs: take records from its bounded queue, batch
//! them as its protocol allows, send, retry what failed with capped
//! exponential backoff and jitter, and answer for every record exactly once.

use super::config::DeliveryConfig;
use super::events::{
    DropReason, SinkBatchDelivered, SinkDuplicateSkipped, SinkRecordDropped, SinkRequestSent,
    SinkRetry,
};
use super::{Queued, Shared, SinkCounters};
use crate::emit::OutputRecord;
use rand::{Rng, SeedableRng};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A record in the sink's wire form.
pub(crate) struct Encoded {
    pub id: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
    /// How long a batch waits to fill after its first record.
    pub wait: Duration,
}

impl BatchLimits {
    pub(crate) const SINGLE: BatchLimits = BatchLimits {
        max_records: 1,
        max_bytes: usize::MAX,
        wait: Duration::ZERO,
    };
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct SendError {
    pub retryable: bool,
    /// The receiver's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl SendError {
    pub(crate) fn retryable(message: impl Into<String>) -> SendError {
        SendError {
            retryable: true,
            retry_after: None,
            message: message.into(),
        }
    }
}

/// What a send returns: boxed, so every sink kind is one `dyn Transport`.
pub(crate) type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// One sink's protocol: its wire form and how a batch is sent. A send
/// either delivers the whole batch or none of it.
pub(crate) trait Transport: Send + 'static {
    /// How records are batched; one per send unless the protocol batches.
    fn limits(&self) -> BatchLimits {
        BatchLimits::SINGLE
    }
    /// The record in the sink's wire form.
    fn encode(&self, r: &OutputRecord) -> Vec<u8>;
    /// Sends one batch.
    fn send<'a>(&'a mut self, batch: &'a [Encoded]) -> SendFuture<'a>;
}

pub(super) struct Ctx<T> {
    name: String,
    initial: Duration,
    max: Duration,
    retry_for: Duration,
    counters: Arc<SinkCounters>,
    shared: Arc<Shared<T>>,
}

impl<T> Ctx<T> {
    pub fn new(
        name: &str,
        d: &DeliveryConfig,
        counters: &Arc<SinkCounters>,
        shared: &Arc<Shared<T>>,
    ) -> Ctx<T> {
        Ctx {
            name: name.to_string(),
            initial: Duration::from_millis(d.retry_initial_ms.max(1)),
            max: Duration::from_millis(d.retry_max_ms.max(d.retry_initial_ms).max(1)),
            retry_for: Duration::from_secs(d.retry_for_seconds),
            counters: counters.clone(),
            shared: shared.clone(),
        }
    }

    fn closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }
}

pub(super) type Task = Pin<Box<dyn Future<Output = ()> + Send>>;
pub(super) type Spawn<T> = Box<dyn FnOnce(mpsc::Receiver<Queued<T>>, Ctx<T>) -> Task>;

pub(super) fn spawn<T: Send + 'static>(transport: Box<dyn Transport>) -> Spawn<T> {
    Box::new(move |rx, ctx| Box::pin(run(transport, rx, ctx)))
}

async fn run<T: Send + 'static>(
    mut transport: Box<dyn Transport>,
    mut rx: mpsc::Receiver<Queued<T>>,
    ctx: Ctx<T>,
) {
    let limits = transport.limits();
    let mut recent = RecentIds::new(ctx.retry_for);
    let mut carry: Option<Queued<T>> = None;
    loop {
        let first = match carry.take() {
            Some(q) => q,
            None => match rx.recv().await {
                Some(q) => q,
                None => return,
            },
        };
        let mut batch = Batch::new();
        let bytes = transport.encode(&first.record);
        batch.push(first, bytes, &mut recent, &ctx);
        let until = tokio::time::Instant::now() + limits.wait;
        while batch.len() < limits.max_records && batch.bytes < limits.max_bytes {
            let next = match rx.try_recv() {
                Ok(q) => q,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(q)) => q,
                        _ => break,
                    }
                }
            };
            let bytes = transport.encode(&next.record);
            if batch.len() > 0 && batch.bytes + bytes.len() > limits.max_bytes {
                carry = Some(next);
                break;
            }
            batch.push(next, bytes, &mut recent, &ctx);
        }
        if batch.len() > 0 {
            deliver(transport.as_mut(), batch, &ctx, &mut recent).await;
        }
    }
}

struct Batch<T> {
    /// When its oldest record was handed over.
    oldest: Option<Instant>,
    records: Vec<Encoded>,
    tags: Vec<T>,
    ids: HashSet<String>,
    bytes: usize,
}

impl<T> Batch<T> {
    fn new() -> Batch<T> {
        Batch {
            oldest: None,
            records: Vec::new(),
            tags: Vec::new(),
            ids: HashSet::new(),
            bytes: 0,
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    /// Adds a record unless it was delivered within the retry window or is
    /// already in this batch (then it is answered for at once).
    fn push(&mut self, q: Queued<T>, bytes: Vec<u8>, recent: &mut RecentIds, ctx: &Ctx<T>) {
        if recent.contains(&q.record.id) || self.ids.contains(&q.record.id) {
            SinkDuplicateSkipped {
                sink: &ctx.name,
                counters: &ctx.counters,
            }
            .emit();
            ctx.shared.finish(q.tag);
            return;
        }
        self.oldest = Some(self.oldest.map_or(q.queued_at, |o| o.min(q.queued_at)));
        self.bytes += bytes.len();
        self.ids.insert(q.record.id.clone());
        self.records.push(Encoded {
            id: q.record.id.clone(),
            bytes,
        });
        self.tags.push(q.tag);
    }
}

async fn deliver<T>(
    transport: &mut dyn Transport,
    batch: Batch<T>,
    ctx: &Ctx<T>,
    recent: &mut RecentIds,
) {
    let started = batch.oldest.unwrap_or_else(Instant::now);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut attempt = 0u32;
    if ctx.closing() {
        // Shutting down after the drain wait: what is still queued is not
        // tried now (a receiver that is down would hold the exit for a
        // timeout per batch); its input offsets stay uncommitted.
        for (r, tag) in batch.records.iter().zip(batch.tags) {
            SinkRecordDropped {
                sink: &ctx.name,
                counters: &ctx.counters,
                reason: DropReason::Shutdown,
                id: &r.id,
                error: "not delivered before shutdown",
            }
            .emit();
            ctx.shared.finish(tag);
        }
        return;
    }
    loop {
        SinkRequestSent {
            counters: &ctx.counters,
        }
        .emit();
        let err = match transport.send(&batch.records).await {
            Ok(()) => {
                SinkBatchDelivered {
                    sink: &ctx.name,
                    counters: &ctx.counters,
                    records: batch.len(),
                }
                .emit();
                for r in &batch.records {
                    recent.insert(&r.id);
                }
                for tag in batch.tags {
                    ctx.shared.finish(tag);
                }
                return;
            }
            Err(e) => e,
        };
        // Capped exponential backoff, jittered so that many instances do
        // not retry in step; a receiver's Retry-After wins when longer.
        let base = ctx
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(ctx.max);
        let mut delay = base.mul_f64(rng.random_range(0.5..=1.0));
        if let Some(ra) = err.retry_after {
            delay = delay.max(ra.min(ctx.max));
        }
        let out_of_time = started.elapsed() + delay > ctx.retry_for;
        if !err.retryable || out_of_time || ctx.closing() {
            let reason = if err.retryable {
                DropReason::RetriesExhausted
            } else {
                DropReason::Rejected
            };
            for (r, tag) in batch.records.iter().zip(batch.tags) {
                SinkRecordDropped {
                    sink: &ctx.name,
                    counters: &ctx.counters,
                    reason,
                    id: &r.id,
                    error: &err.message,
                }
                .emit();
                ctx.shared.finish(tag);
            }
            return;
        }
        SinkRetry {
            sink: &ctx.name,
            counters: &ctx.counters,
            records: batch.len(),
            attempt: attempt + 1,
            delay,
            error: &err.message,
        }
        .emit();
        // Sleep in slices so a shutdown is not held up by a long backoff.
        let wake = Instant::now() + delay;
        while Instant::now() < wake && !ctx.closing() {
            let left = wake.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
        attempt += 1;
    }
}

/// Ids delivered within the retry window, oldest first.
struct RecentIds {
    window: Duration,
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

/// Bound on remembered ids whatever the window (about 100 MB at worst).
const MAX_RECENT: usize = 1_000_000;

impl RecentIds {
    fn new(window: Duration) -> RecentIds {
        RecentIds {
            window,
            ids: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((t, _)) = self.order.front() {
            if now.duration_since(*t) <= self.window && self.order.len() < MAX_RECENT {
                break;
            }
            let (_, id) = self.order.pop_front().expect("front exists");
            self.ids.remove(&id);
        }
    }

    fn contains(&mut self, id: &str) -> bool {
        self.expire(Instant::now());
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        let now = Instant::now();
        self.expire(now);
        if self.ids.insert(id.to_string()) {
            self.order.push_back((now, id.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_after_the_window() {
        let mut r = RecentIds::new(Duration::from_millis(30));
        r.insert("a");
        assert!(r.contains("a"));
        assert!(!r.contains("b"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!r.contains("a"));
        assert!(r.ids.is_empty() && r.order.is_empty());
    }
}
