//! The Arrow layout of a window of call events. Every input (JSON lines,
//! Kafka records, Parquet files from `warden convert`) becomes
//! `RecordBatch`es of this schema, and the engine reads only this layout: one
//! code path for replay and streaming.

use super::{AgentType, CallEvent, Outcome};
use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
    UInt8Builder,
};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

/// Column order of the canonical event batch.
pub(crate) fn call_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
            Arc::new(Schema::new(vec![
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    false,
                ),
                s("agent_id", false),
                s("action", false),
                // Codes of AgentType / Outcome in declaration order; see CallColumns.
                Field::new("agent_type", DataType::UInt8, false),
                s("session_id", true),
                s("parent_id", true),
                s("tenant", true),
                s("resource", true),
                s("src_ip", true),
                s("user_agent", true),
                s("event_id", true),
                Field::new("outcome", DataType::UInt8, false),
                Field::new("status", DataType::Int64, true),
                Field::new("latency_ms", DataType::Float64, true),
                Field::new("bytes_out", DataType::UInt64, true),
                Field::new("bytes_in", DataType::UInt64, true),
                s("label", true),
                s("extra", true),
            ]))
        })
        .clone()
}

fn agent_type_code(t: AgentType) -> u8 {
    AgentType::ALL.iter().position(|x| *x == t).unwrap_or(5) as u8
}

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Success => 0,
        Outcome::Denied => 1,
        Outcome::Error => 2,
    }
}

/// Positions of the string columns in `call_schema`.
const STRING_COLUMNS: [usize; 11] = [1, 2, 4, 5, 6, 7, 8, 9, 10, 16, 17];

/// Accumulates decoded events into one `RecordBatch`.
pub struct CallBatchBuilder {
    ts: TimestampMillisecondBuilder,
    agent_id: StringBuilder,
    action: StringBuilder,
    agent_type: UInt8Builder,
    session_id: StringBuilder,
    parent_id: StringBuilder,
    tenant: StringBuilder,
    resource: StringBuilder,
    src_ip: StringBuilder,
    user_agent: StringBuilder,
    event_id: StringBuilder,
    outcome: UInt8Builder,
    status: Int64Builder,
    latency_ms: Float64Builder,
    bytes_out: UInt64Builder,
    bytes_in: UInt64Builder,
    label: StringBuilder,
    extra: StringBuilder,
    len: usize,
}

impl Default for CallBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl CallBatchBuilder {
    /// `events` as one window.
    pub fn batch_of(events: &[CallEvent<'_>]) -> RecordBatch {
        let mut b = Self::with_capacity(events.len());
        for e in events {
            b.push(e);
        }
        b.finish()
    }

    /// A builder with room for `rows` events before it grows.
    pub fn with_capacity(rows: usize) -> Self {
        Self::sized(rows, [rows * 16; STRING_COLUMNS.len()])
    }

    /// Builders pre-sized for `rows` rows and `bytes[i]` bytes of text in
    /// the i-th string column (in `STRING_COLUMNS` order).
    fn sized(rows: usize, bytes: [usize; STRING_COLUMNS.len()]) -> Self {
        let s = |i: usize| StringBuilder::with_capacity(rows, bytes[i]);
        CallBatchBuilder {
            ts: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            agent_id: s(0),
            action: s(1),
            agent_type: UInt8Builder::with_capacity(rows),
            session_id: s(2),
            parent_id: s(3),
            tenant: s(4),
            resource: s(5),
            src_ip: s(6),
            user_agent: s(7),
            event_id: s(8),
            outcome: UInt8Builder::with_capacity(rows),
            status: Int64Builder::with_capacity(rows),
            latency_ms: Float64Builder::with_capacity(rows),
            bytes_out: UInt64Builder::with_capacity(rows),
            bytes_in: UInt64Builder::with_capacity(rows),
            label: s(9),
            extra: s(10),
            len: 0,
        }
    }

    /// Events appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event was appended since the last `finish`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one event as a row.
    pub fn push(&mut self, ev: &CallEvent<'_>) {
        self.ts.append_value(ev.ts_ms);
        self.agent_id.append_value(&ev.agent_id);
        self.action.append_value(&ev.action);
        self.agent_type.append_value(agent_type_code(ev.agent_type));
        self.session_id.append_option(ev.session_id.as_deref());
        self.parent_id.append_option(ev.parent_id.as_deref());
        self.tenant.append_option(ev.tenant.as_deref());
        self.resource.append_option(ev.resource.as_deref());
        self.src_ip.append_option(ev.src_ip.as_deref());
        self.user_agent.append_option(ev.user_agent.as_deref());
        self.event_id.append_option(ev.event_id.as_deref());
        self.outcome.append_value(outcome_code(ev.outcome));
        self.status.append_option(ev.status);
        self.latency_ms.append_option(ev.latency_ms);
        self.bytes_out.append_option(ev.bytes_out);
        self.bytes_in.append_option(ev.bytes_in);
        self.label.append_option(ev.label.as_deref());
        self.extra.append_option(ev.extra.as_deref());
        self.len += 1;
    }

    /// Finishes the batch and resets the builder for the next window.
    pub fn finish(&mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.agent_id.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.agent_type.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.parent_id.finish()),
            Arc::new(self.tenant.finish()),
            Arc::new(self.resource.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.latency_ms.finish()),
            Arc::new(self.bytes_out.finish()),
            Arc::new(self.bytes_in.finish()),
            Arc::new(self.label.finish()),
            Arc::new(self.extra.finish()),
        ];
        // `finish` leaves the builders without capacity; size the next window
        // like this one so its buffers do not grow (and copy) from zero.
        let rows = self.len.max(1);
        let mut bytes = [0usize; STRING_COLUMNS.len()];
        for (b, i) in bytes.iter_mut().zip(STRING_COLUMNS) {
            *b = cols[i]
                .as_any()
                .downcast_ref::<StringArray>()
                .map_or(0, |a| a.values().len())
                + rows;
        }
        *self = Self::sized(rows, bytes);
        RecordBatch::try_new(call_schema(), cols).expect("builder columns match call_schema")
    }
}

