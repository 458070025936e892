//! Coverage-guided fuzzing of the record decoders with libFuzzer, on stable
//! Rust: `scripts/fuzz.sh` builds this with SanitizerCoverage on the warden
//! crate only (see there) and runs it for a fixed number of inputs. Each
//! input is one record as it may arrive on the calls topic, decoded under
//! every `--format`. The seed corpus is `fuzz/corpus` plus the crashers in
//! `tests/corpus/hostile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warden::stream::fuzz_decode(data);
});
