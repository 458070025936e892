//! The fuzz harness's entry point: one record decoded as `warden run`
//! decodes what it polls, without the panic isolation (a panic here is
//! what the fuzzer is looking for).

use crate::adapt::{latest_ts_from_now, Format, RecordDecoder};

/// The fuzz harness's entry point (`fuzz/decode.rs`, run by `scripts/fuzz.sh`): one
/// record as it may arrive from the bus, raw bytes, decoded under every
/// `--format` with the default limits, as `warden run` decodes it. Returns
/// the calls decoded and the bad records reported, over all formats. The
/// same bytes are also decoded as a fleet-topic and a state-topic record.
/// Anything but a return (a panic, a hang, an abort) is a finding.
pub fn fuzz_decode(data: &[u8]) -> (usize, usize) {
    // A fleet-topic record and a state record are bytes from the bus too
    // (anyone the topics' ACLs let in can write them): refused or read,
    // never a panic.
    let _ = crate::engine::snapshot::decode_fleet_share(Some(b"0"), data);
    let _ = crate::engine::snapshot::decode(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return (0, 1); // refused before decoding, as the service does
    };
    // The canonical decoder's fast scanner must decode exactly as serde.
    crate::event::assert_agrees_with_serde(text.trim());
    text.lines()
        .for_each(crate::event::assert_agrees_with_serde);
    // So must the one-pass reader of CloudTrail objects.
    crate::adapt::assert_cloudtrail_agrees_with_serde(text.trim());
    text.lines()
        .for_each(crate::adapt::assert_cloudtrail_agrees_with_serde);
    // And the cursor's split of a document into its values.
    crate::input::assert_split_agrees_with_serde(text);
    // And whether a first line opens a document, decided from its decode.
    crate::input::assert_first_line_decision(text);
    let input = crate::config::InputConfig::default();
    let (mut events, mut bad) = (0, 0);
    for format in [
        Format::Auto,
        Format::Native,
        Format::Cloudtrail,
        Format::K8sAudit,
        Format::Ocsf,
    ] {
        let d = RecordDecoder {
            format,
            k8s_stage: &input.k8s_stage,
            latest_ts_ms: latest_ts_from_now(input.future_skew_ms()),
            limits: input.field_limits(),
        };
        d.decode(text.trim(), 1, &mut |_| events += 1, &mut |_| bad += 1);
    }
    (events, bad)
}
