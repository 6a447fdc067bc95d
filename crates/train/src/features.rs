//! Hidden-state extraction (`stab features`): the feature-based approach on its own.
//!
//! Texts come from a JSONL file (`{"text": …, "text_b": …}`; `sentence1`/`sentence2` and
//! `text_a` are accepted too), a TSV with a header naming the same columns, or a GLUE task
//! split. For each chosen layer the `[CLS]` and mean-pooled vectors are written (`layer.L.cls`,
//! `layer.L.mean`, [N, H]); with `tokens`, also every token's state (`layer.L.tokens`,
//! [N, T, H], zero-padded) and the `attention_mask` [N, T]. Layers are numbered as HF's
//! `hidden_states`: 0 = embeddings, L = last; negative numbers count from the end.
//! Output is `.safetensors` (any number of arrays) or `.npy` (exactly one array).

use std::io::Write;
use std::path::{Path, PathBuf};

use stab_bert::{Checkpoint, Encoder, EncoderInput};
use stab_spec::Pooling;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::batch::{make_batch, Batch, Item};
use crate::task_model::pool;
use crate::TrainError;

/// Where the texts come from.
pub enum Source {
    File(PathBuf),
    Task {
        task: String,
        data_dir: PathBuf,
        split: String,
    },
}

/// Options of an extraction.
pub struct FeatureOptions {
    pub model: PathBuf,
    pub source: Source,
    pub output: PathBuf,
    /// Hidden-state indices (negative: from the end).
    pub layers: Vec<i64>,
    pub tokens: bool,
    pub max_length: usize,
    pub batch_size: usize,
    pub threads: usize,
    /// Where the model runs (outputs are gathered on the CPU).
    pub device: Device,
    pub progress: bool,
}

/// What an extraction produced.
#[derive(Debug)]
pub struct FeatureSummary {
    pub examples: usize,
    pub arrays: Vec<(String, Vec<i64>)>,
    pub seconds: f64,
}

fn input_err(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Input {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads (text_a, text_b) pairs from JSONL or TSV.
pub fn read_texts(path: &Path) -> Result<Vec<(String, Option<String>)>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| input_err(path, e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let pick = |get: &dyn Fn(&str) -> Option<String>| -> (Option<String>, Option<String>) {
        let a = ["text", "text_a", "sentence", "sentence1", "question"]
            .iter()
            .find_map(|k| get(k));
        let b = ["text_b", "sentence2"].iter().find_map(|k| get(k));
        (a, b)
    };
    let mut out = Vec::new();
    let is_jsonl = path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json");
    if is_jsonl {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| input_err(path, format!("line {}: invalid JSON: {e}", i + 1)))?;
            let (a, b) = pick(&|k| v.get(k).and_then(|x| x.as_str()).map(str::to_string));
            let a = a.ok_or_else(|| {
                input_err(
                    path,
                    format!(
                        "line {}: expected a \"text\" (or text_a/sentence1) field",
                        i + 1
                    ),
                )
            })?;
            out.push((a, b));
        }
    } else {
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| input_err(path, "empty file"))?
            .split('\t')
            .map(str::trim)
            .collect();
        for (i, line) in lines.enumerate() {
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != header.len() {
                return Err(input_err(
                    path,
                    format!(
                        "line {}: {} fields, the header has {}",
                        i + 2,
                        fields.len(),
                        header.len()
                    ),
                ));
            }
            let (a, b) = pick(&|k| {
                header
                    .iter()
                    .position(|h| *h == k)
                    .map(|p| fields[p].to_string())
            });
            let a = a.ok_or_else(|| {
                input_err(
                    path,
                    "the header names no text column (text, text_a, sentence, sentence1)",
                )
            })?;
            out.push((a, b));
        }
    }
    if out.is_empty() {
        return Err(input_err(path, "no texts in the file"));
    }
    Ok(out)
}

