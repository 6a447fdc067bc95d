//! Error messages that name the field, the value and, in a file, the line.
//!
//! serde reports a mistyped override as `invalid type: string "x", expected u32`: neither the
//! field nor a word a user would use. Overrides are merged into one table before deserialising,
//! so when that fails [`culprit`] tries each override alone on the base spec (cheap, and only
//! on failure) to find the one that is wrong by itself, and [`describe`] rewords serde's message
//! (`epochs: expected a whole number, got "x"`).
//!
//! For run-spec files, [`value_offset`] finds where a field's value is written: toml keeps
//! spans only for `Spanned` values, so the document is read a second time into a tree of
//! spans (no values), which is cheap and only done for error messages.

use std::ops::Range;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::spec::{merge_override, RunSpec, SpecError};

/// The first override (a leaf: `optimizer.eps`, not `optimizer`) that makes `base` fail to
/// deserialise on its own, as a [`SpecError::Value`].
pub(crate) fn culprit(base: &toml::Table, overrides: &toml::Table) -> Option<SpecError> {
    let mut leaves = Vec::new();
    for (key, value) in overrides {
        if key != "preset" {
            leaves_of(base, key.clone(), value, &mut leaves);
        }
    }
    leaves.into_iter().find_map(|(field, value)| {
        let mut table = base.clone();
        merge_override(&mut table, &field, value.clone());
        let err = toml::Value::Table(table).try_into::<RunSpec>().err()?;
        Some(SpecError::Value {
            message: describe(err.message(), &value),
            field,
        })
    })
}

/// Splits a table-valued override into the leaves it sets, where the spec has a table there.
fn leaves_of(
    base: &toml::Table,
    key: String,
    value: &toml::Value,
    out: &mut Vec<(String, toml::Value)>,
) {
    let nested = key.split('.').try_fold(base, |t, k| t.get(k)?.as_table());
    match (value, nested) {
        (toml::Value::Table(inner), Some(_)) => {
            for (k, v) in inner {
                leaves_of(base, format!("{key}.{k}"), v, out);
            }
        }
        _ => out.push((key, value.clone())),
    }
}

const WHOLE: &[&str] = &[
    "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
];

/// Rewords a serde message about `value` (`invalid type: …, expected u32`).
pub(crate) fn describe(message: &str, value: &toml::Value) -> String {
    let got = value.to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let known = backticked(rest);
        return match closest(name, &known) {
            Some(s) => format!("not a run-spec field (did you mean `{s}`?)"),
            None => format!("not a run-spec field (fields: {})", known.join(", ")),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let rest = rest.split_once('`').map_or("", |(_, r)| r);
        return format!("expected one of {}, got {got}", backticked(rest).join(", "));
    }
    let Some((head, expected)) = message.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let expected = expected.trim();
    let what = if WHOLE.contains(&expected) {
        match value.as_integer() {
            Some(i) if head.starts_with("invalid value") && i < 0 => "a whole number ≥ 0".into(),
            Some(_) if head.starts_with("invalid value") => {
                format!("a whole number that fits in {expected}")
            }
            _ => "a whole number".into(),
        }
    } else {
        match expected {
            "f32" | "f64" => "a number".into(),
            "a boolean" => "true or false".into(),
            "path string" => "a path (a string)".into(),
            e if e.starts_with("struct ") => "a table".into(),
            other => other.to_string(),
        }
    };
    format!("expected {what}, got {got}")
}

/// The names in `` `a`, `b` `` lists of serde messages.
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// The known name closest to `name` by edit distance, if it is close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Byte offset of the value of `field` (dotted: `optimizer.eps`) in TOML `text`: of the
/// deepest key of the path that is written there (a table's header when a nested field is
/// missing from it). `None` when the field is not in the file or the text does not parse.
pub fn value_offset(text: &str, field: &str) -> Option<usize> {
    let tree: SpanTree = toml::from_str(text).ok()?;
    tree.find(field).map(|r| r.start)
}

