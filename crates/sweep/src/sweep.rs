//! The sweeper: parses a sweep file and expands it into an ordered list of resolved runs.
//!
//! The format is documented in the crate docs (`lib.rs`). Every error points at the file, line
//! and column of the offending key or value, using the spans toml keeps for [`Spanned`] values.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use stab_spec::{RunSpec, SpecError};
use toml::Spanned;

use crate::Error;

/// Keys that select a seed; axes made only of these do not define a group (runs that differ
/// only in seeds are the repetitions being compared).
const SEED_KEYS: &[&str] = &[
    "seed",
    "init_seed",
    "data_seed",
    "subset_seed",
    "dev_split_seed",
];

/// Settings given at launch that win over everything in the sweep file (for example the data
/// directory, from `--data-dir` or `STAB_DATA_DIR`). They are part of the resolved specs, so
/// they change run ids: prefer the same relative paths everywhere.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces every run's `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Replaces every run's `model`.
    pub model: Option<PathBuf>,
    /// Further run-spec fields (dotted keys allowed, `optimizer.eps`).
    pub set: toml::Table,
}

impl Overrides {
    /// Overrides with `data_dir` taken from the `STAB_DATA_DIR` environment variable, if set.
    pub fn from_env() -> Overrides {
        Overrides {
            data_dir: std::env::var_os(stab_data::DATA_DIR_ENV).map(PathBuf::from),
            ..Overrides::default()
        }
    }

    fn table(&self) -> toml::Table {
        let mut t = self.set.clone();
        if let Some(d) = &self.data_dir {
            t.insert("data_dir".into(), path_value(d));
        }
        if let Some(m) = &self.model {
            t.insert("model".into(), path_value(m));
        }
        t
    }
}

fn path_value(p: &Path) -> toml::Value {
    toml::Value::String(p.to_string_lossy().into_owned())
}

/// Slurm resources given in the sweep file's `[slurm]` table (flags win over them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmDefaults {
    pub partition: Option<String>,
    /// Wall-clock limit per array task, in any `sbatch --time` format (`01:30:00`).
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    /// `--gpus-per-task` value (`1`, `a100:1`).
    pub gpus: Option<String>,
    /// `--mem` value (`16G`).
    pub mem: Option<String>,
    /// At most this many array tasks at once (`--array=…%N`).
    pub max_parallel: Option<usize>,
    /// Runs packed into one array task, executed at once by that many workers sharing the
    /// task's allocation (one GPU with `gpus = "1"`); `None`: 1.
    pub runs_per_gpu: Option<usize>,
    /// Further `#SBATCH` lines, verbatim (`--account=foo`).
    #[serde(default)]
    pub extra: Vec<String>,
}

/// One run of an expanded sweep: a fully resolved spec, its id and where it sits in the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Position in the expansion (file order: groups, then axes, first axis outermost).
    pub index: usize,
    /// Content hash of `spec` ([`RunSpec::run_id`]).
    pub run_id: String,
    /// Group label: what this run is compared as (see the crate docs).
    pub group: String,
    /// The axis values that produced this run, as `(axis, value)` in axis order.
    pub axes: Vec<(String, String)>,
    pub spec: RunSpec,
}

/// A parsed and expanded sweep file.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Name of the sweep: the store lives in `<results>/<name>/`.
    pub name: String,
    pub description: Option<String>,
    /// The file the sweep was read from (for messages).
    pub path: PathBuf,
    /// The file's text, saved as `sweep.toml` in the store.
    pub source: String,
    pub slurm: SlurmDefaults,
    /// The runs, in order, with distinct ids.
    pub runs: Vec<PlannedRun>,
}

impl Sweep {
    /// Reads and expands a sweep file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Sweep, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Sweep::parse(path, &text, overrides)
    }

    /// Expands sweep text; `path` names the file in messages and gives the default name.
    pub fn parse(path: &Path, text: &str, overrides: &Overrides) -> Result<Sweep, Error> {
        let expansion = Expansion::new(path, text, overrides)?;
        let mut runs = Vec::new();
        expansion.for_each_run(|run| {
            runs.push(run);
            Ok(())
        })?;
        Ok(Sweep {
            name: expansion.name,
            description: expansion.description,
            path: path.to_path_buf(),
            source: text.to_string(),
            slurm: expansion.slurm,
            runs,
        })
    }

    /// Names of the groups, in order of first appearance.
    pub fn groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.runs {
            if !out.contains(&r.group.as_str()) {
                out.push(&r.group);
            }
        }
        out
    }
}

