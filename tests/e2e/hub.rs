//! The binary against a simulated Hugging Face Hub (`stab_test_support::hub`, 127.0.0.1):
//! models by name through the Hugging Face cache (downloaded, then offline), GLUE fetched
//! from parquet, the quickstart's data step on a machine without data, checkpoints without a
//! pooler, and progress lines when stderr is not a terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use stab_test_support::glue_parquet::task_files;
use stab_test_support::hub::{sha256_hex, FakeHub, Repo};
use stab_test_support::{data_dir, workspace};

use super::{ok, stab, stderr, stdout, tiny_model};

const COMMIT: &str = "1111111111111111111111111111111111111111";

/// `stab` with the Hub settings of a test: the cache under `cache`, the endpoint `hub` (or
/// one that refuses connections, offline).
fn stab_hub(cache: &Path, hub: Option<&FakeHub>) -> Command {
    let mut c = stab();
    c.env("HF_HUB_CACHE", cache)
        .env_remove("HF_HOME")
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE");
    match hub {
        Some(h) => c.env("HF_ENDPOINT", h.url()),
        None => c
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("HF_HUB_OFFLINE", "1"),
    };
    c
}

fn rte_args(c: &mut Command, model: &str, out: &Path) {
    c.args(["run", "--task", "RTE", "--threads", "1", "--quiet"])
        .args([
            "--set",
            "train_subset=32",
            "--set",
            "epochs=1",
            "--set",
            "max_length=48",
        ])
        .args(["--model", model])
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--out")
        .arg(out);
}

#[test]
fn a_hub_model_is_downloaded_cached_and_trained_then_trained_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let weights = std::fs::read(model.join("model.safetensors")).unwrap();
    let hub = FakeHub::start(vec![
        Repo::model("someone/tiny-bert", COMMIT).files_from(&model)
    ]);
    let cache = tmp.path().join("hf");

    let mut c = stab_hub(&cache, Some(&hub));
    rte_args(&mut c, "someone/tiny-bert", &tmp.path().join("run1"));
    let first = ok(c.output().unwrap());
    assert!(
        stderr(&first).contains(&format!(
            "model someone/tiny-bert: commit {COMMIT} (downloaded)"
        )),
        "{}",
        stderr(&first)
    );
    let record = stab_spec::RunRecord::read(&tmp.path().join("run1/record.json")).unwrap();
    assert_eq!(record.status, stab_spec::RunStatus::Ok);
    let source = record
        .model_source
        .clone()
        .expect("a Hub model's source is recorded");
    assert_eq!(source.repo, "someone/tiny-bert");
    assert_eq!(source.revision, "main");
    assert_eq!(source.commit, COMMIT);
    assert_eq!(source.weights_sha256, sha256_hex(&weights));
    // The spec keeps the name as given: the run id does not depend on the cache's location.
    assert_eq!(record.spec.model, PathBuf::from("someone/tiny-bert"));
    assert!(cache.join("models--someone--tiny-bert/refs/main").is_file());

    // --print-spec shows repository, commit and weights hash (from the cache, no download).
    let n = hub.requests().len();
    let printed = ok(stab_hub(&cache, Some(&hub))
        .args([
            "run",
            "--print-spec",
            "--task",
            "RTE",
            "--model",
            "someone/tiny-bert",
        ])
        .output()
        .unwrap());
    let text = stdout(&printed);
    assert!(
        text.contains(&format!(
            "# model someone/tiny-bert: repo someone/tiny-bert, revision main, commit {COMMIT}, weights sha256 {}",
            sha256_hex(&weights)
        )),
        "{text}"
    );
    assert_eq!(hub.requests().len(), n, "printing never asks the Hub");

    // The server stopped and HF_HUB_OFFLINE=1: the same run from the cache.
    drop(hub);
    let mut c = stab_hub(&cache, None);
    rte_args(&mut c, "someone/tiny-bert", &tmp.path().join("run2"));
    let second = ok(c.output().unwrap());
    assert!(
        stderr(&second).contains("(from the Hugging Face cache)"),
        "{}",
        stderr(&second)
    );
    let again = stab_spec::RunRecord::read(&tmp.path().join("run2/record.json")).unwrap();
    assert_eq!(again.model_source, record.model_source);
    assert_eq!(again.score, record.score, "the same model, the same run");

    // A model that is not cached, offline: an error record that says what to do.
    let mut c = stab_hub(&cache, None);
    rte_args(&mut c, "someone/other", &tmp.path().join("run3"));
    let missing = c.output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let r = stab_spec::RunRecord::read(&tmp.path().join("run3/record.json")).unwrap();
    let m = r.message.unwrap_or_default();
    assert!(
        m.contains("someone/other is not in the Hugging Face cache"),
        "{m}"
    );
    assert!(m.contains("HF_HUB_OFFLINE=1"), "{m}");
}

