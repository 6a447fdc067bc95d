//! The document model of a report: headings, paragraphs, lists, tables and figures, built once
//! and rendered to Markdown, HTML and (tables) fixed-width text.
//!
//! Text may hold `inline code` in backticks: Markdown keeps it, HTML turns it into `<code>`.

use std::fmt::Write as _;

/// A table cell: text, or a link to another report (`<folder>/report.md` in Markdown,
/// `<folder>/report.html` in HTML).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Report { folder: String },
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl Cell {
    fn markdown(&self) -> String {
        match self {
            Cell::Text(t) => md(t),
            Cell::Report { folder } => format!("[{folder}/report.md]({folder}/report.md)"),
        }
    }

    fn html(&self) -> String {
        match self {
            Cell::Text(t) => esc(t),
            Cell::Report { folder } => {
                let f = esc(folder);
                format!("<a href=\"{f}/report.html\">{f}/report.html</a>")
            }
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Report { folder } => format!("{folder}/report.md"),
        }
    }
}

/// A table every output shares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table of text cells.
    pub fn of_text(headers: Vec<String>, rows: Vec<Vec<String>>) -> Self {
        Table {
            headers,
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(Cell::from).collect())
                .collect(),
        }
    }

    pub fn markdown(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|h| md(h)).collect();
        let mut s = format!("| {} |\n", headers.join(" | "));
        s += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(Cell::markdown).collect();
            s += &format!("| {} |\n", cells.join(" | "));
        }
        s
    }

    pub fn html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s += "</tr></thead>\n<tbody>\n";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                let _ = write!(s, "<td>{}</td>", c.html());
            }
            s += "</tr>\n";
        }
        s + "</tbody>\n</table>\n"
    }

    /// Fixed-width text: first column left-aligned, the others right-aligned.
    pub fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::text).collect())
            .collect();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    let pad = " ".repeat(w - c.chars().count());
                    if i == 0 {
                        format!("{c}{pad}")
                    } else {
                        format!("{pad}{c}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let mut s = line(&self.headers);
        s += &(rule.join("  ") + "\n");
        for r in &rows {
            s += &line(r);
        }
        s
    }
}

/// A figure: a plot written as `plots/<name>.png|svg`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub name: String,
    pub title: String,
    pub svg: String,
}

/// One block of a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A section heading (level 2).
    Heading(String),
    Paragraph(String),
    Bullets(Vec<String>),
    /// Bullets set off from the rest (the findings).
    Highlight(Vec<String>),
    Table(Table),
    Figure(Figure),
}

/// A report page: its title and blocks, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(title: &str) -> Self {
        Document {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, b: Block) {
        self.blocks.push(b);
    }

    /// A heading followed by its blocks.
    pub fn section(&mut self, heading: &str, blocks: impl IntoIterator<Item = Block>) {
        self.blocks.push(Block::Heading(heading.into()));
        self.blocks.extend(blocks);
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n", md(&self.title));
        for b in &self.blocks {
            out += "\n";
            match b {
                Block::Heading(h) => out += &format!("## {}\n", md(h)),
                Block::Paragraph(p) => out += &format!("{}\n", md(p)),
                Block::Bullets(items) | Block::Highlight(items) => {
                    for i in items {
                        out += &format!("- {}\n", md(i));
                    }
                }
                Block::Table(t) => out += &t.markdown(),
                Block::Figure(f) => out += &format!("![{}](plots/{}.png)\n", md(&f.title), f.name),
            }
        }
        out
    }

    /// A self-contained page: figures are inline SVG (sharp at any zoom, no files to carry).
    pub fn html(&self) -> String {
        let mut h =
            String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(h, "<title>{}</title>", esc(&self.title));
        h += STYLE;
        let _ = writeln!(h, "</head>\n<body>\n<h1>{}</h1>", esc(&self.title));
        for b in &self.blocks {
            match b {
                Block::Heading(t) => {
                    let _ = writeln!(h, "<h2>{}</h2>", inline(t));
                }
                Block::Paragraph(p) => {
                    let _ = writeln!(h, "<p>{}</p>", inline(p));
                }
                Block::Bullets(items) | Block::Highlight(items) => {
                    h += if matches!(b, Block::Highlight(_)) {
                        "<ul class=\"findings\">\n"
                    } else {
                        "<ul>\n"
                    };
                    for i in items {
                        let _ = writeln!(h, "<li>{}</li>", inline(i));
                    }
                    h += "</ul>\n";
                }
                Block::Table(t) => h += &t.html(),
                Block::Figure(f) => {
                    let svg = f.svg.find("<svg").map(|i| &f.svg[i..]).unwrap_or(&f.svg);
                    let _ = writeln!(
                        h,
                        "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
                        esc(&f.title)
                    );
                }
            }
        }
        h + "</body>\n</html>\n"
    }
}

