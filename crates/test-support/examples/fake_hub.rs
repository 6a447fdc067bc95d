//! The simulated Hub as a program, to show stab against it by hand (the quickstart on a
//! machine without data, a model by name):
//!
//! ```sh
//! cargo run -p stab-test-support --features hub --example fake_hub -- \
//!     --glue ../shared/data/glue --tasks CoLA --model someone/tiny=path/to/checkpoint
//! # prints the endpoint, then serves until killed:
//! HF_ENDPOINT=http://127.0.0.1:PORT scripts/quickstart.sh
//! ```
//!
//! GLUE tasks are served as `nyu-mll/glue`'s parquet files made from the classic TSVs
//! (`glue_parquet`); `--model ID=DIR` serves a checkpoint folder as the model repository ID.

use std::path::PathBuf;

use stab_test_support::glue_parquet::task_files;
use stab_test_support::hub::{FakeHub, Repo};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut glue = None;
    let mut tasks = Vec::new();
    let mut repos = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--glue" => glue = args.next().map(PathBuf::from),
            "--tasks" => {
                tasks = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            "--model" => {
                let spec = args.next().expect("--model ID=DIR");
                let (id, dir) = spec.split_once('=').expect("--model ID=DIR");
                repos.push(
                    Repo::model(id, "3333333333333333333333333333333333333333")
                        .files_from(std::path::Path::new(dir)),
                );
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if let Some(glue) = glue {
        let scratch = std::env::temp_dir().join(format!("fake-hub-{}", std::process::id()));
        let mut repo = Repo::dataset("nyu-mll/glue", "2222222222222222222222222222222222222222");
        for t in &tasks {
            for (name, bytes) in task_files(&glue, t, &scratch) {
                repo = repo.file(&name, bytes);
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
        repos.push(repo);
    }
    let hub = FakeHub::start(repos);
    println!("{}", hub.url());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
