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

pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
