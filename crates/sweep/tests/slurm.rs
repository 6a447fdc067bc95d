//! The Slurm launcher against a real single-node Slurm started by `scripts/slurm-up.sh`.
//!
//! Runs when `STAB_TEST_SLURM` is set or `sbatch` is on PATH (needs root and the Debian
//! packages `slurmctld slurmd slurm-client`); skipped with a printed reason otherwise. The
//! daemons are stopped by a drop guard, so also when an assertion fails.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use stab_spec::RunStatus;
use stab_sweep::{
    run_local, settings, submit_slurm, SlurmDefaults, SlurmOptions, Sweep, WorkerCommand,
};
use util::*;

struct Cluster {
    dir: tempfile::TempDir,
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

impl Cluster {
    fn up() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new(scripts().join("slurm-up.sh"))
            .arg(dir.path())
            .status()
            .expect("run scripts/slurm-up.sh");
        let cluster = Cluster { dir };
        assert!(status.success(), "slurm-up.sh failed");
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(scripts().join("slurm-down.sh"))
            .arg(self.dir.path())
            .status();
    }
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

const SWEEP: &str = "[axes]\nseed = { start = 0, end = 8 }\nmax_steps = [300]\n[slurm]\nmax_parallel = 2\ntime = \"00:05:00\"\n";

/// An env of the sweep `text` whose odd runs crash (the fake worker reads which from its
/// environment).
fn half_crashing(text: &str) -> Env {
    let mut env = Env::new(text);
    let runs = env.sweep().runs;
    let behaviours: Vec<&str> = (0..runs.len())
        .map(|i| if i % 2 == 1 { "crash" } else { "ok" })
        .collect();
    env.misbehave = misbehaviour(&runs, &behaviours);
    env
}

/// The sweep file's `[slurm]` table.
fn slurm_settings(sweep: &Sweep) -> SlurmDefaults {
    settings(&sweep.launcher_settings("slurm")).unwrap()
}

/// Array tasks run the harness's `task` command with the fake worker, counting executions in
/// the env's log, from the env's folder.
fn slurm_options(env: &Env, sweep: &Sweep) -> SlurmOptions {
    let task = WorkerCommand::new(HARNESS)
        .arg("task")
        .arg("--worker")
        .arg(FAKE)
        .arg("--worker-arg")
        .arg("--count-log")
        .arg("--worker-arg")
        .arg(path_str(&env.count_log()))
        .env(MISBEHAVE_ENV, &env.misbehave);
    let mut opts = SlurmOptions::new(task, slurm_settings(sweep));
    opts.workdir = Some(env.dir.path().to_path_buf());
    opts
}

#[test]
fn sweep_through_slurm_matches_the_local_launcher() {
    if std::env::var_os("STAB_TEST_SLURM").is_none() && !on_path("sbatch") {
        println!("skipped: STAB_TEST_SLURM is unset and sbatch is not on PATH");
        return;
    }
    assert!(
        on_path("sbatch"),
        "STAB_TEST_SLURM is set but sbatch is not on PATH"
    );
    let cluster = Cluster::up();
    // This test binary holds only this test, so setting the variable races with nothing.
    std::env::set_var("SLURM_CONF", cluster.conf());

    let env = half_crashing(SWEEP);
    let store = env.store();
    let sweep = env.sweep();
    assert_eq!(sweep.runs.len(), 8);
    let opts = slurm_options(&env, &sweep);
    assert_eq!(
        slurm_settings(&sweep),
        SlurmDefaults {
            max_parallel: Some(2),
            time: Some("00:05:00".into()),
            ..SlurmDefaults::default()
        }
    );
    let job = submit_slurm(&store, &sweep.runs, &opts)
        .unwrap()
        .expect("a job");
    assert_eq!(job.runs.len(), 8);
    let script = std::fs::read_to_string(&job.script).unwrap();
    assert!(script.contains("--array=0-7%2"), "{script}");
    let jobs = stab_sweep::slurm_jobs(&store).unwrap();
    assert_eq!(jobs[0].job_id, job.job_id);

    // While the array runs, a second submission finds nothing new to queue.
    assert!(submit_slurm(&store, &sweep.runs, &opts).unwrap().is_none());
    let st = stab_sweep::status(&store).unwrap();
    let q = st.queues[0].clone();
    assert_eq!(st.queues.len(), 1, "{st}");
    assert_eq!(q.jobs, vec![job.job_id.clone()]);
    assert!(q.error.is_none(), "{st}");

    let finished = wait_for(Duration::from_secs(120), || {
        let s = store.status().unwrap();
        s.done() + s.error == 8
    });
    let st = store.status().unwrap();
    assert!(finished, "Slurm sweep did not finish: {st}");
    assert_eq!((st.ok, st.error), (4, 4), "{st}");
    let execs = env.executions();
    assert_eq!(execs.len(), 8);
    assert!(execs.values().all(|&(s, _)| s == 1), "{execs:?}");
    for r in &sweep.runs {
        let out = store
            .root()
            .join("slurm")
            .join(format!("{}_{}.out", job.job_id, r.index));
        assert!(out.exists(), "missing {}", out.display());
    }

    // The same sweep through the local launcher leaves the same records.
    let local = half_crashing(SWEEP);
    let local_store = local.store();
    let s = run_local(&local_store, &local.sweep().runs, &local.options(2)).unwrap();
    assert_eq!((s.ok, s.error), (4, 4));
    let a = env.records(&store);
    let b = local.records(&local_store);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(comparable(x), comparable(y), "run {}", x.run_id);
    }
    assert!(
        a.iter()
            .any(|r| r.status == RunStatus::Error
                && r.message.as_deref().unwrap().contains("SIGABRT"))
    );
    // Afterwards the queue holds none of our tasks.
    assert!(wait_for(Duration::from_secs(10), || {
        let q = stab_sweep::status(&store).unwrap().queues.remove(0);
        q.running + q.pending == 0
    }));

    // K = 2 runs packed into each array task: half the tasks, every run once, same records.
    let packed =
        half_crashing(&SWEEP.replace("max_parallel = 2", "max_parallel = 2\nruns_per_gpu = 2"));
    let packed_store = packed.store();
    let packed_sweep = packed.sweep();
    assert_eq!(slurm_settings(&packed_sweep).runs_per_gpu, Some(2));
    let opts = slurm_options(&packed, &packed_sweep);
    let job = submit_slurm(&packed_store, &packed_sweep.runs, &opts)
        .unwrap()
        .expect("a job");
    assert_eq!(job.runs_per_task, 2);
    let script = std::fs::read_to_string(&job.script).unwrap();
    assert!(script.contains("--array=0-3%2"), "{script}");
    assert!(wait_for(Duration::from_secs(120), || {
        let s = packed_store.status().unwrap();
        s.done() + s.error == 8
    }));
    let execs = packed.executions();
    assert_eq!(execs.len(), 8);
    assert!(execs.values().all(|&(s, _)| s == 1), "{execs:?}");
    for (x, y) in packed.records(&packed_store).iter().zip(&b) {
        assert_eq!(comparable(x), comparable(y), "run {}", x.run_id);
    }
}
