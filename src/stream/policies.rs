//! Guardrail policies in `warden run`: reloaded without a restart when a
//! policy or identities file changes, or on SIGHUP. A set that does not
//! load is refused (its error names the file and position) and the set in
//! force stays; either way the reload is counted and logged.

use crate::decide::policy::{PolicyError, PolicySet};
use crate::decide::DecisionConfig;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How often the files are looked at (a reload takes effect well within a
/// second of the change).
const CHECK_EVERY: Duration = Duration::from_millis(200);

/// What a file looked like when last loaded: a change of either is a change.
type Stamp = Option<(SystemTime, u64)>;

pub(crate) struct PolicyWatch {
    files: Vec<PathBuf>,
    identities: Option<PathBuf>,
    seen: Vec<Stamp>,
    hup: Arc<AtomicBool>,
    last_check: Instant,
}

fn stamp(path: &PathBuf) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl PolicyWatch {
    /// Watches the files `[decisions]` names; `None` without policies (and
    /// then SIGHUP keeps its default meaning).
    pub fn new(cfg: &DecisionConfig) -> std::io::Result<Option<PolicyWatch>> {
        if cfg.policy_files.is_empty() {
            return Ok(None);
        }
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;
        let mut w = PolicyWatch {
            files: cfg.policy_files.clone(),
            identities: cfg.identities_file.clone(),
            seen: Vec::new(),
            hup,
            last_check: Instant::now(),
        };
        w.seen = w.stamps();
        Ok(Some(w))
    }

    fn stamps(&self) -> Vec<Stamp> {
        self.files
            .iter()
            .chain(self.identities.as_ref())
            .map(stamp)
            .collect()
    }

    /// A reloaded set when a file changed or SIGHUP came since the last
    /// call (`Err` when it was refused); `None` when nothing changed.
    pub fn poll(&mut self) -> Option<Result<Arc<PolicySet>, PolicyError>> {
        let hup = self.hup.swap(false, Ordering::Relaxed);
        if !hup && self.last_check.elapsed() < CHECK_EVERY {
            return None;
        }
        self.last_check = Instant::now();
        let now = self.stamps();
        if !hup && now == self.seen {
            return None;
        }
        // Remembered even when refused: the same broken file is reported
        // once, not at every check; the next edit is tried again.
        self.seen = now;
        let reason = if hup { "SIGHUP" } else { "file changed" };
        tracing::info!(reason, "reloading guardrail policies");
        Some(PolicySet::load(&self.files, self.identities.as_deref()).map(Arc::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// SIGHUP is process-wide: every registered watch sees the one test's
    /// raise, so the tests that watch take turns.
    static SIGNALS: Mutex<()> = Mutex::new(());

    #[test]
    fn a_change_or_sighup_reloads_and_a_bad_set_is_an_error() {
        let _turn = SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.cedar");
        let rule = "@id(\"a\") forbid (principal, action == Action::\"x:Y\", resource);\n";
        std::fs::write(&file, rule).unwrap();
        let cfg = DecisionConfig {
            policy_files: vec![file.clone()],
            ..DecisionConfig::default()
        };
        let mut w = PolicyWatch::new(&cfg).unwrap().unwrap();
        assert!(w.poll().is_none(), "nothing changed");
        std::fs::write(
            &file,
            format!("{rule}@id(\"b\") forbid (principal, action, resource);\n"),
        )
        .unwrap();
        std::thread::sleep(CHECK_EVERY);
        assert_eq!(w.poll().unwrap().unwrap().len(), 2);
        assert!(w.poll().is_none());
        // SIGHUP reloads without a change (this process handles it now).
        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
        assert_eq!(w.poll().unwrap().unwrap().len(), 2);
        std::fs::write(
            &file,
            "@id(\"c\") forbid (principal, action, resource) when { x };",
        )
        .unwrap();
        std::thread::sleep(CHECK_EVERY);
        let e = w.poll().unwrap().unwrap_err().to_string();
        assert!(e.contains("p.cedar:1:"), "{e}");
        std::thread::sleep(CHECK_EVERY);
        assert!(w.poll().is_none(), "a refused file is reported once");
    }

    /// How the kubelet updates a ConfigMap mounted as a directory: each
    /// version in its own timestamped directory, `..data` a symlink to the
    /// current one, each key a symlink through `..data`, and an update a
    /// rename of a new `..data` over the old. Same length on purpose.
    #[test]
    fn a_configmap_update_by_the_kubelet_is_seen() {
        use std::os::unix::fs::symlink;
        let _turn = SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let rule = |id: &str| format!("@id(\"{id}\") forbid (principal, action, resource);\n");
        let version = |name: &str, text: &str| {
            std::fs::create_dir(d.join(name)).unwrap();
            std::fs::write(d.join(name).join("p.cedar"), text).unwrap();
        };
        version("..2026_12_04_01", &rule("a"));
        symlink("..2026_12_04_01", d.join("..data")).unwrap();
        symlink("..data/p.cedar", d.join("p.cedar")).unwrap();
        let cfg = DecisionConfig {
            policy_files: vec![d.join("p.cedar")],
            ..DecisionConfig::default()
        };
        let mut w = PolicyWatch::new(&cfg).unwrap().unwrap();
        std::thread::sleep(CHECK_EVERY);
        assert!(w.poll().is_none(), "nothing changed");
        version("..2026_12_04_02", &rule("b"));
        symlink("..2026_12_04_02", d.join("..data_tmp")).unwrap();
        std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
        std::fs::remove_dir_all(d.join("..2026_12_04_01")).unwrap();
        std::thread::sleep(CHECK_EVERY);
        let set = w.poll().unwrap().unwrap();
        assert_eq!(set.rules().next().unwrap().id, "b");
    }
}
