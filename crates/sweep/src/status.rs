//! What `stab status` shows: the store's counts of runs by state, composed with what each
//! launcher's queue says about the store's jobs (the store itself knows nothing of launchers,
//! and this code knows none by name).

use std::fmt;

use stab_store::{StatusSummary, Store};

use crate::launcher::{Launcher, QueueSummary, LAUNCHERS};
use crate::Error;

/// A sweep's status: the store's counts and the queues of the launchers that hold its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepStatus {
    /// What the store says (records and locks).
    pub runs: StatusSummary,
    /// What each launcher that keeps a queue for this store says of it (for example the array
    /// tasks of its Slurm jobs that `squeue` still lists); empty when none does.
    pub queues: Vec<QueueSummary>,
}

impl fmt::Display for SweepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.runs)?;
        for q in &self.queues {
            write!(f, "  {q}")?;
        }
        Ok(())
    }
}

/// The status of the sweep in `store`: its counts by state, plus the queue of every launcher
/// in [`LAUNCHERS`] that keeps one for it.
pub fn status(store: &Store) -> Result<SweepStatus, Error> {
    status_with(store, LAUNCHERS)
}

/// [`status`] asking the given launchers.
pub fn status_with(store: &Store, launchers: &[&dyn Launcher]) -> Result<SweepStatus, Error> {
    let mut queues = Vec::new();
    for l in launchers {
        queues.extend(l.queue(store)?);
    }
    Ok(SweepStatus {
        runs: store.status()?,
        queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_line_follows_the_counts() {
        let runs = StatusSummary {
            sweep: "s".into(),
            total: 2,
            ok: 1,
            pending: 1,
            ..StatusSummary::default()
        };
        let plain = SweepStatus {
            runs: runs.clone(),
            queues: Vec::new(),
        };
        assert_eq!(plain.to_string(), runs.to_string());
        let queued = SweepStatus {
            runs: runs.clone(),
            queues: vec![QueueSummary {
                launcher: "slurm".into(),
                source: "squeue".into(),
                jobs: vec!["7".into()],
                pending: 1,
                ..QueueSummary::default()
            }],
        };
        let text = queued.to_string();
        assert!(text.starts_with(&runs.to_string()), "{text}");
        assert!(
            text.ends_with(
                "  slurm jobs 7: 0 tasks running, 1 pending, 0 in other states (squeue)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_store_never_submitted_has_no_queue() {
        let dir = tempfile::tempdir().unwrap();
        let sweep = crate::Sweep::parse(
            "s.toml".as_ref(),
            "[axes]\nseed = [0, 1]\n",
            &Default::default(),
        )
        .unwrap();
        let store = sweep.create_store(dir.path()).unwrap();
        let s = status(&store).unwrap();
        assert_eq!(s.queues, Vec::new());
        assert_eq!((s.runs.total, s.runs.pending), (2, 2));
    }
}
