//! Benchmark: read a GLUE single-sentence TSV (SST-2 layout: header, `sentence<TAB>label`) and
//! encode every row with `Tokenizer::encode_batch` (truncation at 128).
//!
//! Usage: `cargo run --release -p stab-bert --example tokenize_bench -- <tsv> <model_dir> [reps]`
//! Threads come from RAYON_NUM_THREADS (the `tokenizers` crate runs batches on rayon's global
//! pool). Prints one JSON line: rows, read seconds, best encode seconds, rows/s, tokens.

use std::path::Path;
use std::time::Instant;

use stab_bert::Tokenizer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: tokenize_bench <tsv> <model_dir> [reps]");
        std::process::exit(2);
    }
    let reps: usize = args.get(3).map(|s| s.parse().expect("reps")).unwrap_or(3);

    let t0 = Instant::now();
    let text = std::fs::read_to_string(&args[1]).expect("read tsv");
    let rows: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    let read_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let tok = Tokenizer::from_dir(Path::new(&args[2]), true, 128, None).expect("tokenizer");
    let load_s = t1.elapsed().as_secs_f64();

    let inputs: Vec<(&str, Option<&str>)> = rows.iter().map(|s| (*s, None)).collect();
    let mut times = Vec::with_capacity(reps);
    let mut tokens = 0usize;
    for _ in 0..reps {
        let t = Instant::now();
        let enc = tok.encode_batch(&inputs).expect("encode");
        times.push(t.elapsed().as_secs_f64());
        tokens = enc.iter().map(|e| e.len()).sum();
        std::hint::black_box(&enc);
    }
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let median = {
        let mut t = times.clone();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[t.len() / 2]
    };
    println!(
        "{{\"rows\":{},\"tokens\":{},\"read_s\":{:.6},\"tokenizer_load_s\":{:.6},\"encode_best_s\":{:.6},\"encode_median_s\":{:.6},\"rows_per_s\":{:.1},\"rows_per_s_incl_read\":{:.1},\"rayon_threads\":{}}}",
        rows.len(),
        tokens,
        read_s,
        load_s,
        best,
        median,
        rows.len() as f64 / best,
        rows.len() as f64 / (best + read_s),
        rayon::current_num_threads()
    );
}
