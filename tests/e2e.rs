//! End-to-end tests of the `stab` binary: run, sweep + status + report, features, data check,
//! score, and a sweep of real runs through a real single-node Slurm (when available).
//!
//! They use a tiny random BERT (`stab init-model`) with all-MiniLM-L6-v2's tokenizer, real
//! GLUE files from `$STAB_DATA_DIR` (default `../shared/data`), and take seconds each.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stab_test_support::{data_dir, minilm, workspace};

#[path = "e2e/hub.rs"]
mod hub;

fn stab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stab"))
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny-model");
    ok(stab()
        .args(["init-model", "--out"])
        .arg(&model)
        .arg("--tokenizer-from")
        .arg(minilm())
        .output()
        .unwrap());
    model
}

/// `stab run` of the devlin preset on an RTE subset with the given model, one thread.
fn rte_run(model: &Path, out: &Path, subset: usize, epochs: usize) -> Command {
    let mut c = stab();
    c.args(["run", "--task", "RTE", "--quiet", "--threads", "1"])
        .args(["--set", &format!("train_subset={subset}")])
        .args([
            "--set",
            &format!("epochs={epochs}"),
            "--set",
            "max_length=48",
        ])
        .arg("--model")
        .arg(model)
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--out")
        .arg(out);
    c
}

/// `stab sweep SWEEP` with `model` and the test data, into `results`, 2 threads, quietly.
fn local_sweep(sweep: &Path, model: &Path, results: &Path) -> Command {
    let mut c = stab();
    c.arg("sweep")
        .arg(sweep)
        .arg("--model")
        .arg(model)
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--results")
        .arg(results)
        .args(["--quiet", "--threads", "2"]);
    c
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_writes_a_record_and_print_spec_shows_the_resolved_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = ok(stab()
        .args([
            "run",
            "--preset",
            "mosbach",
            "--print-spec",
            "--set",
            "epochs=2",
        ])
        .output()
        .unwrap());
    let text = stdout(&out);
    assert!(text.contains("# run id "), "{text}");
    assert!(
        text.contains("epochs = 2") && text.contains("bias_correction = true"),
        "{text}"
    );

    let run_dir = tmp.path().join("run");
    ok(rte_run(&model, &run_dir, 32, 1).output().unwrap());
    let record = stab_spec::RunRecord::read(&run_dir.join("record.json")).unwrap();
    assert_eq!(record.status, stab_spec::RunStatus::Ok);
    assert_eq!(record.steps_done, 2);
    let spec: stab_spec::RunSpec =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec.run_id(), record.run_id);

    // An unknown field is an error naming it; nothing runs.
    let bad = stab()
        .args(["run", "--set", "epoch=3", "--print-spec"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("epoch"), "{}", stderr(&bad));
}

/// `stab run --print-spec | head -1` ends quietly: a printing command whose reader has gone
/// ends as `ls | head` does, without a "Broken pipe" panic on stderr.
#[test]
fn a_printing_command_ends_quietly_when_its_reader_closes_the_pipe() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose read end is closed before the command writes a byte: every write fails.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created by pipe(2) and are owned here only.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let out = stab()
        .args(["run", "--preset", "mosbach", "--print-spec"])
        .stdout(std::process::Stdio::from(write))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}\n{stderr}",
        out.status
    );
}

