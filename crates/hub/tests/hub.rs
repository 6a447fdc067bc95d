//! stab-hub against a simulated Hub (`stab_test_support::hub`, on 127.0.0.1): downloads into
//! the Hugging Face cache layout, offline use of that cache and of one laid out by
//! huggingface_hub, the Hub's errors, and GLUE from parquet files equal to the classic TSVs.

use std::path::{Path, PathBuf};

use stab_data::Label;
use stab_hub::cache::{CachedRepo, RepoKind};
use stab_hub::glue::{fetch_glue, glue_task, GLUE_REPO};
use stab_hub::{resolve_model, HubError, HubSettings, ModelRef};
use stab_test_support::glue_parquet::{
    hub_config, hub_file, split_from_tsv, task_files, write_parquet,
};
use stab_test_support::hub::{sha256_hex, FakeHub, Repo};

const COMMIT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const DATA_COMMIT: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";

fn fixture() -> PathBuf {
    stab_test_support::workspace().join("crates/bert/tests/fixtures/electra")
}

fn settings(cache: &Path, hub: Option<&FakeHub>) -> HubSettings {
    HubSettings {
        cache: cache.to_path_buf(),
        endpoint: hub
            .map(|h| h.url())
            .unwrap_or_else(|| "http://127.0.0.1:9".into()),
        token: None,
        offline: hub.is_none(),
        progress: false,
    }
}

fn tiny_model(id: &str) -> Repo {
    Repo::model(id, COMMIT)
        .files_from(&fixture())
        .without("golden.safetensors")
        .without("tokens.json")
}

/// Every file under `dir` (names), to show nothing half-written stays in the cache.
fn all_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(all_files(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_model_is_downloaded_into_the_huggingface_cache_layout_and_then_used_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let hub = FakeHub::start(vec![tiny_model("org/tiny")]);
    let m = ModelRef::parse("org/tiny").unwrap();
    let got = resolve_model(&settings(&cache, Some(&hub)), &m).unwrap();
    assert!(got.downloaded);
    let repo = cache.join("models--org--tiny");
    assert_eq!(got.dir, repo.join("snapshots").join(COMMIT));
    assert_eq!(got.source.commit, COMMIT);
    let weights = std::fs::read(fixture().join("model.safetensors")).unwrap();
    assert_eq!(got.source.weights_sha256, sha256_hex(&weights));
    // huggingface_hub's layout: refs/main holds the commit, snapshot files are relative
    // symlinks into blobs/, an LFS blob is named by its SHA-256.
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    let link = std::fs::read_link(got.dir.join("model.safetensors")).unwrap();
    assert_eq!(link, Path::new("../../blobs").join(sha256_hex(&weights)));
    assert_eq!(
        std::fs::read(got.dir.join("model.safetensors")).unwrap(),
        weights
    );
    for f in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert_eq!(
            std::fs::read(got.dir.join(f)).unwrap(),
            std::fs::read(fixture().join(f)).unwrap(),
            "{f}"
        );
    }
    let asked = hub.requests();
    assert!(
        asked
            .iter()
            .any(|r| r == "GET /api/models/org/tiny/revision/main"),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|r| r.starts_with("GET /cdn/")),
        "the weights come through the LFS redirect: {asked:?}"
    );
    assert!(
        !asked.iter().any(|r| r.contains("golden")),
        "only the files stab reads"
    );

    // Online again: the complete snapshot is used without a request.
    let n = hub.requests().len();
    let again = resolve_model(&settings(&cache, Some(&hub)), &m).unwrap();
    assert!(!again.downloaded);
    assert_eq!(hub.requests().len(), n);

    // Server gone, HF_HUB_OFFLINE=1: the cache alone.
    drop(hub);
    let offline = resolve_model(&settings(&cache, None), &m).unwrap();
    assert_eq!(offline.dir, got.dir);
    assert_eq!(offline.source, got.source);
}

#[test]
fn a_revision_is_resolved_to_its_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut repo = tiny_model("org/tiny");
    let v1 = "cccccccccccccccccccccccccccccccccccccc33";
    repo.refs.insert("v1".into(), v1.into());
    let hub = FakeHub::start(vec![repo]);
    let s = settings(tmp.path(), Some(&hub));
    let got = resolve_model(&s, &ModelRef::parse("org/tiny@v1").unwrap()).unwrap();
    assert_eq!(got.source.commit, v1);
    assert_eq!(got.source.revision, "v1");
    let refs = tmp.path().join("models--org--tiny/refs");
    assert_eq!(std::fs::read_to_string(refs.join("v1")).unwrap(), v1);
    // A commit as the revision: no ref of its own, found offline by its snapshot.
    drop(hub);
    let by_commit = resolve_model(
        &settings(tmp.path(), None),
        &ModelRef::parse(&format!("org/tiny@{v1}")).unwrap(),
    )
    .unwrap();
    assert_eq!(by_commit.dir, got.dir);
}

