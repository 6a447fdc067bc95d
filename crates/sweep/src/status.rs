//! What `stab status` shows: the store's counts of runs by state, composed with what Slurm's
//! queue says about the store's jobs (the store itself knows nothing of launchers).

use std::fmt;

use crate::slurm::{queue_summary, QueueSummary};
use crate::store::{StatusSummary, Store};
use crate::Error;

/// A sweep's status: the store's counts and, when it was submitted to Slurm, the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepStatus {
    /// What the store says (records and locks).
    pub runs: StatusSummary,
    /// Array tasks of this store's Slurm jobs that `squeue` still lists; `None` when the
    /// sweep was never submitted to Slurm.
    pub queue: Option<QueueSummary>,
}

impl fmt::Display for SweepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.runs)?;
        if let Some(q) = &self.queue {
            write!(f, "  {q}")?;
        }
        Ok(())
    }
}

/// The status of the sweep in `store`: its counts by state, plus the Slurm queue of its jobs
/// (asked of `squeue` only when the store has submitted some).
pub fn status(store: &Store) -> Result<SweepStatus, Error> {
    Ok(SweepStatus {
        runs: store.status()?,
        queue: queue_summary(store),
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
            queue: None,
        };
        assert_eq!(plain.to_string(), runs.to_string());
        let queued = SweepStatus {
            runs: runs.clone(),
            queue: Some(QueueSummary {
                jobs: vec!["7".into()],
                pending: 1,
                ..QueueSummary::default()
            }),
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
        let store = Store::create(dir.path(), &sweep).unwrap();
        let s = status(&store).unwrap();
        assert_eq!(s.queue, None);
        assert_eq!((s.runs.total, s.runs.pending), (2, 2));
    }
}