/// A [`SpecError::Located`] at byte `offset` of `text`.
pub(crate) fn located(path: &Path, text: &str, offset: usize, message: String) -> SpecError {
    let (line, column) = crate::support::line_col(text, offset);
    SpecError::Located {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Keys of a TOML document with the spans of their values; leaves carry no children.
#[derive(Default)]
struct SpanTree(Vec<(String, Range<usize>, SpanTree)>);

impl SpanTree {
    fn find(&self, path: &str) -> Option<Range<usize>> {
        // A quoted dotted key (`"optimizer.eps" = …`) is one key here.
        if let Some((_, span, _)) = self.0.iter().find(|(k, _, _)| k == path) {
            return Some(span.clone());
        }
        let (head, rest) = path.split_once('.')?;
        let (_, span, child) = self.0.iter().find(|(k, _, _)| k == head)?;
        child.find(rest).or_else(|| Some(span.clone()))
    }
}

impl<'de> Deserialize<'de> for SpanTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpanTree;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpanTree, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Spanned<SpanTree> = map.next_value()?;
                    let span = value.span();
                    out.push((key, span, value.into_inner()));
                }
                Ok(SpanTree(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanTree, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SpanTree::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SpanTree, E> {
                Ok(SpanTree::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SpanTree, E> {
                Ok(SpanTree::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SpanTree, E> {
                Ok(SpanTree::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SpanTree, E> {
                Ok(SpanTree::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SpanTree, E> {
                Ok(SpanTree::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, toml::Value)]) -> String {
        let o: toml::Table = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        RunSpec::resolve("devlin", &o).unwrap_err().to_string()
    }

    #[test]
    fn type_errors_name_the_field_and_the_value() {
        assert_eq!(
            resolve(&[("epochs", "x".into())]),
            "epochs: expected a whole number, got \"x\""
        );
        assert_eq!(
            resolve(&[("max_length", (-3).into())]),
            "max_length: expected a whole number ≥ 0, got -3"
        );
        assert_eq!(
            resolve(&[("learning_rate", "fast".into())]),
            "learning_rate: expected a number, got \"fast\""
        );
        assert_eq!(
            resolve(&[("reinit_pooler", 1.into())]),
            "reinit_pooler: expected true or false, got 1"
        );
        let e = resolve(&[("schedule", "cosine".into())]);
        assert!(
            e.starts_with("schedule: expected one of linear, constant")
                && e.ends_with("got \"cosine\""),
            "{e}"
        );
        // Nested fields, set by a dotted key or a table, are named by their path.
        assert_eq!(
            resolve(&[("optimizer.eps", "tiny".into())]),
            "optimizer.eps: expected a number, got \"tiny\""
        );
        let table: toml::Table = toml::from_str("eps = 1e-8\nbeta1 = \"a\"").unwrap();
        assert_eq!(
            resolve(&[("optimizer", table.into())]),
            "optimizer.beta1: expected a number, got \"a\""
        );
        // The culprit is found among valid overrides too.
        assert_eq!(
            resolve(&[("batch_size", 8.into()), ("epochs", 2.5.into())]),
            "epochs: expected a whole number, got 2.5"
        );
    }

    #[test]
    fn unknown_fields_suggest_the_close_one() {
        assert_eq!(
            resolve(&[("learnin_rate", 1e-5.into())]),
            "learnin_rate: not a run-spec field (did you mean `learning_rate`?)"
        );
        let e = resolve(&[("optimizer.epsilon", 1e-8.into())]);
        assert!(
            e.starts_with("optimizer.epsilon: not a run-spec field (fields: "),
            "{e}"
        );
        assert!(e.contains("bias_correction"), "{e}");
    }

    #[test]
    fn spec_files_point_at_the_line_and_column() {
        let err = |text: &str| {
            RunSpec::from_toml_str(Path::new("s.toml"), text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("preset = \"mosbach\"\nepochs = \"x\"\n"),
            "s.toml:2:10: epochs: expected a whole number, got \"x\""
        );
        let e = err("task = \"RTE\"\n\n  learnin_rate = 1e-5\n");
        assert!(
            e.starts_with("s.toml:3:18: learnin_rate: not a run-spec field"),
            "{e}"
        );
        assert!(err("[optimizer]\nbeta1 = 0.9\neps = \"small\"\n")
            .starts_with("s.toml:3:7: optimizer.eps: "),);
        assert!(err("\"optimizer.eps\" = -1.0\n")
            .starts_with("s.toml:1:19: optimizer.eps: must be > 0"));
        assert!(err("warmup_fraction = 2.0\n").starts_with("s.toml:1:19: warmup_fraction: "));
        assert!(err("preset = \"nope\"\n").starts_with("s.toml:1:10: unknown preset"));
        assert!(
            err("epochs = \n").starts_with("s.toml:1:"),
            "a syntax error is located too"
        );
        // A cross-field error points at the field it names.
        assert!(err("feature_mode = \"off\"\nfeature_head = \"bilstm\"\n")
            .starts_with("s.toml:2:16: feature_head: "));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("learnin_rate", "learning_rate"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("abc", "acb"), 2);
        assert_eq!(closest("epoch", &["epochs", "threads"]), Some("epochs"));
        assert_eq!(closest("zzz", &["epochs", "threads"]), None);
    }
}
