//! A [`Report`] as text (a terminal or a plain-text e-mail), JSON (scripts), CSV (each table,
//! titled, one after another) or HTML (one self-contained page: inline style, no scripts, opens
//! offline).

use std::fmt::Write as _;

use crate::domain::reports::{Cell, Column, Item, Report, Table};

/// The formats a report can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Json,
    Html,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Html => "html",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Html => html(report),
        Format::Csv => csv(report),
    }
}

/// A cell as shown to a person: numbers to the column's decimals, missing numbers empty.
fn shown(cell: &Cell, col: &Column) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(v) => v.to_string(),
        Cell::Num(v) if v.is_finite() => format!("{v:.*}", col.decimals),
        Cell::Num(_) => String::new(),
    }
}

/// A cell in CSV: full precision.
fn raw(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) if s.contains([',', '"', '\n']) => format!("\"{}\"", s.replace('"', "\"\"")),
        Cell::Text(s) => s.clone(),
        Cell::Int(v) => v.to_string(),
        Cell::Num(v) if v.is_finite() => v.to_string(),
        Cell::Num(_) => String::new(),
    }
}

fn text_table(out: &mut String, t: &Table) {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&t.columns)
                .map(|(c, col)| shown(c, col))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .map(|(k, col)| {
            cells
                .iter()
                .map(|r| r.get(k).map_or(0, |c| c.chars().count()))
                .chain([col.name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = writeln!(out, "{}", t.title);
    let numeric = |k: usize| {
        t.rows
            .iter()
            .any(|r| matches!(r.get(k), Some(Cell::Num(_) | Cell::Int(_))))
    };
    let line = |out: &mut String, values: Vec<&str>| {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                if numeric(k) {
                    format!("{v:>w$}", w = widths[k])
                } else {
                    format!("{v:<w$}", w = widths[k])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(out, t.columns.iter().map(|c| c.name.as_str()).collect());
    for r in &cells {
        line(out, r.iter().map(String::as_str).collect());
    }
    if t.rows.is_empty() {
        let _ = writeln!(out, "(no rows)");
    }
}

fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.title);
    let _ = writeln!(out, "{}", "=".repeat(r.title.chars().count()));
    let _ = writeln!(out, "generated {}", r.generated_at);
    for item in &r.items {
        out.push('\n');
        match item {
            Item::Heading { text } => {
                let _ = writeln!(out, "{text}\n{}", "-".repeat(text.chars().count()));
            }
            Item::Text { text } => {
                let _ = writeln!(out, "{text}");
            }
            Item::Table(t) => text_table(&mut out, t),
            Item::Chart(c) => {
                let _ = writeln!(out, "[chart: {}; in the HTML form]\n", c.title);
            }
        }
    }
    out
}

fn csv(r: &Report) -> String {
    let mut out = String::new();
    let mut first = true;
    for item in &r.items {
        let Item::Table(t) = item else { continue };
        if !first {
            out.push('\n');
        }
        first = false;
        let _ = writeln!(out, "# {}", t.title);
        let _ = writeln!(
            out,
            "{}",
            t.columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        for row in &t.rows {
            let _ = writeln!(out, "{}", row.iter().map(raw).collect::<Vec<_>>().join(","));
        }
    }
    out
}

/// `s` with the five HTML special characters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em;margin-bottom:0}p.meta{color:#666;margin-top:.2em}\
h2{font-size:1.15em;margin-top:1.6em}p{white-space:pre-wrap;max-width:60em}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}\
caption{text-align:left;font-weight:600;padding:.3em 0}\
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}\
td.n{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafafa}\
figure{margin:.5em 0 1.5em}figcaption{font-weight:600;padding:.3em 0}svg{max-width:100%;height:auto}";

fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n\
         <h1>{title}</h1><p class=\"meta\">generated {at}</p>\n",
        title = escape(&r.title),
        at = escape(&r.generated_at)
    );
    for item in &r.items {
        match item {
            Item::Heading { text } => {
                let _ = writeln!(out, "<h2>{}</h2>", escape(text));
            }
            Item::Text { text } => {
                let _ = writeln!(out, "<p>{}</p>", escape(text));
            }
            Item::Table(t) => {
                let _ = write!(
                    out,
                    "<table id=\"{}\"><caption>{}</caption><thead><tr>",
                    escape(&t.id),
                    escape(&t.title)
                );
                for c in &t.columns {
                    let _ = write!(out, "<th>{}</th>", escape(&c.name));
                }
                out.push_str("</tr></thead><tbody>");
                for row in &t.rows {
                    out.push_str("<tr>");
                    for (cell, col) in row.iter().zip(&t.columns) {
                        let class = if matches!(cell, Cell::Text(_)) {
                            ""
                        } else {
                            " class=\"n\""
                        };
                        let _ = write!(out, "<td{class}>{}</td>", escape(&shown(cell, col)));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</tbody></table>\n");
            }
            Item::Chart(c) => {
                let _ = write!(
                    out,
                    "<figure id=\"{}\"><figcaption>{}</figcaption>",
                    escape(&c.id),
                    escape(&c.title)
                );
                match super::chart::svg(c) {
                    Ok(svg) => out.push_str(&svg),
                    Err(e) => {
                        let _ = write!(out, "<p>(not drawn: {})</p>", escape(&e));
                    }
                }
                out.push_str("</figure>\n");
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut t = Table::new(
            "t",
            "Costs <all>",
            vec![Column::text("instrument"), Column::num("SR_cost", 3)],
        );
        t.rows.push(vec!["SP500".into(), 0.0012345.into()]);
        t.rows.push(vec!["A,B".into(), f64::NAN.into()]);
        Report {
            name: "costs".into(),
            title: "Costs report".into(),
            generated_at: "2024-06-27T23:30:00Z".into(),
            items: vec![
                Item::Text {
                    text: "a & b".into(),
                },
                Item::Table(t),
            ],
        }
    }

    #[test]
    fn text_aligns_columns_and_rounds_to_the_columns_decimals() {
        let s = render(&sample(), Format::Text);
        assert!(
            s.starts_with("Costs report\n============\ngenerated 2024-06-27T23:30:00Z\n"),
            "{s}"
        );
        assert!(
            s.contains("instrument  SR_cost\nSP500         0.001\nA,B\n"),
            "{s}"
        );
    }

    #[test]
    fn csv_keeps_full_precision_and_quotes() {
        let s = render(&sample(), Format::Csv);
        assert_eq!(
            s,
            "# Costs <all>\ninstrument,SR_cost\nSP500,0.0012345\n\"A,B\",\n"
        );
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let s = render(&sample(), Format::Html);
        assert!(s.contains("<caption>Costs &lt;all&gt;</caption>"), "{s}");
        assert!(s.contains("<p>a &amp; b</p>"), "{s}");
        assert!(s.contains("<td class=\"n\">0.001</td>"), "{s}");
        assert!(!s.contains("http"), "no external resources: {s}");
    }

    #[test]
    fn json_has_nulls_for_missing_numbers() {
        let v: serde_json::Value = serde_json::from_str(&render(&sample(), Format::Json)).unwrap();
        assert_eq!(v["items"][1]["rows"][1][1], serde_json::Value::Null);
        assert_eq!(v["items"][1]["kind"], "table");
    }
}
