//! Small helpers for human output: times, tables, JSON, and stdout macros that return an error
//! (a closed pipe, as in `systrade runs | head`) instead of panicking like `println!`.

/// `println!` to stdout that propagates write errors with `?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `print!` to stdout that propagates write errors with `?`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

use chrono::{DateTime, Local, Utc};

/// Local wall time for humans (storage is UTC).
pub fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn local_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(local).unwrap_or_else(|| "-".into())
}

pub fn seconds_between(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a).num_milliseconds() as f64 / 1000.0),
        _ => "-".into(),
    }
}

/// Prints rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// A log event's structured fields as ` key=value` pairs (strings unquoted; the `stream` tag of
/// command output is left out, the line says it all).
pub fn fields_suffix(fields: Option<&serde_json::Value>) -> String {
    let Some(map) = fields.and_then(|f| f.as_object()) else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| *k != "stream")
        .map(|(k, v)| match v.as_str() {
            Some(text) => format!(" {k}={text}"),
            None => format!(" {k}={v}"),
        })
        .collect()
}

/// A price cell: the number, or `missing` when there is no price (NaN).
pub fn price_cell(v: f64, missing: &str) -> String {
    if v.is_nan() {
        missing.to_string()
    } else {
        format!("{v}")
    }
}

/// Column names of a multiple-prices table (timestamp first).
pub const MULTIPLE_HEADER: [&str; 7] = [
    "timestamp",
    "price",
    "price_contract",
    "forward",
    "forward_contract",
    "carry",
    "carry_contract",
];

/// Row `i` of multiple prices, in [`MULTIPLE_HEADER`] order.
pub fn multiple_row(
    m: &crate::domain::series::MultiplePrices,
    i: usize,
    missing: &str,
) -> Vec<String> {
    vec![
        crate::domain::series::format_timestamp(m.ts[i]),
        price_cell(m.price[i], missing),
        m.price_contract[i].to_string(),
        price_cell(m.forward[i], missing),
        m.forward_contract[i].to_string(),
        price_cell(m.carry[i], missing),
        m.carry_contract[i].to_string(),
    ]
}

pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