/// Typed views of a batch's columns, resolved once per batch.
pub struct CallColumns<'b> {
    ts: &'b TimestampMillisecondArray,
    agent_id: &'b StringArray,
    action: &'b StringArray,
    agent_type: &'b UInt8Array,
    session_id: &'b StringArray,
    parent_id: &'b StringArray,
    tenant: &'b StringArray,
    resource: &'b StringArray,
    src_ip: &'b StringArray,
    user_agent: &'b StringArray,
    event_id: &'b StringArray,
    outcome: &'b UInt8Array,
    status: &'b Int64Array,
    latency_ms: &'b Float64Array,
    bytes_out: &'b UInt64Array,
    bytes_in: &'b UInt64Array,
    label: &'b StringArray,
    extra: &'b StringArray,
}

/// One event of a batch, borrowed from its columns.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallRow<'b> {
    /// When the call was made (ms since the epoch, UTC).
    pub ts_ms: i64,
    /// The identity that made the call.
    pub agent_id: &'b str,
    /// The action called.
    pub action: &'b str,
    /// What kind of identity made it.
    pub agent_type: AgentType,
    /// The session or token used.
    pub session_id: Option<&'b str>,
    /// The identity acted for, when delegated.
    pub parent_id: Option<&'b str>,
    /// The tenant.
    pub tenant: Option<&'b str>,
    /// The resource acted on.
    pub resource: Option<&'b str>,
    /// The caller's IP address.
    pub src_ip: Option<&'b str>,
    /// The caller's user agent.
    pub user_agent: Option<&'b str>,
    /// The source's id for the call.
    pub event_id: Option<&'b str>,
    /// Whether it succeeded, was denied or failed.
    pub outcome: Outcome,
    /// The protocol status code.
    pub status: Option<i64>,
    /// How long the call took, in ms.
    pub latency_ms: Option<f64>,
    /// Bytes returned to the caller (the schema's `bytes_out`: what a
    /// read or download sent back, as CloudTrail's `bytesTransferredOut`).
    pub bytes_out: Option<u64>,
    /// Bytes sent by the caller.
    pub bytes_in: Option<u64>,
    /// Ground truth (replay data only); detectors never read it.
    pub label: Option<&'b str>,
    /// Unknown fields of the record as one JSON object.
    pub extra: Option<&'b str>,
}

impl CallRow<'_> {
    /// An owned event with every field of this row.
    pub(crate) fn to_event(self) -> CallEvent<'static> {
        let own = |v: Option<&str>| v.map(|s| std::borrow::Cow::Owned(s.to_string()));
        CallEvent {
            ts_ms: self.ts_ms,
            agent_id: std::borrow::Cow::Owned(self.agent_id.to_string()),
            action: std::borrow::Cow::Owned(self.action.to_string()),
            agent_type: self.agent_type,
            session_id: own(self.session_id),
            parent_id: own(self.parent_id),
            tenant: own(self.tenant),
            resource: own(self.resource),
            src_ip: own(self.src_ip),
            user_agent: own(self.user_agent),
            event_id: own(self.event_id),
            outcome: self.outcome,
            status: self.status,
            latency_ms: self.latency_ms,
            bytes_out: self.bytes_out,
            bytes_in: self.bytes_in,
            label: own(self.label),
            extra: self.extra.map(String::from),
        }
    }
}

