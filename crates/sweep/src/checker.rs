//! The checker: reads a sweep file ([`crate::schema`]) step by step and validates every key and
//! value against the run spec, into the settings, groups and axes the expansion
//! (`expand.rs`) combines.
//!
//! Every error points at the file, line and column of the offending key or value, using the
//! spans toml keeps for [`Spanned`] values ([`stab_spec::line_col`], the same as run-spec
//! files).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use stab_spec::{line_col, RunSpec, SpecError};
use toml::Spanned;

use crate::expand::{apply, display_value};
use crate::launcher::LAUNCHERS;
use crate::schema::{
    AxisValues, GroupEntry, SpannedTable, SweepFile, ZipFields, KEYS, MAX_RANGE_VALUES,
};
use crate::Error;

/// Keys that select a seed; axes made only of these do not define a group (runs that differ
/// only in seeds are the repetitions being compared).
pub(crate) const SEED_KEYS: &[&str] = &[
    "seed",
    "init_seed",
    "data_seed",
    "subset_seed",
    "dev_split_seed",
];

/// Step 1: the file's tables, refusing a file that sets nothing.
pub(crate) fn read_sweep_file(checker: &Checker) -> Result<SweepFile, Error> {
    let file: SweepFile = toml::from_str(checker.text).map_err(|e: toml::de::Error| {
        checker.err(e.span().unwrap_or(0..0), e.message().trim().to_string())
    })?;
    for key in file.other.keys() {
        launcher_of(checker, key)?;
    }
    if file.base.is_empty() && file.group.is_empty() && file.axes.is_empty() && file.zip.is_empty()
    {
        return Err(checker.err(
            0..0,
            "the sweep sets nothing: it would be one run of the devlin preset's defaults; \
             give [base] settings, [[group]]s or [axes]"
                .into(),
        ));
    }
    Ok(file)
}

/// Step 2: the sweep's name, which names its results directory: `name`, else the file name
/// without its extension.
pub(crate) fn sweep_name(
    checker: &Checker,
    name: Option<&Spanned<String>>,
) -> Result<String, Error> {
    let Some(n) = name else {
        // The same rule for a name taken from the file name: `..toml` would otherwise put the
        // store one level above the results folder.
        let stem = checker
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !valid_sweep_name(&stem) {
            return Err(checker.err(
                0..0,
                format!(
                    "the sweep has no `name`, and its file name gives `{stem}`, which cannot \
                     name a results directory: add `name = \"…\"` ({SWEEP_NAME_RULE})"
                ),
            ));
        }
        return Ok(stem);
    };
    let text = n.get_ref();
    if !valid_sweep_name(text) {
        return Err(checker.err(
            n.span(),
            format!("expected a sweep name of {SWEEP_NAME_RULE} (it names the results directory)"),
        ));
    }
    Ok(text.clone())
}

/// What [`valid_sweep_name`] accepts, in words.
const SWEEP_NAME_RULE: &str =
    "ASCII letters, digits, `-`, `_` and `.`, not starting with `.` or `-`";

/// A name that is one ordinary directory under `--results`: never `.`, `..` or hidden, no
/// separator, and no leading `-` (read as a flag by the commands that take it).
fn valid_sweep_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !text.starts_with('.')
        && !text.starts_with('-')
}

/// Step 3: the `[[group]]`s, named sets of overrides (the sweep is groups × axes); one unnamed
/// empty group when there are none.
pub(crate) fn groups(checker: &Checker, entries: &[GroupEntry]) -> Result<Vec<Group>, Error> {
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    let mut groups = Vec::new();
    for g in entries {
        if g.name.get_ref().trim().is_empty() {
            return Err(checker.err(
                g.name.span(),
                "empty group name: the report names groups by it; give a name".into(),
            ));
        }
        if let Some(prev) = seen.insert(g.name.get_ref(), g.name.span()) {
            let (line, _) = line_col(checker.text, prev.start);
            return Err(checker.err(
                g.name.span(),
                format!("group name repeated (first used on line {line})"),
            ));
        }
        groups.push((Some(g.name.get_ref().clone()), checker.settings(&g.set)?));
    }
    if groups.is_empty() {
        groups.push((None, Vec::new()));
    }
    Ok(groups)
}