/// A checked sweep file, ready to be expanded run by run.
///
/// [`Sweep::parse`] collects the runs; [`Expansion::for_each_run`] hands them out one at a time
/// and keeps only their ids, so listing a sweep of a million runs (`--dry-run`) needs memory
/// for the ids, not for a million specs.
pub struct Expansion<'a> {
    path: &'a Path,
    text: &'a str,
    name: String,
    description: Option<String>,
    slurm: SlurmDefaults,
    base: Vec<Setting>,
    groups: Vec<(Option<String>, Vec<Setting>)>,
    axes: Vec<Axis>,
    group_by: Vec<String>,
    launch: toml::Table,
}

impl<'a> Expansion<'a> {
    /// Parses and checks sweep text (every key and value; cross-field rules are checked per run
    /// by [`Expansion::for_each_run`]).
    pub fn new(
        path: &'a Path,
        text: &'a str,
        overrides: &Overrides,
    ) -> Result<Expansion<'a>, Error> {
        let at = |span: Range<usize>, message: String| located(path, text, span, message);
        let file: SweepFile = toml::from_str(text).map_err(|e: toml::de::Error| {
            at(e.span().unwrap_or(0..0), e.message().trim().to_string())
        })?;
        if file.base.is_empty()
            && file.group.is_empty()
            && file.axes.is_empty()
            && file.zip.is_empty()
        {
            return Err(at(
                0..0,
                "the sweep sets nothing: it would be one run of the devlin preset's defaults; \
                 give [base] settings, [[group]]s or [axes]"
                    .into(),
            ));
        }

        let name = match &file.name {
            Some(n) => {
                let ok = !n.get_ref().is_empty()
                    && n.get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    && !n.get_ref().starts_with('.');
                if !ok {
                    return Err(at(
                        n.span(),
                        "expected a sweep name of letters, digits, `-`, `_` and `.` (it names \
                         the results directory)"
                            .into(),
                    ));
                }
                n.get_ref().clone()
            }
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
        };

        let checker = Checker { path, text };
        let base = checker.settings(&file.base)?;

        // Groups: named sets of overrides; the sweep is groups × axes.
        let mut groups = Vec::new();
        for g in &file.group {
            let settings = checker.settings(&g.set)?;
            groups.push((Some(g.name.get_ref().clone()), settings, g.name.span()));
        }
        let mut seen = HashMap::new();
        for (name, _, span) in &groups {
            if let Some(prev) = seen.insert(name.clone(), span.clone()) {
                let (line, _) = line_col(text, prev.start);
                return Err(at(
                    span.clone(),
                    format!("group name repeated (first used on line {line})"),
                ));
            }
        }
        if groups.is_empty() {
            groups.push((None, Vec::new(), 0..0));
        }

        // Axes and zip blocks, in file order.
        let mut axes: Vec<(usize, Axis)> = Vec::new();
        for (key, values) in &file.axes {
            let points = checker
                .axis_values(key.get_ref(), values)?
                .into_iter()
                .map(|(v, span)| Point {
                    label: display_value(&v),
                    settings: vec![Setting {
                        key: key.get_ref().clone(),
                        value: v,
                        span,
                    }],
                })
                .collect();
            axes.push((
                key.span().start,
                Axis {
                    name: key.get_ref().clone(),
                    span: key.span(),
                    seed_only: SEED_KEYS.contains(&key.get_ref().as_str()),
                    points,
                },
            ));
        }
        for (block, fields) in &file.zip {
            axes.push((block.span().start, checker.zip_axis(block, fields)?));
        }
        axes.sort_by_key(|(start, _)| *start);
        let axes: Vec<Axis> = axes.into_iter().map(|(_, a)| a).collect();
        let axis_names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
        for a in &axes {
            if file.zip.keys().any(|z| z.get_ref() == &a.name)
                && file.axes.keys().any(|k| k.get_ref() == &a.name)
            {
                return Err(at(
                    a.span.clone(),
                    format!("`{}` is both an axis and a zip block", a.name),
                ));
            }
        }