#[test]
fn a_cache_laid_out_by_huggingface_hub_is_used_as_is() {
    // What `huggingface_hub.snapshot_download` leaves (file_download.py: blobs named by etag,
    // `_create_symlink` with a relative target, refs/main without a newline), made by hand
    // from the fixture; offline, with no server at all.
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("models--someone--tiny-bert");
    let snap = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    let mut sha = String::new();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        let bytes = std::fs::read(fixture().join(f)).unwrap();
        let etag = if f == "model.safetensors" {
            sha = sha256_hex(&bytes);
            sha.clone()
        } else {
            sha256_hex(&bytes)[..40].to_string()
        };
        std::fs::write(repo.join("blobs").join(&etag), &bytes).unwrap();
        std::os::unix::fs::symlink(Path::new("../../blobs").join(&etag), snap.join(f)).unwrap();
    }
    let got = resolve_model(
        &settings(tmp.path(), None),
        &ModelRef::parse("someone/tiny-bert").unwrap(),
    )
    .unwrap();
    assert_eq!(got.dir, snap);
    assert_eq!(got.source.weights_sha256, sha);
    assert!(!got.downloaded);
}

#[test]
fn offline_without_the_model_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let e = resolve_model(
        &settings(tmp.path(), None),
        &ModelRef::parse("org/absent").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("org/absent is not in the Hugging Face cache at"),
        "{e}"
    );
    assert!(e.contains("HF_HUB_OFFLINE=1"), "{e}");
}