fn col<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Result<&'b T, ArrowError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            ArrowError::SchemaError(format!("call batch: column `{name}` missing or mistyped"))
        })
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

impl<'b> CallColumns<'b> {
    /// The columns of a batch made by `CallBatchBuilder` (or read back from
    /// Parquet in the same schema); an error names a missing or mistyped column.
    pub fn new(batch: &'b RecordBatch) -> Result<Self, ArrowError> {
        Ok(CallColumns {
            ts: col(batch, "ts")?,
            agent_id: col(batch, "agent_id")?,
            action: col(batch, "action")?,
            agent_type: col(batch, "agent_type")?,
            session_id: col(batch, "session_id")?,
            parent_id: col(batch, "parent_id")?,
            tenant: col(batch, "tenant")?,
            resource: col(batch, "resource")?,
            src_ip: col(batch, "src_ip")?,
            user_agent: col(batch, "user_agent")?,
            event_id: col(batch, "event_id")?,
            outcome: col(batch, "outcome")?,
            status: col(batch, "status")?,
            latency_ms: col(batch, "latency_ms")?,
            bytes_out: col(batch, "bytes_out")?,
            bytes_in: col(batch, "bytes_in")?,
            label: col(batch, "label")?,
            extra: col(batch, "extra")?,
        })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Row `i`'s agent: for a caller that needs only that (a router),
    /// so the row's other columns stay out of its cache.
    pub fn agent_id(&self, i: usize) -> &'b str {
        self.agent_id.value(i)
    }

    /// Row `i`'s time (ms since the epoch).
    pub fn ts_ms(&self, i: usize) -> i64 {
        self.ts.value(i)
    }

    /// Row `i`, borrowed from the columns.
    pub fn row(&self, i: usize) -> CallRow<'b> {
        let num = |a: &'b UInt64Array| a.is_valid(i).then(|| a.value(i));
        CallRow {
            ts_ms: self.ts.value(i),
            agent_id: self.agent_id.value(i),
            action: self.action.value(i),
            agent_type: AgentType::ALL[(self.agent_type.value(i) as usize).min(5)],
            session_id: opt_str(self.session_id, i),
            parent_id: opt_str(self.parent_id, i),
            tenant: opt_str(self.tenant, i),
            resource: opt_str(self.resource, i),
            src_ip: opt_str(self.src_ip, i),
            user_agent: opt_str(self.user_agent, i),
            event_id: opt_str(self.event_id, i),
            outcome: match self.outcome.value(i) {
                1 => Outcome::Denied,
                2 => Outcome::Error,
                _ => Outcome::Success,
            },
            status: self.status.is_valid(i).then(|| self.status.value(i)),
            latency_ms: self
                .latency_ms
                .is_valid(i)
                .then(|| self.latency_ms.value(i)),
            bytes_out: num(self.bytes_out),
            bytes_in: num(self.bytes_in),
            label: opt_str(self.label, i),
            extra: opt_str(self.extra, i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode_line;

    #[test]
    fn rows_round_trip_through_a_batch() {
        let lines = [
            r#"{"ts":1000,"agent_id":"a","action":"s3:GetObject","agent_type":"workload","outcome":"error","bytes_out":5,"x":1}"#,
            r#"{"ts":2000,"agent_id":"b","action":"GET /v1/x","session_id":"s","label":"exfil"}"#,
        ];
        let mut b = CallBatchBuilder::with_capacity(2);
        for (i, l) in lines.iter().enumerate() {
            b.push(&decode_line(l, i as u64 + 1).unwrap());
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        assert!(b.is_empty());
        let cols = CallColumns::new(&batch).unwrap();
        let r0 = cols.row(0);
        assert_eq!(
            (r0.ts_ms, r0.agent_id, r0.agent_type),
            (1000, "a", AgentType::Workload)
        );
        assert_eq!(r0.outcome, Outcome::Error);
        assert_eq!(r0.bytes_out, Some(5));
        assert_eq!(r0.extra, Some(r#"{"x":1}"#));
        assert_eq!(r0.session_id, None);
        let r1 = cols.row(1);
        assert_eq!(r1.session_id, Some("s"));
        assert_eq!(r1.label, Some("exfil"));
        assert_eq!(r1.bytes_out, None);
        let again = r0.to_event();
        assert_eq!(
            (again.ts_ms, again.agent_id.as_ref(), again.extra.as_deref()),
            (1000, "a", Some(r#"{"x":1}"#))
        );
    }
}