        let group_by: Vec<String> = match &file.group_by {
            Some(list) => {
                let mut out = Vec::new();
                for k in list.get_ref() {
                    if !axis_names.contains(&k.get_ref().as_str()) {
                        return Err(at(
                            k.span(),
                            format!(
                                "unknown axis `{}` in group_by (expected one of: {})",
                                k.get_ref(),
                                axis_names.join(", ")
                            ),
                        ));
                    }
                    out.push(k.get_ref().clone());
                }
                out
            }
            None => axes
                .iter()
                .filter(|a| !a.seed_only)
                .map(|a| a.name.clone())
                .collect(),
        };

        // A launch override of the wrong type is wrong for every run: say so once, up front.
        let launch = overrides.table();
        if let Err(e @ SpecError::Value { .. }) =
            RunSpec::resolve(stab_spec::DEFAULT_PRESET, &launch)
        {
            return Err(Error::Spec(e));
        }

        Ok(Expansion {
            path,
            text,
            name,
            description: file.description,
            slurm: file.slurm.unwrap_or_default(),
            base,
            groups: groups.into_iter().map(|(n, s, _)| (n, s)).collect(),
            axes,
            group_by,
            launch,
        })
    }

    /// The sweep's name (its store is `<results>/<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves the runs in order and hands each to `on_run`; returns how many there were.
    /// Stops at the first error (a run that does not resolve, two runs with the same spec, or
    /// an error of `on_run`).
    pub fn for_each_run(
        &self,
        mut on_run: impl FnMut(PlannedRun) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        let at = |span: Range<usize>, message: String| located(self.path, self.text, span, message);
        let (base, groups, axes, group_by) = (&self.base, &self.groups, &self.axes, &self.group_by);
        // Run ids as numbers (16 hex digits): a million-run sweep keeps 16 MB of them, not
        // its runs.
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut index = 0;
        for (group_name, group_settings) in groups {
            for combo in Combinations::new(axes) {
                let mut settings: Vec<&Setting> = base.iter().chain(group_settings).collect();
                let mut labels = Vec::new();
                for (axis, point) in axes.iter().zip(&combo) {
                    settings.extend(&axis.points[*point].settings);
                    labels.push((axis.name.clone(), axis.points[*point].label.clone()));
                }
                let spec = resolve(&settings, &self.launch).map_err(|(e, span)| {
                    let what = if labels.is_empty() {
                        String::new()
                    } else {
                        let l: Vec<String> =
                            labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!(" (run {})", l.join(", "))
                    };
                    match e {
                        // A value given at launch wins over the file: no place in it to show.
                        SpecError::Field { field, message } if sets(&self.launch, &field) => {
                            Error::Spec(SpecError::Field {
                                message: format!("{message} (given at launch){what}"),
                                field,
                            })
                        }
                        e => at(span.unwrap_or(0..0), format!("{e}{what}")),
                    }
                })?;
                let mut parts: Vec<String> = group_name.iter().cloned().collect();
                let by: Vec<String> = labels
                    .iter()
                    .filter(|(k, _)| group_by.contains(k))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                if !by.is_empty() {
                    parts.push(by.join(","));
                }
                let group = if parts.is_empty() {
                    "all".to_string()
                } else {
                    parts.join("/")
                };
                let run_id = spec.run_id();
                let key = u64::from_str_radix(&run_id, 16).expect("run ids are 16 hex digits");
                if let Some(prev) = ids.insert(key, index) {
                    return Err(at(
                        0..0,
                        format!(
                            "runs #{prev} and #{index} ({group}) resolve to the same spec \
                             (id {run_id}); remove the duplicate"
                        ),
                    ));
                }
                on_run(PlannedRun {
                    index,
                    run_id,
                    group,
                    axes: labels,
                    spec,
                })?;
                index += 1;
            }
        }
        Ok(index)
    }
}

