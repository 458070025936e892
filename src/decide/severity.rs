//! OCSF severities (`severity_id` 1-6): what a guardrail rule gives its
//! violations, and what sinks route on. One type for both, so a rule's
//! `@severity("high")` and a sink's `severities = ["high"]` are the same
//! value.

use serde::{Deserialize, Serialize};

/// An OCSF severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// OCSF severity 1.
    Informational,
    /// OCSF severity 2.
    Low,
    /// OCSF severity 3.
    Medium,
    /// OCSF severity 4.
    High,
    /// OCSF severity 5.
    Critical,
    /// OCSF severity 6.
    Fatal,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 6] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
        Severity::Fatal,
    ];

    /// OCSF's `severity_id`.
    pub fn id(self) -> u8 {
        self as u8 + 1
    }

    /// OCSF's `severity` caption.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Fatal => "Fatal",
        }
    }

    /// The lower-case name used in configuration, annotations and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Fatal => "fatal",
        }
    }

    /// The severity named `s` (lower case), as `as_str` writes it.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_serde_agree() {
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s.id() as usize, i + 1);
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(s.caption().to_lowercase(), s.as_str());
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), s);
        }
        assert_eq!(Severity::parse("High"), None);
    }
}
