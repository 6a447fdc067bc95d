//! The local launcher and the store against the fake worker: normal runs, crashes, kills,
//! signals and concurrent launchers.

mod util;

use std::time::Duration;

use stab_spec::RunStatus;
use stab_store::{RunLock, RunState};
use stab_sweep::{dry_run, run_local};
use util::*;

fn assert_each_ran_once(env: &Env, n: usize) {
    let ex = env.executions();
    assert_eq!(ex.len(), n, "{ex:?}");
    for (id, (starts, finishes)) in &ex {
        assert_eq!(
            (*starts, *finishes),
            (1, 1),
            "run {id} executed {starts}×, finished {finishes}×"
        );
    }
}

#[test]
fn sweep_completes_and_a_second_launch_skips_everything() {
    let env = Env::new("max_steps = 20\n[axes]\npreset = [\"devlin\", \"mosbach\"]\nseed = { start = 0, end = 3 }\n");
    let store = env.store();
    let sweep = env.sweep();
    let s = run_local(&store, &sweep.runs, &env.options(2)).unwrap();
    assert_eq!(
        (s.total, s.ok, s.skipped, s.cancelled),
        (6, 6, 0, false),
        "{s}"
    );
    let records = env.records(&store);
    assert!(records.iter().all(|r| r.status == RunStatus::Ok));
    assert_eq!(records[3].group.as_deref(), Some("preset=mosbach"));
    assert_eq!(records[3].sweep.as_deref(), Some("t"));
    assert_each_ran_once(&env, 6);

    let s = run_local(&store, &sweep.runs, &env.options(2)).unwrap();
    assert_eq!((s.skipped, s.ran()), (6, 0));
    let st = store.status().unwrap();
    assert_eq!((st.ok, st.pending, st.running), (6, 0, 0), "{st}");
    assert!(store.root().join("sweep.toml").exists());
    assert!(store.root().join("expanded.json").exists());
    for r in &sweep.runs {
        let dir = store.run_dir(&r.run_id);
        assert!(dir.join("spec.json").exists() && dir.join("log.txt").exists());
        // The attempt header gives the time as a person reads it, and the number beside it.
        let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
        let head = log.lines().next().unwrap_or_default();
        assert!(
            head.contains(" UTC (unix ") && head.contains("attempt started at 20"),
            "{head}"
        );
    }

    // Adding seeds adds runs and keeps the finished ones.
    let text = std::fs::read_to_string(env.sweep_file())
        .unwrap()
        .replace("end = 3", "end = 4");
    std::fs::write(env.sweep_file(), text).unwrap();
    let store = env.store();
    let s = run_local(&store, &env.sweep().runs, &env.options(2)).unwrap();
    assert_eq!((s.total, s.skipped, s.ok), (8, 6, 2));
}

#[test]
fn failures_leave_records_and_retry_reruns_only_errors() {
    // Six runs that differ in a real field; each gets its misbehaviour from the fake worker's
    // environment. The zip block keeps the name (`metric`) of the axis this test once put
    // the misbehaviour in, so that the group labels asserted below stay as they were.
    let behaviours = ["ok", "diverge", "fail", "crash", "exit3", "crash-once"];
    let mut env = Env::new(&format!(
        "[zip.metric]\nlabels = {behaviours:?}\nmax_steps = [10, 11, 12, 13, 14, 15]\n"
    ));
    env.misbehave = misbehaviour(&env.sweep().runs, &behaviours);
    let store = env.store();
    let sweep = env.sweep();
    let s = run_local(&store, &sweep.runs, &env.options(2)).unwrap();
    assert_eq!((s.ok, s.diverged, s.error), (1, 1, 4), "{s}");
    let r = env.records(&store);
    assert_eq!(r[2].message.as_deref(), Some("fake failure"));
    let crash = r[3].message.as_deref().unwrap();
    assert!(crash.contains("killed by signal 6 (SIGABRT)"), "{crash}");
    assert!(crash.contains("crashing on purpose"), "{crash}");
    assert_eq!(r[3].group.as_deref(), Some("metric=crash"));
    assert!(r[4]
        .message
        .as_deref()
        .unwrap()
        .contains("exited with code 3"));

    // Without --retry nothing reruns; with it the errors do (crash-once now succeeds).
    let s = run_local(&store, &sweep.runs, &env.options(2)).unwrap();
    assert_eq!((s.skipped, s.ran()), (6, 0));
    let mut o = env.options(2);
    o.retry = true;
    let s = run_local(&store, &sweep.runs, &o).unwrap();
    assert_eq!((s.skipped, s.ok, s.error), (2, 1, 3), "{s}");
    let r = env.records(&store);
    assert_eq!(r[5].status, RunStatus::Ok);
    let attempts = std::fs::read_dir(store.run_dir(&sweep.runs[5].run_id).join("attempts"))
        .unwrap()
        .count();
    assert_eq!(attempts, 1, "the earlier error record is kept");
    let st = store.status().unwrap();
    assert_eq!((st.ok, st.diverged, st.error), (2, 1, 3), "{st}");
}

