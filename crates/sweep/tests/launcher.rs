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
