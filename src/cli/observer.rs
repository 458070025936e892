//! Progress on a terminal and bad records in the log, for every command
//! that reads inputs.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use warden::input::{BadRecord, ReadObserver};

/// Progress bar on a terminal, bad records to the log (the first 20 in full).
pub struct CliObserver {
    /// Draw a bar at all (`--no-progress` turns it off; it is also off
    /// when stderr is not a terminal).
    progress: bool,
    bar: Option<ProgressBar>,
    bad_shown: u64,
}

impl CliObserver {
    /// `progress`: draw a bar (when stderr is a terminal).
    pub fn new(progress: bool) -> Self {
        CliObserver {
            progress,
            bar: None,
            bad_shown: 0,
        }
    }
}

impl ReadObserver for CliObserver {
    fn started(&mut self, total: Option<u64>) {
        if !self.progress || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::no_length(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.bar = Some(bar);
    }
    fn progress(&mut self, bytes: u64, events: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            b.set_message(format!("{events} events"));
        }
    }
    fn bad_record(&mut self, bad: &BadRecord) {
        self.bad_shown += 1;
        if self.bad_shown <= 20 {
            tracing::warn!(input = %bad.input, line = bad.error.line, field = bad.error.field.as_deref().unwrap_or(""), "skipped bad record: {bad}");
        } else if self.bad_shown == 21 {
            tracing::warn!("more bad records; only the count is reported from here on");
        }
    }
    fn finished(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