#[test]
fn worker_killed_mid_run_is_an_error_and_retry_completes_the_sweep() {
    let env = Env::new("[axes]\nseed = [0, 1, 2]\nmax_steps = [3000]\n");
    let store = env.store();
    let sweep = env.sweep();
    let runs = sweep.runs.clone();
    let opts = env.options(3);
    let s = std::thread::scope(|scope| {
        let h = scope.spawn(|| run_local(&store, &runs, &opts).unwrap());
        assert!(wait_for(Duration::from_secs(10), || worker_pids(&store)
            .len()
            == 3));
        let (victim, pid) = worker_pids(&store)[0].clone();
        // SAFETY: plain kill(2) on the fake worker's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let s = h.join().unwrap();
        (s, victim)
    });
    let (summary, victim) = s;
    assert_eq!((summary.ok, summary.error), (2, 1), "{summary}");
    let rec = store.record(&victim).unwrap().unwrap();
    assert_eq!(rec.status, RunStatus::Error);
    assert!(rec.message.unwrap().contains("SIGKILL"));

    let mut fast = env.options(3);
    fast.retry = true;
    let s = run_local(&store, &runs, &fast).unwrap();
    assert_eq!((s.skipped, s.ok), (2, 1));
    assert_eq!(store.status().unwrap().done(), 3);
}