#[test]
fn a_sweep_fetches_its_hub_model_once_before_the_workers_start() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let hub = FakeHub::start(vec![
        Repo::model("someone/tiny-bert", COMMIT).files_from(&model)
    ]);
    let cache = tmp.path().join("hf");
    let sweep = tmp.path().join("s.toml");
    std::fs::write(
        &sweep,
        "name = \"hubsweep\"\n[base]\npreset = \"devlin\"\ntask = \"RTE\"\nmodel = \"someone/tiny-bert\"\ntrain_subset = 16\nepochs = 1\nmax_length = 32\nthreads = 1\n\n[axes]\nseed = { start = 1, end = 3 }\n",
    )
    .unwrap();
    let out = stab_hub(&cache, Some(&hub))
        .env("STAB_PROGRESS_INTERVAL", "0.2")
        .args(["sweep"])
        .arg(&sweep)
        .args(["--workers", "2", "--results"])
        .arg(tmp.path().join("results"))
        .arg("--data-dir")
        .arg(data_dir())
        .output()
        .unwrap();
    let out = ok(out);
    let weights = sha256_hex(&std::fs::read(model.join("model.safetensors")).unwrap());
    let weights_gets = hub
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /cdn/") && r.ends_with(&weights))
        .count();
    // One metadata probe and one download of the weights, by the launcher.
    assert_eq!(weights_gets, 2, "{:?}", hub.requests());
    // Progress as lines: stderr is a pipe here.
    let err = stderr(&out);
    assert!(
        err.contains(
            "stab sweep hubsweep: 2/2 done (2 ok, 0 diverged), 0 running, 0 pending, 0 failed"
        ),
        "{err}"
    );
    assert!(err.contains("about") || err.contains("left"), "{err}");
}

/// A BERT checkpoint saved from a masked-LM class: the same tensors without `pooler.*`,
/// repacked as a valid safetensors file (no holes in the data).
fn without_pooler(model: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    for e in std::fs::read_dir(model).unwrap().flatten() {
        std::fs::copy(e.path(), out.join(e.file_name())).unwrap();
    }
    let bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut new_header = serde_json::Map::new();
    let mut new_data = Vec::new();
    let mut dropped = 0;
    for (name, info) in header {
        if name == "__metadata__" {
            new_header.insert(name, info);
            continue;
        }
        if name.contains("pooler.") {
            dropped += 1;
            continue;
        }
        let off = info["data_offsets"].as_array().unwrap();
        let (a, b) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        let start = new_data.len();
        new_data.extend_from_slice(&data[a..b]);
        let mut info = info.clone();
        info["data_offsets"] = serde_json::json!([start, new_data.len()]);
        new_header.insert(name, info);
    }
    assert_eq!(dropped, 2, "the tiny BERT has pooler.dense.{{weight,bias}}");
    let mut h = serde_json::to_vec(&new_header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut file = (h.len() as u64).to_le_bytes().to_vec();
    file.extend(h);
    file.extend(new_data);
    std::fs::write(out.join("model.safetensors"), file).unwrap();
}

#[test]
fn a_checkpoint_without_a_pooler_gives_features_and_fine_tunes_with_a_new_pooler() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let mlm = tmp.path().join("mlm");
    without_pooler(&model, &mlm);

    // Features never use the pooler.
    let feats = tmp.path().join("f.safetensors");
    ok(stab()
        .args(["features", "--task", "RTE", "--split", "dev"])
        .arg("--model")
        .arg(&mlm)
        .arg("--data-dir")
        .arg(data_dir())
        .arg("-o")
        .arg(&feats)
        .output()
        .unwrap());
    assert!(feats.is_file());

    // Fine-tuning through the pooler: initialised as BERT's, said in the log and the record.
    let run = |m: &Path, out: &Path| {
        let mut c = stab();
        c.args(["run", "--task", "RTE", "--threads", "1", "--quiet"])
            .args([
                "--set",
                "train_subset=16",
                "--set",
                "epochs=1",
                "--set",
                "max_length=32",
            ])
            .arg("--model")
            .arg(m)
            .arg("--data-dir")
            .arg(data_dir())
            .arg("--out")
            .arg(out);
        ok(c.output().unwrap())
    };
    let o = run(&mlm, &tmp.path().join("r1"));
    assert!(
        stderr(&o).contains("newly initialised: classifier, pooler.dense"),
        "{}",
        stderr(&o)
    );
    let r = stab_spec::RunRecord::read(&tmp.path().join("r1/record.json")).unwrap();
    assert_eq!(r.status, stab_spec::RunStatus::Ok);
    assert_eq!(r.newly_initialised, ["classifier", "pooler.dense"]);
    // With its pooler, only the head is new.
    run(&model, &tmp.path().join("r2"));
    let r = stab_spec::RunRecord::read(&tmp.path().join("r2/record.json")).unwrap();
    assert_eq!(r.newly_initialised, ["classifier"]);
}

