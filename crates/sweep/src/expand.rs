//! The expansion: a checked sweep file becomes an ordered list of fully resolved runs
//! ([`PlannedRun`]s, with ids that are content hashes), one at a time.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use stab_spec::{RunSpec, SpecError};
use stab_store::{Expanded, PlannedRun, Store};

use crate::checker::{self, Axis, Checker, Group, Setting};
use crate::sequential::Stopping;
use crate::Error;

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
    /// The launchers' tables of settings (`[slurm]`, `[local]`), checked by each launcher.
    pub launchers: BTreeMap<String, toml::Table>,
    /// The runs, in order, with distinct ids.
    pub runs: Vec<PlannedRun>,
    /// The sequential design of the `[stopping]` table, when the file has one.
    pub stopping: Option<Stopping>,
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
        let stopping = match &expansion.stopping {
            None => None,
            Some((rule, span)) => {
                rule.check_runs(&runs)
                    .map_err(|m| expansion.checker.err(span.clone(), format!("stopping.{m}")))?;
                Some(rule.clone())
            }
        };
        Ok(Sweep {
            stopping,
            name: expansion.name,
            description: expansion.description,
            path: path.to_path_buf(),
            source: text.to_string(),
            launchers: expansion.launchers,
            runs,
        })
    }

    /// The settings of launcher `name` (its `[name]` table; empty when the file has none).
    pub fn launcher_settings(&self, name: &str) -> toml::Table {
        self.launchers.get(name).cloned().unwrap_or_default()
    }

    /// The store of this sweep under `results_dir` (`<results_dir>/<name>`), without touching
    /// the disk.
    pub fn store_in(&self, results_dir: &Path) -> Store {
        Store::open(results_dir.join(&self.name))
    }

    /// Creates (or updates) the store of this sweep under `results_dir`: the sweep file, the
    /// expansion and each run's spec ([`Store::create`]).
    pub fn create_store(&self, results_dir: &Path) -> Result<Store, Error> {
        let expanded = Expanded {
            sweep: self.name.clone(),
            runs: self.runs.clone(),
        };
        Ok(Store::create(
            results_dir.join(&self.name),
            &self.source,
            &expanded,
        )?)
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
    /// The file, for locating errors.
    checker: Checker<'a>,
    name: String,
    description: Option<String>,
    launchers: BTreeMap<String, toml::Table>,
    base: Vec<Setting>,
    groups: Vec<Group>,
    axes: Vec<Axis>,
    group_by: Vec<String>,
    launch: toml::Table,
    /// The `[stopping]` table, checked alone, with where it is written.
    stopping: Option<(Stopping, std::ops::Range<usize>)>,
}