#[test]
fn sigkilled_launcher_restarted_finishes_every_run_exactly_once() {
    let env = Env::new("[axes]\nseed = { start = 0, end = 8 }\nmax_steps = [400]\n");
    let store = env.store();
    let mut first = env.spawn_launcher(2, &[]);
    assert!(wait_for(Duration::from_secs(10), || env
        .executions()
        .values()
        .filter(|e| e.1 > 0)
        .count()
        >= 2));
    first.kill().unwrap(); // SIGKILL: no cleanup at all
    first.wait().unwrap();
    // Its two workers keep running and keep their runs locked.
    let mut second = env.spawn_launcher(2, &[]);
    let status = wait_child(&mut second, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let records = env.records(&store);
    assert!(records.iter().all(|r| r.status == RunStatus::Ok));
    assert_each_ran_once(&env, 8);
    let st = store.status().unwrap();
    assert_eq!((st.ok, st.running, st.pending), (8, 0, 0), "{st}");
}

/// Most runs executing at once, from the order of the fake worker's start/finish lines.
fn max_concurrency(env: &Env) -> usize {
    let text = std::fs::read_to_string(env.count_log()).unwrap_or_default();
    let (mut now, mut max) = (0usize, 0usize);
    for line in text.lines() {
        if line.starts_with("start ") {
            now += 1;
            max = max.max(now);
        } else {
            now -= 1;
        }
    }
    max
}

/// After a SIGKILLed launcher, the relaunched one counts the orphaned workers it waits for
/// against `--workers` instead of starting new workers beside them.
#[test]
fn relaunch_after_sigkill_counts_orphans_against_the_worker_budget() {
    let env = Env::new("[axes]\nseed = { start = 0, end = 6 }\nmax_steps = [1500]\n");
    let store = env.store();
    let mut first = env.spawn_launcher(2, &[]);
    assert!(wait_for(Duration::from_secs(10), || worker_pids(&store)
        .len()
        == 2));
    first.kill().unwrap(); // SIGKILL: its two workers keep running, locked
    first.wait().unwrap();
    let mut second = env.spawn_launcher(2, &[]);
    let status = wait_child(&mut second, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert_each_ran_once(&env, 6);
    assert_eq!(
        max_concurrency(&env),
        2,
        "{:?}",
        std::fs::read_to_string(env.count_log())
    );
    assert_eq!(store.status().unwrap().done(), 6);
}

#[test]
fn two_launchers_at_once_run_each_run_once() {
    let env = Env::new("[axes]\nseed = { start = 0, end = 10 }\nmax_steps = [100]\n");
    let store = env.store();
    let mut a = env.spawn_launcher(2, &[]);
    let mut b = env.spawn_launcher(2, &[]);
    assert!(wait_child(&mut a, Duration::from_secs(60)).success());
    assert!(wait_child(&mut b, Duration::from_secs(60)).success());
    assert_each_ran_once(&env, 10);
    assert_eq!(env.records(&store).len(), 10);
}

#[test]
fn sigint_marks_running_runs_interrupted_and_the_next_launch_reruns_them() {
    let env = Env::new("[axes]\nseed = { start = 0, end = 4 }\nmax_steps = [5000]\n");
    let store = env.store();
    let mut launcher = env.spawn_launcher(2, &[]);
    assert!(wait_for(Duration::from_secs(10), || worker_pids(&store)
        .len()
        == 2));
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(launcher.id() as i32, libc::SIGINT) };
    let status = wait_child(&mut launcher, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    let st = store.status().unwrap();
    assert_eq!((st.interrupted, st.pending, st.ok), (2, 2, 0), "{st}");
    for (id, _) in worker_pids(&store) {
        let r = store.record(&id).unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Interrupted);
        assert!(r.message.unwrap().contains("interrupted"));
    }

    // The next launch reruns interrupted runs without --retry.
    let sweep = env.sweep();
    let s = run_local(&store, &sweep.runs, &env.options(4)).unwrap();
    assert_eq!((s.ok, s.skipped), (4, 0), "{s}");
    assert_eq!(store.status().unwrap().done(), 4);
}

#[test]
fn status_reports_running_for_a_held_lock_and_dry_run_counts_done_runs() {
    let env = Env::new("max_steps = 5\n[axes]\nseed = [0, 1, 2]\n");
    let store = env.store();
    let sweep = env.sweep();
    run_local(&store, &sweep.runs[..1], &env.options(1)).unwrap();
    let lock = RunLock::try_acquire(&store.run_dir(&sweep.runs[1].run_id))
        .unwrap()
        .unwrap();
    let st = store.status().unwrap();
    assert_eq!((st.ok, st.running, st.pending), (1, 1, 1), "{st}");
    assert!(st.to_string().contains("1 running, 1 pending"), "{st}");
    let d = dry_run(&store, &sweep.runs, 2, false);
    assert_eq!(d.to_run().count(), 1);
    assert_eq!(d.entries[1].state, RunState::Running);
    let text = d.to_string();
    assert!(
        text.contains("1 already done, 1 running elsewhere, 1 to run"),
        "{text}"
    );
    assert!(
        text.contains("5 optimizer steps, 80 training examples"),
        "{text}"
    );
    assert!(text.contains("1000.0 examples/s"), "{text}");
    drop(lock);
}

/// `stab status` counts unreadable records, so that its counts add up to the total.
#[test]
fn status_counts_add_up_with_an_unreadable_record() {
    let env = Env::new("max_steps = 5\n[axes]\nseed = [0, 1, 2]\n");
    let store = env.store();
    let sweep = env.sweep();
    run_local(&store, &sweep.runs[..2], &env.options(1)).unwrap();
    let bad = store.run_dir(&sweep.runs[1].run_id).join("record.json");
    std::fs::write(&bad, "{ truncated").unwrap();
    let st = store.status().unwrap();
    let text = st.to_string();
    assert!(
        text.contains("3 runs: 1 done (1 ok, 0 diverged), 0 running, 1 pending, 0 error, 0 interrupted, 1 unreadable"),
        "{text}"
    );
    assert!(text.contains("unreadable record: "), "{text}");
}

#[test]
fn dry_run_of_an_unlaunched_sweep_writes_nothing() {
    let env = Env::new("[axes]\nseed = [0, 1]\n");
    let sweep = env.sweep();
    let store = sweep.store_in(&env.results());
    let d = dry_run(&store, &sweep.runs, 1, false);
    assert_eq!(d.to_run().count(), 2);
    assert!(d.to_string().contains("no past records"));
    assert!(!env.results().exists());
}

#[test]
fn a_missing_worker_program_is_an_error_not_a_record() {
    let env = Env::new("[axes]\nseed = [0]\n");
    let store = env.store();
    let mut o = env.options(1);
    o.worker = stab_sweep::WorkerCommand::new("/nonexistent/stab");
    let err = run_local(&store, &env.sweep().runs, &o).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/stab"), "{err}");
    // A worker another test forks while this run's lock is open holds a copy of the descriptor
    // until its `exec` closes it (close-on-exec); on a loaded machine that takes a moment, and
    // the run reads as running meanwhile. Wait it out, then assert.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.status().unwrap().pending != 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(store.status().unwrap().pending, 1);
}

#[test]
fn example_sweeps_in_experiments_expand() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let load = |name: &str| {
        stab_sweep::Sweep::load(&dir.join(name), &stab_sweep::Overrides::default())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let q = load("quickstart.toml");
    assert_eq!(q.name, "quickstart");
    assert_eq!(q.runs.len(), 10);
    assert_eq!(q.groups(), vec!["mosbach", "devlin"]);
    assert!(q.runs[0].spec.optimizer.bias_correction);
    assert!(!q.runs[5].spec.optimizer.bias_correction);
    assert!(q.runs.iter().all(|r| r.spec.train_subset == Some(500)));
    assert!(q.runs.iter().all(|r| r.spec.learning_rate == 1e-4));
    // One evaluation, at the end, for both recipes.
    assert!(q.runs[0].spec.evals_per_run == Some(1) && !q.runs[0].spec.eval_at_start);
    let e = load("early-failure.toml");
    assert_eq!((e.runs.len(), e.groups().len()), (20, 4));
    assert!(e.runs.iter().all(|r| r.spec.evals_per_run == Some(10)));
    let p = load("early-failure-policy.toml");
    assert_eq!(p.runs.len(), 20);
    for r in &p.runs {
        let policy = r.spec.early_failure.as_ref();
        assert_eq!(
            policy.is_some(),
            r.group.ends_with("+policy"),
            "{}",
            r.group
        );
        assert!(policy.is_none_or(|x| x.after_fraction == 0.3));
    }
    let f = load("freeze-depth.toml");
    assert_eq!(f.runs.len(), 70);
    assert_eq!(f.groups().len(), 14);
    assert!(f.groups().contains(&"task=STS-B,freeze_layers=6"));
    let m = load("devlin-vs-mosbach.toml");
    // bias correction × epochs × learning rate, 10 seeds each.
    assert_eq!(m.groups().len(), 8);
    assert_eq!(m.runs.len(), 80);
    assert!(m
        .groups()
        .contains(&"optimizer.bias_correction=false,epochs=3,learning_rate=5e-5"));
    let r = load("regime-search.toml");
    assert_eq!(r.runs.len(), 12);
    let c = load("feature-based-conll.toml");
    assert_eq!(c.runs.len(), 24);
    assert_eq!(c.groups()[0], "embeddings");
    // The sweep runs Table 7's weighted sums, not the unweighted sum.
    for mode in ["weighted-sum-last-four", "weighted-sum-all-layers"] {
        assert!(c.groups().contains(&mode));
        let run = c.runs.iter().find(|r| r.group == mode).unwrap();
        assert_eq!(serde_json::to_value(run.spec.feature_mode).unwrap(), mode);
    }
    assert!(!c.groups().contains(&"sum-last-four"));
    assert!(c.groups().contains(&"fine-tuning"));
    // --data-dir wins over the file.
    let o = stab_sweep::Overrides {
        data_dir: Some("/d".into()),
        ..Default::default()
    };
    let q = stab_sweep::Sweep::load(&dir.join("quickstart.toml"), &o).unwrap();
    assert!(q
        .runs
        .iter()
        .all(|r| r.spec.data_dir == std::path::Path::new("/d")));
}

#[test]
fn workers_are_pinned_to_gpus_k_at_a_time() {
    let env = Env::new("max_steps = 150\n[axes]\nseed = { start = 0, end = 8 }\n");
    let store = env.store();
    let sweep = env.sweep();
    let mut o = env.options(1);
    o.workers = None;
    o.threads = Some(1);
    o.gpus = vec!["0".into(), "1".into()];
    o.runs_per_gpu = 2;
    let s = run_local(&store, &sweep.runs, &o).unwrap();
    assert_eq!((s.ok, s.error), (8, 0), "{s}");
    assert_each_ran_once(&env, 8);
    let gpu_of = |id: &str| {
        std::fs::read_to_string(store.run_dir(id).join("worker.gpu")).expect("worker saw a GPU")
    };
    let mut per_gpu = std::collections::BTreeMap::new();
    for r in &sweep.runs {
        *per_gpu.entry(gpu_of(&r.run_id)).or_insert(0) += 1;
        let log = std::fs::read_to_string(store.run_dir(&r.run_id).join("log.txt")).unwrap();
        assert!(log.contains(", GPU "), "the log names the GPU: {log}");
    }
    assert_eq!(per_gpu.keys().collect::<Vec<_>>(), ["0", "1"]);
    // Replay the start/finish log: never more than 2 runs on one GPU at once, and both GPUs
    // were used 2 at a time at some point (4 workers).
    let log = std::fs::read_to_string(env.count_log()).unwrap();
    let mut on = std::collections::BTreeMap::<String, i32>::new();
    let (mut peak, mut peak_total) = (0, 0);
    for line in log.lines() {
        let (what, id) = line.split_once(' ').unwrap();
        let g = on.entry(gpu_of(id)).or_insert(0);
        *g += if what == "start" { 1 } else { -1 };
        peak = peak.max(*g);
        peak_total = peak_total.max(on.values().sum::<i32>());
    }
    assert_eq!(peak, 2, "at most K = 2 runs per GPU at once:\n{log}");
    assert!(peak_total > 2, "both GPUs busy at once:\n{log}");
}

#[test]
fn a_threads_axis_runs_each_run_with_its_own_thread_count() {
    let env = Env::new("max_steps = 10\n[axes]\nthreads = [1, 2]\n");
    let store = env.store();
    let sweep = env.sweep();
    let s = run_local(&store, &sweep.runs, &env.options(2)).unwrap();
    assert_eq!((s.ok, s.error), (2, 0), "{s}");
    for r in &sweep.runs {
        let log = std::fs::read_to_string(store.run_dir(&r.run_id).join("log.txt")).unwrap();
        assert!(
            log.contains(&format!(", {} threads", r.spec.threads)),
            "run with threads = {} was started with another count: {log}",
            r.spec.threads
        );
    }
}

/// A run directory deleted during a sweep: the run it belonged to is recorded as `error`
/// (its folder recreated for the record), a pending run whose folder is gone is recreated
/// and run, and the launcher goes on with the others instead of stopping with an error.
#[test]
fn a_run_directory_deleted_during_the_sweep_is_an_error_record_not_a_launcher_failure() {
    let behaviours = ["ok", "delete-dir", "ok", "ok"];
    let mut env = Env::new(
        "[zip.metric]\nlabels = [\"a\", \"b\", \"c\", \"d\"]\nmax_steps = [10, 11, 12, 13]\n",
    );
    env.misbehave = misbehaviour(&env.sweep().runs, &behaviours);
    let store = env.store();
    let sweep = env.sweep();
    // Deleted before its run started.
    std::fs::remove_dir_all(store.run_dir(&sweep.runs[3].run_id)).unwrap();
    let s = run_local(&store, &sweep.runs, &env.options(1)).unwrap();
    assert_eq!((s.ok, s.error, s.cancelled), (3, 1, false), "{s}");
    let gone = store.record(&sweep.runs[1].run_id).unwrap().unwrap();
    assert_eq!(gone.status, RunStatus::Error);
    let msg = gone.message.unwrap();
    assert!(msg.contains("run directory was deleted"), "{msg}");
    assert!(store
        .run_dir(&sweep.runs[1].run_id)
        .join("spec.json")
        .exists());
    let rerun = store.record(&sweep.runs[3].run_id).unwrap().unwrap();
    assert_eq!(rerun.status, RunStatus::Ok);
}
