//! Shared line-level reading: whole-file reads, BOM/CR handling, TAB-only rows and the
//! parallel row parser used by the GLUE and custom TSV readers.

use std::path::Path;

use rayon::prelude::*;

use crate::{DataError, Example, Label};

/// Reads a whole file as UTF-8 and strips a leading BOM.
pub(crate) fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        // Report the line of the first invalid byte.
        let good = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..good].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::malformed(path, line, "invalid UTF-8 (expected a UTF-8 text file)")
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Splits text into `(1-based line number, line)` with trailing CR and spaces removed.
/// Empty lines at the end of the file (a final newline, or several) are dropped; empty lines
/// elsewhere are kept so that readers can reject or use them.
pub(crate) fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches([' ', '\r'])))
        .collect();
    while out.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        out.pop();
    }
    out
}

/// How to turn a label field into a [`Label`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Labeler<'a> {
    Classes(&'a [String]),
    Score,
}

impl Labeler<'_> {
    pub(crate) fn parse(&self, path: &Path, line: usize, raw: &str) -> Result<Label, DataError> {
        let raw = raw.trim();
        match self {
            Labeler::Classes(names) => names
                .iter()
                .position(|n| n == raw)
                .map(Label::Class)
                .ok_or_else(|| DataError::UnknownLabel {
                    path: path.into(),
                    line,
                    label: raw.to_string(),
                    expected: names.to_vec(),
                }),
            Labeler::Score => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Label::Score(v)),
                _ => Err(DataError::BadScore {
                    path: path.into(),
                    line,
                    value: raw.to_string(),
                }),
            },
        }
    }
}

/// Column positions of a TAB-separated layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub nfields: usize,
    pub a: usize,
    pub b: Option<usize>,
    pub label: Option<usize>,
}

/// Finds the first of `names` in a header row.
pub(crate) fn find_column(
    path: &Path,
    line: usize,
    header: &[&str],
    names: &[&str],
) -> Result<usize, DataError> {
    names
        .iter()
        .find_map(|n| header.iter().position(|h| h.trim() == *n))
        .ok_or_else(|| DataError::MissingColumn {
            path: path.into(),
            line,
            column: names[0].to_string(),
            expected: names.iter().map(|s| s.to_string()).collect(),
            header: header.join("\t"),
        })
}

/// Parses TAB-separated rows in parallel. On failure, reports the first bad row in file order.
pub(crate) fn parse_rows(
    path: &Path,
    rows: &[(usize, &str)],
    layout: Layout,
    labeler: Labeler<'_>,
) -> Result<Vec<Example>, DataError> {
    let parse = |&(line, text): &(usize, &str)| -> Result<Example, DataError> {
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != layout.nfields {
            return Err(DataError::FieldCount {
                path: path.into(),
                line,
                expected: layout.nfields,
                found: if text.is_empty() { 0 } else { fields.len() },
                sep: "tab",
            });
        }
        let label = match layout.label {
            Some(i) => Some(labeler.parse(path, line, fields[i])?),
            None => None,
        };
        Ok(Example {
            text_a: fields[layout.a].to_string(),
            text_b: layout.b.map(|i| fields[i].to_string()),
            label,
            line,
        })
    };
    // Small files are not worth the thread hand-off.
    let results: Vec<Result<Example, DataError>> = if rows.len() < 4096 {
        rows.iter().map(parse).collect()
    } else {
        rows.par_iter().map(parse).collect()
    };
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_cr_spaces_and_trailing_blank_lines() {
        let l = lines("a\tb \r\nc\n\n\n");
        assert_eq!(l, vec![(1, "a\tb"), (2, "c")]);
        let l = lines("a\n\nb");
        assert_eq!(l, vec![(1, "a"), (2, ""), (3, "b")]);
        assert!(lines("").is_empty());
        assert!(lines("\n \n").is_empty());
    }

    #[test]
    fn labeler_rejects_unknown_and_non_finite() {
        let names = vec!["0".to_string(), "1".to_string()];
        let p = Path::new("x.tsv");
        assert_eq!(
            Labeler::Classes(&names).parse(p, 1, " 1 ").unwrap(),
            Label::Class(1)
        );
        assert!(Labeler::Classes(&names).parse(p, 1, "2").is_err());
        assert_eq!(
            Labeler::Score.parse(p, 1, "3.800").unwrap(),
            Label::Score(3.8)
        );
        assert!(Labeler::Score.parse(p, 1, "nan").is_err());
        assert!(Labeler::Score.parse(p, 1, "abc").is_err());
    }
}
