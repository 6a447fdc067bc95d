//! The launcher interface holds a launcher the crate does not know: the tests' own
//! (`util/deferred.rs`) launches blocks of runs into its queue, `status` reports that queue,
//! and its records equal the local launcher's.

mod util;

use stab_spec::RunStatus;
use stab_sweep::{run_local, status_with, Launch, Launched, Launcher, Local, Slurm, SweepStatus};
use util::deferred::{drain, Deferred};
use util::*;

fn launch(env: &Env, settings: &str) -> Launch {
    Launch {
        worker: env.worker(),
        task: env.worker(),
        retry: false,
        threads: None,
        progress: false,
        settings: toml::from_str(settings).unwrap(),
    }
}

#[test]
fn a_test_launcher_queues_blocks_that_status_reports_and_records_match_the_local_launcher() {
    let env = Env::new("max_steps = 5\n[axes]\nseed = [0, 1, 2]\n");
    let store = env.store();
    let sweep = env.sweep();
    let launchers: [&dyn Launcher; 3] = [&Local, &Slurm, &Deferred];
    let status = || -> SweepStatus { status_with(&store, &launchers).unwrap() };
    assert!(status().queues.is_empty(), "nothing launched yet");

    // A block of two runs: queued, not executed.
    let first = Deferred
        .launch(&store, &sweep.runs, &launch(&env, "block = 2"))
        .unwrap();
    assert_eq!(first, Launched::Queued(Some("queued 2 runs".into())));
    let st = status();
    assert_eq!((st.runs.pending, st.queues.len()), (3, 1), "{st}");
    assert!(
        st.to_string()
            .ends_with("  deferred jobs queue: 0 tasks running, 2 pending, 0 in other states (deferred-queue.json)\n"),
        "{st}"
    );
    assert!(env.executions().is_empty());

    // Worked off; the next launch queues what is left, and only that.
    let ran = drain(&store, &env.worker()).unwrap();
    assert_eq!(ran, [RunStatus::Ok, RunStatus::Ok]);
    let st = status();
    assert_eq!(
        (st.runs.ok, st.runs.pending, st.queues[0].pending),
        (2, 1, 0),
        "{st}"
    );
    let second = Deferred
        .launch(&store, &sweep.runs, &launch(&env, "block = 2"))
        .unwrap();
    assert_eq!(second, Launched::Queued(Some("queued 1 runs".into())));
    assert_eq!(drain(&store, &env.worker()).unwrap(), [RunStatus::Ok]);
    assert_eq!(
        Deferred
            .launch(&store, &sweep.runs, &launch(&env, ""))
            .unwrap(),
        Launched::Queued(None)
    );
    assert_eq!(status().runs.done(), 3);
    let ex = env.executions();
    assert!(ex.values().all(|&(s, f)| (s, f) == (1, 1)), "{ex:?}");

    // The same records as the local launcher's.
    let local = Env::new("max_steps = 5\n[axes]\nseed = [0, 1, 2]\n");
    let local_store = local.store();
    run_local(&local_store, &local.sweep().runs, &local.options(2)).unwrap();
    for (a, b) in env
        .records(&store)
        .iter()
        .zip(local.records(&local_store).iter())
    {
        assert_eq!(comparable(a), comparable(b), "run {}", a.run_id);
    }

    // Its settings are checked like any launcher's.
    let e = Deferred
        .launch(&store, &sweep.runs, &launch(&env, "blok = 2"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("deferred launcher: blok: unknown field `blok`"),
        "{e}"
    );
}

/// The analyst `stab sweep` uses, in test form: stab-stats' group-sequential Fisher test on
/// the look's records.
struct FisherAnalyst(stab_stats::plan::sequential::SequentialReport);

impl FisherAnalyst {
    fn new(spending: stab_stats::plan::sequential::Spending) -> Self {
        let contrasts = [("devlin".to_string(), "mosbach".to_string())];
        FisherAnalyst(
            stab_stats::plan::sequential::SequentialReport::new(
                stab_stats::plan::sequential::SequentialTest::Fisher,
                0.05,
                spending,
                5,
                25,
                &contrasts,
            )
            .unwrap(),
        )
    }
}

impl stab_sweep::Analyst for FisherAnalyst {
    fn analyse(
        &mut self,
        store: &stab_sweep::Store,
        look: usize,
        runs: &[stab_sweep::PlannedRun],
    ) -> Result<Option<String>, stab_sweep::Error> {
        let input = stab_stats::load_results(store.root(), None).unwrap();
        let ids = runs.iter().map(|r| r.run_id.clone()).collect();
        let data = stab_stats::plan::sequential::look_data(&input, &ids);
        let stop = self.0.analyse(look, &data);
        Ok(stop.then(|| self.0.stopped.clone().unwrap()))
    }
}

/// Two groups, 28 seeds each: every `devlin` run diverges (failed), every `mosbach` run scores
/// above the fake worker's baseline of 0.5 (its score is 10·seed mod 100, in hundredths).
fn sequential_env(spending: &str) -> Env {
    let seeds: Vec<String> = (0..7)
        .flat_map(|t| (6..10).map(move |u| (10 * t + u).to_string()))
        .collect();
    let mut env = Env::new(&format!(
        "max_steps = 1\n[[group]]\nname = \"devlin\"\nset = {{ learning_rate = 2e-5 }}\n[[group]]\nname = \"mosbach\"\nset = {{ learning_rate = 1e-5 }}\n[axes]\nseed = [{}]\n[stopping]\ncontrast = [\"devlin\", \"mosbach\"]\ntest = \"fisher\"\nlook_every = 5\nmax_seeds = 25\nspending = \"{spending}\"\n",
        seeds.join(", ")
    ));
    let runs = env.sweep().runs;
    let behaviours: Vec<&str> = runs
        .iter()
        .map(|r| if r.group == "devlin" { "diverge" } else { "ok" })
        .collect();
    env.misbehave = misbehaviour(&runs, &behaviours);
    env
}

#[test]
fn a_sequential_sweep_stops_at_the_first_pocock_look_through_a_queueing_launcher() {
    use stab_stats::plan::sequential::Spending;
    use stab_sweep::{sequential_step, Step};
    let env = sequential_env("pocock");
    let store = env.store();
    let sweep = env.sweep();
    let rule = sweep.stopping.clone().expect("[stopping] read");
    let l = launch(&env, "");
    let mut analyst = FisherAnalyst::new(Spending::Pocock);
    // The first look's block (5 seeds of each group) is queued, nothing more.
    let step = sequential_step(&store, &sweep.runs, &rule, &Deferred, &l, &mut analyst).unwrap();
    assert_eq!(
        step,
        Step::Queued {
            look: 0,
            what: Some("queued 10 runs".into())
        }
    );
    assert_eq!(drain(&store, &env.worker()).unwrap().len(), 10);
    // A fresh driver (a resumed `stab sweep`) analyses look 1: 5/5 vs 0/5 failed, Fisher
    // p = 0.0079 < Pocock's nominal 0.0148 at look 1 of 5.
    let mut resumed = FisherAnalyst::new(Spending::Pocock);
    let step = sequential_step(&store, &sweep.runs, &rule, &Deferred, &l, &mut resumed).unwrap();
    assert!(
        matches!(&step, Step::Stopped { look: 0, reason } if reason.contains("look 1 of 5")),
        "{step:?}"
    );
    let look = &resumed.0.contrasts[0].looks[0];
    assert_eq!(look.data, "5/5 vs 0/5 failed");
    assert!((look.p.unwrap() - 0.0079).abs() < 1e-4, "{look:?}");
    // Stopped: nothing more is queued or run, however often it is resumed.
    let again = sequential_step(&store, &sweep.runs, &rule, &Deferred, &l, &mut resumed).unwrap();
    assert!(matches!(again, Step::Stopped { look: 0, .. }));
    assert_eq!(env.executions().len(), 10);
    assert_eq!(
        store.status().unwrap().ok + store.status().unwrap().diverged,
        10
    );
}

#[test]
fn a_sequential_sweep_stops_at_the_second_obrien_fleming_look_with_the_local_launcher() {
    use stab_stats::plan::sequential::Spending;
    use stab_sweep::{sequential_step, Step};
    let env = sequential_env("obrien-fleming");
    let store = env.store();
    let sweep = env.sweep();
    let rule = sweep.stopping.clone().unwrap();
    let mut analyst = FisherAnalyst::new(Spending::ObrienFleming);
    let l = launch(&env, "workers = 2");
    let step = sequential_step(&store, &sweep.runs, &rule, &Local, &l, &mut analyst).unwrap();
    assert!(matches!(step, Step::Stopped { look: 1, .. }), "{step:?}");
    let looks = &analyst.0.contrasts[0].looks;
    assert_eq!(looks.len(), 2);
    assert!(!looks[0].crossed && looks[1].crossed, "{looks:?}");
    assert_eq!(looks[1].data, "10/10 vs 0/10 failed");
    // 10 seeds of each group ran, not 25 (or 28).
    assert_eq!(env.executions().len(), 20);
    // `stab report` of the store states the design, the looks and why it stopped, and says
    // that its tests are the naive fixed-design ones (as `stab sweep` leaves it: the analysis
    // in sequential.json at the store's root).
    std::fs::write(
        store.root().join("sequential.json"),
        serde_json::to_string(&analyst.0).unwrap(),
    )
    .unwrap();
    let input = stab_stats::load_results(store.root(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let opts = stab_stats::ReportOptions {
        bootstrap_iterations: 50,
        plots: false,
        ..Default::default()
    };
    let summary = stab_stats::write_report(out.path(), &input, &opts).unwrap();
    assert!(
        summary
            .findings
            .sentences
            .iter()
            .any(|l| l.starts_with("This sweep ran sequentially and ended (stopped at look 2 of 5")),
        "{:?}",
        summary.findings.sentences
    );
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains("## Sequential design") && md.contains("10/10 vs 0/10 failed"),
        "{md}"
    );
}

#[test]
fn a_stopping_rule_must_name_groups_of_the_sweep() {
    let env = Env::new(
        "[axes]\nseed = [0, 1, 2]\n[stopping]\ncontrast = [\"a\", \"b\"]\ntest = \"fisher\"\nlook_every = 1\nmax_seeds = 3\n",
    );
    let e = stab_sweep::Sweep::load(&env.sweep_file(), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("stopping.contrast: `a` is not a group"), "{e}");
}