const STYLE: &str = "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}figure{margin:2em 0}\
figure svg{max-width:100%;height:auto}figcaption{color:#555}\
code{background:#f4f4f4;padding:0 3px;border-radius:3px}\
.findings{border-left:4px solid #0072b2;background:#f5f9fc;padding:0.5em 1em}</style>\n";

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown text with raw HTML neutralised: outside `code` spans, a `<` that could open a tag,
/// comment or autolink (followed by a letter, `/`, `!` or `?`, CommonMark's rule) becomes
/// `&lt;`, so a group named `<script>` or `<img onerror=…>` is shown, not run, by a Markdown
/// viewer; `p < 0.05` stays as written. Code spans are literal in Markdown and keep their
/// text; they are found as [`inline`] finds them, and with an unpaired backtick everything is
/// escaped.
fn md(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let text = |p: &str| {
        let mut out = String::with_capacity(p.len());
        let mut chars = p.chars().peekable();
        while let Some(c) = chars.next() {
            let opens = chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || "/!?".contains(*n));
            if c == '<' && opens {
                out += "&lt;";
            } else {
                out.push(c);
            }
        }
        out
    };
    if parts.len().is_multiple_of(2) {
        return text(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { p.to_string() } else { text(p) })
        .collect::<Vec<_>>()
        .join("`")
}

/// Escaped text with `code` spans as `<code>`; an unpaired backtick stays a backtick.
fn inline(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return esc(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", esc(p))
            } else {
                esc(p)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_model_two_renderings() {
        let mut d = Document::new("T");
        d.section(
            "Findings",
            [Block::Bullets(vec!["`a` fails more <often>".into()])],
        );
        d.push(Block::Table(Table {
            headers: vec!["x".into(), "report".into()],
            rows: vec![vec![
                Cell::Text("1".into()),
                Cell::Report {
                    folder: "RTE-accuracy".into(),
                },
            ]],
        }));
        let md = d.markdown();
        assert!(
            md.starts_with("# T\n\n## Findings\n\n- `a` fails more &lt;often>\n"),
            "{md}"
        );
        assert!(md.contains("[RTE-accuracy/report.md](RTE-accuracy/report.md)"));
        let html = d.html();
        assert!(
            html.contains("<li><code>a</code> fails more &lt;often&gt;</li>"),
            "{html}"
        );
        assert!(html.contains("href=\"RTE-accuracy/report.html\""));
        assert_eq!(inline("odd ` tick"), "odd ` tick");
    }

    /// Group names are user input: raw HTML in them is shown, not interpreted, by Markdown
    /// viewers (report.html and the SVGs escape it already).
    #[test]
    fn markdown_escapes_raw_html_outside_code_spans() {
        let mut d = Document::new("Comparison: <b>x</b>.csv");
        d.section(
            "Findings",
            [Block::Bullets(vec![
                "`<script>alert(1)</script>` 1 of 3; <img src=x onerror=alert(1)> & more".into(),
                "un`paired <i>".into(),
            ])],
        );
        d.push(Block::Table(Table::of_text(
            vec!["group".into()],
            vec![vec!["<script>alert(1)</script>".into()]],
        )));
        let md = d.markdown();
        assert!(md.starts_with("# Comparison: &lt;b>x&lt;/b>.csv\n"), "{md}");
        assert!(
            md.contains(
                "- `<script>alert(1)</script>` 1 of 3; &lt;img src=x onerror=alert(1)> & more\n"
            ),
            "{md}"
        );
        assert!(md.contains("- un`paired &lt;i>\n"), "{md}");
        assert!(md.contains("| &lt;script>alert(1)&lt;/script> |"), "{md}");
        let mut plain = Document::new("T");
        plain.push(Block::Paragraph("p < 0.05, ε_min ≥ τ & 3 > 2".into()));
        assert!(plain.markdown().contains("p < 0.05, ε_min ≥ τ & 3 > 2"));
    }

    #[test]
    fn text_table_aligns() {
        let t = Table::of_text(
            vec!["g".into(), "n".into()],
            vec![vec!["devlin".into(), "3".into()]],
        );
        assert_eq!(t.text(), "g       n\n------  -\ndevlin  3\n");
    }
}
