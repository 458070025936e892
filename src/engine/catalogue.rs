//! The catalogue of sensitive actions mapped to MITRE ATT&CK (tactic and
//! technique): data in `models/attack-catalogue-v1.json`, shipped inside
//! the binary, which a team extends with its own file (`[detectors]
//! attack_catalogue`). Detection uses it for one rule: the first call of a
//! tactic by an identity that never made one (`detect`); findings carry
//! the tags as OCSF `attacks[]`.

use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::archetype::ModelError;
use crate::signal::AttackTag;

/// The catalogue this build ships.
const SHIPPED: &str = include_str!("../../models/attack-catalogue-v1.json");
/// The file format it reads.
const FORMAT: &str = "warden-attack-catalogue";
/// Most tactics a catalogue may name (one bit each in an agent's state).
pub(crate) const MAX_TACTICS: usize = 32;

/// How much the first call of a tactic says on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Class {
    /// Defence evasion, destruction, new credentials: a finding on its own.
    High,
    /// Routine for some identities (reading secrets): corroboration only.
    Watch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    attack_version: String,
    /// For readers of the file.
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    tactics: FxHashMap<String, String>,
    entries: Vec<FileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    tactic: String,
    technique: String,
    name: String,
    class: Class,
    actions: Vec<String>,
}

/// One catalogued technique.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: AttackTag,
    pub class: Class,
    /// The tactic's bit in `AgentState::tactics`.
    pub tactic_bit: u8,
}

/// Actions to techniques, for lookup on every call.
#[derive(Debug, Clone, Default)]
pub struct AttackCatalogue {
    entries: Vec<Entry>,
    exact: FxHashMap<String, u16>,
    /// (lower-cased prefix, entry), for patterns ending in `*`.
    prefixes: Vec<(String, u16)>,
    tactics: Vec<String>,
}

impl AttackCatalogue {
    /// The catalogue shipped in `models/`, parsed once and shared by every
    /// engine.
    pub fn shipped() -> Arc<AttackCatalogue> {
        static ONCE: OnceLock<Arc<AttackCatalogue>> = OnceLock::new();
        ONCE.get_or_init(|| {
            let mut c = AttackCatalogue::default();
            // The shipped file is checked by a unit test; a broken one is a
            // build defect, not an input error.
            c.add_json(SHIPPED)
                .expect("the shipped ATT&CK catalogue is valid");
            Arc::new(c)
        })
        .clone()
    }