/// Builds the merged override table of one run and resolves it. On failure, returns the span of
/// the setting that last set the offending field, when one did.
fn resolve(
    settings: &[&Setting],
    launch: &toml::Table,
) -> Result<RunSpec, (SpecError, Option<Range<usize>>)> {
    let preset = settings
        .iter()
        .rev()
        .find(|s| s.key == "preset")
        .and_then(|s| s.value.as_str())
        .unwrap_or(stab_spec::DEFAULT_PRESET);
    let mut table = toml::Table::new();
    for s in settings {
        apply(&mut table, &s.key, s.value.clone());
    }
    for (k, v) in launch {
        apply(&mut table, k, v.clone());
    }
    RunSpec::resolve(preset, &table).map_err(|e| {
        let span = match &e {
            SpecError::Field { field, .. } => settings
                .iter()
                .rev()
                .find(|s| {
                    s.key == *field
                        || field.starts_with(&format!("{}.", s.key))
                        || (s.key == "seed" && (field == "init_seed" || field == "data_seed"))
                })
                .map(|s| s.span.clone()),
            SpecError::UnknownPreset(_) => settings
                .iter()
                .rev()
                .find(|s| s.key == "preset")
                .map(|s| s.span.clone()),
            _ => None,
        };
        (e, span)
    })
}

/// Whether launch overrides set `field` (dotted: `optimizer.eps`), directly or through its
/// table.
fn sets(launch: &toml::Table, field: &str) -> bool {
    launch.contains_key(field)
        || field
            .split_once('.')
            .is_some_and(|(head, rest)| match launch.get(head) {
                Some(toml::Value::Table(t)) => sets(t, rest),
                _ => false,
            })
}

/// Sets `key` (dotted keys reach into nested tables; `seed` sets both init and data seeds).
fn apply(table: &mut toml::Table, key: &str, value: toml::Value) {
    if key == "seed" {
        apply(table, "init_seed", value.clone());
        apply(table, "data_seed", value);
        return;
    }
    stab_spec::merge_override(table, key, value);
}

/// The cartesian product of axis point indices, first axis outermost, one at a time.
struct Combinations {
    sizes: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl Combinations {
    fn new(axes: &[Axis]) -> Combinations {
        let sizes: Vec<usize> = axes.iter().map(|a| a.points.len()).collect();
        let next = sizes.iter().all(|&n| n > 0).then(|| vec![0; sizes.len()]);
        Combinations { sizes, next }
    }
}

impl Iterator for Combinations {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let mut following = current.clone();
        for i in (0..following.len()).rev() {
            following[i] += 1;
            if following[i] < self.sizes[i] {
                self.next = Some(following);
                break;
            }
            following[i] = 0;
        }
        Some(current)
    }
}

/// A value as it appears in group labels and listings.
pub(crate) fn display_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => {
            let a = f.abs();
            if a != 0.0 && !(1e-3..1e6).contains(&a) {
                format!("{f:e}")
            } else {
                format!("{f}")
            }
        }
        other => other.to_string(),
    }
}

#[derive(Debug, Clone)]
struct Setting {
    key: String,
    value: toml::Value,
    span: Range<usize>,
}

#[derive(Debug)]
struct Point {
    label: String,
    settings: Vec<Setting>,
}

#[derive(Debug)]
struct Axis {
    name: String,
    span: Range<usize>,
    seed_only: bool,
    points: Vec<Point>,
}

/// A zip-block field: (position in the file, key, values with their spans).
type Column = (usize, String, Vec<(toml::Value, Range<usize>)>);

type SpannedTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    base: SpannedTable,
    #[serde(default)]
    group: Vec<GroupEntry>,
    #[serde(default)]
    axes: BTreeMap<Spanned<String>, Spanned<AxisValues>>,
    #[serde(default)]
    zip: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<AxisValues>>>,
    group_by: Option<Spanned<Vec<Spanned<String>>>>,
    slurm: Option<SlurmDefaults>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    name: Spanned<String>,
    #[serde(default)]
    set: SpannedTable,
}

/// An axis: a list of values, or an integer range `{ start, end, step }` (end exclusive).
enum AxisValues {
    List(Vec<Spanned<toml::Value>>),
    Range { start: i64, end: i64, step: i64 },
}