#[test]
fn a_run_prints_one_line_per_evaluation_when_stderr_is_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = ok(stab()
        .args([
            "run",
            "--preset",
            "mosbach",
            "--task",
            "RTE",
            "--threads",
            "1",
        ])
        .args([
            "--set",
            "train_subset=32",
            "--set",
            "epochs=1",
            "--set",
            "max_length=32",
        ])
        .arg("--model")
        .arg(&model)
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--out")
        .arg(tmp.path().join("r"))
        .output()
        .unwrap());
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": step ")).collect();
    let record = stab_spec::RunRecord::read(&tmp.path().join("r/record.json")).unwrap();
    assert_eq!(lines.len(), record.evaluations.len(), "{err}");
    assert!(
        lines[0].contains("RTE: step 0/2 (epoch 0.00), accuracy "),
        "{err}"
    );
    assert!(lines.last().unwrap().contains("step 2/2"), "{err}");
    assert!(!err.contains('\r'), "no bar drawn into a pipe: {err:?}");
}

/// The Hub's GLUE (parquet files made from the shared TSVs) for `tasks`.
fn glue_hub(tasks: &[&str], scratch: &Path) -> FakeHub {
    let glue = data_dir().join("glue");
    let mut repo = Repo::dataset("nyu-mll/glue", "2222222222222222222222222222222222222222");
    for t in tasks {
        for (name, bytes) in task_files(&glue, t, scratch) {
            repo = repo.file(&name, bytes);
        }
    }
    FakeHub::start(vec![repo])
}

#[test]
fn data_fetch_glue_writes_files_that_data_check_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = glue_hub(&["CoLA", "RTE"], &tmp.path().join("pq"));
    let cache = tmp.path().join("hf");
    let dir = tmp.path().join("data");
    let out = ok(stab_hub(&cache, Some(&hub))
        .args(["data", "fetch", "glue", "--tasks", "CoLA,rte", "--dir"])
        .arg(&dir)
        .output()
        .unwrap());
    assert!(
        stderr(&out).contains("CoLA: train.tsv 8551, dev.tsv 1043, test.tsv 1063"),
        "{}",
        stderr(&out)
    );
    let check = ok(stab()
        .args(["data", "check"])
        .arg(dir.join("glue"))
        .output()
        .unwrap());
    let ours = stdout(&check);
    let classic = stdout(&ok(stab()
        .args(["data", "check"])
        .arg(data_dir().join("glue/CoLA"))
        .output()
        .unwrap()));
    // The same rows, labels and baselines as the classic CoLA files.
    let cola = |t: &str| {
        t.lines()
            .filter(|l| l.contains("rows") || l.contains("baseline") || l.contains("labels"))
            .map(|l| l.split_once(':').map(|x| x.1).unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    let c = cola(&classic);
    assert!(!c.is_empty(), "{classic}");
    for line in &c {
        assert!(ours.contains(line.as_str()), "{line:?} not in\n{ours}");
    }

    // An unknown task is refused by name.
    let bad = stab_hub(&cache, Some(&hub))
        .args(["data", "fetch", "glue", "--tasks", "SQuAD", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown GLUE task \"SQuAD\""),
        "{}",
        stderr(&bad)
    );
}

/// The quickstart's data step (`scripts/quickstart-data.sh`) on a machine without
/// `../shared/data`: it fetches CoLA from the (simulated) Hub; with neither network nor data it
/// stops with one instruction.
#[test]
fn the_quickstart_fetches_cola_where_there_is_no_data_and_says_what_to_do_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = glue_hub(&["CoLA"], &tmp.path().join("pq"));
    let cache = tmp.path().join("hf");
    let fresh = tmp.path().join("clone");
    std::fs::create_dir_all(&fresh).unwrap();
    let script = workspace().join("scripts/quickstart-data.sh");
    let run = |hub: Option<&FakeHub>| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .current_dir(&fresh)
            .env("STAB", env!("CARGO_BIN_EXE_stab"))
            .env("STAB_QUICKSTART_ROOT", &fresh)
            .env_remove("STAB_DATA_DIR")
            .env("HF_HUB_CACHE", &cache)
            .env_remove("HF_HUB_OFFLINE");
        match hub {
            Some(h) => c.env("HF_ENDPOINT", h.url()),
            None => c.env("HF_ENDPOINT", "http://127.0.0.1:9"),
        };
        c.output().unwrap()
    };
    // Looking only (what the quickstart does before it builds): nothing here.
    let find = |expect: bool| {
        let out = Command::new("bash")
            .arg(&script)
            .arg("--find")
            .env("STAB_QUICKSTART_ROOT", &fresh)
            .env_remove("STAB_DATA_DIR")
            .output()
            .unwrap();
        assert_eq!(out.status.success(), expect, "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    assert_eq!(find(false), "");
    let offline = run(None);
    assert!(!offline.status.success());
    let msg = stderr(&offline);
    assert!(
        msg.contains("no GLUE data here and the Hugging Face Hub cannot be reached"),
        "{msg}"
    );
    assert!(msg.contains("STAB_DATA_DIR="), "{msg}");

    let fetched = ok(run(Some(&hub)));
    let dir = stdout(&fetched).trim().to_string();
    assert_eq!(PathBuf::from(&dir), fresh.join("data"));
    assert!(fresh.join("data/glue/CoLA/train.tsv").is_file());
    assert_eq!(PathBuf::from(find(true)), fresh.join("data"));
    // Run again: the data is there, nothing is fetched.
    let n = hub.requests().len();
    ok(run(Some(&hub)));
    assert_eq!(hub.requests().len(), n);
}
