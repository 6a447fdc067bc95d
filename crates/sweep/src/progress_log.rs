//! Progress as lines, for a launch whose stderr is not a terminal (nohup, Slurm output
//! files, CI), where the progress bar draws nothing: a line at each finished run and at a
//! steady interval (`STAB_PROGRESS_INTERVAL` seconds, default 60) with done / running /
//! pending / failed so far and an estimate of the time left.

use std::time::{Duration, Instant};

use crate::local::Summary;

/// The environment variable setting the interval between lines, in seconds.
pub const PROGRESS_INTERVAL_ENV: &str = "STAB_PROGRESS_INTERVAL";

pub(crate) struct ProgressLog {
    sweep: String,
    every: Duration,
    started: Instant,
    last: Instant,
}

impl ProgressLog {
    /// A log for `sweep` when `enabled` and stderr is not a terminal.
    pub(crate) fn new(enabled: bool, sweep: &str) -> Option<ProgressLog> {
        if !enabled || std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return None;
        }
        let every = std::env::var(PROGRESS_INTERVAL_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(60));
        let now = Instant::now();
        Some(ProgressLog {
            sweep: sweep.to_string(),
            every,
            started: now,
            last: now,
        })
    }

    /// Prints a line when `finished` (a run just ended) or the interval has passed.
    pub(crate) fn tick(&mut self, s: &Summary, running: usize, finished: bool) {
        if !finished && self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        eprintln!("{}", line(&self.sweep, s, running, self.started.elapsed()));
    }
}

/// `stab sweep NAME: 3/10 done (3 ok, 0 diverged), 2 running, 5 pending, 0 failed; 2m10s
/// elapsed, about 4m20s left`. The time left assumes the runs still to come take as long as
/// those this launch finished (runs done before it do not count); unknown before the first.
pub(crate) fn line(sweep: &str, s: &Summary, running: usize, elapsed: Duration) -> String {
    let failed = s.error + s.interrupted;
    let done = s.skipped + s.ran();
    let pending = s.total.saturating_sub(done + running);
    let left = if s.ran() > 0 {
        let per_run = elapsed.as_secs_f64() / s.ran() as f64;
        format!(
            "about {} left",
            stab_spec::human_duration(per_run * (pending + running) as f64)
        )
    } else {
        "time left unknown until a run finishes".into()
    };
    format!(
        "stab sweep {sweep}: {done}/{} done ({} ok, {} diverged), {running} running, {pending} pending, {failed} failed; {} elapsed, {left}",
        s.total,
        s.ok + s.skipped,
        s.diverged,
        stab_spec::human_duration(elapsed.as_secs_f64()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_counts_runs_and_estimates_the_time_left() {
        let s = Summary {
            total: 10,
            skipped: 1,
            ok: 2,
            diverged: 0,
            error: 1,
            ..Summary::default()
        };
        assert_eq!(
            line("quickstart", &s, 2, Duration::from_secs(90)),
            "stab sweep quickstart: 4/10 done (3 ok, 0 diverged), 2 running, 4 pending, 1 failed; 1m30s elapsed, about 3m00s left"
        );
        let none = Summary {
            total: 4,
            ..Summary::default()
        };
        assert!(line("q", &none, 2, Duration::from_secs(5))
            .ends_with("0/4 done (0 ok, 0 diverged), 2 running, 2 pending, 0 failed; 5s elapsed, time left unknown until a run finishes"));
    }
}