impl<'de> Deserialize<'de> for AxisValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a list of values or a range `{ start = 0, end = 5 }`";
        impl<'de> Visitor<'de> for V {
            type Value = AxisValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AxisValues, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<toml::Value>>()? {
                    out.push(v);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("an axis needs at least one value"));
                }
                Ok(AxisValues::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AxisValues, A::Error> {
                let (mut start, mut end, mut step) = (None, None, None);
                while let Some(k) = map.next_key::<String>()? {
                    let slot = match k.as_str() {
                        "start" => &mut start,
                        "end" => &mut end,
                        "step" => &mut step,
                        other => {
                            return Err(de::Error::unknown_field(other, &["start", "end", "step"]))
                        }
                    };
                    *slot = Some(map.next_value::<i64>()?);
                }
                let start = start.ok_or_else(|| de::Error::missing_field("start"))?;
                let end = end.ok_or_else(|| de::Error::missing_field("end"))?;
                let step = step.unwrap_or(1);
                if step <= 0 || end <= start {
                    return Err(de::Error::custom(
                        "expected a non-empty range: start < end (end exclusive) and step ≥ 1",
                    ));
                }
                Ok(AxisValues::Range { start, end, step })
            }
        }
        d.deserialize_any(V)
    }
}

/// Validates keys and values against the run spec, one at a time, so that the error can point
/// at the exact value.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, message: String) -> Error {
        located(self.path, self.text, span, message)
    }

    /// Checks that `key = value` alone is a valid override of the default preset: the key is a
    /// run-spec field (or `seed`, `preset`) and the value has the right type and range.
    /// Cross-field rules (bf16 needs CUDA) are checked when whole runs are resolved.
    fn check(&self, key: &str, value: &toml::Value, span: Range<usize>) -> Result<(), Error> {
        if key == "preset" {
            return match value.as_str() {
                Some(p) if stab_spec::PRESETS.contains(&p) => Ok(()),
                _ => Err(self.err(
                    span,
                    format!(
                        "expected a preset name, one of: {}",
                        stab_spec::PRESETS.join(", ")
                    ),
                )),
            };
        }
        let mut table = toml::Table::new();
        apply(&mut table, key, value.clone());
        match RunSpec::resolve(stab_spec::DEFAULT_PRESET, &table) {
            Ok(_) | Err(SpecError::Field { .. }) => Ok(()),
            Err(SpecError::Value { field, message }) => {
                let field = if key == "seed" { key } else { &field };
                Err(self.err(span, format!("{field}: {message}")))
            }
            Err(e @ SpecError::Invalid(_)) => Err(self.err(span, format!("`{key}`: {e}"))),
            Err(e) => Err(self.err(span, e.to_string())),
        }
    }

    fn settings(&self, table: &SpannedTable) -> Result<Vec<Setting>, Error> {
        let mut out = Vec::new();
        for (k, v) in table {
            self.check(k.get_ref(), v.get_ref(), v.span())?;
            out.push(Setting {
                key: k.get_ref().clone(),
                value: v.get_ref().clone(),
                span: v.span(),
            });
        }
        // File order, so that later settings win as they read.
        out.sort_by_key(|s| s.span.start);
        Ok(out)
    }

    fn axis_values(
        &self,
        key: &str,
        values: &Spanned<AxisValues>,
    ) -> Result<Vec<(toml::Value, Range<usize>)>, Error> {
        let out: Vec<(toml::Value, Range<usize>)> = match values.get_ref() {
            AxisValues::List(list) => list
                .iter()
                .map(|v| (v.get_ref().clone(), v.span()))
                .collect(),
            AxisValues::Range { start, end, step } => (*start..*end)
                .step_by(*step as usize)
                .map(|i| (toml::Value::Integer(i), values.span()))
                .collect(),
        };
        let is_range = matches!(values.get_ref(), AxisValues::Range { .. });
        for (i, (v, span)) in out.iter().enumerate() {
            self.check(key, v, span.clone())?;
            // Values of a range are distinct; lists are short (the check is quadratic).
            if !is_range && out[..i].iter().any(|(w, _)| w == v) {
                return Err(self.err(span.clone(), format!("value repeated in axis `{key}`")));
            }
        }
        Ok(out)
    }

    fn zip_axis(
        &self,
        block: &Spanned<String>,
        fields: &BTreeMap<Spanned<String>, Spanned<AxisValues>>,
    ) -> Result<Axis, Error> {
        let mut labels: Option<Vec<String>> = None;
        let mut columns: Vec<Column> = Vec::new();
        let mut len: Option<(usize, Range<usize>)> = None;
        let mut fields: Vec<_> = fields.iter().collect();
        fields.sort_by_key(|(k, _)| k.span().start);
        for (k, vals) in fields {
            let values = if k.get_ref() == "labels" {
                let AxisValues::List(list) = vals.get_ref() else {
                    return Err(self.err(vals.span(), "expected a list of strings".into()));
                };
                let mut l = Vec::new();
                for v in list {
                    match v.get_ref().as_str() {
                        Some(s) => l.push(s.to_string()),
                        None => return Err(self.err(v.span(), "expected a string label".into())),
                    }
                }
                let n = l.len();
                labels = Some(l);
                (0..n).map(|_| (toml::Value::Boolean(true), 0..0)).collect()
            } else {
                self.axis_values(k.get_ref(), vals)?
            };
            match &len {
                None => len = Some((values.len(), vals.span())),
                Some((n, first)) if *n != values.len() => {
                    let (line, _) = line_col(self.text, first.start);
                    return Err(self.err(
                        vals.span(),
                        format!(
                            "zip block `{}`: expected {n} values like the list on line {line}, \
                             found {}",
                            block.get_ref(),
                            values.len()
                        ),
                    ));
                }
                _ => {}
            }
            if k.get_ref() != "labels" {
                columns.push((k.span().start, k.get_ref().clone(), values));
            }
        }
        columns.sort_by_key(|c| c.0);
        let Some((n, _)) = len.filter(|_| !columns.is_empty()) else {
            return Err(self.err(
                block.span(),
                format!(
                    "zip block `{}` needs at least one field with a list of values",
                    block.get_ref()
                ),
            ));
        };
        let points = (0..n)
            .map(|i| {
                let settings: Vec<Setting> = columns
                    .iter()
                    .map(|(_, key, vals)| Setting {
                        key: key.clone(),
                        value: vals[i].0.clone(),
                        span: vals[i].1.clone(),
                    })
                    .collect();
                let label = match &labels {
                    Some(l) => l[i].clone(),
                    None => settings
                        .iter()
                        .map(|s| format!("{}={}", s.key, display_value(&s.value)))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                Point { label, settings }
            })
            .collect();
        Ok(Axis {
            name: block.get_ref().clone(),
            span: block.span(),
            seed_only: columns.iter().all(|c| SEED_KEYS.contains(&c.1.as_str())),
            points,
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    (line, col)
}

fn located(path: &Path, text: &str, span: Range<usize>, message: String) -> Error {
    let (line, column) = line_col(text, span.start);
    Error::Sweep {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Sweep, Error> {
        Sweep::parse(Path::new("exp/t.toml"), text, &Overrides::default())
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn grid_is_cartesian_in_file_order_and_groups_come_from_non_seed_axes() {
        let s = parse(
            r#"
            [base]
            task = "RTE"
            train_subset = 200
            [axes]
            preset = ["devlin", "mosbach"]
            seed = { start = 0, end = 3 }
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.runs.len(), 6);
        assert_eq!(s.runs[0].group, "preset=devlin");
        assert_eq!(s.runs[3].group, "preset=mosbach");
        assert_eq!(s.groups(), vec!["preset=devlin", "preset=mosbach"]);
        let seeds: Vec<u64> = s.runs.iter().map(|r| r.spec.init_seed).collect();
        assert_eq!(seeds, [0, 1, 2, 0, 1, 2]);
        assert!(s.runs.iter().all(|r| r.spec.init_seed == r.spec.data_seed));
        assert!(s.runs[4].spec.optimizer.bias_correction);
        assert_eq!(s.runs[4].spec.epochs, 20);
        assert_eq!(s.runs[4].spec.train_subset, Some(200));
        assert_eq!(
            s.runs[4].axes,
            vec![
                ("preset".into(), "mosbach".into()),
                ("seed".into(), "1".into())
            ]
        );
    }

    #[test]
    fn adding_seeds_keeps_existing_ids() {
        let a = parse("[axes]\nseed = [0, 1]\nlearning_rate = [1e-5, 2e-5]\n").unwrap();
        let b = parse("[axes]\nseed = [0, 1, 2]\nlearning_rate = [1e-5, 2e-5]\n").unwrap();
        assert_eq!(b.runs.len(), 6);
        for r in &a.runs {
            assert!(b.runs.iter().any(|x| x.run_id == r.run_id));
        }
        assert_eq!(a.runs[1].group, "learning_rate=2e-5");
    }

    #[test]
    fn zip_moves_together_and_named_groups_label_runs() {
        let s = parse(
            r#"
            [[group]]
            name = "devlin"
            set = { preset = "devlin" }
            [[group]]
            name = "mosbach"
            set = { preset = "mosbach", epochs = 5 }
            [axes]
            init_seed = [0, 1]
            [zip.schedule]
            labels = ["short", "long"]
            max_steps = [10, 100]
            "optimizer.eps" = [1e-6, 1e-8]
            "#,
        )
        .unwrap();
        assert_eq!(s.runs.len(), 2 * 2 * 2);
        assert_eq!(s.runs[0].group, "devlin/schedule=short");
        assert_eq!(s.runs[1].spec.max_steps, Some(100));
        assert_eq!(s.runs[1].spec.optimizer.eps, 1e-8);
        assert_eq!(s.runs[4].group, "mosbach/schedule=short");
        assert_eq!(s.runs[4].spec.epochs, 5);
        assert_eq!(s.runs[4].spec.data_seed, 0);
    }

    #[test]
    fn group_by_overrides_the_default_label() {
        let s =
            parse("group_by = []\n[axes]\nfreeze_layers = [0, 2]\n[[group]]\nname = \"frozen\"\n")
                .unwrap();
        assert!(s.runs.iter().all(|r| r.group == "frozen"));
        let s = parse("[axes]\nseed = [1]\n").unwrap();
        assert_eq!(s.runs[0].group, "all");
    }

    #[test]
    fn launch_overrides_win() {
        let o = Overrides {
            data_dir: Some("/data/glue".into()),
            ..Overrides::default()
        };
        let s = Sweep::parse(Path::new("x.toml"), "[base]\ndata_dir = \"here\"\n", &o).unwrap();
        assert_eq!(s.runs[0].spec.data_dir, PathBuf::from("/data/glue"));
    }

    #[test]
    fn unknown_field_points_at_the_value() {
        let e = err("[base]\ntask = \"RTE\"\nlearnin_rate = 1e-5\n");
        assert!(e.starts_with("exp/t.toml:3:16: "), "{e}");
        assert!(
            e.contains("learnin_rate") && e.contains("learning_rate"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_in_a_list_points_at_the_element() {
        let e = err("[axes]\nepochs = [1, \"two\"]\n");
        assert!(e.starts_with("exp/t.toml:2:14: "), "{e}");
        assert!(e.contains("epochs"), "{e}");
        let e = err("[axes]\nwarmup_fraction = [0.1, 2.0]\n");
        assert!(e.starts_with("exp/t.toml:2:25: "), "{e}");
        assert!(e.contains("[0, 1]"), "{e}");
    }

    #[test]
    fn structural_errors_have_positions() {
        let e = err("[axis]\nseed = [1]\n");
        assert!(e.starts_with("exp/t.toml:1:"), "{e}");
        assert!(e.contains("unknown field `axis`"), "{e}");
        let e = err("[axes]\nseed = 3\n");
        assert!(e.starts_with("exp/t.toml:2:8: "), "{e}");
        assert!(e.contains("a list of values or a range"), "{e}");
        let e = err("[axes]\nseed = { start = 3, end = 1 }\n");
        assert!(e.contains("start < end"), "{e}");
        let e = err("[axes]\npreset = [\"devlin\", \"nope\"]\n");
        assert!(e.starts_with("exp/t.toml:2:21: "), "{e}");
        let e = err("[zip.r]\nmax_steps = [1, 2]\nepochs = [1]\n");
        assert!(e.starts_with("exp/t.toml:3:10: "), "{e}");
        let e = err("group_by = [\"lr\"]\n[axes]\nseed = [1]\n");
        assert!(e.contains("unknown axis `lr`"), "{e}");
        let e = err("[axes]\nseed = [1, 1]\n");
        assert!(e.contains("repeated"), "{e}");
    }

    #[test]
    fn cross_field_errors_point_at_the_axis_value_and_name_the_run() {
        // (bf16 on CPU, the cross-field error this test used first, is valid since CPU
        // autocast exists.)
        let e =
            err("[base]\nfeature_head = \"bilstm\"\n[axes]\nfeature_mode = [\"last\", \"off\"]\n");
        assert!(e.contains("feature_head"), "{e}");
        assert!(e.starts_with("exp/t.toml:2:16: "), "{e}");
        assert!(e.contains("feature_mode=off"), "{e}");
    }

    #[test]
    fn duplicate_runs_are_an_error() {
        let e = err("[[group]]\nname = \"a\"\n[[group]]\nname = \"b\"\n");
        assert!(e.contains("same spec"), "{e}");
    }

    /// Issue 14: a sweep file that sets nothing would plan one run of the defaults, silently.
    #[test]
    fn issue14_an_empty_sweep_is_an_error() {
        for text in ["", "name = \"x\"\n", "[base]\n"] {
            let e = err(text);
            assert!(
                e.starts_with("exp/t.toml:1:1: the sweep sets nothing"),
                "{e}"
            );
        }
        assert_eq!(parse("[base]\ntask = \"RTE\"\n").unwrap().runs.len(), 1);
    }

    /// Issue 14: type errors name the field and the value, in the file and in `--set`.
    #[test]
    fn issue14_type_errors_name_field_and_value() {
        let e = err("[axes]\nepochs = [1, \"two\"]\n");
        assert_eq!(
            e,
            "exp/t.toml:2:14: epochs: expected a whole number, got \"two\""
        );
        let e = err("[base]\nseed = \"x\"\n");
        assert!(
            e.starts_with("exp/t.toml:2:8: seed: expected a whole number"),
            "{e}"
        );
        let mut o = Overrides::default();
        o.set.insert("epochs".into(), "x".into());
        let e = Sweep::parse(Path::new("x.toml"), "[axes]\nseed = [1]\n", &o)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "epochs: expected a whole number, got \"x\"");
        // A bad value given at launch is not blamed on the file.
        let mut o = Overrides::default();
        o.set.insert("batch_size".into(), 0.into());
        let e = Sweep::parse(Path::new("x.toml"), "[base]\nbatch_size = 8\n", &o)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "batch_size: must be at least 1 (given at launch)");
    }

    /// Issue 14: the expansion can be consumed run by run (a million-run `--dry-run`
    /// streams), in the same order and with the same runs as `Sweep::parse`.
    #[test]
    fn issue14_expansion_hands_out_the_runs_one_at_a_time() {
        let text = "[[group]]\nname = \"a\"\n[[group]]\nname = \"b\"\nset = { epochs = 2 }\n\
                    [axes]\nseed = { start = 0, end = 50 }\nlearning_rate = [1e-5, 2e-5]\n";
        let all = parse(text).unwrap().runs;
        let exp = Expansion::new(Path::new("exp/t.toml"), text, &Overrides::default()).unwrap();
        assert_eq!(exp.name(), "t");
        let mut seen = Vec::new();
        let n = exp
            .for_each_run(|r| {
                seen.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!((n, seen.len()), (200, 200));
        assert_eq!(seen, all);
        assert_eq!(all[101].group, "b/learning_rate=2e-5");
        let mut calls = 0;
        let stopped = exp.for_each_run(|_| {
            calls += 1;
            if calls == 3 {
                Err(Error::Slurm("stop".into()))
            } else {
                Ok(())
            }
        });
        assert!(stopped.is_err());
        assert_eq!(calls, 3);
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\nçd", 5), (2, 2));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