#[test]
fn the_hubs_errors_are_clear_and_leave_nothing_half_written() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(vec![
        tiny_model("org/tiny"),
        tiny_model("org/no-weights").without("model.safetensors"),
        tiny_model("org/gated").gated("secret"),
        tiny_model("org/cut").truncate("model.safetensors"),
        tiny_model("org/cut-config").truncate("tokenizer.json"),
    ]);
    let s = settings(tmp.path(), Some(&hub));
    let err = |name: &str, s: &HubSettings| {
        resolve_model(s, &ModelRef::parse(name).unwrap()).unwrap_err()
    };

    let e = err("org/missing", &s);
    assert!(matches!(e, HubError::RepoNotFound { .. }), "{e}");
    assert!(
        e.to_string().contains("the Hub has no model org/missing"),
        "{e}"
    );

    let e = err("org/tiny@nope", &s);
    assert!(
        e.to_string().contains("org/tiny has no revision nope"),
        "{e}"
    );

    let e = err("org/no-weights", &s);
    assert!(
        e.to_string()
            .contains("org/no-weights has no model.safetensors"),
        "{e}"
    );

    let e =
        stab_hub::model::fetch_file(&s, RepoKind::Model, "org/tiny", "main", "pytorch_model.bin")
            .unwrap_err();
    assert!(matches!(e, HubError::FileNotFound { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("org/tiny has no file pytorch_model.bin (404 at "),
        "{e}"
    );

    let e = err("org/gated", &s);
    assert!(
        matches!(e, HubError::Unauthorized { status: 401, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("set HF_TOKEN"), "{e}");
    let with_token = HubSettings {
        token: Some("secret".into()),
        ..s.clone()
    };
    resolve_model(&with_token, &ModelRef::parse("org/gated").unwrap()).unwrap();

    for (name, file) in [
        ("org/cut", "model.safetensors"),
        ("org/cut-config", "tokenizer.json"),
    ] {
        let e = err(name, &s);
        assert!(matches!(e, HubError::Download { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("could not download {file}")),
            "{text}"
        );
        let dir = CachedRepo::new(tmp.path(), RepoKind::Model, name).dir;
        let files = all_files(&dir);
        assert!(
            !files.iter().any(|f| f.ends_with(".part")),
            "no partial download is left: {files:?}"
        );
        // No snapshot link to the cut file, and no blob of the wrong size.
        assert!(!dir.join("snapshots").join(COMMIT).join(file).exists());
        let whole = std::fs::read(fixture().join(file)).unwrap();
        for f in files
            .iter()
            .filter(|f| f.contains("/blobs/") && !f.ends_with(".lock"))
        {
            let n = std::fs::metadata(f).unwrap().len() as usize;
            let complete = [
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
            ]
            .iter()
            .any(|g| std::fs::metadata(fixture().join(g)).unwrap().len() as usize == n);
            assert!(
                complete,
                "{f} has {n} bytes, not a whole file ({} for {file})",
                whole.len()
            );
        }
        // And an offline run then says the model is not (completely) cached.
        let offline = settings(tmp.path(), None);
        let e = err(name, &offline).to_string();
        assert!(e.contains("is not in the Hugging Face cache"), "{e}");
    }
}

/// The GLUE tasks of the shared data folder, served as the Hub's parquet files made from its
/// TSVs, fetched back: every split stab reads is the same (texts, labels), so every metric and
/// baseline on it is too.
#[test]
fn glue_from_the_hubs_parquet_reads_the_same_as_the_classic_tsvs() {
    let glue = stab_test_support::data_dir().join("glue");
    let tmp = tempfile::tempdir().unwrap();
    let mut repo = Repo::dataset(GLUE_REPO, DATA_COMMIT);
    let mut present = Vec::new();
    for task in ["CoLA", "SST-2", "MRPC", "STS-B", "QNLI", "RTE", "WNLI"] {
        if !glue.join(task).is_dir() {
            continue;
        }
        present.push(task);
        for (name, bytes) in task_files(&glue, task, &tmp.path().join("parquet")) {
            repo = repo.file(&name, bytes);
        }
    }
    assert!(present.len() >= 2, "the shared data folder has GLUE tasks");
    let hub = FakeHub::start(vec![repo]);
    let s = settings(&tmp.path().join("cache"), Some(&hub));
    let out = tmp.path().join("data");
    for task in &present {
        let t = glue_task(task).unwrap();
        // Only the splits the shared folder has (QNLI's train is not there).
        let splits: Vec<&str> = [
            ("train", "train.tsv"),
            ("validation", "dev.tsv"),
            ("test", "test.tsv"),
        ]
        .iter()
        .filter(|(_, f)| glue.join(task).join(f).exists())
        .map(|(s, _)| *s)
        .collect();
        fetch_glue(&s, GLUE_REPO, "main", &[t], &splits, &out, |_| {}).unwrap();
        let ours = stab_data::task(task).unwrap();
        for split in ["train", "dev", "test"] {
            if !glue.join(task).join(format!("{split}.tsv")).exists() {
                continue;
            }
            let classic = ours
                .load_split(&stab_test_support::data_dir(), split)
                .unwrap();
            let fetched = ours.load_split(&out, split).unwrap();
            let strip = |d: stab_data::Dataset| match d {
                stab_data::Dataset::Sentences(v) => v
                    .into_iter()
                    .map(|e| (e.text_a, e.text_b, e.label))
                    .collect::<Vec<_>>(),
                _ => unreachable!(),
            };
            if split == "dev" {
                // The same predictions scored against both golds: the same metrics (within
                // float32 rounding for STS-B's correlations).
                let gold = |d: &stab_data::Dataset| match d.answers("dev").unwrap() {
                    stab_data::Answers::Labels(l) => l,
                    _ => unreachable!(),
                };
                let (g1, g2) = (gold(&classic), gold(&fetched));
                let pred: Vec<Label> = (0..g1.len())
                    .map(|i| match g1[i] {
                        Label::Class(_) => Label::Class((i * 7 + i / 3) % ours.num_outputs()),
                        Label::Score(_) => Label::Score(((i * 13) % 50) as f64 / 10.0),
                    })
                    .collect();
                let (m1, m2) = (
                    ours.evaluate(&g1, &pred).unwrap(),
                    ours.evaluate(&g2, &pred).unwrap(),
                );
                assert_eq!(m1.keys().collect::<Vec<_>>(), m2.keys().collect::<Vec<_>>());
                for (k, v) in &m1 {
                    let tol = if *task == "STS-B" { 1e-6 } else { 0.0 };
                    assert!((v - m2[k]).abs() <= tol, "{task} dev {k}: {v} vs {}", m2[k]);
                }
            }
            let (a, b) = (strip(classic), strip(fetched));
            assert_eq!(a.len(), b.len(), "{task} {split}");
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!((&x.0, &x.1), (&y.0, &y.1), "{task} {split} row {i}");
                match (x.2, y.2) {
                    // STS-B's scores are float32 on the Hub (the `datasets` builder's
                    // `Value("float32")`): 2.11111111111111 comes back as 2.1111112.
                    (Some(Label::Score(p)), Some(Label::Score(q))) => {
                        assert!(
                            (p - q).abs() <= 1e-6 * p.abs().max(1.0),
                            "{task} {split} row {i}: {p} vs {q}"
                        );
                        assert_eq!(p as f32, q as f32, "{task} {split} row {i}");
                    }
                    (l, m) => assert_eq!(l, m, "{task} {split} row {i}"),
                }
            }
        }
    }
    // The dataset's ref is written like a model's.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("cache/datasets--nyu-mll--glue/refs/main"))
            .unwrap(),
        DATA_COMMIT
    );
    // Offline, from the cache alone, the same files again.
    drop(hub);
    let again = tmp.path().join("again");
    let offline = settings(&tmp.path().join("cache"), None);
    fetch_glue(
        &offline,
        GLUE_REPO,
        "main",
        &[glue_task("RTE").unwrap()],
        &[],
        &again,
        |_| {},
    )
    .unwrap();
    assert_eq!(
        std::fs::read(again.join("glue/RTE/dev.tsv")).unwrap(),
        std::fs::read(out.join("glue/RTE/dev.tsv")).unwrap()
    );
}

#[test]
fn a_glue_split_of_the_wrong_size_is_refused_before_anything_is_written() {
    let glue = stab_test_support::data_dir().join("glue");
    let tmp = tempfile::tempdir().unwrap();
    let mut repo = Repo::dataset(GLUE_REPO, DATA_COMMIT);
    for (split, file) in [
        ("train", "train.tsv"),
        ("validation", "dev.tsv"),
        ("test", "test.tsv"),
    ] {
        let mut s = split_from_tsv(&glue, "RTE", file);
        if split == "train" {
            s = s.head(100);
        }
        let p = tmp.path().join(format!("{split}.parquet"));
        write_parquet(&s, &p);
        repo = repo.file(
            &hub_file(hub_config("RTE"), split),
            std::fs::read(&p).unwrap(),
        );
    }
    let hub = FakeHub::start(vec![repo]);
    let s = settings(&tmp.path().join("cache"), Some(&hub));
    let out = tmp.path().join("data");
    let e = fetch_glue(
        &s,
        GLUE_REPO,
        "main",
        &[glue_task("RTE").unwrap()],
        &[],
        &out,
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("RTE train has 100 rows, GLUE's train split has 2490"),
        "{e}"
    );
    assert!(!out.join("glue/RTE/train.tsv").exists());

    // A task whose files the repository lacks names what it looked for.
    let e = fetch_glue(
        &s,
        GLUE_REPO,
        "main",
        &[glue_task("CoLA").unwrap()],
        &[],
        &out,
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no parquet file for split `train` (cola/train-*.parquet)"),
        "{e}"
    );
}

/// Files pyarrow wrote as `datasets` writes the Hub's (tests/fixtures/make_glue_parquet.py):
/// quotes and non-ASCII text kept, class indices named, a test split's −1 dropped, STS-B's
/// float32 written as its shortest text.
#[test]
fn parquet_files_written_by_pyarrow_read_as_the_tsvs_stab_takes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/glue_pyarrow");
    let rte = glue_task("RTE").unwrap();
    let (text, n) = stab_hub::glue::split_tsv(
        rte,
        &[dir.join("rte_validation.parquet")],
        true,
        Path::new("dev.tsv"),
    )
    .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        text,
        "index\tsentence1\tsentence2\tlabel\n\
         0\tHe said \"yes\".\tHe agreed.\tentailment\n\
         1\tZoë went to Zürich.\tZoë travelled.\tentailment\n\
         2\tA plain sentence.\tNothing follows.\tnot_entailment\n\
         3\tAnother one.\tIt's unrelated.\tnot_entailment\n"
    );
    let (test, _) = stab_hub::glue::split_tsv(
        rte,
        &[dir.join("rte_test.parquet")],
        false,
        Path::new("test.tsv"),
    )
    .unwrap();
    assert_eq!(
        test,
        "index\tsentence1\tsentence2\n0\tHe said \"yes\".\tHe agreed.\n1\tZoë went to Zürich.\tZoë travelled.\n"
    );
    let stsb = glue_task("STS-B").unwrap();
    let (scores, _) = stab_hub::glue::split_tsv(
        stsb,
        &[dir.join("stsb_validation.parquet")],
        true,
        Path::new("dev.tsv"),
    )
    .unwrap();
    assert_eq!(
        scores,
        "index\tsentence1\tsentence2\tscore\n0\ta b\ta b c\t3.8\n1\tc d\te\t0.25\n"
    );
    // A file of another task is refused by its columns.
    let e = stab_hub::glue::split_tsv(
        glue_task("CoLA").unwrap(),
        &[dir.join("rte_validation.parquet")],
        true,
        Path::new("dev.tsv"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no column `sentence`"), "{e}");
}
