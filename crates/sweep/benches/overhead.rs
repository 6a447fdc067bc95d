//! Scheduling overhead of the local launcher: a 200-run sweep of minimal runs (the fake worker
//! sleeps 0 ms), per run, against the bare cost of starting the fake worker 200 times.
//!
//! `cargo bench -p stab-sweep --bench overhead`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use stab_sweep::{run_local, LocalOptions, Overrides, Sweep, WorkerCommand};

const RUNS: usize = 200;
const FAKE: &str = env!("CARGO_BIN_EXE_fake-stab-worker");

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"bench\"\n[base]\ntrain_subset = 10\nmax_steps = 1\n[axes]\nseed = {{ start = 0, end = {RUNS} }}\n"
    );
    // max_steps = 1: the fake worker sleeps 1 ms per run.
    let sweep = Sweep::parse(Path::new("bench.toml"), &text, &Overrides::default()).unwrap();

    // Bare process start of the worker, sequential: the floor no launcher can beat.
    let store = sweep.create_store(&dir.path().join("bare")).unwrap();
    let t = Instant::now();
    for r in &sweep.runs {
        let d = store.run(&r.run_id);
        let ok = Command::new(FAKE)
            .arg("run")
            .arg("--spec")
            .arg(d.spec())
            .arg("--out")
            .arg(d.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let bare = t.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
    println!("bare worker start + 1 ms sleep + record write: {bare:.2} ms per run");

    for workers in [1, 2] {
        let results = dir.path().join(format!("w{workers}"));
        let t = Instant::now();
        let store = sweep.create_store(&results).unwrap();
        let create = t.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
        let mut o = LocalOptions::new(WorkerCommand::new(FAKE));
        o.workers = Some(workers);
        o.progress = false;
        let t = Instant::now();
        let s = run_local(&store, &sweep.runs, &o).unwrap();
        assert_eq!(s.ok, RUNS);
        let per_run = t.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
        let t = Instant::now();
        let s = run_local(&store, &sweep.runs, &o).unwrap();
        assert_eq!(s.skipped, RUNS);
        let skip = t.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
        println!(
            "{workers} worker(s): store creation {create:.2} ms/run, sweep {per_run:.2} ms/run \
             (launcher overhead ≈ {:.2} ms/run over bare × 1/{workers}), no-op relaunch {skip:.3} ms/run",
            per_run - bare / workers as f64
        );
    }
}
