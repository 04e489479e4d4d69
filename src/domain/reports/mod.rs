//! Reports (sysproduction's `run_reports`, inventory §A5): the document model every report is
//! made of — a title, then headings, paragraphs and tables, as pysystemtrade's report items
//! (header, body text, table) — and the pure calculations of each report (§B27–§B31), one
//! module per report. Loading what a report needs from the stores and rendering it to text,
//! JSON, CSV or HTML is the application's (`crate::reports`).

pub mod costs;
pub mod duplicate_markets;
pub mod instrument_risk;
pub mod liquidity;
pub mod market_monitor;
pub mod min_capital;
pub mod pandl;
pub mod remove_markets;
pub mod risk;
pub mod slippage;
pub mod trades;

use serde::Serialize;

/// A finished report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The report's name (`instrument_risk`), as `systrade report NAME` takes it.
    pub name: String,
    pub title: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub items: Vec<Item>,
}

/// One element of a report, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Heading {
        text: String,
    },
    Text {
        text: String,
    },
    Table(Table),
    /// A figure: what a person would rather look at than read (inline SVG in HTML; the text
    /// and CSV forms leave it out, its numbers are in the tables).
    Chart(Chart),
}

/// A figure's data; the application draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// A short identifier, as a table's.
    pub id: String,
    pub title: String,
    /// What the values are (the y axis, or the colour scale of a matrix).
    pub y_label: String,
    pub plot: Plot,
}

/// How a chart shows its values. Values that are not finite are gaps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Plot {
    /// Lines over dates, one per series, all on `dates`.
    Lines {
        dates: Vec<chrono::NaiveDate>,
        series: Vec<Line>,
    },
    /// One bar per label.
    Bars {
        labels: Vec<String>,
        #[serde(serialize_with = "finite_or_null_all")]
        values: Vec<f64>,
    },
    /// A square matrix (correlations in -1..1) with the same labels on both axes.
    Matrix {
        labels: Vec<String>,
        values: Vec<Vec<f64>>,
    },
}

/// One line of a [`Plot::Lines`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub name: String,
    #[serde(serialize_with = "finite_or_null_all")]
    pub values: Vec<f64>,
}

fn finite_or_null_all<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&x.is_finite().then_some(*x))?;
    }
    seq.end()
}

/// A table with a title, named columns and typed cells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// A short identifier (`by_annual_risk`), used for CSV file names and in JSON.
    pub id: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// A column: its heading and how its numbers are shown in text and HTML (JSON and CSV keep full
/// precision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    /// Decimal places for numbers in text and HTML.
    pub decimals: usize,
}

impl Column {
    pub fn text(name: &str) -> Self {
        Self {
            name: name.to_string(),
            decimals: 0,
        }
    }
    pub fn num(name: &str, decimals: usize) -> Self {
        Self {
            name: name.to_string(),
            decimals,
        }
    }
}

/// A table cell. A number that is not finite (no data) is shown as empty text and `null` JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(#[serde(serialize_with = "finite_or_null")] f64),
}

fn finite_or_null<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Num(v)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl Table {
    pub fn new(id: &str, title: &str, columns: Vec<Column>) -> Self {
        Self {
            id: id.to_string(),
            title: title.to_string(),
            columns,
            rows: Vec::new(),
        }
    }

    /// Sorts the rows by column `col`, descending when `descending`; non-numbers and NaN last.
    pub fn sort_by(&mut self, col: usize, descending: bool) {
        let key = |row: &Vec<Cell>| match row.get(col) {
            Some(Cell::Num(v)) if v.is_finite() => Some(*v),
            Some(Cell::Int(v)) => Some(*v as f64),
            _ => None,
        };
        self.rows.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
}

/// What a report is asked for: all optional, each report uses those it understands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportOptions {
    pub instrument: Option<String>,
    pub strategy: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_puts_missing_numbers_last_either_way() {
        let mut t = Table::new("t", "T", vec![Column::text("a"), Column::num("b", 1)]);
        for (a, b) in [("x", 2.0), ("y", f64::NAN), ("z", 5.0), ("w", 1.0)] {
            t.rows.push(vec![a.into(), b.into()]);
        }
        t.sort_by(1, true);
        let order: Vec<&Cell> = t.rows.iter().map(|r| &r[0]).collect();
        assert_eq!(order, [&"z".into(), &"x".into(), &"w".into(), &"y".into()]);
        t.sort_by(1, false);
        let order: Vec<&Cell> = t.rows.iter().map(|r| &r[0]).collect();
        assert_eq!(order, [&"w".into(), &"x".into(), &"z".into(), &"y".into()]);
    }

    #[test]
    fn a_missing_number_is_null_in_json() {
        let row: Vec<Cell> = vec![1.5.into(), f64::NAN.into(), 3i64.into(), "a".into()];
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::json!([1.5, null, 3, "a"])
        );
    }
}