/// Extracts features as `opts` says and writes them.
pub fn extract(opts: &FeatureOptions) -> Result<FeatureSummary, TrainError> {
    let t0 = std::time::Instant::now();
    tch::set_num_threads(opts.threads as i32);
    let texts = read_source(&opts.source)?;
    let ck = Checkpoint::open(&crate::model_dir::resolve(&opts.model)?.dir)?;
    let tok = ck.tokenizer(opts.max_length)?;
    ck.check_limits(&tok, opts.max_length)?;
    let mut vs = VarStore::new(Device::Cpu);
    let bert = ck.encoder(vs.root())?;
    // A fine-tuned checkpoint's head is not needed here: its tensors may be left unused. Nor
    // is the pooler (hidden states only): a checkpoint saved without one (a masked-LM class)
    // loads, as transformers' `AutoModel` loads it.
    let mut unused = vec!["pooler."];
    unused.extend(bert.head_prefixes());
    stab_bert::load_checkpoint(&mut vs, &ck, &unused)?;
    vs.set_device(opts.device);
    let layers = hidden_indices(&opts.layers, ck.config.num_hidden_layers + 1)?;

    let items = crate::run_data::encode_texts(&tok, &texts)?;
    let n = items.len();
    let t_max = items.iter().map(|i| i.ids.len()).max().unwrap_or(0) as i64;
    let mut out = Gathered::new(layers, n as i64, t_max, ck.config.hidden_size, opts.tokens);
    let bar = opts.progress.then(|| {
        let b = stab_spec::progress_bar(
            n as u64,
            "{msg} [{bar:30}] {pos}/{len} examples {per_sec} eta {eta}",
        );
        b.set_message("features");
        b
    });
    hidden_states_by_length(
        bert.as_ref(),
        &items,
        opts.batch_size,
        tok.pad_id(),
        opts.device,
        |chunk, b, hs| {
            out.add(chunk, b, hs);
            if let Some(bar) = &bar {
                bar.inc(chunk.len() as u64);
            }
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let arrays = out.into_arrays();
    write_arrays(&opts.output, &arrays)?;
    Ok(FeatureSummary {
        examples: n,
        arrays: arrays.iter().map(|(k, t)| (k.clone(), t.size())).collect(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The texts of a source: a file's, or a task split's (tagged sentences joined by spaces).
fn read_source(source: &Source) -> Result<Vec<(String, Option<String>)>, TrainError> {
    Ok(match source {
        Source::File(p) => read_texts(p)?,
        Source::Task {
            task,
            data_dir,
            split,
        } => match stab_data::task(task)?.load_split(data_dir, split)? {
            stab_data::Dataset::Sentences(ex) => {
                ex.into_iter().map(|e| (e.text_a, e.text_b)).collect()
            }
            stab_data::Dataset::Tagged(s) => {
                s.into_iter().map(|s| (s.tokens.join(" "), None)).collect()
            }
        },
    })
}

/// Hidden-state indices of `layers` (negative: from the end) among `n_hidden` states.
fn hidden_indices(layers: &[i64], n_hidden: i64) -> Result<Vec<i64>, TrainError> {
    layers
        .iter()
        .map(|&l| {
            let idx = if l < 0 { n_hidden + l } else { l };
            if (0..n_hidden).contains(&idx) {
                Ok(idx)
            } else {
                Err(TrainError::Invalid(format!(
                    "layer {l} does not exist (hidden states 0..={} or -1..=-{n_hidden})",
                    n_hidden - 1
                )))
            }
        })
        .collect()
}

/// The arrays an extraction fills on the CPU, batch by batch, in the examples' order.
struct Gathered {
    layers: Vec<i64>,
    cls: Vec<Tensor>,
    mean: Vec<Tensor>,
    /// Every token's state per layer, when asked (`--tokens`), and the attention mask.
    tokens: Option<(Vec<Tensor>, Tensor)>,
}

impl Gathered {
    fn new(layers: Vec<i64>, n: i64, t_max: i64, h: i64, tokens: bool) -> Gathered {
        let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
        Gathered {
            cls: layers.iter().map(|_| zeros(&[n, h])).collect(),
            mean: layers.iter().map(|_| zeros(&[n, h])).collect(),
            tokens: tokens.then(|| {
                (
                    layers.iter().map(|_| zeros(&[n, t_max, h])).collect(),
                    Tensor::zeros([n, t_max], (Kind::Int64, Device::Cpu)),
                )
            }),
            layers,
        }
    }

    /// Copies one batch's pooled (and token) states into the rows of its items.
    fn add(&mut self, chunk: &[usize], b: &Batch, hs: &[Tensor]) {
        let idx = Tensor::from_slice(&chunk.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let t = b.padded_len as i64;
        let cpu = |t: Tensor| t.to_device(Device::Cpu);
        for (k, &l) in self.layers.iter().enumerate() {
            let hl = &hs[l as usize];
            let c = cpu(pool(hl, &b.attention_mask, Pooling::Cls));
            let m = cpu(pool(hl, &b.attention_mask, Pooling::Mean));
            let _ = self.cls[k].index_copy_(0, &idx, &c);
            let _ = self.mean[k].index_copy_(0, &idx, &m);
            if let Some((tokens, _)) = &mut self.tokens {
                let _ = tokens[k]
                    .narrow(1, 0, t)
                    .index_copy_(0, &idx, &cpu(hl.shallow_clone()));
            }
        }
        if let Some((_, mask)) = &self.tokens {
            let _ =
                mask.narrow(1, 0, t)
                    .index_copy_(0, &idx, &cpu(b.attention_mask.shallow_clone()));
        }
    }

    /// Named arrays in the file's order: per layer cls, mean (and tokens), then the mask.
    fn into_arrays(self) -> Vec<(String, Tensor)> {
        let mut arrays: Vec<(String, Tensor)> = Vec::new();
        for (k, &l) in self.layers.iter().enumerate() {
            arrays.push((format!("layer.{l}.cls"), self.cls[k].shallow_clone()));
            arrays.push((format!("layer.{l}.mean"), self.mean[k].shallow_clone()));
            if let Some((tokens, _)) = &self.tokens {
                arrays.push((format!("layer.{l}.tokens"), tokens[k].shallow_clone()));
            }
        }
        if let Some((_, mask)) = self.tokens {
            arrays.push(("attention_mask".into(), mask));
        }
        arrays
    }
}

/// Runs `bert` in eval mode without gradients over `items` in batches sorted by length (little
/// padding) and hands each batch — item indices, the padded batch and every hidden state
/// (embeddings + each layer) — to `f`.
pub(crate) fn hidden_states_by_length(
    bert: &dyn Encoder,
    items: &[Item],
    batch_size: usize,
    pad_id: i64,
    device: Device,
    mut f: impl FnMut(&[usize], &Batch, &[Tensor]),
) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].ids.len());
    tch::no_grad(|| {
        for chunk in order.chunks(batch_size.max(1)) {
            let b = make_batch(items, chunk, None, pad_id, device);
            let input = EncoderInput {
                input_ids: &b.input_ids,
                token_type_ids: Some(&b.token_type_ids),
                attention_mask: Some(&b.attention_mask),
            };
            let hs = bert
                .forward_t(&input, false, true)
                .hidden_states
                .expect("requested");
            f(chunk, &b, &hs);
        }
    });
}

/// Writes arrays to `.safetensors`, or a single f32 array to `.npy`.
fn write_arrays(path: &Path, arrays: &[(String, Tensor)]) -> Result<(), TrainError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "safetensors" => {
            let tmp = path.with_extension("safetensors.tmp");
            Tensor::write_safetensors(arrays, &tmp)?;
            std::fs::rename(&tmp, path).map_err(|e| input_err(path, e.to_string()))
        }
        "npy" => {
            let pooled: Vec<&(String, Tensor)> =
                arrays.iter().filter(|(k, _)| k.ends_with(".cls")).collect();
            let [(_, t)] = pooled.as_slice() else {
                return Err(input_err(
                    path,
                    ".npy holds one array: choose one layer and no --tokens, or write .safetensors",
                ));
            };
            write_npy(path, t)
        }
        _ => Err(input_err(
            path,
            "the output must end in .safetensors or .npy",
        )),
    }
}

/// Minimal NPY v1.0 writer for a little-endian f32 array.
fn write_npy(path: &Path, t: &Tensor) -> Result<(), TrainError> {
    let shape = t.size();
    let data = Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1]))?;
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let io = |e: std::io::Error| input_err(path, e.to_string());
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    f.write_all(b"\x93NUMPY\x01\x00").map_err(io)?;
    f.write_all(&(header.len() as u16).to_le_bytes())
        .map_err(io)?;
    f.write_all(header.as_bytes()).map_err(io)?;
    for v in data {
        f.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    f.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn tsv_with_a_header_gives_singles_and_pairs() {
        let (_d, p) = write(
            "t.tsv",
            "\u{feff}sentence1\tsentence2\nA \"quoted\" one\tB\nC\tD\n",
        );
        let t = read_texts(&p).unwrap();
        assert_eq!(t[0], ("A \"quoted\" one".into(), Some("B".into())));
        assert_eq!(t.len(), 2);
        let (_d, p) = write("s.tsv", "text\nonly one column\n");
        assert_eq!(
            read_texts(&p).unwrap(),
            vec![("only one column".into(), None)]
        );
    }

    #[test]
    fn layers_count_from_the_end_when_negative() {
        assert_eq!(
            hidden_indices(&[-1, 0, -3, 2], 7).unwrap(),
            vec![6, 0, 4, 2]
        );
        let e = hidden_indices(&[7], 7).unwrap_err().to_string();
        assert!(e.contains("layer 7 does not exist"), "{e}");
        assert!(hidden_indices(&[-8], 7).is_err());
    }

    #[test]
    fn malformed_inputs_name_file_and_line() {
        let (_d, p) = write("t.tsv", "text\tlabel\na\t1\nb\n");
        let err = read_texts(&p).unwrap_err().to_string();
        assert!(err.contains("t.tsv") && err.contains("line 3"), "{err}");
        let (_d, p) = write("t.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
        let err = read_texts(&p).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("text"), "{err}");
        let (_d, p) = write("t.jsonl", "{not json\n");
        assert!(read_texts(&p)
            .unwrap_err()
            .to_string()
            .contains("invalid JSON"));
        let (_d, p) = write("e.tsv", "");
        assert!(read_texts(&p).unwrap_err().to_string().contains("empty"));
    }
}
