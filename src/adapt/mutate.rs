//! Twelve classes of hostile mutations of real-shaped records: the mutation
//! fuzzer the decoders are held to (`hostile.rs`, `input::hostile_files`).
//! Each class is what a compromised agent can do to its own call records,
//! from flipped bits to envelopes that nest or repeat. Seeded, so a failure
//! names its class and iteration and can be replayed.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The mutation classes, in the order `mutate` numbers them.
pub(crate) const CLASSES: [&str; 12] = [
    "bit_flip",
    "byte_insert",
    "byte_delete",
    "truncate",
    "unicode_at_offset",
    "value_type_swap",
    "deep_nesting",
    "huge_string",
    "duplicate_keys",
    "timestamp_mangle",
    "number_extremes",
    "envelope_splice",
];

/// A generator of mutants for one class.
pub(crate) struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A mutant of `seed` in class `class` (an index into `CLASSES`), as
    /// bytes: byte-level classes can leave invalid UTF-8.
    pub fn mutate(&mut self, seed: &str, class: usize) -> Vec<u8> {
        let mut b = seed.as_bytes().to_vec();
        let r = &mut self.rng;
        match class {
            0 => {
                for _ in 0..r.random_range(1..8) {
                    if !b.is_empty() {
                        let i = r.random_range(0..b.len());
                        b[i] ^= 1 << r.random_range(0..8);
                    }
                }
            }
            1 => {
                for _ in 0..r.random_range(1..8) {
                    let i = r.random_range(0..=b.len());
                    b.insert(i, r.random());
                }
            }
            2 => {
                for _ in 0..r.random_range(1..16) {
                    if !b.is_empty() {
                        let i = r.random_range(0..b.len());
                        b.remove(i);
                    }
                }
            }
            3 => b.truncate(r.random_range(0..=b.len())),
            4 => {
                const WIDE: [&str; 8] =
                    ["ü", "€", "😀", "\u{0}", "\u{feff}", "\u{202e}", "…", "\""];
                let i = r.random_range(0..=b.len());
                b.splice(i..i, WIDE[r.random_range(0..WIDE.len())].bytes());
            }
            5..=11 => return self.structured(seed, class).into_bytes(),
            _ => panic!("no mutation class {class}"),
        }
        b
    }

    /// JSON-aware classes: the result is text, usually valid JSON.
    fn structured(&mut self, seed: &str, class: usize) -> String {
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(seed) else {
            return seed.to_string();
        };
        let r = &mut self.rng;
        let leaves = count_leaves(&v).max(1);
        let pick = r.random_range(0..leaves);
        use serde_json::{json, Value};
        let with: Value = match class {
            5 => match r.random_range(0..6) {
                0 => Value::Null,
                1 => json!(true),
                2 => json!([1, "x", null]),
                3 => json!({"nested": {"x": 1}}),
                4 => json!(r.next_u64()),
                _ => json!(""),
            },
            6 => {
                let depth = r.random_range(50..3000);
                serde_json::from_str(&format!("{}1{}", "[".repeat(depth), "]".repeat(depth)))
                    .unwrap_or(Value::Null)
            }
            7 => json!("ü".repeat(r.random_range(1_000..12_000))),
            8 => {
                // Every key written twice, the second time with a hostile value.
                let text = v.to_string();
                return text.replacen(
                    "{\"",
                    &format!("{{\"{}\":{},\"", first_key(&v), r.next_u64()),
                    1,
                );
            }
            9 => {
                const TIMES: [&str; 8] = [
                    "9999-99-99T99:99:99Z",
                    "2023-07-10 11:42:36€",
                    "-292277022657-01-27T08:29:52Z",
                    "2100-01-01T00:00:00Z",
                    "1970-01-01T00:00:00Z",
                    "",
                    "2023-02-30T25:61:61.999999999999Z",
                    "now",
                ];
                match r.random_range(0..4) {
                    0 => json!(i64::MAX),
                    1 => json!(i64::MIN),
                    2 => json!(-1),
                    _ => json!(TIMES[r.random_range(0..TIMES.len())]),
                }
            }
            10 => {
                // A raw number token in place of a leaf (a `Value` would
                // normalise it on the way out).
                const NUMS: [&str; 7] = [
                    "1e308",
                    "-0",
                    "1e-400",
                    "18446744073709551616",
                    "-9223372036854775809",
                    "0.1e99999",
                    "123456789012345678901234567890",
                ];
                let n = NUMS[r.random_range(0..NUMS.len())];
                replace_leaf(&mut v, pick, json!("\u{1}num\u{1}"));
                return v.to_string().replace("\"\\u0001num\\u0001\"", n);
            }
            _ => {
                let text = v.to_string();
                return match r.random_range(0..5) {
                    0 => format!("{{\"Records\":[{text},{text}]}}"),
                    1 => format!("{{\"kind\":\"EventList\",\"items\":[{text}]}}"),
                    2 => format!("[{text},{text},{}]", "[".repeat(r.random_range(1..200))),
                    3 => format!("{text}{text}"),
                    _ => format!("{{\"Records\":{{\"Records\":[{text}]}},\"items\":[{text}]}}"),
                };
            }
        };
        replace_leaf(&mut v, pick, with);
        v.to_string()
    }
}

fn count_leaves(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => m.values().map(count_leaves).sum(),
        serde_json::Value::Array(a) => a.iter().map(count_leaves).sum(),
        _ => 1,
    }
}

fn first_key(v: &serde_json::Value) -> String {
    v.as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default()
}

fn replace_leaf(v: &mut serde_json::Value, mut n: usize, with: serde_json::Value) {
    fn walk(v: &mut serde_json::Value, n: &mut usize, with: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.values_mut().any(|c| walk(c, n, with)),
            serde_json::Value::Array(a) => a.iter_mut().any(|c| walk(c, n, with)),
            leaf => {
                if *n == 0 {
                    *leaf = with.clone();
                    return true;
                }
                *n -= 1;
                false
            }
        }
    }
    walk(v, &mut n, &with);
}
