//! Files made of good records with mutants between them, under `auto` and
//! every explicit format: each good record is still read, whatever class of
//! mutant sits beside it, on the first line or elsewhere.

use super::{EventReader, ReadOptions};
use crate::adapt::mutate::{Mutator, CLASSES};
use crate::adapt::Format;
use std::io::Cursor;

const GOOD: &str = r#"{"ts":"2026-11-20T10:00:00Z","agent_id":"good","action":"s3:GetObject","agent_type":"workload","tenant":"t1"}"#;

/// Calls read from `text` under `format`.
fn calls_read(text: Vec<u8>, format: Format) -> u64 {
    let opts = ReadOptions {
        format,
        ..ReadOptions::default()
    };
    let mut r = EventReader::from_reader("mem".into(), Box::new(Cursor::new(text)), opts);
    let mut bad = Vec::new();
    let mut n = 0;
    while let Some(b) = r
        .next_batch(&mut bad)
        .expect("an in-memory read cannot fail")
    {
        n += b.num_rows() as u64;
    }
    n
}

#[test]
fn good_records_beside_any_mutant_are_all_read() {
    const FILES_PER_CLASS: usize = 40;
    const GOOD_PER_FILE: usize = 20;
    for (class, name) in CLASSES.iter().enumerate() {
        let mut m = Mutator::new(7_000 + class as u64);
        for file in 0..FILES_PER_CLASS {
            // Good and mutated lines alternate; every other file starts with
            // a mutant, which is what used to switch a file to document mode.
            let mut text = Vec::new();
            let mut mutant_lines = Vec::new();
            for i in 0..GOOD_PER_FILE {
                let mutant = m.mutate(GOOD, class);
                let mutant: Vec<u8> = mutant.into_iter().filter(|&b| b != b'\n').collect();
                if file % 2 == 1 {
                    text.extend_from_slice(&mutant);
                    text.push(b'\n');
                }
                text.extend_from_slice(GOOD.as_bytes());
                text.push(b'\n');
                if file % 2 == 0 {
                    text.extend_from_slice(&mutant);
                    text.push(b'\n');
                }
                if i == 0 {
                    mutant_lines.push(String::from_utf8_lossy(&mutant).into_owned());
                }
            }
            for format in [Format::Auto, Format::Native] {
                let n = calls_read(text.clone(), format);
                assert!(
                    n >= GOOD_PER_FILE as u64,
                    "{format:?} / {name} / file {file}: {n} of {GOOD_PER_FILE} good calls read; \
                     first mutant {:?}",
                    mutant_lines.first()
                );
            }
        }
    }
}