    /// The shipped catalogue plus the entries of the file at `path`
    /// (later entries win for an action both name).
    pub fn shipped_and(path: &Path) -> Result<AttackCatalogue, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::CatalogueRead {
            path: path.display().to_string(),
            source,
        })?;
        let mut c = AttackCatalogue::clone(&AttackCatalogue::shipped());
        c.add_json(&text)
            .map_err(|reason| ModelError::CatalogueInvalid {
                path: path.display().to_string(),
                reason,
            })?;
        Ok(c)
    }

    fn add_json(&mut self, text: &str) -> Result<(), String> {
        let f: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if f.format != FORMAT || f.version != 1 {
            return Err(format!(
                "format `{}` version {} is not `{FORMAT}` version 1",
                f.format, f.version
            ));
        }
        for e in f.entries {
            let Some(tactic_name) = f.tactics.get(&e.tactic) else {
                return Err(format!(
                    "technique {} names tactic {} that `tactics` does not define",
                    e.technique, e.tactic
                ));
            };
            let bit = match self.tactics.iter().position(|t| *t == e.tactic) {
                Some(i) => i,
                None if self.tactics.len() < MAX_TACTICS => {
                    self.tactics.push(e.tactic.clone());
                    self.tactics.len() - 1
                }
                None => return Err(format!("more than {MAX_TACTICS} tactics")),
            };
            let idx = u16::try_from(self.entries.len()).map_err(|_| "too many entries")?;
            self.entries.push(Entry {
                tag: AttackTag {
                    tactic_uid: e.tactic.as_str().into(),
                    tactic: tactic_name.as_str().into(),
                    technique_uid: e.technique.as_str().into(),
                    technique: e.name.as_str().into(),
                    version: f.attack_version.as_str().into(),
                },
                class: e.class,
                tactic_bit: bit as u8,
            });
            for a in e.actions {
                let a = a.to_ascii_lowercase();
                match a.strip_suffix('*') {
                    Some(prefix) => self.prefixes.push((prefix.to_string(), idx)),
                    None => {
                        self.exact.insert(a, idx);
                    }
                }
            }
        }
        Ok(())
    }

    /// The technique `action` is catalogued under, if any.
    pub(crate) fn lookup(&self, action: &str) -> Option<&Entry> {
        let idx = if action.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = action.to_ascii_lowercase();
            self.find(&lower)
        } else {
            self.find(action)
        }?;
        self.entries.get(idx as usize)
    }

    fn find(&self, lower: &str) -> Option<u16> {
        self.exact.get(lower).copied().or_else(|| {
            self.prefixes
                .iter()
                .rev()
                .find(|(p, _)| lower.starts_with(p.as_str()))
                .map(|&(_, i)| i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_reads_and_maps_control_plane_attacks() {
        let c = AttackCatalogue::shipped();
        let stop = c.lookup("cloudtrail:StopLogging").map(|e| &e.tag);
        assert_eq!(stop.map(|t| &*t.technique_uid), Some("T1562.008"));
        assert_eq!(stop.map(|t| &*t.tactic), Some("Defense Evasion"));
        // Lambda's versioned event names match by prefix.
        let code = c.lookup("lambda:UpdateFunctionCode20150331v2");
        assert_eq!(code.map(|e| &*e.tag.technique_uid), Some("T1648"));
        // Kubernetes verbs and agent tools.
        assert!(c.lookup("create pods/exec").is_some());
        assert_eq!(
            c.lookup("secretsmanager:GetSecretValue").map(|e| e.class),
            Some(Class::Watch)
        );
        assert!(c.lookup("s3:GetObject").is_none());
    }

    #[test]
    fn every_shipped_entry_has_well_formed_ids() {
        let c = AttackCatalogue::shipped();
        assert!(c.entries.len() >= 30);
        for e in &c.entries {
            let t = &e.tag;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            assert!(
                t.tactic_uid.len() == 6 && digits(&t.tactic_uid[2..]),
                "{t:?}"
            );
            let (main, sub) = t.technique_uid[1..]
                .split_once('.')
                .unwrap_or((&t.technique_uid[1..], "000"));
            assert!(
                t.technique_uid.starts_with('T') && main.len() == 4 && digits(main),
                "{t:?}"
            );
            assert!(sub.len() == 3 && digits(sub), "{t:?}");
            assert_eq!(&*t.version, "v16");
        }
    }

    #[test]
    fn a_team_file_adds_entries_and_a_bad_one_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ours.json");
        std::fs::write(
            &p,
            r#"{"format":"warden-attack-catalogue","version":1,"attack_version":"v16",
                "tactics":{"TA0040":"Impact"},
                "entries":[{"tactic":"TA0040","technique":"T1485","name":"Data Destruction",
                            "class":"high","actions":["billing:DeleteLedger"]}]}"#,
        )
        .unwrap();
        let c = AttackCatalogue::shipped_and(&p).unwrap();
        assert!(c.lookup("billing:deleteledger").is_some());
        assert!(c.lookup("cloudtrail:StopLogging").is_some());
        std::fs::write(&p, r#"{"format":"warden-attack-catalogue","version":1,"attack_version":"v16","tactics":{},"entries":[{"tactic":"TA9","technique":"T1","name":"x","class":"high","actions":[]}]}"#).unwrap();
        let e = AttackCatalogue::shipped_and(&p).unwrap_err().to_string();
        assert!(e.contains("TA9"), "{e}");
    }
}