impl<'a> Expansion<'a> {
    /// Parses and checks sweep text (every key and value; cross-field rules are checked per run
    /// by [`Expansion::for_each_run`]). Each step below reads one part of the file.
    pub fn new(
        path: &'a Path,
        text: &'a str,
        overrides: &Overrides,
    ) -> Result<Expansion<'a>, Error> {
        let checker = Checker { path, text };
        let file = checker::read_sweep_file(&checker)?;
        let name = checker::sweep_name(&checker, file.name.as_ref())?;
        let base = checker.settings(&file.base)?;
        let groups = checker::groups(&checker, &file.group)?;
        let axes = checker::axes(&checker, &file.axes, &file.zip)?;
        let group_by = checker::group_by(&checker, file.group_by.as_ref(), &axes)?;
        check_size(&checker, groups.len(), &axes, file.max_runs.as_ref())?;
        let launchers = checker::launcher_tables(&checker, &file.other)?;
        let launch = launch_table(overrides)?;
        let stopping = match &file.stopping {
            None => None,
            Some(t) => match Stopping::from_table(t.get_ref()) {
                Ok(rule) => Some((rule, t.span())),
                Err((field, message)) => {
                    let key = format!("stopping.{field}");
                    let at = stab_spec::value_offset(text, &key).unwrap_or(t.span().start);
                    return Err(checker.err(at..at, format!("{key}: {message}")));
                }
            },
        };
        Ok(Expansion {
            checker,
            name,
            description: file.description,
            launchers,
            base,
            groups,
            axes,
            group_by,
            launch,
            stopping,
        })
    }

    /// The sweep's name (its store is `<results>/<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings of launcher `name` (its `[name]` table; empty when the file has none).
    pub fn launcher_settings(&self, name: &str) -> toml::Table {
        self.launchers.get(name).cloned().unwrap_or_default()
    }

    /// Resolves the runs in order and hands each to `on_run`; returns how many there were.
    /// Stops at the first error (a run that does not resolve, two runs with the same spec, or
    /// an error of `on_run`).
    pub fn for_each_run(
        &self,
        mut on_run: impl FnMut(PlannedRun) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        // Run ids as numbers (16 hex digits): a million-run sweep keeps 16 MB of them, not
        // its runs.
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut index = 0;
        for (group_name, group_settings) in &self.groups {
            for combo in Combinations::new(&self.axes) {
                let mut settings: Vec<&Setting> = self.base.iter().chain(group_settings).collect();
                let mut labels = Vec::new();
                for (axis, point) in self.axes.iter().zip(&combo) {
                    settings.extend(&axis.points[*point].settings);
                    labels.push((axis.name.clone(), axis.points[*point].label.clone()));
                }
                let spec = resolve(&settings, &self.launch)
                    .map_err(|(e, span)| self.run_error(e, span, &labels))?;
                let spec = canonical_task(spec);
                let group = group_label(group_name.as_deref(), &labels, &self.group_by);
                let run_id = spec.run_id();
                let key = u64::from_str_radix(&run_id, 16).expect("run ids are 16 hex digits");
                if let Some(prev) = ids.insert(key, index) {
                    return Err(self.checker.err(
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

    /// The error of a run that does not resolve: at the setting that set the offending field,
    /// naming the run by its axis values; a field given at launch is blamed on the launch.
    fn run_error(
        &self,
        e: SpecError,
        span: Option<Range<usize>>,
        labels: &[(String, String)],
    ) -> Error {
        let what = if labels.is_empty() {
            String::new()
        } else {
            format!(" (run {})", axis_values(labels.iter()))
        };
        match e {
            // A value given at launch wins over the file: no place in it to show.
            SpecError::Field { field, message } if sets(&self.launch, &field) => {
                Error::Spec(SpecError::Field {
                    message: format!("{message} (given at launch){what}"),
                    field,
                })
            }
            e => self.checker.err(span.unwrap_or(0..0), format!("{e}{what}")),
        }
    }
}

/// `axis=value` pairs joined by commas.
fn axis_values<'l>(labels: impl Iterator<Item = &'l (String, String)>) -> String {
    let pairs: Vec<String> = labels.map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// A run's group label: its `[[group]]` name, then `axis=value` for the axes of `group_by`,
/// joined by `/`; `all` when there is neither.
pub(crate) fn group_label(
    group: Option<&str>,
    labels: &[(String, String)],
    group_by: &[String],
) -> String {
    let mut parts: Vec<String> = group.iter().map(|g| g.to_string()).collect();
    let by = axis_values(labels.iter().filter(|(k, _)| group_by.contains(k)));
    if !by.is_empty() {
        parts.push(by);
    }
    if parts.is_empty() {
        "all".to_string()
    } else {
        parts.join("/")
    }
}

/// The launch overrides as a table. A value of the wrong type is wrong for every run: it is
/// reported once, up front.
pub(crate) fn launch_table(overrides: &Overrides) -> Result<toml::Table, Error> {
    let launch = overrides.table();
    // `--set preset=…` replaces every run's preset (see `resolve`): a known name or an error.
    let preset = match launch.get("preset") {
        Some(v) => stab_spec::parse_preset_name(v).map_err(Error::Spec)?,
        None => stab_spec::DEFAULT_PRESET,
    };
    if let Err(e @ SpecError::Value { .. }) = RunSpec::resolve(preset, &launch) {
        return Err(Error::Spec(e));
    }
    Ok(launch)
}

/// Builds the merged override table of one run and resolves it. On failure, returns the span of
/// the setting that last set the offending field, when one did.
fn resolve(
    settings: &[&Setting],
    launch: &toml::Table,
) -> Result<RunSpec, (SpecError, Option<Range<usize>>)> {
    // A launch override (`--set preset=…`) wins over the file, as for every other field.
    let preset = launch
        .get("preset")
        .and_then(|v| v.as_str())
        .or_else(|| {
            settings
                .iter()
                .rev()
                .find(|s| s.key == "preset")
                .and_then(|s| s.value.as_str())
        })
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
pub(crate) fn apply(table: &mut toml::Table, key: &str, value: toml::Value) {
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

/// The spec with a built-in task under its canonical name (`rte` → `RTE`): one spelling, one
/// run id. Names already canonical, and custom task files, are left as they are (ids kept).
pub fn canonical_task(mut spec: RunSpec) -> RunSpec {
    if let Some(name) = stab_data::canonical_task_name(&spec.task) {
        if name != spec.task {
            spec.task = name.to_string();
        }
    }
    spec
}

/// The most runs a sweep may have unless its file sets `max_runs`: a product of axes grows
/// fast (10⁶ seeds × 1000 learning rates ran out of memory; a 200 000-run sweep spent 10
/// minutes and 2 GB before its first run), and no stability study needs more by accident.
pub const MAX_RUNS: u64 = 100_000;

/// The number of runs (groups × the product of the axes' lengths), refused above the limit
/// before a single run is resolved.
fn check_size(
    checker: &Checker,
    groups: usize,
    axes: &[Axis],
    max_runs: Option<&toml::Spanned<u64>>,
) -> Result<(), Error> {
    let runs = axes.iter().fold(groups as u128, |n, a| {
        n.saturating_mul(a.points.len() as u128)
    });
    let limit = max_runs.map_or(MAX_RUNS, |m| *m.get_ref());
    if runs <= limit as u128 {
        return Ok(());
    }
    let factors: Vec<String> = std::iter::once(format!("{groups} group(s)"))
        .chain(
            axes.iter()
                .map(|a| format!("{} {}", a.points.len(), a.name)),
        )
        .collect();
    let how = match max_runs {
        Some(_) => "raise `max_runs`".to_string(),
        None => format!("add `max_runs = {runs}` at the top of the sweep file"),
    };
    Err(checker.err(
        max_runs.map_or(0..0, |m| m.span()),
        format!(
            "the sweep has {runs} runs ({}), more than the limit of {limit}: to run it anyway, {how}",
            factors.join(" × ")
        ),
    ))
}