/// `stab run --preset zhang-reinit --print-spec` shows Zhang's values — the dev split, eps 1e-8,
/// 10 evaluations per run — and the reference's selection metrics.
#[test]
fn zhang_print_spec_shows_the_dev_split_eps_and_ten_evaluations() {
    let out = ok(stab()
        .args(["run", "--preset", "zhang-reinit", "--print-spec"])
        .output()
        .unwrap());
    let text = stdout(&out);
    for line in [
        "dev_split_seed = 1",
        "eps = 0.00000001",
        "evals_per_run = 10",
        "update = \"torch\"",
        "reinit_pooler = true",
        "reinit_layers = 5",
        "STS-B = \"spearman\"",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    // Re-initialised layers without the pooler are refused before anything runs.
    let bad = stab()
        .args([
            "run",
            "--preset",
            "zhang-reinit",
            "--set",
            "reinit_pooler=false",
            "--print-spec",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("reinit_layers"), "{}", stderr(&bad));
}

#[test]
fn sweep_then_status_then_report() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let sweep = tmp.path().join("mini.toml");
    std::fs::write(
        &sweep,
        r#"name = "mini"
[base]
task = "RTE"
train_subset = 32
max_length = 48
batch_size = 8
threads = 1
[[group]]
name = "devlin"
set = { preset = "devlin", epochs = 1 }
[[group]]
name = "mosbach"
set = { preset = "mosbach", epochs = 2, evals_per_epoch = 1 }
[axes]
seed = [0, 1]
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let run_sweep = || local_sweep(&sweep, &model, &results).output().unwrap();
    ok(run_sweep());
    let store = results.join("mini");
    let records: Vec<_> = std::fs::read_dir(store.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path().join("record.json"))
        .collect();
    assert_eq!(records.len(), 4);
    for r in &records {
        // The directory, the saved spec and the record agree on the run id (regression: a
        // launch-time thread count must not change the spec behind the directory's back).
        let rec = stab_spec::RunRecord::read(r).unwrap();
        let dir = r.parent().unwrap();
        assert_eq!(dir.file_name().unwrap().to_str().unwrap(), rec.run_id);
        let spec: stab_spec::RunSpec =
            serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
        assert_eq!(spec.run_id(), rec.run_id);
        assert_eq!(rec.spec.threads, 2);
        assert!(rec.group.as_deref() == Some("devlin") || rec.group.as_deref() == Some("mosbach"));
    }

    // A second launch finds everything done and runs nothing.
    let before: Vec<_> = records.iter().map(|r| std::fs::read(r).unwrap()).collect();
    ok(run_sweep());
    let after: Vec<_> = records.iter().map(|r| std::fs::read(r).unwrap()).collect();
    assert_eq!(before, after);

    let status = stdout(&ok(stab().arg("status").arg(&store).output().unwrap()));
    assert!(status.contains('4'), "{status}");

    let report = ok(stab()
        .arg("report")
        .arg(&store)
        .args(["--bootstrap", "100"])
        .output()
        .unwrap());
    let table = stdout(&report);
    assert!(
        table.contains("devlin") && table.contains("mosbach"),
        "{table}"
    );
    let dir = store.join("report");
    for f in [
        "report.md",
        "report.html",
        "summary.csv",
        "summary.json",
        "plots/scores_box.png",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "plots are inlined as SVG");
}

#[test]
fn features_writes_pooled_vectors_and_rejects_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = tmp.path().join("f.safetensors");
    ok(stab()
        .args([
            "features",
            "--task",
            "RTE",
            "--split",
            "dev",
            "--layers",
            "-1,0",
            "--threads",
            "1",
        ])
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--model")
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap());
    let t: std::collections::HashMap<String, tch::Tensor> = tch::Tensor::read_safetensors(&out)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(t["layer.2.cls"].size(), vec![277, 32]);
    assert_eq!(t["layer.0.mean"].size(), vec![277, 32]);

    let jsonl = tmp.path().join("texts.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\": \"a first text\"}\n{\"text\": \"another\", \"text_b\": \"pair\"}\n",
    )
    .unwrap();
    let npy = tmp.path().join("cls.npy");
    ok(stab()
        .args(["features", "--threads", "1", "--input"])
        .arg(&jsonl)
        .arg("--model")
        .arg(&model)
        .arg("-o")
        .arg(&npy)
        .output()
        .unwrap());
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(bytes.len() % 64, (2 * 32 * 4) % 64);

    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let bad = stab()
        .args(["features", "--input"])
        .arg(&empty)
        .arg("--model")
        .arg(&model)
        .arg("-o")
        .arg(tmp.path().join("x.safetensors"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("empty.jsonl"), "{}", stderr(&bad));

    let bad = stab()
        .args(["features", "--input"])
        .arg(&jsonl)
        .arg("--model")
        .arg(tmp.path())
        .arg("-o")
        .arg(tmp.path().join("x.safetensors"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("config.json"), "{}", stderr(&bad));
}

#[test]
fn data_check_and_score() {
    let out = ok(stab()
        .args(["data", "check"])
        .arg(data_dir().join("glue"))
        .output()
        .unwrap());
    let text = stdout(&out);
    assert!(text.contains("RTE") && text.contains("2490"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let rte = tmp.path().join("RTE");
    std::fs::create_dir_all(&rte).unwrap();
    std::fs::write(
        rte.join("train.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\n",
    )
    .unwrap();
    std::fs::write(
        rte.join("dev.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n",
    )
    .unwrap();
    let bad = stab()
        .args(["data", "check"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let msg = format!("{}{}", stdout(&bad), stderr(&bad));
    assert!(msg.contains("train.tsv") && msg.contains(":3"), "{msg}");

    // Every dev example predicted `entailment`: the majority baseline's accuracy.
    let gold = data_dir().join("glue/RTE/dev.tsv");
    let preds = tmp.path().join("preds.txt");
    std::fs::write(&preds, "entailment\n".repeat(277)).unwrap();
    let out = ok(stab()
        .args(["score", "--task", "RTE", "--gold"])
        .arg(&gold)
        .arg("--predictions")
        .arg(&preds)
        .output()
        .unwrap());
    assert!(
        stdout(&out).contains("accuracy\t0.527076"),
        "{}",
        stdout(&out)
    );
}

/// `stab sweep --launcher slurm` on a real single-node Slurm: four real runs, and their
/// records equal those of the local launcher (apart from timings and host).
#[test]
fn slurm_launcher_matches_local_launcher() {
    let on_path = |exe: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
    };
    if std::env::var_os("STAB_TEST_SLURM").is_none() && !on_path("sbatch") {
        println!("skipped: STAB_TEST_SLURM is unset and sbatch is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cluster = tmp.path().join("slurm");
    let up = Command::new("bash")
        .arg(workspace().join("scripts/slurm-up.sh"))
        .arg(&cluster)
        .output()
        .unwrap();
    struct Down(PathBuf);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = Command::new("bash")
                .arg(workspace().join("scripts/slurm-down.sh"))
                .arg(&self.0)
                .output();
        }
    }
    let _down = Down(cluster.clone());
    ok(up);
    let conf = cluster.join("slurm.conf");

    let model = tiny_model(tmp.path());
    let sweep = tmp.path().join("s.toml");
    std::fs::write(
        &sweep,
        "name = \"s\"\n[base]\npreset = \"devlin\"\ntask = \"RTE\"\ntrain_subset = 16\nmax_length = 32\nbatch_size = 8\nepochs = 1\nthreads = 1\n[axes]\nseed = [0, 1, 2, 3]\n",
    )
    .unwrap();
    let launch = |results: &Path, slurm: bool| {
        let mut c = stab();
        c.arg("sweep").arg(&sweep).arg("--model").arg(&model);
        c.arg("--data-dir")
            .arg(data_dir())
            .arg("--results")
            .arg(results)
            .arg("--quiet");
        c.env("SLURM_CONF", &conf);
        if slurm {
            c.args(["--launcher", "slurm", "--max-parallel", "2"]);
        }
        ok(c.output().unwrap());
    };
    let local = tmp.path().join("local");
    let slurm = tmp.path().join("slurmres");
    launch(&local, false);
    launch(&slurm, true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    let runs = |root: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("s/runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    while runs(&slurm).iter().any(|d| !d.join("record.json").exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "Slurm runs did not finish in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let normalise = |p: &Path| {
        let mut r = stab_spec::RunRecord::read(&p.join("record.json")).unwrap();
        r.timing = Default::default();
        r
    };
    let (a, b) = (runs(&local), runs(&slurm));
    assert_eq!(a.len(), 4);
    assert_eq!(
        a.iter()
            .map(|d| d.file_name().unwrap().to_owned())
            .collect::<Vec<_>>(),
        b.iter()
            .map(|d| d.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(normalise(x), normalise(y), "{}", x.display());
    }
}

/// Ctrl-C during a run: the run stops at the next step and its record says `interrupted`.
#[test]
fn sigint_leaves_an_interrupted_record() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = tmp.path().join("run");
    let mut child = rte_run(&model, &out, 64, 10000).spawn().unwrap();
    // Wait until training has started (spec.json is written before), then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !out.join("spec.json").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let record = stab_spec::RunRecord::read(&out.join("record.json")).unwrap();
    assert_eq!(record.status, stab_spec::RunStatus::Interrupted);
    assert!(record.steps_done < record.total_steps);
}

/// The data folder of a launch is the one every worker uses: `--data-dir` wins over
/// `STAB_DATA_DIR` in the specs, and the workers (`stab run --spec runs/ID/spec.json`, which
/// read the variable) must not resolve another spec than their run's.
#[test]
fn sweep_data_dir_flag_wins_over_the_variable_in_its_workers_too() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let file = tmp.path().join("d.toml");
    std::fs::write(
        &file,
        "[base]\ntask = \"RTE\"\ntrain_subset = 16\nmax_length = 32\nbatch_size = 8\n\
         threads = 1\nepochs = 1\n",
    )
    .unwrap();
    let out = ok(stab()
        .arg("sweep")
        .arg(&file)
        .arg("--model")
        .arg(&model)
        .arg("--data-dir")
        .arg(data_dir())
        .env("STAB_DATA_DIR", tmp.path().join("no-data-here"))
        .arg("--results")
        .arg(tmp.path().join("results"))
        .arg("--quiet")
        .output()
        .unwrap());
    assert!(stdout(&out).contains("(1 ok,"), "{}", stdout(&out));
}

/// `stab sweep` exits 1 when a run ended in `error` (a launcher failure is
/// 2), 0 when runs diverged (results); `--help` says so. `--workers 0` is refused.
#[test]
fn sweep_exit_status_tells_errored_runs_from_launcher_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let write = |name: &str, base: &str| {
        let path = tmp.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[base]\ntask = \"RTE\"\ntrain_subset = 16\nmax_length = 32\nbatch_size = 8\n\
                 threads = 1\n{base}\n[axes]\nseed = [0, 1]\n"
            ),
        )
        .unwrap();
        path
    };
    let sweep = |file: &Path, extra: &[&str]| {
        stab()
            .arg("sweep")
            .arg(file)
            .arg("--model")
            .arg(&model)
            .arg("--data-dir")
            .arg(data_dir())
            .arg("--results")
            .arg(tmp.path().join("results"))
            .arg("--quiet")
            .args(extra)
            .output()
            .unwrap()
    };

    let failing = write("failing", "metric = \"no-such-metric\"");
    let out = sweep(&failing, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ran 2 (0 ok, 0 diverged, 2 error"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("2 of 2 runs ended in error"),
        "{}",
        stderr(&out)
    );
    // The errors stay until retried: a second launch runs nothing and still says so.
    assert_eq!(sweep(&failing, &[]).status.code(), Some(1));

    let diverging = write(
        "diverging",
        "learning_rate = 1e30\nmax_grad_norm = 0.0\nwarmup_fraction = 0.0\nepochs = 2",
    );
    let out = ok(sweep(&diverging, &[]));
    assert!(
        stdout(&out).contains("0 ok, 2 diverged, 0 error"),
        "{}",
        stdout(&out)
    );

    let out = sweep(&failing, &["--workers", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--workers") && stderr(&out).contains("at least 1"),
        "{}",
        stderr(&out)
    );
    let missing = sweep(&tmp.path().join("nope.toml"), &[]);
    assert_eq!(missing.status.code(), Some(2), "a launcher failure");

    for cmd in ["sweep", "run"] {
        let help = stdout(&ok(stab().args([cmd, "--help"]).output().unwrap()));
        assert!(
            help.contains("Exit status:") && help.contains("  2 "),
            "{help}"
        );
    }
}

/// `stab run --out DIR` never replaces another run's record; a rerun of the
/// same run keeps the earlier record in `attempts/`, as the sweep store does.
#[test]
fn run_out_refuses_another_runs_directory_and_keeps_earlier_records() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let dir = tmp.path().join("run");
    ok(rte_run(&model, &dir, 16, 1).output().unwrap());
    let first = std::fs::read(dir.join("record.json")).unwrap();

    let other = rte_run(&model, &dir, 16, 1)
        .args(["--set", "init_seed=7"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    let msg = stderr(&other);
    assert!(
        msg.contains("holds run") && msg.contains("another directory"),
        "{msg}"
    );
    assert_eq!(std::fs::read(dir.join("record.json")).unwrap(), first);

    let again = ok(rte_run(&model, &dir, 16, 1).output().unwrap());
    assert!(stderr(&again).contains("attempts"), "{}", stderr(&again));
    let kept: Vec<_> = std::fs::read_dir(dir.join("attempts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].to_string_lossy().ends_with("-ok.json"), "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), first);

    // While another process executes the run (holds its lock), a second `stab run` into the
    // same directory is refused before it touches anything.
    let before = std::fs::read(dir.join("record.json")).unwrap();
    let lock = stab_store::RunLock::try_acquire(&dir).unwrap().unwrap();
    let busy = rte_run(&model, &dir, 16, 1).output().unwrap();
    assert_eq!(busy.status.code(), Some(2), "{}", stderr(&busy));
    assert!(
        stderr(&busy).contains("another process is executing a run in this directory"),
        "{}",
        stderr(&busy)
    );
    assert_eq!(std::fs::read(dir.join("record.json")).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.join("attempts")).unwrap().count(), 1);
    drop(lock);
}

/// `--print-spec` checks the model's limits where the model is
/// readable; type errors name the field and value; spec files name the line and column.
#[test]
fn spec_errors_name_the_field_value_line_and_model_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let print = |args: &[&str]| {
        stab()
            .args(["run", "--print-spec"])
            .arg("--model")
            .arg(&model)
            .args(args)
            .output()
            .unwrap()
    };
    let out = print(&["--set", "max_length=600"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains("max_length = 600") && msg.contains("max_position_embeddings = 512"),
        "{msg}"
    );
    ok(print(&["--set", "max_length=512"]));

    let out = print(&["--set", "epochs=x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("epochs: expected a whole number, got \"x\""),
        "{}",
        stderr(&out)
    );

    let spec = tmp.path().join("spec.toml");
    std::fs::write(&spec, "preset = \"mosbach\"\n\n[optimizer]\nepz = 1e-8\n").unwrap();
    let out = print(&["--spec", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains("spec.toml:4:7: optimizer.epz: not a run-spec field (did you mean `eps`?)"),
        "{msg}"
    );

    // A resolved JSON spec (as in run directories) with a mistyped value: the field's path,
    // line and column.
    let json = tmp.path().join("spec.json");
    let printed = stdout(&ok(print(&[])));
    let good: toml::Table = printed.parse().unwrap();
    let mut v = serde_json::to_value(&good).unwrap();
    v["optimizer"]["eps"] = "tiny".into();
    std::fs::write(&json, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let out = print(&["--spec", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains("spec.json:") && msg.contains("optimizer.eps: invalid type: string \"tiny\""),
        "{msg}"
    );

    let out = stab()
        .args(["run", "--print-spec", "--set", "model="])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("model: is empty"), "{}", stderr(&out));
}

/// `--dry-run` streams its listing (a run is printed before a later run
/// fails to resolve), and an empty sweep file is an error rather than one all-defaults run.
#[test]
fn dry_run_streams_and_empty_sweeps_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(
        &file,
        "[base]\nfeature_head = \"bilstm\"\n[axes]\nfeature_mode = [\"last\", \"off\"]\n",
    )
    .unwrap();
    let out = stab()
        .args(["sweep", "--dry-run", "--results"])
        .arg(tmp.path().join("results"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let listing = stdout(&out);
    assert!(
        listing
            .lines()
            .any(|l| l.trim_start().starts_with("0 ") && l.contains("feature_mode=last")),
        "{listing}"
    );
    assert!(
        stderr(&out).contains("feature_mode=off"),
        "{}",
        stderr(&out)
    );

    std::fs::write(&file, "# nothing yet\nname = \"empty\"\n").unwrap();
    let out = stab()
        .args(["sweep", "--dry-run"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the sweep sets nothing"),
        "{}",
        stderr(&out)
    );
}

/// `--set preset=P` resolves from preset P exactly as `--preset P` and `preset = "P"` in a
/// spec file do (it used to be skipped: the devlin recipe trained under the same run id), and
/// an unknown preset is refused however it is given.
#[test]
fn set_preset_applies_the_preset_like_the_flag_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let print = |args: &[&str]| {
        stab()
            .args(["run", "--print-spec", "--set", "epochs=4"])
            .args(args)
            .output()
            .unwrap()
    };
    let by_flag = stdout(&ok(print(&["--preset", "mosbach"])));
    let by_set = stdout(&ok(print(&["--set", "preset=mosbach"])));
    assert_eq!(by_set, by_flag);
    assert!(by_set.contains("preset = \"mosbach\"") && by_set.contains("bias_correction = true"));
    let devlin = stdout(&ok(print(&[])));
    assert_ne!(
        devlin.lines().next(),
        by_set.lines().next(),
        "run ids differ"
    );

    let spec = tmp.path().join("spec.toml");
    std::fs::write(&spec, "preset = \"mosbach\"\nepochs = 4\n").unwrap();
    let by_file = stdout(&ok(print(&["--spec", spec.to_str().unwrap()])));
    assert_eq!(by_file, by_flag);
    std::fs::write(&spec, "epochs = 4\n").unwrap();
    let over_file = stdout(&ok(print(&[
        "--spec",
        spec.to_str().unwrap(),
        "--set",
        "preset=mosbach",
    ])));
    assert_eq!(over_file, by_flag);

    for args in [
        &["--set", "preset=nonsense"][..],
        &["--preset", "nonsense"],
        &["--preset", "devlin", "--set", "preset=mosbach"],
    ] {
        let out = print(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("preset"), "{}", stderr(&out));
    }

    // And in a sweep: every run takes the preset given at launch.
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, "[base]\nepochs = 4\n").unwrap();
    let dry = |set: &str| {
        stab()
            .args(["sweep", "--dry-run", "--set", set])
            .arg(&file)
            .output()
            .unwrap()
    };
    let listing = stdout(&ok(dry("preset=mosbach")));
    let id = by_flag
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# run id ");
    assert!(listing.contains(id), "{listing}\nwanted {id}");
    let out = dry("preset=nonsense");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown preset `nonsense`"),
        "{}",
        stderr(&out)
    );
}

/// `--out` on a directory where a *different* run is executing is refused as another run's
/// directory; it used to say "another process is executing this run".
#[test]
fn run_out_held_by_a_different_run_names_that_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let dir = tmp.path().join("run");
    ok(rte_run(&model, &dir, 16, 1).output().unwrap());
    let lock = stab_store::RunLock::try_acquire(&dir).unwrap().unwrap();
    let other = rte_run(&model, &dir, 16, 1)
        .args(["--set", "init_seed=7"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    let msg = stderr(&other);
    assert!(
        msg.contains("holds run") && !msg.contains("this run"),
        "{msg}"
    );
    drop(lock);
}

/// `--print-spec` checks the layer-wise knobs against the model as the run does: a depth
/// beyond the model, and ALBERT's shared layers (all or nothing).
#[test]
fn print_spec_checks_layer_knobs_against_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let albert = workspace().join("crates/bert/tests/fixtures/albert");
    let print_with = |preset: &[&str], model: &Path, set: &str| {
        stab()
            .arg("run")
            .args(preset)
            .args(["--print-spec", "--set", set])
            .arg("--model")
            .arg(model)
            .output()
            .unwrap()
    };
    let print = |model: &Path, set: &str| print_with(&[], model, set);
    let out = print(&model, "freeze_layers=9");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("freeze_layers = 9 but the bert model has"),
        "{}",
        stderr(&out)
    );
    ok(print(&model, "freeze_layers=1"));
    let out = print(&albert, "freeze_layers=1");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("share"), "{}", stderr(&out));
    ok(print(&albert, "freeze_layers=0"));
    // Re-initialisation by the same rules: a depth beyond the model, and ALBERT's shared
    // layers all or nothing.
    let reinit =
        |model: &Path, layers: &str| print_with(&["--preset", "zhang-reinit"], model, layers);
    let out = reinit(&model, "reinit_layers=9");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("reinit_layers = 9"),
        "{}",
        stderr(&out)
    );
    ok(reinit(&model, "reinit_layers=1"));
    let out = reinit(&albert, "reinit_layers=1");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("re-initialise"), "{}", stderr(&out));
}

/// `--print-spec` lists every field (the unset ones as comments) and says which evaluation
/// schedule is in force; `stab compare --help` explains `--group` and `--score`.
#[test]
fn print_spec_lists_every_field_and_compare_explains_its_columns() {
    let out = ok(stab()
        .args(["run", "--preset", "zhang-standard", "--print-spec"])
        .output()
        .unwrap());
    let text = stdout(&out);
    assert!(
        text.contains("# evaluations: evals_per_run = 10 is in force"),
        "{text}"
    );
    for line in [
        "mixout = 0.0",
        "gradient_accumulation_steps = 1",
        "# max_steps = (unset)",
        "# train_subset = (unset)",
        "preset = \"zhang-standard\"",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let help = stdout(&ok(stab().args(["compare", "--help"]).output().unwrap()));
    assert!(help.contains("names each row's group"), "{help}");
    assert!(help.contains("holds each row's score"), "{help}");
}

/// `--threads` above this machine's cores is refused (a 2-step run took minutes at 10 000).
#[test]
fn threads_above_the_cores_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stab()
        .args(["run", "--threads", "10000", "--out"])
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("threads = 10000 but this machine has"),
        "{}",
        stderr(&out)
    );
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, "[axes]\nseed = [1]\n").unwrap();
    let out = stab()
        .args(["sweep", "--threads", "10000", "--results"])
        .arg(tmp.path().join("results"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("threads = 10000 but this machine has"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("results").exists(), "nothing written");
}

/// `stab compare`: τ must be a number in (0, 0.5]; runs without a score are named and count
/// as failed unless `--unscored excluded`; two columns of the same name are an error.
#[test]
fn compare_checks_tau_names_unscored_runs_and_refuses_duplicate_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("s.csv");
    let mut text = String::from("g,score\n");
    for i in 0..8 {
        text += &format!("a,0.{}\nb,0.{}\n", 60 + i, 70 + i);
    }
    text += "a,\na,nan\n";
    std::fs::write(&csv, &text).unwrap();
    let compare = |args: &[&str]| {
        stab()
            .args(["compare", "--group", "g", "--score", "score", "--no-plots"])
            .arg("--out")
            .arg(tmp.path().join("report"))
            .arg(&csv)
            .args(args)
            .output()
            .unwrap()
    };
    for tau in ["nan", "-0.1", "0", "0.6", "inf"] {
        let out = compare(&[&format!("--tau={tau}")]);
        assert_eq!(out.status.code(), Some(2), "--tau {tau}");
        assert!(stderr(&out).contains("(0, 0.5]"), "{}", stderr(&out));
    }
    ok(compare(&["--tau", "0.5", "--baseline", "0.5"]));
    let md = std::fs::read_to_string(tmp.path().join("report/report.md")).unwrap();
    assert!(
        md.contains("2 of 10 runs have no score") && md.contains("count as failed"),
        "{md}"
    );
    ok(compare(&["--baseline", "0.5", "--unscored", "excluded"]));
    let md = std::fs::read_to_string(tmp.path().join("report/report.md")).unwrap();
    assert!(
        md.contains("2 of 10 runs have no score") && md.contains("left out"),
        "{md}"
    );

    std::fs::write(&csv, "g,score,score\na,0.1,0.9\nb,0.2,0.8\n").unwrap();
    let out = compare(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`score`") && stderr(&out).contains("twice"),
        "{}",
        stderr(&out)
    );
}

/// A group named `-2` reaches the worker as a value, not as a flag (every run of the group
/// errored with "unexpected argument '-2' found").
#[test]
fn a_group_name_starting_with_a_dash_reaches_the_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let file = tmp.path().join("dash.toml");
    std::fs::write(
        &file,
        format!(
            "[base]\ntask = \"RTE\"\ntrain_subset = 16\nmax_steps = 1\nmax_length = 32\nmodel = {:?}\n\
             [[group]]\nname = \"-2\"\nset = {{ epochs = 1 }}\n",
            model.display().to_string()
        ),
    )
    .unwrap();
    let out = ok(stab()
        .args([
            "sweep",
            "--quiet",
            "--workers",
            "1",
            "--threads",
            "1",
            "--results",
        ])
        .arg(tmp.path().join("results"))
        .arg("--data-dir")
        .arg(data_dir())
        .arg(&file)
        .output()
        .unwrap());
    let _ = out;
    let runs = tmp.path().join("results/dash/runs");
    let dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = std::fs::read_to_string(dir.join("record.json")).unwrap();
    assert!(record.contains("\"group\": \"-2\""), "{record}");
}

/// A sweep file named `..toml` without a `name` wrote its store above `--results`; it is
/// refused and nothing is written anywhere.
#[test]
fn a_sweep_named_by_a_dotted_file_name_writes_nothing_outside_results() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = tmp.path().join("a/b");
    std::fs::create_dir_all(&inner).unwrap();
    for name in ["..toml", "...toml"] {
        let file = inner.join(name);
        std::fs::write(&file, "[base]\nepochs = 1\n[axes]\nseed = [1]\n").unwrap();
        let out = stab()
            .args(["sweep", "--results"])
            .arg(inner.join("results"))
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains("add `name = "), "{}", stderr(&out));
        std::fs::remove_file(&file).unwrap();
    }
    let mut left: Vec<_> = walk(tmp.path());
    left.sort();
    assert_eq!(left, vec![tmp.path().join("a"), inner.clone()], "{left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Symbolic-link loops given as paths are named as such ("Too many levels of symbolic
/// links"), not as "File exists", "does not exist" or "unknown task".
#[test]
fn symlink_loops_are_reported_as_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let lp = tmp.path().join("loop");
    std::os::unix::fs::symlink(&lp, &lp).unwrap();
    let loop_msg = |text: &str| {
        assert!(text.contains("symbolic links"), "{text}");
        assert!(
            !text.contains("File exists")
                && !text.contains("does not exist")
                && !text.contains("unknown task"),
            "{text}"
        );
    };
    // --out and --results
    let out = stab()
        .args(["run", "--threads", "1", "--out"])
        .arg(&lp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    loop_msg(&stderr(&out));
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, "[axes]\nseed = [1]\n").unwrap();
    let out = stab()
        .args(["sweep", "--results"])
        .arg(&lp)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    loop_msg(&stderr(&out));
    // --model, --data-dir and --task: the run's error record says it.
    for (flag, value) in [
        ("--model", lp.clone()),
        ("--data-dir", lp.clone()),
        ("--task", lp.clone()),
    ] {
        let dir = tmp.path().join(format!("run{flag}"));
        let mut c = stab();
        c.args(["run", "--quiet", "--threads", "1", "--out"])
            .arg(&dir);
        if flag != "--model" {
            c.arg("--model").arg(minilm());
        }
        if flag != "--data-dir" {
            c.arg("--data-dir").arg(data_dir());
        }
        let out = c.arg(flag).arg(&value).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        let record = std::fs::read_to_string(dir.join("record.json")).unwrap();
        loop_msg(&record);
    }
}

/// `--task rte` is the task `RTE`: one spelling in the spec, the run id of `RTE`.
#[test]
fn task_names_are_canonicalised() {
    let print = |task: &str| {
        stdout(&ok(stab()
            .args(["run", "--print-spec", "--task", task])
            .output()
            .unwrap()))
    };
    let canonical = print("RTE");
    assert_eq!(print("rte"), canonical);
    assert!(canonical.contains("task = \"RTE\""), "{canonical}");
    assert_eq!(print("sst2"), print("SST-2"));
}

/// The early-failure policy end to end: a sweep whose policy group is stopped as predicted
/// failures (learning rate 1e-9: the loss stays at the constant predictor's), `stab status`
/// and `stab report` counting them apart, and `stab early-failure` replaying the rules on the
/// runs that finished, with its table, CSV and plot.
#[test]
fn early_failure_policy_sweep_status_report_and_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let sweep = tmp.path().join("ef.toml");
    std::fs::write(
        &sweep,
        r#"name = "ef"
[base]
task = "RTE"
train_subset = 32
max_length = 48
batch_size = 8
epochs = 2
evals_per_run = 4
learning_rate = 1e-9
threads = 1
[[group]]
name = "plain"
set = {}
[[group]]
name = "policy"
set = { early_failure = { after_fraction = 0.5, rule = "loss-at-constant" } }
[axes]
seed = [0, 1]
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let out = ok(local_sweep(&sweep, &model, &results).output().unwrap());
    assert!(
        stdout(&out).contains("2 stopped as predicted failures"),
        "{}",
        stdout(&out)
    );
    let store = results.join("ef");
    let status = stdout(&ok(stab().arg("status").arg(&store).output().unwrap()));
    assert!(
        status.contains("4 done (2 ok, 0 diverged, 2 stopped as predicted failures)"),
        "{status}"
    );
    let report = stdout(&ok(stab()
        .args(["report", "--no-plots", "--bootstrap", "50"])
        .arg(&store)
        .output()
        .unwrap()));
    assert!(report.contains("stopped (predicted failure)"), "{report}");
    let analysis = tmp.path().join("analysis");
    let o = ok(stab()
        .arg("early-failure")
        .arg(&store)
        .args(["--fractions", "0.25,0.5"])
        .arg("--out")
        .arg(&analysis)
        .output()
        .unwrap());
    let text = stdout(&o);
    // The two finished runs are replayed; the two stopped ones have no known end.
    assert!(text.contains("Left out: 2 stopped by a policy"), "{text}");
    assert!(
        text.contains("| RTE · accuracy | plain | loss-at-constant | 50 % | 2 |"),
        "{text}"
    );
    for f in [
        "early_failure.md",
        "early_failure.csv",
        "early_failure.json",
    ] {
        assert!(analysis.join(f).is_file(), "{f}");
    }
    assert!(analysis.join("early_failure_rte___accuracy.png").is_file());
}