/// Step 4: the axes, from `[axes]` and `[zip.*]` blocks, in file order.
pub(crate) fn axes(
    checker: &Checker,
    axes: &BTreeMap<Spanned<String>, Spanned<AxisValues>>,
    zips: &BTreeMap<Spanned<String>, ZipFields>,
) -> Result<Vec<Axis>, Error> {
    if let Some(both) = zips
        .keys()
        .find(|z| axes.contains_key(z.get_ref().as_str()))
    {
        return Err(checker.err(
            both.span(),
            format!("`{}` is both an axis and a zip block", both.get_ref()),
        ));
    }
    let mut out: Vec<Axis> = Vec::new();
    for (key, values) in axes {
        out.push(checker.axis(key, values)?);
    }
    for (block, fields) in zips {
        out.push(checker.zip_axis(block, fields)?);
    }
    out.sort_by_key(|a| a.span.start);
    Ok(out)
}

/// Step 5: the axes that make a run's group label: `group_by` as given, else every axis that
/// is not only seeds.
pub(crate) fn group_by(
    checker: &Checker,
    group_by: Option<&Spanned<Vec<Spanned<String>>>>,
    axes: &[Axis],
) -> Result<Vec<String>, Error> {
    let Some(list) = group_by else {
        return Ok(axes
            .iter()
            .filter(|a| !a.seed_only)
            .map(|a| a.name.clone())
            .collect());
    };
    let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
    let mut out = Vec::new();
    for k in list.get_ref() {
        if !names.contains(&k.get_ref().as_str()) {
            return Err(checker.err(
                k.span(),
                format!(
                    "unknown axis `{}` in group_by (expected one of: {})",
                    k.get_ref(),
                    names.join(", ")
                ),
            ));
        }
        out.push(k.get_ref().clone());
    }
    Ok(out)
}

/// Step 6: the launchers' tables (`[slurm]`, `[local]`): every top-level key that the schema
/// does not know must name a launcher, and its table must be settings that launcher takes.
pub(crate) fn launcher_tables(
    checker: &Checker,
    other: &BTreeMap<String, toml::Value>,
) -> Result<BTreeMap<String, toml::Table>, Error> {
    let mut out = BTreeMap::new();
    for (key, value) in other {
        let at = stab_spec::value_offset(checker.text, key).unwrap_or(0);
        let launcher = launcher_of(checker, key)?;
        let toml::Value::Table(table) = value else {
            return Err(checker.err(
                at..at,
                format!("`{key}`: expected a table of settings of the {key} launcher"),
            ));
        };
        if let Err(e) = launcher.check_settings(table) {
            let field = format!("{key}.{}", e.field);
            let at = stab_spec::value_offset(checker.text, &field).unwrap_or(at);
            return Err(checker.err(at..at, format!("{field}: {}", e.message)));
        }
        out.insert(key.clone(), table.clone());
    }
    Ok(out)
}

/// The launcher a top-level key that the schema does not know names; an unknown field if none.
fn launcher_of(checker: &Checker, key: &str) -> Result<&'static dyn crate::Launcher, Error> {
    crate::launcher(key).ok_or_else(|| {
        let at = stab_spec::value_offset(checker.text, key).unwrap_or(0);
        let mut known: Vec<String> = KEYS.iter().map(|k| format!("`{k}`")).collect();
        known.extend(LAUNCHERS.iter().map(|l| format!("`{}`", l.name())));
        checker.err(
            at..at,
            format!(
                "unknown field `{key}`, expected one of {}",
                known.join(", ")
            ),
        )
    })
}

/// One `key = value` of the file, checked, with where it is written.
#[derive(Debug, Clone)]
pub(crate) struct Setting {
    pub key: String,
    pub value: toml::Value,
    pub span: Range<usize>,
}

/// One value of an axis: its label and what it sets.
#[derive(Debug)]
pub(crate) struct Point {
    pub label: String,
    pub settings: Vec<Setting>,
}

#[derive(Debug)]
pub(crate) struct Axis {
    pub name: String,
    pub span: Range<usize>,
    pub seed_only: bool,
    pub points: Vec<Point>,
}

