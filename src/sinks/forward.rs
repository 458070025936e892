//! The sinks as a `DecisionSink`, for `warden replay --deliver`: a team
//! points a replay at its Splunk or SOAR to check the wiring and dashboards
//! with real findings before the service runs.

use super::{SinkConfigError, SinkRecord, SinkSet, SinkStats, SinksConfig};
use crate::decide::Decision;
use crate::emit::set::SetSigner;
use crate::emit::{ocsf, remediation, DecisionSink, SinkError};
use std::sync::Arc;
use std::time::Duration;

pub struct ForwardSink {
    sinks: SinkSet<()>,
    signer: SetSigner,
}

impl ForwardSink {
    /// Replay is not in a hurry: every sink waits for room in its buffer
    /// instead of dropping, whatever `when_full` says.
    pub fn start(
        cfg: &SinksConfig,
        signer: SetSigner,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ForwardSink, SinkConfigError> {
        let mut cfg = cfg.clone();
        for d in cfg.deliveries_mut() {
            d.when_full = super::config::WhenFull::Block;
        }
        Ok(ForwardSink {
            sinks: SinkSet::start(&cfg, env, |()| {})?,
            signer,
        })
    }

    /// Waits up to `timeout` for everything handed over, then stops.
    pub fn close(self, timeout: Duration) -> Vec<SinkStats> {
        self.sinks.close(timeout)
    }
}

impl DecisionSink for ForwardSink {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError> {
        match d {
            Decision::Finding(f) => {
                self.sinks
                    .submit(SinkRecord::ocsf(Arc::new(ocsf::detection_finding(f))), ());
            }
            Decision::Revocation(r) => {
                let value = Arc::new(remediation::remediation_activity(r));
                let severity_id = value["severity_id"].as_u64().unwrap_or(0) as u8;
                let token: Arc<str> = self.signer.sign(r)?.into();
                self.sinks.submit(
                    SinkRecord::set(&r.uid, token, r.shadow, severity_id, r.time_ms),
                    (),
                );
                self.sinks.submit(SinkRecord::ocsf(value), ());
            }
        }
        Ok(())
    }
}
