//! Progress of a sweep: an indicatif bar on a terminal, plain log lines otherwise.

use super::PlannedRun;
use crate::record::RunRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

pub struct Progress {
    bar: Option<ProgressBar>,
    log_lines: bool,
    total: usize,
    state: Mutex<State>,
}

struct State {
    done: usize,
    running: HashMap<String, Instant>,
}

impl Progress {
    pub fn new(enabled: bool, total: usize, skipped: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} runs  elapsed {elapsed}  ETA {eta}  {msg}")
                    .expect("the template is valid"),
            );
            bar.set_position(skipped as u64);
            bar.reset_eta();
            bar
        });
        if enabled && skipped > 0 {
            eprintln!("resuming: {skipped} of {total} runs already recorded");
        }
        Progress {
            bar,
            log_lines: enabled && !terminal,
            total,
            state: Mutex::new(State { done: skipped, running: HashMap::new() }),
        }
    }

    pub fn started(&self, run_id: &str) {
        let mut state = self.state.lock().expect("progress lock");
        state.running.insert(run_id.to_string(), Instant::now());
        self.show_slowest(&state);
    }

    pub fn finished(&self, planned: &PlannedRun, record: &RunRecord) {
        let mut state = self.state.lock().expect("progress lock");
        state.running.remove(&planned.run_id);
        state.done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.show_slowest(&state);
        if self.log_lines {
            let loss = record.result.final_train_loss.map_or("diverged".to_string(), |l| format!("{l:.3e}"));
            eprintln!(
                "[{}/{}] {} done in {:.1} s, final train loss {loss}",
                state.done, self.total, planned.run_id, record.result.wall_seconds
            );
        }
    }

    /// The run in flight that started first: the one the sweep is waiting on.
    fn show_slowest(&self, state: &State) {
        if let Some(bar) = &self.bar {
            let slowest = state.running.iter().min_by_key(|(_, t)| **t);
            bar.set_message(
                slowest.map_or(String::new(), |(id, t)| format!("slowest: {id} ({:.0} s)", t.elapsed().as_secs_f64())),
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