/// A zip-block field: (position in the file, key, values with their spans).
type Column = (usize, String, Vec<(toml::Value, Range<usize>)>);

/// A `[[group]]`: its name (`None` for the one implicit group) and its settings.
pub(crate) type Group = (Option<String>, Vec<Setting>);

/// Validates keys and values against the run spec, one at a time, so that the error can point
/// at the exact value.
#[derive(Clone, Copy)]
pub(crate) struct Checker<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Checker<'_> {
    pub(crate) fn err(&self, span: Range<usize>, message: String) -> Error {
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

    pub(crate) fn settings(&self, table: &SpannedTable) -> Result<Vec<Setting>, Error> {
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
            AxisValues::Range { start, end, step } => {
                // Points are expanded up front (runs are not): refuse a range that would take
                // the memory before it took the machine's time.
                let n = (*end as i128 - *start as i128 + *step as i128 - 1) / *step as i128;
                if n > MAX_RANGE_VALUES as i128 {
                    return Err(self.err(
                        values.span(),
                        format!(
                            "range of {n} values in axis `{key}`; a range axis takes at most \
                             {MAX_RANGE_VALUES}"
                        ),
                    ));
                }
                (*start..*end)
                    .step_by(*step as usize)
                    .map(|i| (toml::Value::Integer(i), values.span()))
                    .collect()
            }
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

    /// An `[axes]` entry: one point per value, labelled by the value.
    fn axis(&self, key: &Spanned<String>, values: &Spanned<AxisValues>) -> Result<Axis, Error> {
        let name = key.get_ref();
        let points = self
            .axis_values(name, values)?
            .into_iter()
            .map(|(value, span)| Point {
                label: display_value(&value),
                settings: vec![Setting {
                    key: name.clone(),
                    value,
                    span,
                }],
            })
            .collect();
        Ok(Axis {
            name: name.clone(),
            span: key.span(),
            seed_only: SEED_KEYS.contains(&name.as_str()),
            points,
        })
    }

    /// A `[zip.*]` block: one axis whose fields move together (point i takes the i-th value of
    /// every field), labelled by `labels` if given.
    fn zip_axis(&self, block: &Spanned<String>, fields: &ZipFields) -> Result<Axis, Error> {
        let mut labels: Option<Vec<String>> = None;
        let mut columns: Vec<Column> = Vec::new();
        // The length of the first list, and where it is.
        let mut first: Option<(usize, Range<usize>)> = None;
        let mut fields: Vec<_> = fields.iter().collect();
        fields.sort_by_key(|(k, _)| k.span().start);
        for (k, vals) in fields {
            let n = if k.get_ref() == "labels" {
                labels.insert(self.zip_labels(vals)?).len()
            } else {
                let values = self.axis_values(k.get_ref(), vals)?;
                let n = values.len();
                columns.push((k.span().start, k.get_ref().clone(), values));
                n
            };
            match &first {
                None => first = Some((n, vals.span())),
                Some((len, at)) if *len != n => {
                    let (line, _) = line_col(self.text, at.start);
                    return Err(self.err(
                        vals.span(),
                        format!(
                            "zip block `{}`: expected {len} values like the list on line {line}, \
                             found {n}",
                            block.get_ref(),
                        ),
                    ));
                }
                _ => {}
            }
        }
        let Some((n, _)) = first.filter(|_| !columns.is_empty()) else {
            return Err(self.err(
                block.span(),
                format!(
                    "zip block `{}` needs at least one field with a list of values",
                    block.get_ref()
                ),
            ));
        };
        Ok(Axis {
            name: block.get_ref().clone(),
            span: block.span(),
            seed_only: columns.iter().all(|c| SEED_KEYS.contains(&c.1.as_str())),
            points: zip_points(n, &columns, labels.as_deref()),
        })
    }

    /// The `labels` of a zip block: a list of strings.
    fn zip_labels(&self, values: &Spanned<AxisValues>) -> Result<Vec<String>, Error> {
        let AxisValues::List(list) = values.get_ref() else {
            return Err(self.err(values.span(), "expected a list of strings".into()));
        };
        list.iter()
            .map(|v| match v.get_ref().as_str() {
                Some(s) => Ok(s.to_string()),
                None => Err(self.err(v.span(), "expected a string label".into())),
            })
            .collect()
    }
}

/// The `n` points of a zip block: point i sets the i-th value of every column and is labelled
/// `labels[i]`, or `field=value,…` without labels.
fn zip_points(n: usize, columns: &[Column], labels: Option<&[String]>) -> Vec<Point> {
    (0..n)
        .map(|i| {
            let settings: Vec<Setting> = columns
                .iter()
                .map(|(_, key, vals)| Setting {
                    key: key.clone(),
                    value: vals[i].0.clone(),
                    span: vals[i].1.clone(),
                })
                .collect();
            let label = match labels {
                Some(l) => l[i].clone(),
                None => settings
                    .iter()
                    .map(|s| format!("{}={}", s.key, display_value(&s.value)))
                    .collect::<Vec<_>>()
                    .join(","),
            };
            Point { label, settings }
        })
        .collect()
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
    use std::path::PathBuf;

    use super::*;
    use crate::expand::{group_label, launch_table, Expansion, Overrides, Sweep};

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
    fn an_analysis_table_is_accepted_and_changes_no_run() {
        let plain = parse("[axes]\nseed = [0, 1]\n").unwrap();
        let with = parse(
            "[axes]\nseed = [0, 1]\n[analysis]\ncontrasts = [[\"a\", \"b\"]]\nalpha = 0.05\n",
        )
        .unwrap();
        let ids = |s: &Sweep| s.runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&plain), ids(&with));
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
        let e = err("[axes]\nseed = { start = 0, end = 9000000000000000000 }\n");
        assert!(
            e.contains(":2:8:") && e.contains("range of 9000000000000000000 values in axis `seed`"),
            "{e}"
        );
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
    fn launcher_tables_are_their_launchers_settings_checked_where_written() {
        let s =
            parse("[axes]\nseed = [1]\n[slurm]\ntime = \"1:00\"\n[local]\nworkers = 2\n").unwrap();
        assert_eq!(s.launcher_settings("slurm")["time"].as_str(), Some("1:00"));
        assert_eq!(
            s.launcher_settings("local")["workers"].as_integer(),
            Some(2)
        );
        assert!(s.launcher_settings("other").is_empty());
        let e = err("[axes]\nseed = [1]\n[slurm]\ntime = \"1:00\"\npartiton = \"gpu\"\n");
        assert!(
            e.starts_with("exp/t.toml:5:12: slurm.partiton: unknown field `partiton`"),
            "{e}"
        );
        let e = err("[axes]\nseed = [1]\n[local]\nworkers = \"two\"\n");
        assert!(
            e.starts_with("exp/t.toml:4:11: local.workers: invalid type"),
            "{e}"
        );
        let e = err("[axes]\nseed = [1]\n[slurn]\ntime = 1\n");
        assert!(e.contains("unknown field `slurn`, expected one of"), "{e}");
        assert!(e.contains("`slurm`") && e.contains("`local`"), "{e}");
        let e = err("slurm = 3\n[axes]\nseed = [1]\n");
        assert!(e.contains("expected a table of settings"), "{e}");
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

    /// A sweep file that sets nothing would plan one run of the defaults, silently.
    #[test]
    fn an_empty_sweep_is_an_error() {
        for text in ["", "name = \"x\"\n", "[base]\n"] {
            let e = err(text);
            assert!(
                e.starts_with("exp/t.toml:1:1: the sweep sets nothing"),
                "{e}"
            );
        }
        assert_eq!(parse("[base]\ntask = \"RTE\"\n").unwrap().runs.len(), 1);
    }

    /// Type errors name the field and the value, in the file and in `--set`.
    #[test]
    fn type_errors_name_field_and_value() {
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

    /// The expansion can be consumed run by run (a million-run `--dry-run` streams), in the
    /// same order and with the same runs as `Sweep::parse`.
    #[test]
    fn expansion_hands_out_the_runs_one_at_a_time() {
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

    /// The steps of [`Expansion::new`], one at a time, on the file `text`.
    fn step<T>(
        text: &str,
        f: impl FnOnce(&Checker, SweepFile) -> Result<T, Error>,
    ) -> Result<T, String> {
        let checker = Checker {
            path: Path::new("exp/t.toml"),
            text,
        };
        let file = read_sweep_file(&checker).map_err(|e| e.to_string())?;
        f(&checker, file).map_err(|e| e.to_string())
    }

    fn axis_names(axes: &[Axis]) -> Vec<&str> {
        axes.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn step_read_sweep_file_keeps_the_tables_and_locates_syntax_errors() {
        let n = step(
            "[base]\ntask = \"RTE\"\n[[group]]\nname = \"a\"\n",
            |_, f| Ok((f.base.len(), f.group.len(), f.name.is_none())),
        );
        assert_eq!(n, Ok((1, 1, true)));
        let e = step("[base\n", |_, _| Ok(())).unwrap_err();
        assert!(e.starts_with("exp/t.toml:1:"), "{e}");
    }

    #[test]
    fn step_sweep_name_defaults_to_the_file_stem_and_must_name_a_folder() {
        let name = |text: &str| step(text, |c, f| sweep_name(c, f.name.as_ref()));
        assert_eq!(name("[base]\ntask = \"RTE\"\n"), Ok("t".to_string()));
        assert_eq!(
            name("name = \"rte-v1.2_x\"\n[base]\ntask = \"RTE\"\n"),
            Ok("rte-v1.2_x".to_string())
        );
        for bad in ["\"\"", "\".hidden\"", "\"a b\"", "\"../up\""] {
            let e = name(&format!("name = {bad}\n[base]\ntask = \"RTE\"\n")).unwrap_err();
            assert!(
                e.starts_with("exp/t.toml:1:8: expected a sweep name"),
                "{bad}: {e}"
            );
        }
    }

    /// A name from the file name passes the same check as `name =`: `..toml` and `...toml`
    /// named the store `.` and `..`, the results root and the folder above it.
    #[test]
    fn a_sweep_name_from_the_file_name_must_name_a_folder_too() {
        let text = "[base]\ntask = \"RTE\"\n";
        for file in [
            "exp/..toml",
            "exp/...toml",
            "exp/.hidden.x.toml",
            "exp/-x.toml",
            "exp/ü.toml",
        ] {
            let e = Sweep::parse(Path::new(file), text, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("its file name gives") && e.contains("add `name = "),
                "{file}: {e}"
            );
        }
        let s = Sweep::parse(
            Path::new("exp/..toml"),
            &format!("name = \"ok\"\n{text}"),
            &Overrides::default(),
        );
        assert_eq!(s.unwrap().name, "ok");
    }

    /// The message states the rule it enforces: ASCII only, no leading dot or dash.
    #[test]
    fn the_sweep_name_message_states_the_whole_rule() {
        let name = |text: &str| step(text, |c, f| sweep_name(c, f.name.as_ref()));
        for bad in ["\"ü\"", "\".x\"", "\"-x\""] {
            let e = name(&format!("name = {bad}\n[base]\ntask = \"RTE\"\n")).unwrap_err();
            assert!(
                e.contains("ASCII letters") && e.contains("not starting with `.` or `-`"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_sweep_above_the_run_limit_is_refused_before_expanding() {
        let list = |n: usize| format!("{:?}", (1..=n).collect::<Vec<_>>());
        let e = err(&format!(
            "[axes]\nepochs = {}\nbatch_size = {}\n",
            list(400),
            list(300)
        ));
        assert!(
            e.contains("the sweep has 120000 runs (1 group(s) × 400 epochs × 300 batch_size)")
                && e.contains("more than the limit of 100000")
                && e.contains("add `max_runs = 120000`"),
            "{e}"
        );
        let text = "[[group]]\nname = \"a\"\nset = { epochs = 1 }\n[[group]]\nname = \"b\"\n\
                    set = { epochs = 2 }\n[axes]\nseed = { start = 0, end = 6 }\n";
        assert_eq!(parse(text).unwrap().runs.len(), 12);
        let e = err(&format!("max_runs = 10\n{text}"));
        assert!(
            e.contains("the sweep has 12 runs") && e.contains("raise `max_runs`"),
            "{e}"
        );
        assert_eq!(
            parse(&format!("max_runs = 12\n{text}")).unwrap().runs.len(),
            12
        );
    }

    /// `task = "rte"` and `task = "RTE"` are one task: one spelling in the spec, one run id
    /// (the canonical spelling's, so existing specs keep theirs).
    #[test]
    fn task_names_are_canonical_in_the_specs() {
        let canonical = parse("[base]\ntask = \"RTE\"\n[axes]\nseed = [1]\n").unwrap();
        let lower = parse("[base]\ntask = \"rte\"\n[axes]\nseed = [1]\n").unwrap();
        assert_eq!(lower.runs[0].spec.task, "RTE");
        assert_eq!(lower.runs[0].run_id, canonical.runs[0].run_id);
        let e = err("[axes]\ntask = [\"rte\", \"RTE\"]\n");
        assert!(e.contains("resolve to the same spec"), "{e}");
    }

    #[test]
    fn an_empty_group_name_is_refused() {
        for bad in ["\"\"", "\"  \""] {
            let e = err(&format!(
                "[[group]]\nname = {bad}\nset = {{ epochs = 1 }}\n"
            ));
            assert!(e.contains("empty group name"), "{bad}: {e}");
        }
    }

    #[test]
    fn step_groups_keep_file_order_and_refuse_a_repeated_name() {
        let groups = |text: &str| step(text, |c, f| groups(c, &f.group));
        let g = groups("[base]\ntask = \"RTE\"\n").unwrap();
        assert_eq!(g.len(), 1);
        assert!(
            g[0].0.is_none() && g[0].1.is_empty(),
            "one implicit, empty group"
        );
        let g = groups(
            "[[group]]\nname = \"b\"\nset = { epochs = 2, preset = \"mosbach\" }\n\
             [[group]]\nname = \"a\"\n",
        )
        .unwrap();
        let names: Vec<_> = g.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
        assert_eq!(names, ["b", "a"]);
        let keys: Vec<_> = g[0].1.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["epochs", "preset"], "settings in file order");
        let e = groups("[[group]]\nname = \"a\"\n[[group]]\nname = \"a\"\n").unwrap_err();
        assert_eq!(
            e,
            "exp/t.toml:4:8: group name repeated (first used on line 2)"
        );
        let e = groups("[[group]]\nname = \"a\"\nset = { epochs = \"x\" }\n").unwrap_err();
        assert!(e.starts_with("exp/t.toml:3:18: epochs"), "{e}");
    }

    #[test]
    fn step_axes_mix_axes_and_zip_blocks_in_file_order() {
        let axes = |text: &str| step(text, |c, f| axes(c, &f.axes, &f.zip));
        let a = axes(
            "[zip.sched]\nepochs = [1, 2]\nwarmup_fraction = [0.0, 0.1]\n\
             [axes]\nseed = [0, 1, 2]\nlearning_rate = [1e-5]\n",
        )
        .unwrap();
        assert_eq!(axis_names(&a), ["sched", "seed", "learning_rate"]);
        assert_eq!(a[0].points[1].label, "epochs=2,warmup_fraction=0.1");
        assert_eq!(a[0].points[1].settings.len(), 2);
        assert_eq!(a[1].points.len(), 3);
        assert_eq!(a[2].points[0].label, "1e-5");
        assert!(a[1].seed_only && !a[0].seed_only && !a[2].seed_only);
        let e = axes("[axes]\nx = [1]\n[zip.x]\nepochs = [1]\n").unwrap_err();
        assert!(e.contains("`x` is both an axis and a zip block"), "{e}");
    }

    #[test]
    fn step_zip_axis_labels_points_and_refuses_ragged_or_empty_blocks() {
        let zip = |text: &str| step(text, |c, f| axes(c, &BTreeMap::new(), &f.zip));
        let a = zip("[zip.len]\nlabels = [\"short\", \"long\"]\nmax_steps = [10, 100]\n").unwrap();
        let labels: Vec<_> = a[0].points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["short", "long"]);
        assert_eq!(a[0].points[1].settings[0].value, toml::Value::Integer(100));
        let s = zip("[zip.s]\ninit_seed = [0, 1]\ndata_seed = [2, 3]\n").unwrap();
        assert!(s[0].seed_only);
        let e = zip("[zip.len]\nlabels = [\"a\"]\nmax_steps = [10, 100]\n").unwrap_err();
        assert!(
            e.starts_with(
                "exp/t.toml:3:13: zip block `len`: expected 1 values like the list on line 2"
            ),
            "{e}"
        );
        let e = zip("[zip.len]\nlabels = [\"a\", 2]\n").unwrap_err();
        assert!(e.contains("expected a string label"), "{e}");
        let e = zip("[zip.len]\nlabels = [\"a\"]\n").unwrap_err();
        assert!(e.contains("needs at least one field"), "{e}");
    }

    #[test]
    fn step_group_by_defaults_to_the_axes_that_are_not_only_seeds() {
        let by = |text: &str| {
            step(text, |c, f| {
                let a = axes(c, &f.axes, &f.zip)?;
                group_by(c, f.group_by.as_ref(), &a)
            })
        };
        let text = "[axes]\nseed = [0]\nlearning_rate = [1e-5]\n[zip.s]\ndata_seed = [1]\n\
                    init_seed = [2]\n[zip.e]\nepochs = [1]\ndata_seed = [3]\n";
        assert_eq!(by(text), Ok(vec!["learning_rate".into(), "e".into()]));
        assert_eq!(
            by(&format!("group_by = [\"s\", \"seed\"]\n{text}")),
            Ok(vec!["s".into(), "seed".into()])
        );
        let e = by(&format!("group_by = [\"lr\"]\n{text}")).unwrap_err();
        assert_eq!(
            e,
            "exp/t.toml:1:13: unknown axis `lr` in group_by (expected one of: seed, \
             learning_rate, s, e)"
        );
    }

    #[test]
    fn step_group_label_joins_group_name_and_grouping_axes() {
        let labels: Vec<(String, String)> = [("lr", "1e-5"), ("seed", "1"), ("epochs", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let by = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(group_label(None, &labels, &[]), "all");
        assert_eq!(group_label(Some("devlin"), &labels, &[]), "devlin");
        assert_eq!(
            group_label(None, &labels, &by(&["epochs", "lr"])),
            "lr=1e-5,epochs=3",
            "axis order, not group_by order"
        );
        assert_eq!(
            group_label(Some("devlin"), &labels, &by(&["lr"])),
            "devlin/lr=1e-5"
        );
    }

    #[test]
    fn step_launch_table_carries_overrides_and_refuses_bad_values_once() {
        let mut o = Overrides {
            data_dir: Some("d".into()),
            model: Some("m".into()),
            ..Overrides::default()
        };
        o.set.insert("epochs".into(), 2.into());
        let t = launch_table(&o).unwrap();
        assert_eq!(t["data_dir"].as_str(), Some("d"));
        assert_eq!(t["model"].as_str(), Some("m"));
        assert_eq!(t["epochs"].as_integer(), Some(2));
        o.set.insert("epochs".into(), "x".into());
        let e = launch_table(&o).unwrap_err();
        assert!(matches!(e, Error::Spec(SpecError::Value { .. })), "{e}");
    }

    #[test]
    fn a_preset_given_at_launch_replaces_the_files_preset() {
        let text = "[base]\npreset = \"devlin\"\nepochs = 2\n[axes]\nseed = [1, 2]\n";
        let mut o = Overrides::default();
        o.set.insert("preset".into(), "mosbach".into());
        let runs = Sweep::parse(Path::new("x.toml"), text, &o).unwrap().runs;
        let in_file = parse(&text.replace("devlin", "mosbach")).unwrap().runs;
        assert_eq!(runs.len(), 2);
        for (run, want) in runs.iter().zip(&in_file) {
            assert_eq!(run.spec, want.spec);
            assert_eq!(run.spec.preset, "mosbach");
            assert!(run.spec.optimizer.bias_correction);
            assert_eq!(run.spec.epochs, 2, "the file's other settings still apply");
        }
        o.set.insert("preset".into(), "nonsense".into());
        let e = Sweep::parse(Path::new("x.toml"), text, &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown preset `nonsense`"), "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\nçd", 5), (2, 2));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
